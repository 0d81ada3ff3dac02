"""SQLModel client_state service: SQLAlchemy Core over the SQLModel tables.

Statements are built once per service. The prefix match gives SQLite's
``LIKE`` meaning on every backend: the key is folded to lower case for ASCII
letters only and matched by code point (see ``imagegen.services.core._portable``).
"""

from __future__ import annotations

import sqlalchemy as sa

from imagegen.db.tables import metadata
from imagegen.services.contracts.client_state import LIKE_ESCAPE, ClientStateService, prefix_pattern
from imagegen.services.core._base import CoreService
from imagegen.services.core._portable import ascii_lower, code_point_order, like
from imagegen.services.core._upsert import upsert
from imagegen.services.errors import NotFoundError
from shadow._sources import Clock, IdSource

__all__ = ["CoreClientStateService"]

_state = metadata.tables["client_state"]
_user = _state.c.user_id == sa.bindparam("user_id")
_key = _state.c.key == sa.bindparam("key")
_GET = sa.select(_state.c.value).where(_user, _key)
_DELETE_KEY = sa.delete(_state).where(_user, _key)
_DELETE_USER = sa.delete(_state).where(_user)


class CoreClientStateService(CoreService, ClientStateService):
    """Per-user UI state in the ``client_state`` table."""

    def __init__(self, engine: sa.Engine, *, ids: IdSource, clock: Clock) -> None:
        super().__init__(engine, ids=ids, clock=clock)
        dialect = self._dialect
        self._set = upsert(_state, ["user_id", "key"], ["value"], dialect)
        folded_key = ascii_lower(_state.c.key, dialect)
        self._keys = (
            sa.select(_state.c.key)
            .where(_user, like(folded_key, sa.bindparam("pattern"), LIKE_ESCAPE, dialect))
            .order_by(_state.c.updated_at.desc(), code_point_order(_state.c.key, dialect))
        )

    def set_by_key(self, user_id: str, key: str, value: str) -> str:
        try:
            with self._writes.begin() as conn:
                conn.execute(self._set, {"user_id": user_id, "key": key, "value": value})
        except sa.exc.IntegrityError:
            # The only constraint an upsert can break here is the users foreign key.
            raise NotFoundError("user", user_id) from None
        return value

    def get_by_key(self, user_id: str, key: str) -> str | None:
        # One row at most: (user_id, key) is the table's primary key.
        row = self._reads.one(_GET, {"user_id": user_id, "key": key})
        return None if row is None or row["value"] is None else str(row["value"])

    def get_keys_by_prefix(self, user_id: str, prefix: str) -> list[str]:
        params = {"user_id": user_id, "pattern": prefix_pattern(prefix)}
        with self._reader.connect() as conn:
            return [str(key) for key in conn.execute(self._keys, params).scalars()]

    def delete_by_key(self, user_id: str, key: str) -> None:
        with self._writer.begin() as conn:
            conn.execute(_DELETE_KEY, {"user_id": user_id, "key": key})

    def delete(self, user_id: str) -> None:
        with self._writer.begin() as conn:
            conn.execute(_DELETE_USER, {"user_id": user_id})
