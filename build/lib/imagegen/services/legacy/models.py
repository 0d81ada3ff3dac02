"""Legacy models service: hand-written SQL over the shared ``sqlite3`` connection.

Only ``id`` and ``config`` are written; SQLite derives the searchable columns
(generated ``VIRTUAL`` columns) from the JSON, and its UNIQUE index on ``path``
is what reports a duplicate path.
"""

from __future__ import annotations

import json
import math
import sqlite3

from imagegen.db.legacy import LegacyDatabase
from imagegen.services.contracts.models import (
    ModelChanges,
    ModelConfig,
    ModelOrderBy,
    ModelsService,
    OrderDirection,
    apply_model_changes,
)
from imagegen.services.contracts.pages import Page
from imagegen.services.errors import DuplicateError, NotFoundError, RuleViolationError
from shadow._sources import Clock, IdSource

__all__ = ["LegacyModelsService"]

# SQLite's lower() folds ASCII letters only, the contract's case-insensitivity.
_ORDER_COLUMNS: dict[ModelOrderBy, tuple[str, ...]] = {
    ModelOrderBy.DEFAULT: ("type", "base", "lower(name)", "format"),
    ModelOrderBy.TYPE: ("type",),
    ModelOrderBy.BASE: ("base",),
    ModelOrderBy.NAME: ("lower(name)",),
    ModelOrderBy.FORMAT: ("format",),
    ModelOrderBy.SIZE: ("file_size",),
    ModelOrderBy.PATH: ("path",),
}


def _order(order_by: ModelOrderBy, direction: OrderDirection) -> str:
    way = "DESC" if OrderDirection(direction) is OrderDirection.DESC else "ASC"
    columns = (*_ORDER_COLUMNS[ModelOrderBy(order_by)], "id")
    return " ORDER BY " + ", ".join(f"{column} {way}" for column in columns)


_DEFAULT_ORDER = _order(ModelOrderBy.DEFAULT, OrderDirection.ASC)


def _dump(config: ModelConfig) -> str:
    return json.dumps(config.model_dump(mode="json"), ensure_ascii=False)


def _load(rows: list[sqlite3.Row]) -> list[ModelConfig]:
    return [ModelConfig.model_validate_json(row["config"]) for row in rows]


def _path_taken(cur: sqlite3.Cursor, path: str, other_than: str) -> bool:
    row = cur.execute("SELECT 1 FROM models WHERE path = ? AND id != ?", (path, other_than))
    return row.fetchone() is not None


