"""Legacy style_presets service: hand-written SQL over the shared ``sqlite3`` connection."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from imagegen.db.legacy import LegacyDatabase
from imagegen.db.types import parse_utc
from imagegen.services.contracts.style_presets import (
    PresetData,
    PresetType,
    StylePresetChanges,
    StylePresetRecord,
    StylePresetsService,
    StylePresetWithoutId,
)
from imagegen.services.errors import NotFoundError
from shadow._sources import Clock, IdSource

__all__ = ["LegacyStylePresetsService"]

_COLUMNS = "id, name, preset_data, type, user_id, is_public, created_at, updated_at"
_GET = f"SELECT {_COLUMNS} FROM style_presets WHERE id = ?"
_INSERT = (
    "INSERT INTO style_presets (id, name, preset_data, type, user_id, is_public) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_DELETE = "DELETE FROM style_presets WHERE id = ?"


def _record(row: sqlite3.Row) -> StylePresetRecord:
    return StylePresetRecord(
        id=row["id"],
        name=row["name"],
        preset_data=PresetData.model_validate_json(row["preset_data"]),
        type=row["type"],
        user_id=row["user_id"],
        is_public=bool(row["is_public"]),
        created_at=parse_utc(row["created_at"]),
        updated_at=parse_utc(row["updated_at"]),
    )


class LegacyStylePresetsService(StylePresetsService):
    """Style presets in the ``style_presets`` table."""

    def __init__(self, db: LegacyDatabase, *, ids: IdSource, clock: Clock) -> None:
        self._db = db
        self._ids = ids
        self._clock = clock

    def get(self, style_preset_id: str) -> StylePresetRecord:
        with self._db.transaction() as cursor:
            return self._get(cursor, style_preset_id)

    @staticmethod
    def _get(cursor: sqlite3.Cursor, style_preset_id: str) -> StylePresetRecord:
        row = cursor.execute(_GET, (style_preset_id,)).fetchone()
        if row is None:
            raise NotFoundError("style_preset", style_preset_id)
        return _record(row)

    def _insert(
        self, cursor: sqlite3.Cursor, preset: StylePresetWithoutId, user_id: str
    ) -> StylePresetRecord:
        preset_id = self._ids.new_id()
        cursor.execute(
            _INSERT,
            (
                preset_id,
                preset.name,
                preset.preset_data.model_dump_json(),
                preset.type.value,
                user_id,
                int(preset.is_public),
            ),
        )
        return self._get(cursor, preset_id)

    def create(self, preset: StylePresetWithoutId, user_id: str) -> StylePresetRecord:
        with self._db.transaction() as cursor:
            return self._insert(cursor, preset, user_id)

    def create_many(
        self, presets: Sequence[StylePresetWithoutId], user_id: str
    ) -> list[StylePresetRecord]:
        with self._db.transaction() as cursor:
            return [self._insert(cursor, preset, user_id) for preset in presets]

    def update(self, style_preset_id: str, changes: StylePresetChanges) -> StylePresetRecord:
        assignments: list[str] = []
        values: list[Any] = []
        if changes.name is not None:
            assignments.append("name = ?")
            values.append(changes.name)
        if changes.preset_data is not None:
            assignments.append("preset_data = ?")
            values.append(changes.preset_data.model_dump_json())
        if changes.type is not None:
            assignments.append("type = ?")
            values.append(changes.type.value)
        if changes.is_public is not None:
            assignments.append("is_public = ?")
            values.append(int(changes.is_public))
        # With nothing to change the row is still touched, so updated_at moves.
        set_clause = ", ".join(assignments) or "name = name"
        with self._db.transaction() as cursor:
            cursor.execute(
                f"UPDATE style_presets SET {set_clause} WHERE id = ?",
                (*values, style_preset_id),
            )
            if cursor.rowcount == 0:
                raise NotFoundError("style_preset", style_preset_id)
            return self._get(cursor, style_preset_id)

    def delete(self, style_preset_id: str) -> None:
        with self._db.transaction() as cursor:
            cursor.execute(_DELETE, (style_preset_id,))

    def get_many(
        self,
        type: PresetType | None = None,
        user_id: str | None = None,
        is_admin: bool = False,
    ) -> list[StylePresetRecord]:
        conditions: list[str] = []
        values: list[Any] = []
        if type is not None:
            conditions.append("type = ?")
            values.append(type.value)
        if not is_admin:
            if user_id is None:
                conditions.append("(type = 'default' OR is_public = 1)")
            else:
                conditions.append("(type = 'default' OR is_public = 1 OR user_id = ?)")
                values.append(user_id)
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        query = f"SELECT {_COLUMNS} FROM style_presets{where} ORDER BY LOWER(name), id"
        with self._db.transaction() as cursor:
            rows = cursor.execute(query, values).fetchall()
        return [_record(row) for row in rows]
