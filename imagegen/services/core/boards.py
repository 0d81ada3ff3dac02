"""SQLModel boards service: SQLAlchemy Core over the SQLModel tables.

Statements are built once: the fixed ones at import, the listing variants
(admin or not, archived or not, order column, direction) and the update
variants (which columns change) on first use, in the service's statement cache
(:class:`~imagegen.services.core._base.CoreService`). Name order is what
SQLite's ``ORDER BY lower(board_name)`` gives -- ASCII-only case folding,
code-point order -- rendered per dialect by :mod:`imagegen.services.core._portable`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from imagegen.db.tables import metadata
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
from imagegen.services.core._base import CoreService, flag, record
from imagegen.services.core._driver_write import WriteConnection
from imagegen.services.core._portable import ascii_lower, code_point_order
from imagegen.services.core._upsert import upsert
from imagegen.services.errors import NotFoundError
from shadow._sources import Clock, IdSource

__all__ = ["CoreBoardsService"]

_boards = metadata.tables["boards"]
_shared = metadata.tables["shared_boards"]
_images = metadata.tables["images"]
_users = metadata.tables["users"]

_board_columns = (
    _boards.c.board_id,
    _boards.c.board_name,
    _boards.c.cover_image_name,
    _boards.c.created_at,
    _boards.c.updated_at,
    _boards.c.deleted_at,
    flag(_boards.c.archived),
    _boards.c.user_id,
    _boards.c.is_public,
    _boards.c.board_visibility,
)

_GET_BOARD = sa.select(*_board_columns).where(_boards.c.board_id == sa.bindparam("board_id"))
# Write paths lock the rows they check (FOR UPDATE / FOR SHARE on the servers; SQLite
# renders neither, its IMMEDIATE transaction serializes writers), so a concurrent delete
# cannot slip between the check and the write and surface as a driver error.
_LOCK_BOARD = _GET_BOARD.with_for_update()
_INSERT_BOARD = _boards.insert()
_DELETE_BOARD = _boards.delete().where(_boards.c.board_id == sa.bindparam("bid"))
_IMAGE_EXISTS = (
    sa.select(sa.literal(1))
    .where(_images.c.image_name == sa.bindparam("name"))
    .with_for_update(read=True)
)
_USER_EXISTS = (
    sa.select(sa.literal(1))
    .where(_users.c.user_id == sa.bindparam("uid"))
    .with_for_update(read=True)
)
_UNSHARE = _shared.delete().where(
    _shared.c.board_id == sa.bindparam("bid"), _shared.c.user_id == sa.bindparam("uid")
)
_LIST_SHARES = (
    sa.select(_shared.c.board_id, _shared.c.user_id, _shared.c.can_edit, _shared.c.shared_at)
    .where(_shared.c.board_id == sa.bindparam("bid"))
    .order_by(_shared.c.user_id)
)

_visible_to_user = sa.or_(
    _boards.c.user_id == sa.bindparam("user_id"),
    _boards.c.board_id.in_(
        sa.select(_shared.c.board_id).where(_shared.c.user_id == sa.bindparam("user_id"))
    ),
    # Two equalities rather than IN [...]: a literal list would be an "expanding"
    # parameter, re-rendered into the SQL on every execution.
    _boards.c.board_visibility == BoardVisibility.SHARED.value,
    _boards.c.board_visibility == BoardVisibility.PUBLIC.value,
)
_not_archived = sa.or_(_boards.c.archived.is_(None), _boards.c.archived == sa.false())

_ListingKey = tuple[bool, bool, BoardOrder, Direction]


def _name_key(dialect: str) -> sa.ColumnElement[Any]:
    """SQLite's ``lower(board_name)`` (ASCII folding), ordered by code point, on any backend."""
    return code_point_order(ascii_lower(_boards.c.board_name, dialect), dialect)


