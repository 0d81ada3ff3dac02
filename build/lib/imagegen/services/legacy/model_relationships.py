"""Legacy model_relationships service: hand-written SQL over the shared connection."""

from __future__ import annotations

from collections.abc import Sequence

from imagegen.db.legacy import LegacyDatabase
from imagegen.services.contracts.model_relationships import ModelRelationshipsService, sorted_pair
from imagegen.services.errors import NotFoundError
from shadow._sources import Clock, IdSource

__all__ = ["LegacyModelRelationshipsService"]

_CHUNK = 500

_RELATED = (
    "SELECT model_key_2 FROM model_relationships WHERE model_key_1 = ?"
    " UNION SELECT model_key_1 FROM model_relationships WHERE model_key_2 = ?"
)


class LegacyModelRelationshipsService(ModelRelationshipsService):
    """Model relationships as the legacy application wrote them: raw SQL, one lock."""

    def __init__(self, db: LegacyDatabase, *, ids: IdSource, clock: Clock) -> None:
        self._db = db
        self._ids = ids
        self._clock = clock

    def add_model_relationship(self, model_key_1: str, model_key_2: str) -> None:
        pair = sorted_pair(model_key_1, model_key_2)
        with self._db.transaction() as cur:
            # Checked first so the error names the missing model, not a foreign key.
            for key in (model_key_1, model_key_2):
                if cur.execute("SELECT 1 FROM models WHERE id = ?", (key,)).fetchone() is None:
                    raise NotFoundError("model", key)
            cur.execute(
                "INSERT OR IGNORE INTO model_relationships (model_key_1, model_key_2)"
                " VALUES (?, ?)",
                pair,
            )

    def remove_model_relationship(self, model_key_1: str, model_key_2: str) -> None:
        pair = sorted_pair(model_key_1, model_key_2)
        with self._db.transaction() as cur:
            cur.execute(
                "DELETE FROM model_relationships WHERE model_key_1 = ? AND model_key_2 = ?", pair
            )

    def get_related_model_keys(self, model_key: str) -> list[str]:
        with self._db.transaction() as cur:
            rows = cur.execute(_RELATED, (model_key, model_key)).fetchall()
        return sorted(row[0] for row in rows)

    def get_related_model_keys_batch(self, model_keys: Sequence[str]) -> list[str]:
        if not model_keys:
            return []
        keys = list(model_keys)
        related: set[str] = set()
        with self._db.transaction() as cur:
            # Chunked: SQLite refuses statements with more than 32,766 parameters.
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = cur.execute(
                    f"SELECT model_key_2 FROM model_relationships WHERE model_key_1 IN ({marks})"
                    f" UNION SELECT model_key_1 FROM model_relationships"
                    f" WHERE model_key_2 IN ({marks})",
                    [*chunk, *chunk],
                ).fetchall()
                related.update(row[0] for row in rows)
        return sorted(related)
