"""SQLModel app_settings service: SQLAlchemy Core over the SQLModel tables.

Engines, the read policy and the statement cache come from
:class:`~imagegen.services.core._base.CoreService`; the set is the shared upsert.
"""

from __future__ import annotations

import sqlalchemy as sa

from imagegen.db.tables import metadata
from imagegen.services.contracts.app_settings import JWT_SECRET_KEY, AppSettingsService
from imagegen.services.core._base import CoreService
from imagegen.services.core._upsert import upsert
from imagegen.services.errors import NotFoundError
from shadow._sources import Clock, IdSource

__all__ = ["CoreAppSettingsService"]

_settings = metadata.tables["app_settings"]
_GET = sa.select(_settings.c.value).where(_settings.c.key == sa.bindparam("key"))


class CoreAppSettingsService(CoreService, AppSettingsService):
    """Server-wide settings in the ``app_settings`` table."""

    def __init__(self, engine: sa.Engine, *, ids: IdSource, clock: Clock) -> None:
        super().__init__(engine, ids=ids, clock=clock)
        self._set = upsert(_settings, ["key"], ["value"], self._dialect)

    def get(self, key: str) -> str | None:
        row = self._reads.one(_GET, {"key": key})
        return None if row is None or row["value"] is None else str(row["value"])

    def set(self, key: str, value: str) -> None:
        with self._writes.begin() as conn:
            conn.execute(self._set, {"key": key, "value": value})

    def get_jwt_secret(self) -> str:
        secret = self.get(JWT_SECRET_KEY)
        if secret is None:
            raise NotFoundError("app_setting", JWT_SECRET_KEY)
        return secret
