"""SQLModel app_settings service: SQLAlchemy Core over the SQLModel tables.

Statements are built once per service; reads use ``engine.connect()``, writes
``engine.begin()``.
"""

from __future__ import annotations

import sqlalchemy as sa

from imagegen.db.tables import metadata
from imagegen.services.contracts.app_settings import JWT_SECRET_KEY, AppSettingsService
from imagegen.services.core._upsert import upsert
from imagegen.services.errors import NotFoundError
from shadow._sources import Clock, IdSource

__all__ = ["CoreAppSettingsService"]

_settings = metadata.tables["app_settings"]
_GET = sa.select(_settings.c.value).where(_settings.c.key == sa.bindparam("key"))


class CoreAppSettingsService(AppSettingsService):
    """Server-wide settings in the ``app_settings`` table."""

    def __init__(self, engine: sa.Engine, *, ids: IdSource, clock: Clock) -> None:
        self._engine = engine
        self._ids = ids
        self._clock = clock
        # PostgreSQL: a read in autocommit is one round trip instead of three (BEGIN,
        # SELECT, ROLLBACK), and READ COMMITTED gives each statement its own snapshot
        # anyway. SQLite keeps its transactions (managed by imagegen.db.engine).
        self._reader = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if engine.dialect.name == "postgresql"
            else engine
        )
        self._set = upsert(_settings, ["key"], ["value"], engine.dialect.name)

    def get(self, key: str) -> str | None:
        with self._reader.connect() as conn:
            value = conn.execute(_GET, {"key": key}).scalar_one_or_none()
        return None if value is None else str(value)

    def set(self, key: str, value: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(self._set, {"key": key, "value": value})

    def get_jwt_secret(self) -> str:
        secret = self.get(JWT_SECRET_KEY)
        if secret is None:
            raise NotFoundError("app_setting", JWT_SECRET_KEY)
        return secret
