"""Legacy board_images service: raw SQL over the shared ``sqlite3`` connection.

One locked transaction per call. ``add_image_to_board`` is SQLite's upsert on
the ``image_name`` key, so moving an image keeps the link's ``created_at``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from imagegen.db.legacy import LegacyDatabase
from imagegen.services.contracts.board_images import (
    ASSET_CATEGORIES,
    IMAGE_CATEGORIES,
    NO_BOARD,
    BoardImagesService,
)
from imagegen.services.errors import NotFoundError
from shadow._sources import Clock, IdSource

__all__ = ["LegacyBoardImagesService"]


def _board_filter(board_id: str) -> tuple[str, list[Any]]:
    """FROM/WHERE fragments selecting the images on ``board_id`` (or on none)."""
    if board_id == NO_BOARD:
        return (
            " FROM images LEFT JOIN board_images ON board_images.image_name = images.image_name"
            " WHERE board_images.board_id IS NULL",
            [],
        )
    return (
        " FROM images JOIN board_images ON board_images.image_name = images.image_name"
        " WHERE board_images.board_id = ?",
        [board_id],
    )


def _in(column: str, values: Sequence[str]) -> str:
    # SQLite accepts an empty IN list (it matches nothing), which is the contract.
    return f" AND {column} IN ({', '.join('?' * len(values))})"


class LegacyBoardImagesService(BoardImagesService):
    """Board/image links on the legacy SQLite database."""

    def __init__(self, db: LegacyDatabase, *, ids: IdSource, clock: Clock) -> None:
        self._db = db
        self._ids = ids
        self._clock = clock

    def add_image_to_board(self, board_id: str, image_name: str) -> None:
        with self._db.transaction() as cur:
            if (
                cur.execute("SELECT 1 FROM boards WHERE board_id = ?", (board_id,)).fetchone()
                is None
            ):
                raise NotFoundError("board", board_id)
            if (
                cur.execute("SELECT 1 FROM images WHERE image_name = ?", (image_name,)).fetchone()
                is None
            ):
                raise NotFoundError("image", image_name)
            cur.execute(
                "INSERT INTO board_images (board_id, image_name) VALUES (?, ?)"
                " ON CONFLICT (image_name) DO UPDATE SET board_id = excluded.board_id",
                (board_id, image_name),
            )

    def remove_image_from_board(self, image_name: str) -> None:
        with self._db.transaction() as cur:
            cur.execute("DELETE FROM board_images WHERE image_name = ?", (image_name,))

    def get_board_for_image(self, image_name: str) -> str | None:
        with self._db.transaction() as cur:
            row = cur.execute(
                "SELECT board_id FROM board_images WHERE image_name = ?", (image_name,)
            ).fetchone()
        return None if row is None else str(row["board_id"])

    def get_all_board_image_names_for_board(
        self,
        board_id: str,
        categories: Sequence[str] | None = None,
        is_intermediate: bool | None = None,
        user_id: str | None = None,
    ) -> list[str]:
        source, params = _board_filter(board_id)
        sql = "SELECT images.image_name" + source
        if categories is not None:
            sql += _in("images.image_category", categories)
            params.extend(categories)
        if is_intermediate is not None:
            sql += " AND images.is_intermediate = ?"
            params.append(int(is_intermediate))
        if user_id is not None:
            sql += " AND images.user_id = ?"
            params.append(user_id)
        with self._db.transaction() as cur:
            return [row["image_name"] for row in cur.execute(sql, params).fetchall()]

    def _count(self, board_id: str, categories: Sequence[str]) -> int:
        source, params = _board_filter(board_id)
        sql = (
            "SELECT COUNT(*)"
            + source
            + " AND images.is_intermediate = 0"
            + _in("images.image_category", categories)
        )
        with self._db.transaction() as cur:
            (count,) = cur.execute(sql, [*params, *categories]).fetchone()
        return int(count)

    def get_image_count_for_board(self, board_id: str) -> int:
        return self._count(board_id, IMAGE_CATEGORIES)

    def get_asset_count_for_board(self, board_id: str) -> int:
        return self._count(board_id, ASSET_CATEGORIES)
