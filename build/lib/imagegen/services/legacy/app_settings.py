"""Legacy app_settings service: hand-written SQL over the shared ``sqlite3`` connection."""

from __future__ import annotations

from imagegen.db.legacy import LegacyDatabase
from imagegen.services.contracts.app_settings import JWT_SECRET_KEY, AppSettingsService
from imagegen.services.errors import NotFoundError
from shadow._sources import Clock, IdSource

__all__ = ["LegacyAppSettingsService"]

_GET = "SELECT value FROM app_settings WHERE key = ?"
# The upsert's UPDATE branch fires the table's trigger, which refreshes updated_at.
_SET = (
    "INSERT INTO app_settings (key, value) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


class LegacyAppSettingsService(AppSettingsService):
    """Server-wide settings in the ``app_settings`` table."""

    def __init__(self, db: LegacyDatabase, *, ids: IdSource, clock: Clock) -> None:
        self._db = db
        self._ids = ids
        self._clock = clock

    def get(self, key: str) -> str | None:
        with self._db.transaction() as cursor:
            row = cursor.execute(_GET, (key,)).fetchone()
        return None if row is None else str(row[0])

    def set(self, key: str, value: str) -> None:
        with self._db.transaction() as cursor:
            cursor.execute(_SET, (key, value))

    def get_jwt_secret(self) -> str:
        secret = self.get(JWT_SECRET_KEY)
        if secret is None:
            raise NotFoundError("app_setting", JWT_SECRET_KEY)
        return secret
