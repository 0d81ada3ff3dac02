"""Legacy images service: hand-written SQL over the shared ``sqlite3`` connection."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from imagegen.db.legacy import LegacyDatabase
from imagegen.db.types import parse_utc
from imagegen.services.contracts.images import (
    LIKE_ESCAPE,
    ImageCategory,
    ImageChanges,
    ImageLocation,
    ImageNames,
    ImageOrigin,
    ImageRecord,
    ImagesService,
    OrderDirection,
    SavedImage,
    check_image_values,
    check_page,
    search_pattern,
)
from imagegen.services.contracts.pages import OffsetPage
from imagegen.services.errors import NotFoundError
from shadow._sources import Clock, IdSource

__all__ = ["LegacyImagesService"]

_COLUMNS = (
    "images.image_name, images.image_origin, images.image_category, images.width, "
    "images.height, images.session_id, images.node_id, images.is_intermediate, "
    "images.created_at, images.updated_at, images.deleted_at, images.starred, "
    "images.has_workflow, images.user_id, images.image_subfolder"
)
_SAVE_COLUMNS = (
    "image_name, image_origin, image_category, width, height, session_id, node_id, "
    "metadata, is_intermediate, starred, has_workflow, image_subfolder"
)
# Without user_id the column default ('system') applies, as the schema intends.
_INSERT = f"INSERT OR IGNORE INTO images ({_SAVE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
_INSERT_OWNED = (
    f"INSERT OR IGNORE INTO images ({_SAVE_COLUMNS}, user_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
_CHANGEABLE = ("image_category", "session_id", "is_intermediate", "starred")


def _record(row: sqlite3.Row) -> ImageRecord:
    return ImageRecord(
        image_name=row["image_name"],
        image_origin=row["image_origin"],
        image_category=row["image_category"],
        width=row["width"],
        height=row["height"],
        session_id=row["session_id"],
        node_id=row["node_id"],
        is_intermediate=bool(row["is_intermediate"]),
        created_at=parse_utc(row["created_at"]),
        updated_at=parse_utc(row["updated_at"]),
        deleted_at=parse_utc(row["deleted_at"]) if row["deleted_at"] is not None else None,
        starred=bool(row["starred"]),
        has_workflow=bool(row["has_workflow"]),
        user_id=row["user_id"],
        image_subfolder=row["image_subfolder"],
    )


def _filters(
    *,
    image_origin: ImageOrigin | None,
    categories: Sequence[ImageCategory] | None,
    is_intermediate: bool | None,
    board_id: str | None,
    search_term: str | None,
    user_id: str | None,
    is_admin: bool,
) -> tuple[str, list[Any]]:
    """The FROM ... WHERE part shared by every list query, and its parameters."""
    joins = ""
    clauses: list[str] = []
    params: list[Any] = []
    if board_id is not None:
        joins = " LEFT JOIN board_images ON board_images.image_name = images.image_name"
        if board_id == "none":
            clauses.append("board_images.board_id IS NULL")
        else:
            clauses.append("board_images.board_id = ?")
            params.append(board_id)
    if image_origin is not None:
        clauses.append("images.image_origin = ?")
        params.append(str(image_origin))
    if categories is not None:
        clauses.append(f"images.image_category IN ({','.join('?' * len(categories))})")
        params.extend(str(category) for category in categories)
    if is_intermediate is not None:
        clauses.append("images.is_intermediate = ?")
        params.append(int(is_intermediate))
    if user_id is not None and not is_admin:
        clauses.append("images.user_id = ?")
        params.append(user_id)
    if search_term:
        clauses.append(
            f"(lower(images.metadata) LIKE ? ESCAPE '{LIKE_ESCAPE}'"
            f" OR lower(images.created_at) LIKE ? ESCAPE '{LIKE_ESCAPE}')"
        )
        pattern = search_pattern(search_term)
        params.extend((pattern, pattern))
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    return f" FROM images{joins}{where}", params


def _order(starred_first: bool, order_dir: OrderDirection) -> str:
    direction = "ASC" if OrderDirection(order_dir) is OrderDirection.ASC else "DESC"
    prefix = "images.starred DESC, " if starred_first else ""
    # image_name breaks ties: without it LIMIT picks among equal rows by query plan.
    return f" ORDER BY {prefix}images.created_at {direction}, images.image_name {direction}"


class LegacyImagesService(ImagesService):
    """The images service as the legacy application wrote it: raw SQL, one lock."""

    def __init__(self, db: LegacyDatabase, *, ids: IdSource, clock: Clock) -> None:
        self._db = db
        self._ids = ids
        self._clock = clock

    def save(
        self,
        image_name: str,
        image_origin: ImageOrigin,
        image_category: ImageCategory,
        width: int,
        height: int,
        *,
        has_workflow: bool,
        is_intermediate: bool = False,
        starred: bool = False,
        session_id: str | None = None,
        node_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        user_id: str | None = None,
        image_subfolder: str = "",
    ) -> SavedImage:
        check_image_values(image_origin, image_category)
        values: list[Any] = [
            image_name,
            str(image_origin),
            str(image_category),
            width,
            height,
            session_id,
            node_id,
            json.dumps(metadata, ensure_ascii=False) if metadata is not None else None,
            int(is_intermediate),
            int(starred),
            int(has_workflow),
            image_subfolder,
        ]
        with self._db.transaction() as cur:
            if user_id is None:
                cur.execute(_INSERT, values)
            else:
                cur.execute(_INSERT_OWNED, [*values, user_id])
            row = cur.execute(
                "SELECT created_at FROM images WHERE image_name = ?", (image_name,)
            ).fetchone()
        return SavedImage(image_name=image_name, created_at=parse_utc(row["created_at"]))

    def get(self, image_name: str) -> ImageRecord:
        with self._db.transaction() as cur:
            row = cur.execute(
                f"SELECT {_COLUMNS} FROM images WHERE image_name = ?", (image_name,)
            ).fetchone()
        if row is None:
            raise NotFoundError("image", image_name)
        return _record(row)

    def get_metadata(self, image_name: str) -> dict[str, Any] | None:
        with self._db.transaction() as cur:
            row = cur.execute(
                "SELECT metadata FROM images WHERE image_name = ?", (image_name,)
            ).fetchone()
        if row is None:
            raise NotFoundError("image", image_name)
        metadata: dict[str, Any] | None = (
            json.loads(row["metadata"]) if row["metadata"] is not None else None
        )
        return metadata

    def get_user_id(self, image_name: str) -> str | None:
        with self._db.transaction() as cur:
            row = cur.execute(
                "SELECT user_id FROM images WHERE image_name = ?", (image_name,)
            ).fetchone()
        return None if row is None else str(row["user_id"])

    def update(self, image_name: str, changes: ImageChanges) -> None:
        assignments: list[str] = []
        params: list[Any] = []
        for column in _CHANGEABLE:
            value = getattr(changes, column)
            if value is None:
                continue
            assignments.append(f"{column} = ?")
            params.append(int(value) if isinstance(value, bool) else str(value))
        if not assignments:
            return
        with self._db.transaction() as cur:
            cur.execute(
                f"UPDATE images SET {', '.join(assignments)} WHERE image_name = ?",
                [*params, image_name],
            )

    def delete(self, image_name: str) -> None:
        with self._db.transaction() as cur:
            cur.execute("DELETE FROM images WHERE image_name = ?", (image_name,))

    def delete_many(self, image_names: Sequence[str]) -> None:
        if not image_names:
            return
        with self._db.transaction() as cur:
            cur.executemany(
                "DELETE FROM images WHERE image_name = ?", [(name,) for name in image_names]
            )

    def delete_intermediates(self) -> list[ImageLocation]:
        with self._db.transaction() as cur:
            rows = cur.execute(
                "SELECT image_name, image_subfolder FROM images WHERE is_intermediate = 1"
            ).fetchall()
            cur.execute("DELETE FROM images WHERE is_intermediate = 1")
        locations = [
            ImageLocation(image_name=row["image_name"], image_subfolder=row["image_subfolder"])
            for row in rows
        ]
        return sorted(locations, key=lambda location: location.image_name)

    def get_intermediates_count(self, user_id: str | None = None) -> int:
        sql = "SELECT COUNT(*) FROM images WHERE is_intermediate = 1"
        params: tuple[str, ...] = ()
        if user_id is not None:
            sql += " AND user_id = ?"
            params = (user_id,)
        with self._db.transaction() as cur:
            count: int = cur.execute(sql, params).fetchone()[0]
        return count

    def get_many(
        self,
        offset: int = 0,
        limit: int = 10,
        *,
        starred_first: bool = True,
        order_dir: OrderDirection = OrderDirection.DESC,
        image_origin: ImageOrigin | None = None,
        categories: Sequence[ImageCategory] | None = None,
        is_intermediate: bool | None = None,
        board_id: str | None = None,
        search_term: str | None = None,
        user_id: str | None = None,
        is_admin: bool = False,
    ) -> OffsetPage[ImageRecord]:
        check_page(offset, limit)
        source, params = _filters(
            image_origin=image_origin,
            categories=categories,
            is_intermediate=is_intermediate,
            board_id=board_id,
            search_term=search_term,
            user_id=user_id,
            is_admin=is_admin,
        )
        order = _order(starred_first, order_dir)
        with self._db.transaction() as cur:
            rows = cur.execute(
                f"SELECT {_COLUMNS}{source}{order} LIMIT ? OFFSET ?", [*params, limit, offset]
            ).fetchall()
            total: int = cur.execute(f"SELECT COUNT(*){source}", params).fetchone()[0]
        return OffsetPage[ImageRecord](
            items=[_record(row) for row in rows], offset=offset, limit=limit, total=total
        )

    def get_image_names(
        self,
        *,
        starred_first: bool = True,
        order_dir: OrderDirection = OrderDirection.DESC,
        image_origin: ImageOrigin | None = None,
        categories: Sequence[ImageCategory] | None = None,
        is_intermediate: bool | None = None,
        board_id: str | None = None,
        search_term: str | None = None,
        user_id: str | None = None,
        is_admin: bool = False,
    ) -> ImageNames:
        source, params = _filters(
            image_origin=image_origin,
            categories=categories,
            is_intermediate=is_intermediate,
            board_id=board_id,
            search_term=search_term,
            user_id=user_id,
            is_admin=is_admin,
        )
        order = _order(starred_first, order_dir)
        with self._db.transaction() as cur:
            rows = cur.execute(
                f"SELECT images.image_name, images.starred{source}{order}", params
            ).fetchall()
        return ImageNames(
            image_names=[row["image_name"] for row in rows],
            starred_count=sum(1 for row in rows if row["starred"]),
            total_count=len(rows),
        )

    def get_most_recent_image_for_board(self, board_id: str) -> ImageRecord | None:
        source, params = _filters(
            image_origin=None,
            categories=None,
            is_intermediate=False,
            board_id=board_id,
            search_term=None,
            user_id=None,
            is_admin=False,
        )
        order = _order(True, OrderDirection.DESC)
        with self._db.transaction() as cur:
            row = cur.execute(f"SELECT {_COLUMNS}{source}{order} LIMIT 1", params).fetchone()
        return None if row is None else _record(row)
