"""SQLModel model_relationships service: SQLAlchemy Core over the SQLModel tables.

An existing pair is ignored with each backend's form of ``INSERT OR IGNORE``
(:func:`imagegen.services.core._upsert.insert_new`).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from imagegen.db.tables import ModelRelationshipTable, ModelTable
from imagegen.services.contracts.model_relationships import ModelRelationshipsService, sorted_pair
from imagegen.services.core._base import CoreService
from imagegen.services.core._upsert import execute_insert_new, insert_new
from imagegen.services.errors import NotFoundError
from shadow._sources import Clock, IdSource

__all__ = ["CoreModelRelationshipsService"]

_relationships: sa.Table = ModelRelationshipTable.__table__  # type: ignore[attr-defined]
_models: sa.Table = ModelTable.__table__  # type: ignore[attr-defined]
_CHUNK = 500  # keys per statement: SQLite refuses more than 32,766 parameters


class CoreModelRelationshipsService(CoreService, ModelRelationshipsService):
    """Model relationships on SQLModel tables (SQLite, PostgreSQL, MariaDB)."""

    def __init__(self, engine: sa.Engine, *, ids: IdSource, clock: Clock) -> None:
        super().__init__(engine, ids=ids, clock=clock)
        c = _relationships.c
        self._insert = insert_new(_relationships, ["model_key_1", "model_key_2"], self._dialect)
        self._model_exists = sa.select(_models.c.id).where(_models.c.id == sa.bindparam("key"))
        self._delete = sa.delete(_relationships).where(
            c.model_key_1 == sa.bindparam("k1"), c.model_key_2 == sa.bindparam("k2")
        )
        keys: sa.BindParameter[list[str]] = sa.bindparam("keys", expanding=True)
        self._related_batch = sa.union(
            sa.select(c.model_key_2.label("key")).where(c.model_key_1.in_(keys)),
            sa.select(c.model_key_1.label("key")).where(c.model_key_2.in_(keys)),
        )
        key: sa.BindParameter[str] = sa.bindparam("key")
        self._related = sa.union(
            sa.select(c.model_key_2.label("key")).where(c.model_key_1 == key),
            sa.select(c.model_key_1.label("key")).where(c.model_key_2 == key),
        )

    def add_model_relationship(self, model_key_1: str, model_key_2: str) -> None:
        first, second = sorted_pair(model_key_1, model_key_2)
        with self._writer.begin() as conn:
            # Checked first so the error names the missing model, not a foreign key.
            for key in (model_key_1, model_key_2):
                if conn.execute(self._model_exists, {"key": key}).first() is None:
                    raise NotFoundError("model", key)
            execute_insert_new(conn, self._insert, {"model_key_1": first, "model_key_2": second})

    def remove_model_relationship(self, model_key_1: str, model_key_2: str) -> None:
        first, second = sorted_pair(model_key_1, model_key_2)
        with self._writer.begin() as conn:
            conn.execute(self._delete, {"k1": first, "k2": second})

    def get_related_model_keys(self, model_key: str) -> list[str]:
        with self._reader.connect() as conn:
            keys = conn.execute(self._related, {"key": model_key}).scalars().all()
        return sorted(keys)

    def get_related_model_keys_batch(self, model_keys: Sequence[str]) -> list[str]:
        if not model_keys:
            return []
        keys = list(model_keys)
        chunks = [keys[start : start + _CHUNK] for start in range(0, len(keys), _CHUNK)]
        # Several statements read in one transaction, so they see one state.
        source = self._reader if len(chunks) == 1 else self._engine
        related: set[str] = set()
        with source.connect() as conn:
            for chunk in chunks:
                related.update(conn.execute(self._related_batch, {"keys": chunk}).scalars())
        return sorted(related)
