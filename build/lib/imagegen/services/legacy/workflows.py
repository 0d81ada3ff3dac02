"""Legacy workflows service: hand-written SQL over the shared ``sqlite3`` connection."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from imagegen.db.legacy import LegacyDatabase
from imagegen.db.types import parse_utc
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
from imagegen.services.errors import NotFoundError
from shadow._sources import Clock, IdSource

__all__ = ["LegacyWorkflowsService"]

_GET = (
    "SELECT workflow_id, workflow, name, user_id, is_public, created_at, updated_at, opened_at "
    "FROM workflow_library WHERE workflow_id = ?"
)
_OWNER = "SELECT workflow, category, user_id FROM workflow_library WHERE workflow_id = ?"
_INSERT = (
    "INSERT INTO workflow_library (workflow_id, workflow, user_id, is_public) VALUES (?,?,?,?)"
)
_LIST_COLUMNS = (
    "workflow_id, category, name, description, tags, user_id, is_public, "
    "created_at, updated_at, opened_at"
)
_LIKE = f"LIKE ? ESCAPE '{LIKE_ESCAPE}'"
_ORDER_COLUMNS = {
    WorkflowOrderBy.CREATED_AT: "created_at",
    WorkflowOrderBy.UPDATED_AT: "updated_at",
    WorkflowOrderBy.OPENED_AT: "opened_at",
    WorkflowOrderBy.NAME: "LOWER(name)",
    WorkflowOrderBy.IS_PUBLIC: "is_public",
}


def _time(value: str | None) -> Any:
    return None if value is None else parse_utc(value)


def _record(row: sqlite3.Row) -> WorkflowRecord:
    return WorkflowRecord(
        workflow_id=row["workflow_id"],
        workflow=Workflow.model_validate_json(row["workflow"]),
        name=row["name"],
        user_id=row["user_id"],
        is_public=bool(row["is_public"]),
        created_at=parse_utc(row["created_at"]),
        updated_at=parse_utc(row["updated_at"]),
        opened_at=_time(row["opened_at"]),
    )


def _list_item(row: sqlite3.Row) -> WorkflowListItem:
    return WorkflowListItem(
        workflow_id=row["workflow_id"],
        category=row["category"],
        name=row["name"],
        description=row["description"],
        tags=row["tags"],
        user_id=row["user_id"],
        is_public=bool(row["is_public"]),
        created_at=parse_utc(row["created_at"]),
        updated_at=parse_utc(row["updated_at"]),
        opened_at=_time(row["opened_at"]),
    )


def _where(
    *,
    categories: Sequence[WorkflowCategory] | None = None,
    tags: Sequence[str] | None = None,
    query: str | None = None,
    has_been_opened: bool | None = None,
    user_id: str | None = None,
    is_public: bool | None = None,
) -> tuple[str, list[Any]]:
    """The WHERE clause (with its leading space, or empty) shared by lists and counts."""
    conditions: list[str] = []
    values: list[Any] = []
    if categories:
        conditions.append(f"category IN ({', '.join('?' * len(categories))})")
        values.extend(category.value for category in categories)
    if tags:
        conditions.append("(" + " OR ".join([f"tags {_LIKE}"] * len(tags)) + ")")
        values.extend(contains_pattern(tag.strip()) for tag in tags)
    stripped = query.strip() if query else ""
    if stripped:
        conditions.append(f"(name {_LIKE} OR description {_LIKE} OR tags {_LIKE})")
        values.extend([contains_pattern(stripped)] * 3)
    if has_been_opened is not None:
        conditions.append("opened_at IS NOT NULL" if has_been_opened else "opened_at IS NULL")
    if user_id is not None:
        conditions.append("(user_id = ? OR category = 'default')")
        values.append(user_id)
    if is_public is not None:
        conditions.append("is_public = ?")
        values.append(int(is_public))
    return (f" WHERE {' AND '.join(conditions)}" if conditions else ""), values


class LegacyWorkflowsService(WorkflowsService):
    """The workflow library in the ``workflow_library`` table."""

    def __init__(self, db: LegacyDatabase, *, ids: IdSource, clock: Clock) -> None:
        self._db = db
        self._ids = ids
        self._clock = clock

    def get(self, workflow_id: str) -> WorkflowRecord:
        with self._db.transaction() as cursor:
            return self._get(cursor, workflow_id)

    @staticmethod
    def _get(cursor: sqlite3.Cursor, workflow_id: str) -> WorkflowRecord:
        row = cursor.execute(_GET, (workflow_id,)).fetchone()
        if row is None:
            raise NotFoundError("workflow", workflow_id)
        return _record(row)

    @staticmethod
    def _owned(cursor: sqlite3.Cursor, workflow_id: str, user_id: str | None) -> sqlite3.Row:
        """The row's document, category and owner, checked against the write rules."""
        row = cursor.execute(_OWNER, (workflow_id,)).fetchone()
        if row is None:
            raise NotFoundError("workflow", workflow_id)
        check_not_default(row["category"])
        if user_id is not None and row["user_id"] != user_id:
            raise NotFoundError("workflow", workflow_id)
        owned: sqlite3.Row = row
        return owned

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
        with self._db.transaction() as cursor:
            cursor.execute(_INSERT, (workflow_id, text, user_id, int(is_public)))
            return self._get(cursor, workflow_id)

    def update(self, workflow: Workflow, user_id: str | None = None) -> WorkflowRecord:
        check_not_default(workflow.meta.category)
        sql = "UPDATE workflow_library SET workflow = ? WHERE workflow_id = ? AND category = 'user'"
        values: list[Any] = [workflow.model_dump_json(), workflow.id]
        if user_id is not None:
            sql += " AND user_id = ?"
            values.append(user_id)
        with self._db.transaction() as cursor:
            cursor.execute(sql, values)
            if cursor.rowcount == 0:
                raise NotFoundError("workflow", workflow.id)
            return self._get(cursor, workflow.id)

    def delete(self, workflow_id: str, user_id: str | None = None) -> None:
        with self._db.transaction() as cursor:
            self._owned(cursor, workflow_id, user_id)
            cursor.execute("DELETE FROM workflow_library WHERE workflow_id = ?", (workflow_id,))

    def update_is_public(
        self, workflow_id: str, is_public: bool, user_id: str | None = None
    ) -> WorkflowRecord:
        with self._db.transaction() as cursor:
            row = self._owned(cursor, workflow_id, user_id)
            document = Workflow.model_validate_json(row["workflow"])
            tags = with_shared_tag(document.tags, is_public)
            if tags != document.tags:
                text = document.model_copy(update={"tags": tags}).model_dump_json()
                cursor.execute(
                    "UPDATE workflow_library SET workflow = ?, is_public = ? WHERE workflow_id = ?",
                    (text, int(is_public), workflow_id),
                )
            else:
                cursor.execute(
                    "UPDATE workflow_library SET is_public = ? WHERE workflow_id = ?",
                    (int(is_public), workflow_id),
                )
            return self._get(cursor, workflow_id)

    def update_opened_at(self, workflow_id: str, user_id: str | None = None) -> None:
        sql = "UPDATE workflow_library SET opened_at = ? WHERE workflow_id = ?"
        values: list[Any] = [self._clock.now().isoformat(), workflow_id]
        if user_id is not None:
            sql += " AND (user_id = ? OR category = 'default' OR is_public = 1)"
            values.append(user_id)
        with self._db.transaction() as cursor:
            cursor.execute(sql, values)
            if cursor.rowcount == 0:
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
        where, values = _where(
            categories=categories,
            tags=tags,
            query=query,
            has_been_opened=has_been_opened,
            user_id=user_id,
            is_public=is_public,
        )
        order = Direction(direction).value
        sql = (
            f"SELECT {_LIST_COLUMNS} FROM workflow_library{where} "
            f"ORDER BY {_ORDER_COLUMNS[WorkflowOrderBy(order_by)]} {order}, workflow_id {order}"
        )
        row_values = list(values)
        if per_page is not None:
            sql += " LIMIT ? OFFSET ?"
            row_values.extend([per_page, page * per_page])
        with self._db.transaction() as cursor:
            total = int(
                cursor.execute(f"SELECT COUNT(*) FROM workflow_library{where}", values).fetchone()[
                    0
                ]
            )
            rows = cursor.execute(sql, row_values).fetchall()
        return Page[WorkflowListItem](
            page=page,
            pages=page_count(total, per_page),
            per_page=per_page,
            total=total,
            items=[_list_item(row) for row in rows],
        )

    def counts_by_category(
        self,
        categories: Sequence[WorkflowCategory],
        has_been_opened: bool | None = None,
        user_id: str | None = None,
        is_public: bool | None = None,
    ) -> dict[str, int]:
        counts: dict[str, int] = {}
        with self._db.transaction() as cursor:
            for category in categories:
                where, values = _where(
                    categories=[category],
                    has_been_opened=has_been_opened,
                    user_id=user_id,
                    is_public=is_public,
                )
                sql = f"SELECT COUNT(*) FROM workflow_library{where}"
                counts[WorkflowCategory(category).value] = int(
                    cursor.execute(sql, values).fetchone()[0]
                )
        return counts

    def counts_by_tag(
        self,
        tags: Sequence[str],
        categories: Sequence[WorkflowCategory] | None = None,
        has_been_opened: bool | None = None,
        user_id: str | None = None,
        is_public: bool | None = None,
    ) -> dict[str, int]:
        counts: dict[str, int] = {}
        with self._db.transaction() as cursor:
            for tag in tags:
                where, values = _where(
                    categories=categories,
                    tags=[tag],
                    has_been_opened=has_been_opened,
                    user_id=user_id,
                    is_public=is_public,
                )
                sql = f"SELECT COUNT(*) FROM workflow_library{where}"
                counts[tag] = int(cursor.execute(sql, values).fetchone()[0])
        return counts

    def get_all_tags(
        self,
        categories: Sequence[WorkflowCategory] | None = None,
        user_id: str | None = None,
        is_public: bool | None = None,
    ) -> list[str]:
        where, values = _where(categories=categories, user_id=user_id, is_public=is_public)
        extra = " AND " if where else " WHERE "
        sql = f"SELECT DISTINCT tags FROM workflow_library{where}{extra}tags IS NOT NULL"
        with self._db.transaction() as cursor:
            rows = cursor.execute(sql, values).fetchall()
        return sorted({tag for row in rows for tag in split_tags(row[0])})
