"""SQLModel images service: SQLAlchemy Core over the SQLModel tables.

Statements are built once (in ``__init__``, or once per filter combination for
the list queries and per set of changed columns for ``update``, in the
service's statement cache) because building a ``select`` costs more than
running it on SQLite; the ORM session is not used at all. A duplicate ``save``
is ignored with each backend's own form of ``INSERT OR IGNORE``
(:func:`imagegen.services.core._upsert.insert_new`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from imagegen.db.tables import BoardImageTable, ImageTable
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
from imagegen.services.core._base import CoreService, flag, record
from imagegen.services.core._driver_read import fixed_in, fixed_in_params
from imagegen.services.core._portable import ascii_lower, like, timestamp_text
from imagegen.services.core._upsert import execute_insert_new, insert_new
from imagegen.services.errors import NotFoundError
from shadow._sources import Clock, IdSource

__all__ = ["CoreImagesService"]

_images: sa.Table = ImageTable.__table__  # type: ignore[attr-defined]
_board_images: sa.Table = BoardImageTable.__table__  # type: ignore[attr-defined]
_RECORD_COLUMNS = (
    _images.c.image_name,
    _images.c.image_origin,
    _images.c.image_category,
    _images.c.width,
    _images.c.height,
    _images.c.session_id,
    _images.c.node_id,
    flag(_images.c.is_intermediate),
    _images.c.created_at,
    _images.c.updated_at,
    _images.c.deleted_at,
    flag(_images.c.starred),
    flag(_images.c.has_workflow),
    _images.c.user_id,
    _images.c.image_subfolder,
)
_CHANGEABLE = ("image_category", "session_id", "is_intermediate", "starred")
_CHUNK = 500


# The list orders, by (starred_first, direction).
_ORDERS: dict[tuple[bool, OrderDirection], tuple[sa.ColumnElement[Any], ...]] = {
    (starred_first, direction): (
        *((_images.c.starred.desc(),) if starred_first else ()),
        *(
            (_images.c.created_at.asc(), _images.c.image_name.asc())
            if direction is OrderDirection.ASC
            else (_images.c.created_at.desc(), _images.c.image_name.desc())
        ),
    )
    for starred_first in (True, False)
    for direction in OrderDirection
}


# Which filters a list query uses: one prebuilt statement set per distinct shape.
_Shape = tuple[str, bool, int | None, bool, bool, bool]
"""(board: any/none/board, origin, distinct categories or None, intermediate, owner, search)."""


class _ListStatements:
    """The page, count and name statements for one filter shape."""

    def __init__(self, shape: _Shape, dialect: str) -> None:
        board, origin, categories, intermediate, owner, search = shape
        source: sa.FromClause = _images
        clauses: list[sa.ColumnElement[bool]] = []
        if board != "any":
            source = _images.outerjoin(
                _board_images, _board_images.c.image_name == _images.c.image_name
            )
            if board == "none":
                clauses.append(_board_images.c.board_id.is_(None))
            else:
                clauses.append(_board_images.c.board_id == sa.bindparam("board_id"))
        if origin:
            clauses.append(_images.c.image_origin == sa.bindparam("image_origin"))
        if categories is not None:  # an empty list matches no category
            clauses.append(fixed_in(_images.c.image_category, "in_category", categories))
        if intermediate:
            clauses.append(_images.c.is_intermediate == sa.bindparam("is_intermediate"))
        if owner:
            clauses.append(_images.c.user_id == sa.bindparam("user_id"))
        if search:
            pattern: sa.BindParameter[str] = sa.bindparam("pattern")
            metadata = ascii_lower(_images.c["metadata"], dialect)
            created = ascii_lower(timestamp_text(_images.c.created_at, dialect), dialect)
            clauses.append(
                sa.or_(
                    like(metadata, pattern, LIKE_ESCAPE, dialect),
                    like(created, pattern, LIKE_ESCAPE, dialect),
                )
            )
        self.page = {
            key: sa.select(*_RECORD_COLUMNS)
            .select_from(source)
            .where(*clauses)
            .order_by(*order)
            .limit(sa.bindparam("limit"))
            .offset(sa.bindparam("offset"))
            for key, order in _ORDERS.items()
        }
        self.names = {
            key: sa.select(_images.c.image_name, _images.c.starred)
            .select_from(source)
            .where(*clauses)
            .order_by(*order)
            for key, order in _ORDERS.items()
        }
        # Labelled: the driver path (DriverRead) takes only named columns.
        self.count = sa.select(sa.func.count().label("count")).select_from(source).where(*clauses)


class CoreImagesService(CoreService, ImagesService):
    """The images service on SQLModel tables (SQLite, PostgreSQL, MariaDB)."""

    def __init__(self, engine: sa.Engine, *, ids: IdSource, clock: Clock) -> None:
        super().__init__(engine, ids=ids, clock=clock)
        name: sa.BindParameter[str] = sa.bindparam("image_name")
        self._insert = insert_new(_images, ["image_name"], self._dialect)
        self._created_at = sa.select(_images.c.created_at).where(_images.c.image_name == name)
        self._get = sa.select(*_RECORD_COLUMNS).where(_images.c.image_name == name)
        self._metadata = sa.select(_images.c["metadata"]).where(_images.c.image_name == name)
        self._user_id = sa.select(_images.c.user_id).where(_images.c.image_name == name)
        self._delete = sa.delete(_images).where(_images.c.image_name == name)
        self._delete_names = sa.delete(_images).where(
            _images.c.image_name.in_(sa.bindparam("names", expanding=True))
        )
        intermediate = _images.c.is_intermediate == sa.true()
        self._intermediates = sa.select(_images.c.image_name, _images.c.image_subfolder).where(
            intermediate
        )
        self._delete_intermediates = sa.delete(_images).where(intermediate)
        self._count_intermediates = sa.select(sa.func.count()).where(intermediate)
        self._count_user_intermediates = self._count_intermediates.where(
            _images.c.user_id == sa.bindparam("user_id")
        )

    def _list(self, shape: _Shape) -> _ListStatements:
        return self._statement(("list", shape), lambda: _ListStatements(shape, self._dialect))

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
        values: dict[str, Any] = {
            "image_name": image_name,
            "image_origin": str(image_origin),
            "image_category": str(image_category),
            "width": width,
            "height": height,
            "session_id": session_id,
            "node_id": node_id,
            "metadata": json.dumps(metadata, ensure_ascii=False) if metadata is not None else None,
            "is_intermediate": is_intermediate,
            "starred": starred,
            "has_workflow": has_workflow,
            "image_subfolder": image_subfolder,
        }
        if user_id is not None:
            values["user_id"] = user_id
        with self._writes.begin() as conn:
            execute_insert_new(conn, self._insert, values)
            created_at = conn.execute(self._created_at, {"image_name": image_name}).scalar_one()
        return SavedImage(image_name=image_name, created_at=created_at)

    def get(self, image_name: str) -> ImageRecord:
        row = self._reads.one(self._get, {"image_name": image_name})
        if row is None:
            raise NotFoundError("image", image_name)
        return record(ImageRecord, row)

    def get_metadata(self, image_name: str) -> dict[str, Any] | None:
        with self._reader.connect() as conn:
            row = conn.execute(self._metadata, {"image_name": image_name}).first()
        if row is None:
            raise NotFoundError("image", image_name)
        text = row[0]
        metadata: dict[str, Any] | None = json.loads(text) if text is not None else None
        return metadata

    def get_user_id(self, image_name: str) -> str | None:
        with self._reader.connect() as conn:
            user_id: str | None = conn.execute(
                self._user_id, {"image_name": image_name}
            ).scalar_one_or_none()
        return user_id

    def update(self, image_name: str, changes: ImageChanges) -> None:
        values: dict[str, Any] = {}
        for column in _CHANGEABLE:
            value = getattr(changes, column)
            if value is not None:
                values[column] = value if isinstance(value, bool) else str(value)
        if not values:
            return
        columns = tuple(values)
        statement = self._statement(
            ("update", columns),
            lambda: (
                sa.update(_images)
                .where(_images.c.image_name == sa.bindparam("key"))
                .values({column: sa.bindparam(column) for column in columns})
            ),
        )
        with self._writes.begin() as conn:
            conn.execute(statement, {**values, "key": image_name})

    def delete(self, image_name: str) -> None:
        with self._writer.begin() as conn:
            conn.execute(self._delete, {"image_name": image_name})

    def delete_many(self, image_names: Sequence[str]) -> None:
        if not image_names:
            return
        names = list(image_names)
        with self._writer.begin() as conn:
            # Chunked: SQLite refuses statements with more than 32,766 parameters.
            for start in range(0, len(names), _CHUNK):
                conn.execute(self._delete_names, {"names": names[start : start + _CHUNK]})

    def delete_intermediates(self) -> list[ImageLocation]:
        with self._writer.begin() as conn:
            rows = conn.execute(self._intermediates).all()
            conn.execute(self._delete_intermediates)
        locations = [record(ImageLocation, row) for row in rows]
        return sorted(locations, key=lambda location: location.image_name)

    def get_intermediates_count(self, user_id: str | None = None) -> int:
        with self._reader.connect() as conn:
            if user_id is None:
                count: int = conn.execute(self._count_intermediates).scalar_one()
            else:
                count = conn.execute(
                    self._count_user_intermediates, {"user_id": user_id}
                ).scalar_one()
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
        shape, params = _filter_params(
            image_origin=image_origin,
            categories=categories,
            is_intermediate=is_intermediate,
            board_id=board_id,
            search_term=search_term,
            user_id=user_id,
            is_admin=is_admin,
        )
        statements = self._list(shape)
        order = (bool(starred_first), OrderDirection(order_dir))
        page = statements.page[order]
        with self._reads.together(page, statements.count, reader=self._engine) as reads:
            rows = reads.all(page, {**params, "limit": limit, "offset": offset})
            counted = reads.one(statements.count, params)
        assert counted is not None  # a count has one row
        total: int = counted["count"]
        return OffsetPage[ImageRecord](
            items=[record(ImageRecord, row) for row in rows],
            offset=offset,
            limit=limit,
            total=total,
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
        shape, params = _filter_params(
            image_origin=image_origin,
            categories=categories,
            is_intermediate=is_intermediate,
            board_id=board_id,
            search_term=search_term,
            user_id=user_id,
            is_admin=is_admin,
        )
        order = (bool(starred_first), OrderDirection(order_dir))
        rows = self._reads.all(self._list(shape).names[order], params)
        return ImageNames(
            image_names=[row["image_name"] for row in rows],
            starred_count=sum(1 for row in rows if row["starred"]),
            total_count=len(rows),
        )

    def get_most_recent_image_for_board(self, board_id: str) -> ImageRecord | None:
        shape, params = _filter_params(
            image_origin=None,
            categories=None,
            is_intermediate=False,
            board_id=board_id,
            search_term=None,
            user_id=None,
            is_admin=False,
        )
        statement = self._list(shape).page[(True, OrderDirection.DESC)]
        row = self._reads.one(statement, {**params, "limit": 1, "offset": 0})
        return None if row is None else record(ImageRecord, row)


def _filter_params(
    *,
    image_origin: ImageOrigin | None,
    categories: Sequence[ImageCategory] | None,
    is_intermediate: bool | None,
    board_id: str | None,
    search_term: str | None,
    user_id: str | None,
    is_admin: bool,
) -> tuple[_Shape, dict[str, Any]]:
    """The filter shape of a list call and the values of its parameters."""
    params: dict[str, Any] = {}
    board = "any" if board_id is None else "none" if board_id == "none" else "board"
    if board == "board":
        params["board_id"] = board_id
    if image_origin is not None:
        params["image_origin"] = str(image_origin)
    distinct = None
    if categories is not None:
        distinct = fixed_in_params("in_category", (str(category) for category in categories))
        params.update(distinct)
    if is_intermediate is not None:
        params["is_intermediate"] = bool(is_intermediate)
    owner = user_id is not None and not is_admin
    if owner:
        params["user_id"] = user_id
    if search_term:
        params["pattern"] = search_pattern(search_term)
    shape = (
        board,
        image_origin is not None,
        None if distinct is None else len(distinct),
        is_intermediate is not None,
        owner,
        bool(search_term),
    )
    return shape, params
