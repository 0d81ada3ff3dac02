"""SQLModel models service: SQLAlchemy Core over the SQLModel ``models`` table.

Only ``id`` and ``config`` are written; the generated columns are read for
filters and ordering. Text ordering and equality use the code-point collation
and ASCII-only case folding of the legacy SQLite layer on every backend
(``imagegen.services.core._portable``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from imagegen.db.tables import ModelTable
from imagegen.services.contracts.models import (
    ModelChanges,
    ModelConfig,
    ModelOrderBy,
    ModelsService,
    OrderDirection,
    apply_model_changes,
)
from imagegen.services.contracts.pages import Page
from imagegen.services.core._base import CoreService
from imagegen.services.core._portable import ascii_lower, code_point_order
from imagegen.services.errors import DuplicateError, NotFoundError, RuleViolationError
from shadow._sources import Clock, IdSource

__all__ = ["CoreModelsService"]

_models: sa.Table = ModelTable.__table__  # type: ignore[attr-defined]
_FILTERS = ("name", "base", "type", "format")


def _dump(config: ModelConfig) -> str:
    return json.dumps(config.model_dump(mode="json"), ensure_ascii=False)


def _load(rows: Sequence[Mapping[Any, Any]]) -> list[ModelConfig]:
    return [ModelConfig.model_validate_json(row["config"]) for row in rows]


class CoreModelsService(CoreService, ModelsService):
    """The model registry on SQLModel tables (SQLite, PostgreSQL, MariaDB)."""

    def __init__(self, engine: sa.Engine, *, ids: IdSource, clock: Clock) -> None:
        super().__init__(engine, ids=ids, clock=clock)
        dialect = self._dialect
        c = _models.c
        key: sa.BindParameter[str] = sa.bindparam("key")

        def text(column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
            return code_point_order(column, dialect)

        name = text(ascii_lower(c.name, dialect))
        order_columns: dict[ModelOrderBy, tuple[sa.ColumnElement[Any], ...]] = {
            ModelOrderBy.DEFAULT: (text(c.type), text(c.base), name, text(c.format)),
            ModelOrderBy.TYPE: (text(c.type),),
            ModelOrderBy.BASE: (text(c.base),),
            ModelOrderBy.NAME: (name,),
            ModelOrderBy.FORMAT: (text(c.format),),
            ModelOrderBy.SIZE: (c.file_size,),
            ModelOrderBy.PATH: (text(c.path),),
        }
        self._orders = {
            (order_by, direction): tuple(
                column.desc() if direction is OrderDirection.DESC else column.asc()
                for column in (*columns, text(c.id))
            )
            for order_by, columns in order_columns.items()
            for direction in OrderDirection
        }
        default = self._orders[(ModelOrderBy.DEFAULT, OrderDirection.ASC)]
        self._filter_columns = {
            "name": text(c.name),
            "base": text(c.base),
            "type": text(c.type),
            "format": text(c.format),
        }
        self._insert = sa.insert(_models)
        self._update = sa.update(_models).where(c.id == key).values(config=sa.bindparam("config"))
        self._delete = sa.delete(_models).where(c.id == key)
        self._get = sa.select(c.config).where(c.id == key)
        self._exists = sa.select(c.id).where(c.id == key)
        self._path_taken = sa.select(c.id).where(c.path == sa.bindparam("path"), c.id != key)
        self._by_hash = sa.select(c.config).where(c.hash == sa.bindparam("hash")).order_by(*default)
        self._first_by_hash = (
            sa.select(c.config).where(c.hash == sa.bindparam("hash")).order_by(text(c.id)).limit(1)
        )
        self._by_path = sa.select(c.config).where(c.path == sa.bindparam("path"))
        self._all = sa.select(c.config).order_by(*default)
        self._count = sa.select(sa.func.count()).select_from(_models)

    def add_model(self, config: ModelConfig) -> ModelConfig:
        stored = _dump(config)
        with self._writer.begin() as conn:
            if conn.execute(self._exists, {"key": config.key}).first() is not None:
                raise DuplicateError("model", "key")
            self._check_path(conn, config)
            try:
                conn.execute(self._insert, {"id": config.key, "config": stored})
            except IntegrityError:
                # Lost a race with a concurrent insert: report what is taken now.
                raise DuplicateError("model", self._taken_field(config)) from None
        return ModelConfig.model_validate_json(stored)

    def _taken_field(self, config: ModelConfig) -> str:
        with self._engine.connect() as conn:
            if conn.execute(self._exists, {"key": config.key}).first() is not None:
                return "key"
        return "path"

    def _check_path(self, conn: sa.Connection, config: ModelConfig) -> None:
        params = {"path": config.path, "key": config.key}
        if conn.execute(self._path_taken, params).first() is not None:
            raise DuplicateError("model", "path")

    def del_model(self, key: str) -> None:
        with self._writer.begin() as conn:
            if conn.execute(self._delete, {"key": key}).rowcount == 0:
                raise NotFoundError("model", key)

    def replace_model(self, key: str, config: ModelConfig) -> ModelConfig:
        if config.key != key:
            raise RuleViolationError("key_mismatch", "a replacement config must keep the key")
        with self._writer.begin() as conn:
            return self._store(conn, config)

    def update_model(self, key: str, changes: ModelChanges) -> ModelConfig:
        with self._writer.begin() as conn:
            text = conn.execute(self._get, {"key": key}).scalar_one_or_none()
            if text is None:
                raise NotFoundError("model", key)
            config = apply_model_changes(ModelConfig.model_validate_json(text), changes)
            return self._store(conn, config)

    def _store(self, conn: sa.Connection, config: ModelConfig) -> ModelConfig:
        """Overwrite an existing model's config (in the caller's transaction); return it."""
        if conn.execute(self._exists, {"key": config.key}).first() is None:
            raise NotFoundError("model", config.key)
        self._check_path(conn, config)
        stored = _dump(config)
        try:
            conn.execute(self._update, {"key": config.key, "config": stored})
        except IntegrityError:
            raise DuplicateError("model", "path") from None
        return ModelConfig.model_validate_json(stored)

    def get_model(self, key: str) -> ModelConfig:
        row = self._reads.one(self._get, {"key": key})  # one row at most: key is the key
        if row is None or row["config"] is None:
            raise NotFoundError("model", key)
        return ModelConfig.model_validate_json(row["config"])

    def get_model_by_hash(self, hash: str) -> ModelConfig:
        with self._reader.connect() as conn:
            text = conn.execute(self._first_by_hash, {"hash": hash}).scalar_one_or_none()
        if text is None:
            raise NotFoundError("model with hash", hash)
        return ModelConfig.model_validate_json(text)

    def exists(self, key: str) -> bool:
        with self._reader.connect() as conn:
            return conn.execute(self._exists, {"key": key}).first() is not None

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
        values = dict(zip(_FILTERS, (model_name, base, type, format), strict=True))
        params = {name: value for name, value in values.items() if value is not None}
        order = (ModelOrderBy(order_by), OrderDirection(direction))
        shape = (tuple(params), order)
        statement = self._statement(
            ("search", *shape),
            lambda: (
                sa.select(_models.c.config)
                .where(*(self._filter_columns[name] == sa.bindparam(name) for name in params))
                .order_by(*self._orders[order])
            ),
        )
        return _load(self._reads.all(statement, params))

    def search_by_path(self, path: str) -> list[ModelConfig]:
        with self._reader.connect() as conn:
            return _load(conn.execute(self._by_path, {"path": path}).mappings().all())

    def search_by_hash(self, hash: str) -> list[ModelConfig]:
        with self._reader.connect() as conn:
            return _load(conn.execute(self._by_hash, {"hash": hash}).mappings().all())

    def all_models(self) -> list[ModelConfig]:
        with self._reader.connect() as conn:
            return _load(conn.execute(self._all).mappings().all())

    def list_models(
        self,
        page: int = 0,
        per_page: int | None = 10,
        order_by: ModelOrderBy = ModelOrderBy.DEFAULT,
        direction: OrderDirection = OrderDirection.ASC,
    ) -> Page[ModelConfig]:
        if page < 0 or (per_page is not None and per_page < 1):
            raise RuleViolationError("pagination", "page must be >= 0 and per_page >= 1")
        order = (ModelOrderBy(order_by), OrderDirection(direction))
        shape = (order, per_page is None)

        def build() -> sa.Select[Any]:
            statement = sa.select(_models.c.config).order_by(*self._orders[order])
            if per_page is not None:
                statement = statement.limit(sa.bindparam("limit")).offset(sa.bindparam("offset"))
            return statement

        statement = self._statement(("page", *shape), build)
        params = {} if per_page is None else {"limit": per_page, "offset": page * per_page}
        with self._engine.connect() as conn:
            total: int = conn.execute(self._count).scalar_one()
            rows = conn.execute(statement, params).mappings().all()
        pages = 1 if per_page is None else math.ceil(total / per_page)
        return Page[ModelConfig](
            page=page, pages=pages, per_page=per_page, total=total, items=_load(rows)
        )