class LegacyModelsService(ModelsService):
    """The model registry as the legacy application wrote it: raw SQL, one lock."""

    def __init__(self, db: LegacyDatabase, *, ids: IdSource, clock: Clock) -> None:
        self._db = db
        self._ids = ids
        self._clock = clock

    def add_model(self, config: ModelConfig) -> ModelConfig:
        with self._db.transaction() as cur:
            if cur.execute("SELECT 1 FROM models WHERE id = ?", (config.key,)).fetchone():
                raise DuplicateError("model", "key")
            if _path_taken(cur, config.path, config.key):
                raise DuplicateError("model", "path")
            stored = _dump(config)
            cur.execute("INSERT INTO models (id, config) VALUES (?, ?)", (config.key, stored))
        return ModelConfig.model_validate_json(stored)

    def del_model(self, key: str) -> None:
        with self._db.transaction() as cur:
            if cur.execute("DELETE FROM models WHERE id = ?", (key,)).rowcount == 0:
                raise NotFoundError("model", key)

    def replace_model(self, key: str, config: ModelConfig) -> ModelConfig:
        if config.key != key:
            raise RuleViolationError("key_mismatch", "a replacement config must keep the key")
        with self._db.transaction() as cur:
            return self._store(cur, config)

    def update_model(self, key: str, changes: ModelChanges) -> ModelConfig:
        with self._db.transaction() as cur:
            row = cur.execute("SELECT config FROM models WHERE id = ?", (key,)).fetchone()
            if row is None:
                raise NotFoundError("model", key)
            config = apply_model_changes(ModelConfig.model_validate_json(row["config"]), changes)
            return self._store(cur, config)

    def _store(self, cur: sqlite3.Cursor, config: ModelConfig) -> ModelConfig:
        """Overwrite an existing model's config (in the caller's transaction); return it."""
        if cur.execute("SELECT 1 FROM models WHERE id = ?", (config.key,)).fetchone() is None:
            raise NotFoundError("model", config.key)
        if _path_taken(cur, config.path, config.key):
            raise DuplicateError("model", "path")
        stored = _dump(config)
        cur.execute("UPDATE models SET config = ? WHERE id = ?", (stored, config.key))
        return ModelConfig.model_validate_json(stored)

    def get_model(self, key: str) -> ModelConfig:
        with self._db.transaction() as cur:
            row = cur.execute("SELECT config FROM models WHERE id = ?", (key,)).fetchone()
        if row is None:
            raise NotFoundError("model", key)
        return ModelConfig.model_validate_json(row["config"])

    def get_model_by_hash(self, hash: str) -> ModelConfig:
        with self._db.transaction() as cur:
            row = cur.execute(
                "SELECT config FROM models WHERE hash = ? ORDER BY id LIMIT 1", (hash,)
            ).fetchone()
        if row is None:
            raise NotFoundError("model with hash", hash)
        return ModelConfig.model_validate_json(row["config"])

    def exists(self, key: str) -> bool:
        with self._db.transaction() as cur:
            row = cur.execute("SELECT 1 FROM models WHERE id = ?", (key,)).fetchone()
        return row is not None

    def search_by_attr(
        self,
        model_name: str | None = None,
        base: str | None = None,
        type: str | None = None,
        format: str | None = None,
        *,
        order_by: ModelOrderBy = ModelOrderBy.DEFAULT,
        direction: OrderDirection = OrderDirection.ASC,
    ) -> list[ModelConfig]:
        clauses: list[str] = []
        params: list[str] = []
        for column, value in (
            ("name", model_name),
            ("base", base),
            ("type", type),
            ("format", format),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._db.transaction() as cur:
            rows = cur.execute(
                f"SELECT config FROM models{where}{_order(order_by, direction)}", params
            ).fetchall()
        return _load(rows)

    def search_by_path(self, path: str) -> list[ModelConfig]:
        with self._db.transaction() as cur:
            rows = cur.execute("SELECT config FROM models WHERE path = ?", (path,)).fetchall()
        return _load(rows)

    def search_by_hash(self, hash: str) -> list[ModelConfig]:
        with self._db.transaction() as cur:
            rows = cur.execute(
                f"SELECT config FROM models WHERE hash = ?{_DEFAULT_ORDER}", (hash,)
            ).fetchall()
        return _load(rows)

    def all_models(self) -> list[ModelConfig]:
        with self._db.transaction() as cur:
            rows = cur.execute(f"SELECT config FROM models{_DEFAULT_ORDER}").fetchall()
        return _load(rows)

    def list_models(
        self,
        page: int = 0,
        per_page: int | None = 10,
        order_by: ModelOrderBy = ModelOrderBy.DEFAULT,
        direction: OrderDirection = OrderDirection.ASC,
    ) -> Page[ModelConfig]:
        if page < 0 or (per_page is not None and per_page < 1):
            raise RuleViolationError("pagination", "page must be >= 0 and per_page >= 1")
        order = _order(order_by, direction)
        with self._db.transaction() as cur:
            total: int = cur.execute("SELECT COUNT(*) FROM models").fetchone()[0]
            if per_page is None:
                rows = cur.execute(f"SELECT config FROM models{order}").fetchall()
            else:
                rows = cur.execute(
                    f"SELECT config FROM models{order} LIMIT ? OFFSET ?",
                    (per_page, page * per_page),
                ).fetchall()
        pages = 1 if per_page is None else math.ceil(total / per_page)
        return Page[ModelConfig](
            page=page, pages=pages, per_page=per_page, total=total, items=_load(rows)
        )
