"""Legacy boards service: raw SQL over the shared ``sqlite3`` connection.

One locked transaction per call. The visibility filter is a ``WHERE`` built
from fixed fragments (never from caller text); the order column comes from a
closed mapping of :class:`BoardOrder` values, so nothing the caller passes is
ever spliced into SQL.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from imagegen.db.legacy import LegacyDatabase
from imagegen.db.types import parse_utc
from imagegen.services.contracts.boards import (
    Board,
    BoardChanges,
    BoardOrder,
    BoardShare,
    BoardsService,
    BoardVisibility,
    Direction,
    check_board_name,
    check_page,
)
from imagegen.services.contracts.pages import OffsetPage
from imagegen.services.errors import NotFoundError
from shadow._sources import Clock, IdSource

__all__ = ["LegacyBoardsService"]

_BOARD_COLUMNS = (
    "board_id, board_name, cover_image_name, created_at, updated_at, deleted_at,"
    " archived, user_id, is_public, board_visibility"
)
_ORDER_COLUMNS = {BoardOrder.CREATED_AT: "created_at", BoardOrder.BOARD_NAME: "LOWER(board_name)"}
_VISIBLE_TO_USER = (
    "(user_id = :user_id"
    " OR board_id IN (SELECT board_id FROM shared_boards WHERE user_id = :user_id)"
    " OR board_visibility IN ('shared', 'public'))"
)
_NOT_ARCHIVED = "(archived IS NULL OR archived = 0)"


def _board(row: sqlite3.Row) -> Board:
    deleted_at = row["deleted_at"]
    return Board(
        board_id=row["board_id"],
        board_name=row["board_name"],
        cover_image_name=row["cover_image_name"],
        created_at=parse_utc(row["created_at"]),
        updated_at=parse_utc(row["updated_at"]),
        deleted_at=None if deleted_at is None else parse_utc(deleted_at),
        archived=bool(row["archived"]),
        user_id=row["user_id"],
        is_public=bool(row["is_public"]),
        board_visibility=row["board_visibility"],
    )


def _listing(
    user_id: str,
    is_admin: bool,
    order_by: BoardOrder,
    direction: Direction,
    include_archived: bool,
) -> tuple[str, str, dict[str, Any]]:
    """The WHERE clause, the ORDER BY clause and the parameters of a board listing."""
    conditions = []
    if not is_admin:
        conditions.append(_VISIBLE_TO_USER)
    if not include_archived:
        conditions.append(_NOT_ARCHIVED)
    where = " WHERE " + " AND ".join(conditions) if conditions else ""
    way = "ASC" if Direction(direction) is Direction.ASC else "DESC"
    order = f" ORDER BY {_ORDER_COLUMNS[BoardOrder(order_by)]} {way}, board_id {way}"
    return where, order, {"user_id": user_id}


class LegacyBoardsService(BoardsService):
    """Boards with sharing on the legacy SQLite database."""

    def __init__(self, db: LegacyDatabase, *, ids: IdSource, clock: Clock) -> None:
        self._db = db
        self._ids = ids
        self._clock = clock

    @staticmethod
    def _fetch(cur: sqlite3.Cursor, board_id: str) -> Board:
        row = cur.execute(
            f"SELECT {_BOARD_COLUMNS} FROM boards WHERE board_id = ?", (board_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError("board", board_id)
        return _board(row)

    def save(self, board_name: str, user_id: str) -> Board:
        check_board_name(board_name)
        with self._db.transaction() as cur:
            board_id = self._ids.new_id()
            cur.execute(
                "INSERT INTO boards (board_id, board_name, user_id) VALUES (?, ?, ?)",
                (board_id, board_name, user_id),
            )
            return self._fetch(cur, board_id)

    def get(self, board_id: str) -> Board:
        with self._db.transaction() as cur:
            return self._fetch(cur, board_id)

    def update(self, board_id: str, changes: BoardChanges) -> Board:
        applied = changes.model_fields_set
        if "board_name" in applied and changes.board_name is not None:
            check_board_name(changes.board_name)
        with self._db.transaction() as cur:
            board = self._fetch(cur, board_id)
            values: dict[str, Any] = {}
            if "board_name" in applied:
                values["board_name"] = changes.board_name
            if "cover_image_name" in applied:
                cover = changes.cover_image_name
                if cover is not None and (
                    cur.execute("SELECT 1 FROM images WHERE image_name = ?", (cover,)).fetchone()
                    is None
                ):
                    raise NotFoundError("image", cover)
                values["cover_image_name"] = cover
            if "archived" in applied:
                values["archived"] = int(bool(changes.archived))
            if "board_visibility" in applied and changes.board_visibility is not None:
                visibility = BoardVisibility(changes.board_visibility)
                values["board_visibility"] = visibility.value
                values["is_public"] = int(visibility is BoardVisibility.PUBLIC)
            if not values:
                return board
            assignments = ", ".join(f"{column} = ?" for column in values)
            cur.execute(
                f"UPDATE boards SET {assignments} WHERE board_id = ?", (*values.values(), board_id)
            )
            return self._fetch(cur, board_id)

    def delete(self, board_id: str) -> None:
        with self._db.transaction() as cur:
            cur.execute("DELETE FROM boards WHERE board_id = ?", (board_id,))

    def share(self, board_id: str, user_id: str, can_edit: bool = False) -> None:
        with self._db.transaction() as cur:
            self._fetch(cur, board_id)
            if cur.execute("SELECT 1 FROM users WHERE user_id = ?", (user_id,)).fetchone() is None:
                raise NotFoundError("user", user_id)
            cur.execute(
                "INSERT INTO shared_boards (board_id, user_id, can_edit) VALUES (?, ?, ?)"
                " ON CONFLICT (board_id, user_id) DO UPDATE SET can_edit = excluded.can_edit",
                (board_id, user_id, int(can_edit)),
            )

    def unshare(self, board_id: str, user_id: str) -> None:
        with self._db.transaction() as cur:
            cur.execute(
                "DELETE FROM shared_boards WHERE board_id = ? AND user_id = ?", (board_id, user_id)
            )

    def list_shares(self, board_id: str) -> list[BoardShare]:
        with self._db.transaction() as cur:
            rows = cur.execute(
                "SELECT board_id, user_id, can_edit, shared_at FROM shared_boards"
                " WHERE board_id = ? ORDER BY user_id",
                (board_id,),
            ).fetchall()
        return [
            BoardShare(
                board_id=row["board_id"],
                user_id=row["user_id"],
                can_edit=bool(row["can_edit"]),
                shared_at=parse_utc(row["shared_at"]),
            )
            for row in rows
        ]

    def get_many(
        self,
        user_id: str,
        is_admin: bool,
        order_by: BoardOrder = BoardOrder.CREATED_AT,
        direction: Direction = Direction.DESC,
        *,
        offset: int = 0,
        limit: int = 10,
        include_archived: bool = False,
    ) -> OffsetPage[Board]:
        check_page(offset, limit)
        where, order, params = _listing(user_id, is_admin, order_by, direction, include_archived)
        with self._db.transaction() as cur:
            rows = cur.execute(
                f"SELECT {_BOARD_COLUMNS} FROM boards{where}{order} LIMIT :limit OFFSET :offset",
                {**params, "limit": limit, "offset": offset},
            ).fetchall()
            (total,) = cur.execute(f"SELECT COUNT(*) FROM boards{where}", params).fetchone()
        return OffsetPage[Board](
            items=[_board(row) for row in rows], offset=offset, limit=limit, total=total
        )

    def get_all(
        self,
        user_id: str,
        is_admin: bool,
        order_by: BoardOrder = BoardOrder.CREATED_AT,
        direction: Direction = Direction.DESC,
        *,
        include_archived: bool = False,
    ) -> list[Board]:
        where, order, params = _listing(user_id, is_admin, order_by, direction, include_archived)
        with self._db.transaction() as cur:
            rows = cur.execute(f"SELECT {_BOARD_COLUMNS} FROM boards{where}{order}", params)
            return [_board(row) for row in rows.fetchall()]