class CoreBoardsService(CoreService, BoardsService):
    """Boards with sharing on SQLite, PostgreSQL or MariaDB."""

    def __init__(self, engine: sa.Engine, *, ids: IdSource, clock: Clock) -> None:
        super().__init__(engine, ids=ids, clock=clock)
        self._name_key = _name_key(self._dialect)
        # Insert a share, or change ``can_edit`` of an existing one (keeping ``shared_at``).
        self._share = upsert(_shared, ["board_id", "user_id"], ["can_edit"], self._dialect)

    # -- statement caches ----------------------------------------------------------

    def _listing(
        self, is_admin: bool, include_archived: bool, order_by: BoardOrder, direction: Direction
    ) -> tuple[sa.Select[Any], sa.Select[Any], sa.Select[Any]]:
        """(all rows, one page, count) statements for one listing variant."""
        key = (is_admin, include_archived, BoardOrder(order_by), Direction(direction))

        def build() -> tuple[sa.Select[Any], sa.Select[Any], sa.Select[Any]]:
            conditions = []
            if not is_admin:
                conditions.append(_visible_to_user)
            if not include_archived:
                conditions.append(_not_archived)
            sort = _boards.c.created_at if key[2] is BoardOrder.CREATED_AT else self._name_key
            if key[3] is Direction.ASC:
                ordering = (sort.asc(), _boards.c.board_id.asc())
            else:
                ordering = (sort.desc(), _boards.c.board_id.desc())
            rows = sa.select(*_board_columns).where(*conditions).order_by(*ordering)
            page = rows.limit(sa.bindparam("limit")).offset(sa.bindparam("offset"))
            # Labelled: the driver path (DriverRead) takes only named columns.
            count = (
                sa.select(sa.func.count().label("count")).select_from(_boards).where(*conditions)
            )
            return rows, page, count

        return self._statement(("listing", *key), build)

    def _update(self, columns: frozenset[str]) -> sa.Update:
        return self._statement(
            ("update", columns),
            lambda: (
                _boards.update()
                .where(_boards.c.board_id == sa.bindparam("bid"))
                .values({name: sa.bindparam(f"new_{name}") for name in sorted(columns)})
            ),
        )

    # -- helpers -------------------------------------------------------------------

    @staticmethod
    def _fetch(conn: WriteConnection, board_id: str, *, lock: bool = False) -> Board:
        statement = _LOCK_BOARD if lock else _GET_BOARD
        row = conn.execute(statement, {"board_id": board_id}).mappings().first()
        if row is None:
            raise NotFoundError("board", board_id)
        return record(Board, row)

    # -- the contract --------------------------------------------------------------

    def save(self, board_name: str, user_id: str) -> Board:
        check_board_name(board_name)
        with self._writes.begin() as conn:
            board_id = self._ids.new_id()
            conn.execute(
                _INSERT_BOARD, {"board_id": board_id, "board_name": board_name, "user_id": user_id}
            )
            return self._fetch(conn, board_id)

    def get(self, board_id: str) -> Board:
        row = self._reads.one(_GET_BOARD, {"board_id": board_id})
        if row is None:
            raise NotFoundError("board", board_id)
        return record(Board, row)

    def update(self, board_id: str, changes: BoardChanges) -> Board:
        applied = changes.model_fields_set
        if "board_name" in applied and changes.board_name is not None:
            check_board_name(changes.board_name)
        with self._writes.begin() as conn:
            board = self._fetch(conn, board_id, lock=True)
            values: dict[str, Any] = {}
            if "board_name" in applied:
                values["board_name"] = changes.board_name
            if "cover_image_name" in applied:
                cover = changes.cover_image_name
                if (
                    cover is not None
                    and conn.execute(_IMAGE_EXISTS, {"name": cover}).first() is None
                ):
                    raise NotFoundError("image", cover)
                values["cover_image_name"] = cover
            if "archived" in applied:
                values["archived"] = bool(changes.archived)
            if "board_visibility" in applied and changes.board_visibility is not None:
                visibility = BoardVisibility(changes.board_visibility)
                values["board_visibility"] = visibility.value
                values["is_public"] = visibility is BoardVisibility.PUBLIC
            if not values:
                return board
            conn.execute(
                self._update(frozenset(values)),
                {"bid": board_id, **{f"new_{name}": value for name, value in values.items()}},
            )
            return self._fetch(conn, board_id)

    def delete(self, board_id: str) -> None:
        with self._writer.begin() as conn:
            conn.execute(_DELETE_BOARD, {"bid": board_id})

    def share(self, board_id: str, user_id: str, can_edit: bool = False) -> None:
        with self._writer.begin() as conn:
            self._fetch(conn, board_id, lock=True)
            if conn.execute(_USER_EXISTS, {"uid": user_id}).first() is None:
                raise NotFoundError("user", user_id)
            conn.execute(
                self._share, {"board_id": board_id, "user_id": user_id, "can_edit": can_edit}
            )

    def unshare(self, board_id: str, user_id: str) -> None:
        with self._writer.begin() as conn:
            conn.execute(_UNSHARE, {"bid": board_id, "uid": user_id})

    def list_shares(self, board_id: str) -> list[BoardShare]:
        with self._reader.connect() as conn:
            rows = conn.execute(_LIST_SHARES, {"bid": board_id}).mappings().all()
        return [record(BoardShare, row) for row in rows]

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
        _, page, count = self._listing(is_admin, include_archived, order_by, direction)
        params: dict[str, Any] = {} if is_admin else {"user_id": user_id}
        with self._reads.together(page, count, reader=self._reader) as reads:
            rows = reads.all(page, {**params, "limit": limit, "offset": offset})
            counted = reads.one(count, params)
        items = [record(Board, row) for row in rows]
        assert counted is not None  # a count has one row
        total = counted["count"]
        return OffsetPage[Board](items=items, offset=offset, limit=limit, total=total)

    def get_all(
        self,
        user_id: str,
        is_admin: bool,
        order_by: BoardOrder = BoardOrder.CREATED_AT,
        direction: Direction = Direction.DESC,
        *,
        include_archived: bool = False,
    ) -> list[Board]:
        rows_statement, _, _ = self._listing(is_admin, include_archived, order_by, direction)
        params: dict[str, Any] = {} if is_admin else {"user_id": user_id}
        with self._reader.connect() as conn:
            return [record(Board, row) for row in conn.execute(rows_statement, params).mappings()]
