"""SQLModel workflows service: SQLAlchemy Core over the SQLModel tables.

Fixed statements are built once per service; ``get_many`` and the counts build
one statement per *shape* of filter (which filters are present, how many tags,
the order) in the service's statement cache, binding the values at execution, so a repeated listing
pays no statement-building cost. Text matching and name ordering give SQLite's
meaning on every backend (``imagegen.services.core._portable``); ``opened_at``
sorts NULLs first ascending and last descending on PostgreSQL too, as SQLite
and MariaDB do. Read-then-write calls lock the row (``FOR UPDATE``, or an
immediate transaction on SQLite).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from imagegen.db.tables import metadata
from imagegen.services.contracts.pages import Page
from imagegen.services.contracts.workflows import (
    LIKE_ESCAPE,
    Direction,
    Workflow,
    WorkflowCategory,
    WorkflowListItem,
    WorkflowOrderBy,
    WorkflowRecord,
    WorkflowsService,
    WorkflowWithoutId,
    check_not_default,
    check_paging,
    contains_pattern,
    page_count,
    split_tags,
    with_shared_tag,
)
from imagegen.services.core._base import CoreService, Row, record
from imagegen.services.core._driver_read import fixed_in, fixed_in_params
from imagegen.services.core._driver_write import WriteConnection
from imagegen.services.core._portable import ascii_lower, code_point_order, like
from imagegen.services.errors import NotFoundError
from shadow._sources import Clock, IdSource

__all__ = ["CoreWorkflowsService"]

_wf = metadata.tables["workflow_library"]
# Bind names differ from column names: SQLAlchemy reserves those in UPDATE statements.
_by_id = _wf.c.workflow_id == sa.bindparam("wf_id")
_GET = sa.select(
    _wf.c.workflow_id,
    _wf.c.workflow,
    _wf.c.name,
    _wf.c.user_id,
    _wf.c.is_public,
    _wf.c.created_at,
    _wf.c.updated_at,
    _wf.c.opened_at,
).where(_by_id)
_OWNER = sa.select(_wf.c.workflow, _wf.c.category, _wf.c.user_id).where(_by_id)
_INSERT = sa.insert(_wf)
_DELETE = sa.delete(_wf).where(_by_id)
_SET_PUBLIC = sa.update(_wf).where(_by_id).values(is_public=sa.bindparam("new_is_public"))
_SET_PUBLIC_AND_DOCUMENT = (
    sa.update(_wf)
    .where(_by_id)
    .values(is_public=sa.bindparam("new_is_public"), workflow=sa.bindparam("document"))
)
_user_rows = sa.and_(_by_id, _wf.c.category == "user")
_UPDATE = sa.update(_wf).where(_user_rows).values(workflow=sa.bindparam("document"))
_UPDATE_OWNED = (
    sa.update(_wf)
    .where(_user_rows, _wf.c.user_id == sa.bindparam("owner"))
    .values(workflow=sa.bindparam("document"))
)
_OPENED = sa.update(_wf).where(_by_id).values(opened_at=sa.bindparam("now"))
_OPENED_VISIBLE = (
    sa.update(_wf)
    .where(
        _by_id,
        sa.or_(
            _wf.c.user_id == sa.bindparam("owner"),
            _wf.c.category == "default",
            _wf.c.is_public == sa.true(),
        ),
    )
    .values(opened_at=sa.bindparam("now"))
)
_LIST_COLUMNS = (
    _wf.c.workflow_id,
    _wf.c.category,
    _wf.c.name,
    _wf.c.description,
    _wf.c.tags,
    _wf.c.user_id,
    _wf.c.is_public,
    _wf.c.created_at,
    _wf.c.updated_at,
    _wf.c.opened_at,
)


def _record(row: Row | Mapping[str, Any]) -> WorkflowRecord:
    mapping = row._mapping if isinstance(row, sa.Row) else row
    return record(
        WorkflowRecord, mapping, workflow=Workflow.model_validate_json(mapping["workflow"])
    )


class _Filters:
    """The filter values of one call: their shape (a cache key) and their bind values."""

    def __init__(
        self,
        *,
        categories: Sequence[WorkflowCategory] | None = None,
        tags: Sequence[str] | None = None,
        query: str | None = None,
        has_been_opened: bool | None = None,
        user_id: str | None = None,
        is_public: bool | None = None,
    ) -> None:
        self.params: dict[str, Any] = {}
        # A fixed IN, not an expanding one, so the SQL can take the driver path;
        # the category enum bounds the shapes.
        distinct = fixed_in_params(
            "in_category", (WorkflowCategory(c).value for c in categories or ())
        )
        self.params.update(distinct)
        self.category_count = len(distinct)
        for index, tag in enumerate(tags or ()):
            self.params[f"tag_{index}"] = contains_pattern(tag.strip())
        stripped = query.strip() if query else ""
        if stripped:
            self.params["query"] = contains_pattern(stripped)
        if user_id is not None:
            self.params["user_id"] = user_id
        if is_public is not None:
            self.params["is_public"] = is_public
        self.tag_count = len(tags or ())
        self.has_been_opened = has_been_opened
        self.shape = (tuple(sorted(self.params)), has_been_opened)


class CoreWorkflowsService(CoreService, WorkflowsService):
    """The workflow library in the ``workflow_library`` table."""

    def __init__(self, engine: sa.Engine, *, ids: IdSource, clock: Clock) -> None:
        super().__init__(engine, ids=ids, clock=clock)

    # -- statement building -------------------------------------------------------

    def _like(self, column: sa.ColumnElement[Any], name: str) -> sa.ColumnElement[bool]:
        folded = ascii_lower(column, self._dialect)
        return like(folded, sa.bindparam(name), LIKE_ESCAPE, self._dialect)

    def _conditions(self, filters: _Filters) -> list[sa.ColumnElement[bool]]:
        params = filters.params
        conditions: list[sa.ColumnElement[bool]] = []
        if filters.category_count:
            conditions.append(fixed_in(_wf.c.category, "in_category", filters.category_count))
        if filters.tag_count:
            conditions.append(
                sa.or_(*(self._like(_wf.c.tags, f"tag_{i}") for i in range(filters.tag_count)))
            )
        if "query" in params:
            conditions.append(
                sa.or_(
                    self._like(_wf.c.name, "query"),
                    self._like(_wf.c.description, "query"),
                    self._like(_wf.c.tags, "query"),
                )
            )
        if filters.has_been_opened is not None:
            opened = _wf.c.opened_at.is_not(None)
            conditions.append(opened if filters.has_been_opened else sa.not_(opened))
        if "user_id" in params:
            conditions.append(
                sa.or_(_wf.c.user_id == sa.bindparam("user_id"), _wf.c.category == "default")
            )
        if "is_public" in params:
            conditions.append(_wf.c.is_public == sa.bindparam("is_public"))
        return conditions

    def _count_statement(self, filters: _Filters) -> Any:
        return self._statement(
            ("count", filters.shape),
            # Labelled: the driver path (DriverRead) takes only named columns.
            lambda: (
                sa.select(sa.func.count().label("count"))
                .select_from(_wf)
                .where(*self._conditions(filters))
            ),
        )

    def _order(self, order_by: WorkflowOrderBy, direction: Direction) -> list[Any]:
        name = code_point_order(ascii_lower(_wf.c.name, self._dialect), self._dialect)
        column: sa.ColumnElement[Any] = {
            WorkflowOrderBy.CREATED_AT: _wf.c.created_at,
            WorkflowOrderBy.UPDATED_AT: _wf.c.updated_at,
            WorkflowOrderBy.OPENED_AT: _wf.c.opened_at,
            WorkflowOrderBy.NAME: name,
            WorkflowOrderBy.IS_PUBLIC: _wf.c.is_public,
        }[order_by]
        tie_break = code_point_order(_wf.c.workflow_id, self._dialect)
        if direction is Direction.ASC:
            first: Any = column.asc()
            if order_by is WorkflowOrderBy.OPENED_AT and self._dialect == "postgresql":
                first = first.nulls_first()
            return [first, tie_break.asc()]
        first = column.desc()
        if order_by is WorkflowOrderBy.OPENED_AT and self._dialect == "postgresql":
            first = first.nulls_last()
        return [first, tie_break.desc()]

    def _list_statement(
        self, filters: _Filters, order_by: WorkflowOrderBy, direction: Direction, paged: bool
    ) -> Any:
        def build() -> Any:
            statement = (
                sa.select(*_LIST_COLUMNS)
                .where(*self._conditions(filters))
                .order_by(*self._order(order_by, direction))
            )
            if paged:
                statement = statement.limit(sa.bindparam("limit")).offset(sa.bindparam("offset"))
            return statement

        return self._statement(("list", filters.shape, order_by, direction, paged), build)

    # -- the contract ---------------------------------------------------------------

    def get(self, workflow_id: str) -> WorkflowRecord:
        row = self._reads.one(_GET, {"wf_id": workflow_id})
        if row is None:
            raise NotFoundError("workflow", workflow_id)
        return _record(row)

    @staticmethod
    def _get(conn: WriteConnection, workflow_id: str) -> WorkflowRecord:
        row = conn.execute(_GET, {"wf_id": workflow_id}).one_or_none()
        if row is None:
            raise NotFoundError("workflow", workflow_id)
        return _record(row)

    def _owned(self, conn: sa.Connection, workflow_id: str, user_id: str | None) -> Any:
        """The row's document, category and owner (locked), checked against the write rules."""
        row = conn.execute(_OWNER.with_for_update(), {"wf_id": workflow_id}).one_or_none()
        if row is None:
            raise NotFoundError("workflow", workflow_id)
        check_not_default(row.category)
        if user_id is not None and row.user_id != user_id:
            raise NotFoundError("workflow", workflow_id)
        return row

    def create(
        self, workflow: WorkflowWithoutId, user_id: str = "system", is_public: bool = False
    ) -> WorkflowRecord:
        check_not_default(workflow.meta.category)
        workflow_id = self._ids.new_id()
        document = workflow.model_dump(mode="json")
        document["id"] = workflow_id
        if is_public:
            document["tags"] = with_shared_tag(workflow.tags, True)
        text = Workflow.model_validate(document).model_dump_json()
        with self._writes.begin() as conn:
            conn.execute(
                _INSERT,
                {
                    "workflow_id": workflow_id,
                    "workflow": text,
                    "user_id": user_id,
                    "is_public": is_public,
                },
            )
            return self._get(conn, workflow_id)

    def update(self, workflow: Workflow, user_id: str | None = None) -> WorkflowRecord:
        check_not_default(workflow.meta.category)
        params = {"wf_id": workflow.id, "document": workflow.model_dump_json()}
        statement = _UPDATE
        if user_id is not None:
            statement = _UPDATE_OWNED
            params["owner"] = user_id
        with self._writes.begin() as conn:
            if conn.execute(statement, params).rowcount == 0:
                raise NotFoundError("workflow", workflow.id)
            return self._get(conn, workflow.id)

    def delete(self, workflow_id: str, user_id: str | None = None) -> None:
        with self._writer.begin() as conn:
            self._owned(conn, workflow_id, user_id)
            conn.execute(_DELETE, {"wf_id": workflow_id})

    def update_is_public(
        self, workflow_id: str, is_public: bool, user_id: str | None = None
    ) -> WorkflowRecord:
        with self._writer.begin() as conn:
            row = self._owned(conn, workflow_id, user_id)
            document = Workflow.model_validate_json(row.workflow)
            tags = with_shared_tag(document.tags, is_public)
            params: dict[str, Any] = {"wf_id": workflow_id, "new_is_public": is_public}
            if tags != document.tags:
                params["document"] = document.model_copy(update={"tags": tags}).model_dump_json()
                conn.execute(_SET_PUBLIC_AND_DOCUMENT, params)
            else:
                conn.execute(_SET_PUBLIC, params)
            return self._get(conn, workflow_id)

    def update_opened_at(self, workflow_id: str, user_id: str | None = None) -> None:
        params: dict[str, Any] = {"wf_id": workflow_id, "now": self._clock.now()}
        statement = _OPENED
        if user_id is not None:
            statement = _OPENED_VISIBLE
            params["owner"] = user_id
        with self._writes.begin() as conn:
            if conn.execute(statement, params).rowcount == 0:
                raise NotFoundError("workflow", workflow_id)

    def get_many(
        self,
        order_by: WorkflowOrderBy,
        direction: Direction,
        categories: Sequence[WorkflowCategory] | None = None,
        *,
        page: int = 0,
        per_page: int | None = None,
        query: str | None = None,
        tags: Sequence[str] | None = None,
        has_been_opened: bool | None = None,
        user_id: str | None = None,
        is_public: bool | None = None,
    ) -> Page[WorkflowListItem]:
        check_paging(page, per_page)
        filters = _Filters(
            categories=categories,
            tags=tags,
            query=query,
            has_been_opened=has_been_opened,
            user_id=user_id,
            is_public=is_public,
        )
        paged = per_page is not None
        rows_statement = self._list_statement(
            filters, WorkflowOrderBy(order_by), Direction(direction), paged
        )
        row_params = dict(filters.params)
        if per_page is not None:
            row_params.update(limit=per_page, offset=page * per_page)
        count_statement = self._count_statement(filters)
        with self._reads.together(count_statement, rows_statement, reader=self._reader) as reads:
            counted = reads.one(count_statement, filters.params)
            rows = reads.all(rows_statement, row_params)
        assert counted is not None  # a count has one row
        total = int(counted["count"])
        items = [record(WorkflowListItem, row) for row in rows]
        return Page[WorkflowListItem](
            page=page,
            pages=page_count(total, per_page),
            per_page=per_page,
            total=total,
            items=items,
        )

    def counts_by_category(
        self,
        categories: Sequence[WorkflowCategory],
        has_been_opened: bool | None = None,
        user_id: str | None = None,
        is_public: bool | None = None,
    ) -> dict[str, int]:
        wanted = [WorkflowCategory(category) for category in categories]
        if not wanted:
            return {}
        # One grouped query instead of one count per category.
        filters = _Filters(
            categories=wanted,
            has_been_opened=has_been_opened,
            user_id=user_id,
            is_public=is_public,
        )
        statement = self._statement(
            ("by_category", filters.shape),
            lambda: (
                sa.select(_wf.c.category, sa.func.count())
                .where(*self._conditions(filters))
                .group_by(_wf.c.category)
            ),
        )
        with self._reader.connect() as conn:
            found = {str(row[0]): int(row[1]) for row in conn.execute(statement, filters.params)}
        return {category.value: found.get(category.value, 0) for category in wanted}

    def counts_by_tag(
        self,
        tags: Sequence[str],
        categories: Sequence[WorkflowCategory] | None = None,
        has_been_opened: bool | None = None,
        user_id: str | None = None,
        is_public: bool | None = None,
    ) -> dict[str, int]:
        if not tags:
            return {}
        # One scan counting every tag (a CASE per tag) instead of one count per tag.
        filters = _Filters(
            categories=categories,
            has_been_opened=has_been_opened,
            user_id=user_id,
            is_public=is_public,
        )
        params = dict(filters.params)
        for index, tag in enumerate(tags):
            params[f"tag_{index}"] = contains_pattern(tag.strip())

        def build() -> Any:
            sums = (
                sa.func.coalesce(
                    sa.func.sum(sa.case((self._like(_wf.c.tags, f"tag_{i}"), 1), else_=0)), 0
                )
                for i in range(len(tags))
            )
            return sa.select(*sums).where(*self._conditions(filters))

        statement = self._statement(("by_tag", filters.shape, len(tags)), build)
        with self._reader.connect() as conn:
            row = conn.execute(statement, params).one()
        return {tag: int(count) for tag, count in zip(tags, row, strict=True)}

    def get_all_tags(
        self,
        categories: Sequence[WorkflowCategory] | None = None,
        user_id: str | None = None,
        is_public: bool | None = None,
    ) -> list[str]:
        filters = _Filters(categories=categories, user_id=user_id, is_public=is_public)
        statement = self._statement(
            ("tags", filters.shape),
            lambda: (
                sa.select(_wf.c.tags)
                .distinct()
                .where(*self._conditions(filters), _wf.c.tags.is_not(None))
            ),
        )
        with self._reader.connect() as conn:
            values = conn.execute(statement, filters.params).scalars().all()
        return sorted({tag for value in values for tag in split_tags(value)})
