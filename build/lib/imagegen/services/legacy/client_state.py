"""Legacy client_state service: hand-written SQL over the shared ``sqlite3`` connection."""

from __future__ import annotations

import sqlite3

from imagegen.db.legacy import LegacyDatabase
from imagegen.services.contracts.client_state import LIKE_ESCAPE, ClientStateService, prefix_pattern
from imagegen.services.errors import NotFoundError
from shadow._sources import Clock, IdSource

__all__ = ["LegacyClientStateService"]

# The upsert's UPDATE branch fires the table's trigger (updated_at = CURRENT_TIMESTAMP).
_SET = (
    "INSERT INTO client_state (user_id, key, value) VALUES (?, ?, ?) "
    "ON CONFLICT (user_id, key) DO UPDATE SET value = excluded.value"
)
_GET = "SELECT value FROM client_state WHERE user_id = ? AND key = ?"
# SQLite's LIKE folds ASCII letters itself; the key tie-break only steadies the order.
_KEYS = (
    "SELECT key FROM client_state WHERE user_id = ? AND key LIKE ? "
    f"ESCAPE '{LIKE_ESCAPE}' ORDER BY updated_at DESC, key"
)
_DELETE_KEY = "DELETE FROM client_state WHERE user_id = ? AND key = ?"
_DELETE_USER = "DELETE FROM client_state WHERE user_id = ?"


class LegacyClientStateService(ClientStateService):
    """Per-user UI state in the ``client_state`` table."""

    def __init__(self, db: LegacyDatabase, *, ids: IdSource, clock: Clock) -> None:
        self._db = db
        self._ids = ids
        self._clock = clock

    def set_by_key(self, user_id: str, key: str, value: str) -> str:
        try:
            with self._db.transaction() as cursor:
                cursor.execute(_SET, (user_id, key, value))
        except sqlite3.IntegrityError:
            # The only constraint an upsert can break here is the users foreign key.
            raise NotFoundError("user", user_id) from None
        return value

    def get_by_key(self, user_id: str, key: str) -> str | None:
        with self._db.transaction() as cursor:
            row = cursor.execute(_GET, (user_id, key)).fetchone()
        return None if row is None else str(row[0])

    def get_keys_by_prefix(self, user_id: str, prefix: str) -> list[str]:
        with self._db.transaction() as cursor:
            rows = cursor.execute(_KEYS, (user_id, prefix_pattern(prefix))).fetchall()
        return [str(row[0]) for row in rows]

    def delete_by_key(self, user_id: str, key: str) -> None:
        with self._db.transaction() as cursor:
            cursor.execute(_DELETE_KEY, (user_id, key))

    def delete(self, user_id: str) -> None:
        with self._db.transaction() as cursor:
            cursor.execute(_DELETE_USER, (user_id,))
