"""SQLModel board_images service: SQLAlchemy Core over the SQLModel tables.

Putting an image on a board is the shared upsert (:mod:`imagegen.services.core._upsert`);
the name-list variants (which filters are present) are built on first use in the
service's statement cache, the rest at import.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from imagegen.db.tables import metadata
from imagegen.services.contracts.board_images import (
    ASSET_CATEGORIES,
    IMAGE_CATEGORIES,
    NO_BOARD,
    BoardImagesService,
)
from imagegen.services.core._base import CoreService
from imagegen.services.core._upsert import upsert
from imagegen.services.errors import NotFoundError
from shadow._sources import Clock, IdSource

__all__ = ["CoreBoardImagesService"]

_links = metadata.tables["board_images"]
_images = metadata.tables["images"]
_boards = metadata.tables["boards"]

# Locked for share on the servers, so a concurrent delete of the board or image waits
# instead of surfacing as a foreign-key error; SQLite renders no lock clause.
_BOARD_EXISTS = (
    sa.select(sa.literal(1))
    .where(_boards.c.board_id == sa.bindparam("bid"))
    .with_for_update(read=True)
)
_IMAGE_EXISTS = (
    sa.select(sa.literal(1))
    .where(_images.c.image_name == sa.bindparam("name"))
    .with_for_update(read=True)
)
_REMOVE = _links.delete().where(_links.c.image_name == sa.bindparam("name"))
_BOARD_FOR_IMAGE = sa.select(_links.c.board_id).where(_links.c.image_name == sa.bindparam("name"))

_on_board = sa.join(_images, _links, _links.c.image_name == _images.c.image_name)
_with_links = sa.outerjoin(_images, _links, _links.c.image_name == _images.c.image_name)

# (on no board?, has categories?, has is_intermediate?, has user_id?)
_NamesKey = tuple[bool, bool, bool, bool]


def _from_board(statement: sa.Select[Any], no_board: bool) -> sa.Select[Any]:
    if no_board:
        return statement.select_from(_with_links).where(_links.c.board_id.is_(None))
    return statement.select_from(_on_board).where(_links.c.board_id == sa.bindparam("bid"))


def _count(no_board: bool, categories: tuple[str, ...]) -> sa.Select[Any]:
    # The categories are fixed per method: equalities, not an "expanding" IN list
    # that would be re-rendered into the SQL on every execution.
    # Labelled: a column with a name of its own is what lets the count run on the
    # SQLite driver path (DriverRead), not through the full execution layer (4x).
    statement = sa.select(sa.func.count().label("count")).where(
        _images.c.is_intermediate == sa.false(),
        sa.or_(*(_images.c.image_category == category for category in categories)),
    )
    return _from_board(statement, no_board)


_COUNTS: dict[tuple[bool, tuple[str, ...]], sa.Select[Any]] = {
    (no_board, categories): _count(no_board, categories)
    for no_board in (False, True)
    for categories in (IMAGE_CATEGORIES, ASSET_CATEGORIES)
}


class CoreBoardImagesService(CoreService, BoardImagesService):
    """Board/image links on SQLite, PostgreSQL or MariaDB."""

    def __init__(self, engine: sa.Engine, *, ids: IdSource, clock: Clock) -> None:
        super().__init__(engine, ids=ids, clock=clock)
        # Put an image on a board, moving it if it is on another one already.
        self._upsert = upsert(_links, ["image_name"], ["board_id"], self._dialect)

    def _names_statement(self, key: _NamesKey) -> sa.Select[Any]:
        def build() -> sa.Select[Any]:
            no_board, by_category, by_intermediate, by_user = key
            statement = _from_board(sa.select(_images.c.image_name), no_board)
            if by_category:
                statement = statement.where(
                    _images.c.image_category.in_(sa.bindparam("categories", expanding=True))
                )
            if by_intermediate:
                statement = statement.where(
                    _images.c.is_intermediate == sa.bindparam("is_intermediate")
                )
            if by_user:
                statement = statement.where(_images.c.user_id == sa.bindparam("user_id"))
            return statement

        return self._statement(("names", *key), build)

    def add_image_to_board(self, board_id: str, image_name: str) -> None:
        with self._writes.begin() as conn:
            if conn.execute(_BOARD_EXISTS, {"bid": board_id}).first() is None:
                raise NotFoundError("board", board_id)
            if conn.execute(_IMAGE_EXISTS, {"name": image_name}).first() is None:
                raise NotFoundError("image", image_name)
            conn.execute(self._upsert, {"board_id": board_id, "image_name": image_name})

    def remove_image_from_board(self, image_name: str) -> None:
        with self._writer.begin() as conn:
            conn.execute(_REMOVE, {"name": image_name})

    def get_board_for_image(self, image_name: str) -> str | None:
        # One row at most: an image is on one board (image_name is the key).
        row = self._reads.one(_BOARD_FOR_IMAGE, {"name": image_name})
        return None if row is None or row["board_id"] is None else str(row["board_id"])

    def get_all_board_image_names_for_board(
        self,
        board_id: str,
        categories: Sequence[str] | None = None,
        is_intermediate: bool | None = None,
        user_id: str | None = None,
    ) -> list[str]:
        no_board = board_id == NO_BOARD
        key = (no_board, categories is not None, is_intermediate is not None, user_id is not None)
        params: dict[str, Any] = {
            "bid": board_id,
            "categories": list(categories or ()),
            "is_intermediate": is_intermediate,
            "user_id": user_id,
        }
        return [row["image_name"] for row in self._reads.all(self._names_statement(key), params)]

    def _count(self, board_id: str, categories: tuple[str, ...]) -> int:
        row = self._reads.one(_COUNTS[(board_id == NO_BOARD, categories)], {"bid": board_id})
        assert row is not None  # a count has one row
        return int(row["count"])

    def get_image_count_for_board(self, board_id: str) -> int:
        return self._count(board_id, IMAGE_CATEGORIES)

    def get_asset_count_for_board(self, board_id: str) -> int:
        return self._count(board_id, ASSET_CATEGORIES)
