"""SQLModel style_presets service: SQLAlchemy Core over the SQLModel tables.

Statements are built once: the fixed ones at import, ``get_many`` once per
visibility shape and ``update`` once per set of changed columns, in the
service's statement cache (:class:`~imagegen.services.core._base.CoreService`).
Names are ordered by their ASCII-lowered form by code point on every backend,
as SQLite's ``ORDER BY LOWER(name)`` does (``imagegen.services.core._portable``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from imagegen.db.tables import metadata
from imagegen.services.contracts.style_presets import (
    PresetData,
    PresetType,
    StylePresetChanges,
    StylePresetRecord,
    StylePresetsService,
    StylePresetWithoutId,
)
from imagegen.services.core._base import CoreService, record
from imagegen.services.core._driver_write import WriteConnection
from imagegen.services.core._portable import ascii_lower, code_point_order
from imagegen.services.errors import NotFoundError
from shadow._sources import Clock, IdSource

__all__ = ["CoreStylePresetsService"]

_presets = metadata.tables["style_presets"]
_COLUMNS = (
    _presets.c.id,
    _presets.c.name,
    _presets.c.preset_data,
    _presets.c.type,
    _presets.c.user_id,
    _presets.c.is_public,
    _presets.c.created_at,
    _presets.c.updated_at,
)
_by_id = _presets.c.id == sa.bindparam("preset_id")
_GET = sa.select(*_COLUMNS).where(_by_id)
_INSERT = sa.insert(_presets)
_DELETE = sa.delete(_presets).where(_by_id)
_visible_to_all = sa.or_(_presets.c.type == "default", _presets.c.is_public == sa.true())


def _record(row: Mapping[Any, Any]) -> StylePresetRecord:
    return record(
        StylePresetRecord, row, preset_data=PresetData.model_validate_json(row["preset_data"])
    )


class CoreStylePresetsService(CoreService, StylePresetsService):
    """Style presets in the ``style_presets`` table."""

    def __init__(self, engine: sa.Engine, *, ids: IdSource, clock: Clock) -> None:
        super().__init__(engine, ids=ids, clock=clock)
        dialect = self._dialect
        self._order = (
            code_point_order(ascii_lower(_presets.c.name, dialect), dialect),
            code_point_order(_presets.c.id, dialect),
        )

    def get(self, style_preset_id: str) -> StylePresetRecord:
        with self._reader.connect() as conn:
            return self._get(conn, style_preset_id)

    @staticmethod
    def _get(conn: WriteConnection, style_preset_id: str) -> StylePresetRecord:
        row = conn.execute(_GET, {"preset_id": style_preset_id}).mappings().one_or_none()
        if row is None:
            raise NotFoundError("style_preset", style_preset_id)
        return _record(row)

    def _insert(
        self, conn: WriteConnection, preset: StylePresetWithoutId, user_id: str
    ) -> StylePresetRecord:
        preset_id = self._ids.new_id()
        conn.execute(
            _INSERT,
            {
                "id": preset_id,
                "name": preset.name,
                "preset_data": preset.preset_data.model_dump_json(),
                "type": preset.type.value,
                "user_id": user_id,
                "is_public": preset.is_public,
            },
        )
        return self._get(conn, preset_id)

    def create(self, preset: StylePresetWithoutId, user_id: str) -> StylePresetRecord:
        with self._writes.begin() as conn:
            return self._insert(conn, preset, user_id)

    def create_many(
        self, presets: Sequence[StylePresetWithoutId], user_id: str
    ) -> list[StylePresetRecord]:
        with self._writer.begin() as conn:
            return [self._insert(conn, preset, user_id) for preset in presets]

    def update(self, style_preset_id: str, changes: StylePresetChanges) -> StylePresetRecord:
        values: dict[str, Any] = {}
        if changes.name is not None:
            values["name"] = changes.name
        if changes.preset_data is not None:
            values["preset_data"] = changes.preset_data.model_dump_json()
        if changes.type is not None:
            values["type"] = changes.type.value
        if changes.is_public is not None:
            values["is_public"] = changes.is_public
        columns = tuple(values)
        statement = self._statement(
            ("update", columns),
            # With nothing to change the row is still touched, so updated_at moves.
            lambda: (
                sa.update(_presets)
                .where(_by_id)
                .values(
                    {name: sa.bindparam(f"new_{name}") for name in columns}
                    or {"name": _presets.c.name}
                )
            ),
        )
        params = {"preset_id": style_preset_id, **{f"new_{k}": v for k, v in values.items()}}
        with self._writes.begin() as conn:
            if conn.execute(statement, params).rowcount == 0:
                raise NotFoundError("style_preset", style_preset_id)
            return self._get(conn, style_preset_id)

    def delete(self, style_preset_id: str) -> None:
        with self._writer.begin() as conn:
            conn.execute(_DELETE, {"preset_id": style_preset_id})

    def _list_statement(self, by_type: bool, restricted: bool, own: bool) -> sa.Select[Any]:
        def build() -> sa.Select[Any]:
            statement = sa.select(*_COLUMNS)
            if by_type:
                statement = statement.where(_presets.c.type == sa.bindparam("type"))
            if restricted and own:
                statement = statement.where(
                    sa.or_(_visible_to_all, _presets.c.user_id == sa.bindparam("user_id"))
                )
            elif restricted:
                statement = statement.where(_visible_to_all)
            return statement.order_by(*self._order)

        return self._statement(("list", by_type, restricted, own), build)

    def get_many(
        self,
        type: PresetType | None = None,
        user_id: str | None = None,
        is_admin: bool = False,
    ) -> list[StylePresetRecord]:
        restricted = not is_admin
        own = restricted and user_id is not None
        statement = self._list_statement(type is not None, restricted, own)
        params: dict[str, Any] = {}
        if type is not None:
            params["type"] = PresetType(type).value
        if own:
            params["user_id"] = user_id
        return [_record(row) for row in self._reads.all(statement, params)]
