"""The session queue on SQLModel's tables, through prebuilt SQLAlchemy Core statements.

The queue is the hot path, so every statement is built once at import and
executed on a plain Core connection (no ORM Session, no per-row objects): the
statement's compiled form is cached per dialect and a call pays only for its
round trips. The same statements run on SQLite, PostgreSQL and MariaDB.

Concurrency:

* ``dequeue`` picks the first pending item ``FOR UPDATE SKIP LOCKED`` on the
  servers (a concurrent worker skips the row instead of waiting for it and then
  finding it taken) and claims it in the same transaction: one ``UPDATE ...
  WHERE item_id = (SELECT ...) RETURNING item_id`` where the backend has
  UPDATE ... RETURNING (SQLite, PostgreSQL), a select then an update on
  MariaDB. On SQLite (no ``FOR UPDATE``) the transaction starts ``BEGIN
  IMMEDIATE``, which takes the database's single write lock first.
* status changes are one conditional ``UPDATE ... WHERE status NOT IN
  (terminal)``: atomic on every backend without a prior read.
* an enqueue reads the queue's pending count and inserts under a per-queue
  lock, so two concurrent enqueues never both fill the same free capacity
  (:mod:`imagegen.services.core.session_queue_batches`, with the bulk inserts).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any, TypeAlias

import sqlalchemy as sa

from imagegen.db.tables import SessionQueueTable
from imagegen.services.batches import dump_json, expand_batch, validate_batch
from imagegen.services.contracts.pages import CursorPage
from imagegen.services.contracts.session_queue import (
    TERMINAL_STATUSES,
    Batch,
    BatchStatus,
    DestinationCounts,
    EnqueueResult,
    QueueItem,
    QueueItemStatus,
    QueueItemSummary,
    QueueStatus,
    RetryResult,
    SessionQueueService,
)
from imagegen.services.core._base import CoreService
from imagegen.services.core._driver_write import WriteConnection
from imagegen.services.core.session_queue_batches import (
    chunks,
    insert_batch,
    insert_retries,
    locked_queue,
    pending_stats,
)
from imagegen.services.errors import NotFoundError, RuleViolationError
from shadow._sources import Clock, IdSource

__all__ = ["CoreSessionQueueService"]

_Row: TypeAlias = sa.Row[*tuple[Any, ...]]

_table: sa.Table = SessionQueueTable.__table__  # type: ignore[attr-defined]
_c = _table.c

_SUMMARY_COLUMNS = (
    _c.item_id,
    _c.queue_id,
    _c.batch_id,
    _c.session_id,
    _c.status,
    _c.priority,
    _c.field_values,
    _c.origin,
    _c.destination,
    _c.error_type,
    _c.error_message,
    _c.error_traceback,
    _c.retried_from_item_id,
    _c.user_id,
    _c.status_sequence,
    _c.created_at,
    _c.updated_at,
    _c.started_at,
    _c.completed_at,
)
_ITEM_COLUMNS = (*_SUMMARY_COLUMNS, _c.session, _c.workflow)
_DEQUEUE_ORDER = (_c.priority.desc(), _c.item_id.asc())


def _status_in(statuses: Sequence[str]) -> sa.ColumnElement[bool]:
    """``status IN (?, ...)`` with one plain parameter per status.

    A literal list given to ``in_()`` becomes an "expanding" parameter that
    SQLAlchemy re-renders into the SQL on every execution; these lists are
    constants, so they are bound once like any other parameter.
    """
    return _c.status.in_([sa.literal(status, _c.status.type) for status in statuses])


_ACTIVE = _status_in(("pending", "in_progress"))
_FINISHED = _status_in(TERMINAL_STATUSES)
_BUMP = sa.func.coalesce(_c.status_sequence, 0) + 1
_SELECT_ITEM = sa.select(*_ITEM_COLUMNS).where(_c.item_id == sa.bindparam("id_"))
_PENDING_COUNT = sa.select(sa.func.count()).where(
    _c.queue_id == sa.bindparam("queue_id_"), _c.status == "pending"
)
_NEXT_PENDING_ID = (
    sa.select(_c.item_id)
    .where(_c.status == "pending")
    .order_by(*_DEQUEUE_ORDER)
    .limit(1)
    .with_for_update(skip_locked=True)
)
# Whether there is anything to dequeue, read alone (see dequeue).
_ANY_PENDING = sa.select(_c.item_id).where(_c.status == "pending").limit(1)
_START = (
    sa.update(_table)
    .where(_c.item_id == sa.bindparam("id_"))
    .values(status="in_progress", status_sequence=_BUMP)
)
# One statement that picks and claims the next item, where UPDATE ... RETURNING exists
# (SQLite, PostgreSQL); MariaDB has RETURNING for INSERT and DELETE only.
_CLAIM_NEXT = (
    sa.update(_table)
    .where(_c.item_id == _NEXT_PENDING_ID.scalar_subquery())
    .values(status="in_progress", status_sequence=_BUMP)
    .returning(_c.item_id)
)
_SET_STATUS = (
    sa.update(_table)
    .where(_c.item_id == sa.bindparam("id_"), sa.not_(_FINISHED))
    .values(
        status=sa.bindparam("status_"),
        error_type=sa.bindparam("error_type_"),
        error_message=sa.bindparam("error_message_"),
        error_traceback=sa.bindparam("error_traceback_"),
        status_sequence=_BUMP,
    )
)
_SET_SESSION = (
    sa.update(_table)
    .where(_c.item_id == sa.bindparam("id_"))
    .values(session=sa.bindparam("session_"))
)
_CANCEL = sa.update(_table).values(status="canceled", status_sequence=_BUMP)
_CANCEL_BY_BATCH = _CANCEL.where(
    _c.queue_id == sa.bindparam("queue_id_"),
    _c.batch_id.in_(sa.bindparam("batch_ids_", expanding=True)),
    _ACTIVE,
)
_CANCEL_BY_DESTINATION = _CANCEL.where(
    _c.queue_id == sa.bindparam("queue_id_"),
    _c.destination == sa.bindparam("destination_"),
    _ACTIVE,
)
_CANCEL_BY_QUEUE = _CANCEL.where(_c.queue_id == sa.bindparam("queue_id_"), _ACTIVE)
_CLEAR = sa.delete(_table).where(_c.queue_id == sa.bindparam("queue_id_"))
_PRUNE = sa.delete(_table).where(_c.queue_id == sa.bindparam("queue_id_"), _FINISHED)
_DELETE_BY_IDS = sa.delete(_table).where(_c.item_id.in_(sa.bindparam("ids_", expanding=True)))
_FIRST_WITH_STATUS = (
    sa.select(*_ITEM_COLUMNS)
    .where(_c.queue_id == sa.bindparam("queue_id_"), _c.status == sa.bindparam("status_"))
    .order_by(*_DEQUEUE_ORDER)
    .limit(1)
)
_CURRENT_REF = (
    sa.select(_c.item_id, _c.batch_id, _c.session_id)
    .where(_c.queue_id == sa.bindparam("queue_id_"), _c.status == "in_progress")
    .order_by(*_DEQUEUE_ORDER)
    .limit(1)
)
# The count labelled: the driver path (DriverRead) takes only named columns.
_COUNTS_BY_STATUS = sa.select(_c.status, sa.func.count().label("count")).group_by(_c.status)
_QUEUE_COUNTS = _COUNTS_BY_STATUS.where(_c.queue_id == sa.bindparam("queue_id_"))
_BATCH_COUNTS = _COUNTS_BY_STATUS.where(
    _c.queue_id == sa.bindparam("queue_id_"), _c.batch_id == sa.bindparam("batch_id_")
)
_DESTINATION_COUNTS = _COUNTS_BY_STATUS.where(
    _c.queue_id == sa.bindparam("queue_id_"), _c.destination == sa.bindparam("destination_")
)
_BATCH_ROUTE = (
    sa.select(_c.origin, _c.destination)
    .where(_c.queue_id == sa.bindparam("queue_id_"), _c.batch_id == sa.bindparam("batch_id_"))
    .order_by(_c.item_id)
    .limit(1)
)
_LIST_ALL = (
    sa.select(*_SUMMARY_COLUMNS)
    .where(_c.queue_id == sa.bindparam("queue_id_"))
    .order_by(*_DEQUEUE_ORDER)
)
_LIST_ALL_FOR_DESTINATION = _LIST_ALL.where(_c.destination == sa.bindparam("destination_"))


_SUMMARY_KEYS = tuple(column.name for column in _SUMMARY_COLUMNS)
_SESSION, _WORKFLOW = len(_SUMMARY_COLUMNS), len(_SUMMARY_COLUMNS) + 1


def _summary_fields(row: _Row) -> dict[str, Any]:
    # Positional: a queue row is read on every call of the hot path, and zipping
    # the prebuilt column names is several times cheaper than attribute access.
    fields = dict(zip(_SUMMARY_KEYS, row, strict=False))
    if fields["field_values"] is not None:
        fields["field_values"] = json.loads(fields["field_values"])
    if fields["user_id"] is None:
        fields["user_id"] = "system"
    fields["status_sequence"] = fields["status_sequence"] or 0
    return fields


def _item(row: _Row) -> QueueItem:
    workflow = row[_WORKFLOW]
    return QueueItem.model_validate(
        {
            **_summary_fields(row),
            "session": json.loads(row[_SESSION]),
            "workflow": None if workflow is None else json.loads(workflow),
        }
    )


def _counts(rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    counts = dict.fromkeys(("pending", "in_progress", "completed", "failed", "canceled"), 0)
    for row in rows:
        counts[row["status"]] = row["count"]
    return {**counts, "total": sum(counts.values())}


class CoreSessionQueueService(CoreService, SessionQueueService):
    """The session queue on SQLAlchemy Core over the SQLModel tables.

    ``max_queue_size`` bounds a queue's pending items; ``queue_ids``, when
    given, is the set of queues an enqueue may target (None: any non-empty id).
    """

    def __init__(
        self,
        engine: sa.Engine,
        *,
        ids: IdSource,
        clock: Clock,
        max_queue_size: int = 10000,
        queue_ids: Collection[str] | None = None,
    ) -> None:
        super().__init__(engine, ids=ids, clock=clock)
        self._claim_in_one_statement = engine.dialect.update_returning
        self._max_queue_size = max_queue_size
        self._queue_ids = None if queue_ids is None else frozenset(queue_ids)

    # --- writes ---------------------------------------------------------------------

    def enqueue_batch(
        self, queue_id: str, batch: Batch, prepend: bool = False, user_id: str = "system"
    ) -> EnqueueResult:
        validate_batch(queue_id, batch, self._queue_ids)
        with locked_queue(self._writer, queue_id) as conn:
            pending, top_priority = pending_stats(conn, queue_id)
            priority = (top_priority or 0) + 1 if prepend else 0
            expanded = expand_batch(
                queue_id,
                batch,
                ids=self._ids,
                capacity=self._max_queue_size - pending,
                priority=priority,
                user_id=user_id,
            )
            item_ids = insert_batch(conn, expanded.batch_id, expanded.rows)
        return EnqueueResult(
            queue_id=queue_id,
            batch_id=expanded.batch_id,
            requested=expanded.requested,
            enqueued=len(expanded.rows),
            priority=priority,
            item_ids=item_ids,
        )

    def dequeue(self) -> QueueItem | None:
        # A worker polls an empty queue over and over (the demo's every 5 ms). On SQLite's
        # driver path a read in autocommit sees that the queue is empty without a write
        # transaction (the writer lock, BEGIN IMMEDIATE, COMMIT) that every other writer
        # would wait for; an item enqueued after that read is the next poll's. Anything
        # pending, inside a group commit and on the servers: the claim alone, as before.
        if (pending := self._reads.driver_read(_ANY_PENDING)) is not None and (
            pending.first({}) is None
        ):
            return None
        with self._writes.begin() as conn:
            if self._claim_in_one_statement:
                item_id = conn.execute(_CLAIM_NEXT).scalar()
            else:
                item_id = conn.execute(_NEXT_PENDING_ID).scalar()
                if item_id is not None:
                    conn.execute(_START, {"id_": item_id})
            if item_id is None:
                return None
            # Read back after the update: started_at is set by the trigger.
            return _item(conn.execute(_SELECT_ITEM, {"id_": item_id}).one())

    def complete_queue_item(self, item_id: int) -> QueueItem:
        return self._set_status(item_id, "completed")

    def fail_queue_item(
        self, item_id: int, error_type: str, error_message: str, error_traceback: str
    ) -> QueueItem:
        return self._set_status(item_id, "failed", error_type, error_message, error_traceback)

    def cancel_queue_item(self, item_id: int) -> QueueItem:
        return self._set_status(item_id, "canceled")

    def _set_status(
        self,
        item_id: int,
        status: QueueItemStatus,
        error_type: str | None = None,
        error_message: str | None = None,
        error_traceback: str | None = None,
    ) -> QueueItem:
        with self._writes.begin() as conn:
            conn.execute(
                _SET_STATUS,
                {
                    "id_": item_id,
                    "status_": status,
                    "error_type_": error_type,
                    "error_message_": error_message,
                    "error_traceback_": error_traceback,
                },
            )
            # A terminal (or missing) item was left alone; either way the row as it
            # now stands is the answer.
            return self._fetch(conn, item_id)

    def set_queue_item_session(self, item_id: int, session: dict[str, Any]) -> QueueItem:
        text = dump_json(session)
        with self._writes.begin() as conn:
            conn.execute(_SET_SESSION, {"id_": item_id, "session_": text})
            return self._fetch(conn, item_id)

    def cancel_by_batch_ids(self, queue_id: str, batch_ids: list[str]) -> int:
        unique = list(dict.fromkeys(batch_ids))
        canceled = 0
        with self._writer.begin() as conn:
            for chunk in chunks(unique):
                result = conn.execute(
                    _CANCEL_BY_BATCH, {"queue_id_": queue_id, "batch_ids_": chunk}
                )
                canceled += result.rowcount
        return canceled

    def cancel_by_destination(self, queue_id: str, destination: str) -> int:
        return self._execute_count(
            _CANCEL_BY_DESTINATION, {"queue_id_": queue_id, "destination_": destination}
        )

    def cancel_by_queue_id(self, queue_id: str) -> int:
        return self._execute_count(_CANCEL_BY_QUEUE, {"queue_id_": queue_id})

    def clear(self, queue_id: str) -> int:
        return self._execute_count(_CLEAR, {"queue_id_": queue_id})

    def prune(self, queue_id: str) -> int:
        return self._execute_count(_PRUNE, {"queue_id_": queue_id})

    def delete_queue_items_by_id(self, item_ids: list[int]) -> int:
        unique = list(dict.fromkeys(item_ids))
        deleted = 0
        with self._writer.begin() as conn:
            for chunk in chunks(unique):
                deleted += conn.execute(_DELETE_BY_IDS, {"ids_": chunk}).rowcount
        return deleted

    def _execute_count(self, statement: sa.Executable, params: dict[str, Any]) -> int:
        with self._writer.begin() as conn:
            count: int = conn.execute(statement, params).rowcount
        return count

    def retry_items_by_id(self, queue_id: str, item_ids: list[int]) -> RetryResult:
        with self._writer.begin() as conn:
            retried, new_ids = insert_retries(conn, self._ids, queue_id, item_ids)
        return RetryResult(
            queue_id=queue_id, retried=len(retried), retried_item_ids=retried, item_ids=new_ids
        )

    # --- reads ----------------------------------------------------------------------

    @staticmethod
    def _fetch(conn: WriteConnection, item_id: int) -> QueueItem:
        row = conn.execute(_SELECT_ITEM, {"id_": item_id}).one_or_none()
        if row is None:
            raise NotFoundError("session queue item", str(item_id))
        return _item(row)

    def get_queue_item(self, item_id: int) -> QueueItem:
        with self._reader.connect() as conn:
            return self._fetch(conn, item_id)

    def _first(self, queue_id: str, status: QueueItemStatus) -> QueueItem | None:
        with self._reader.connect() as conn:
            row = conn.execute(
                _FIRST_WITH_STATUS, {"queue_id_": queue_id, "status_": status}
            ).one_or_none()
        return None if row is None else _item(row)

    def get_current(self, queue_id: str) -> QueueItem | None:
        return self._first(queue_id, "in_progress")

    def get_next(self, queue_id: str) -> QueueItem | None:
        return self._first(queue_id, "pending")

    def list_queue_items(
        self,
        queue_id: str,
        limit: int,
        priority: int,
        cursor: int | None = None,
        *,
        status: QueueItemStatus | None = None,
        destination: str | None = None,
    ) -> CursorPage[QueueItemSummary]:
        if limit < 1:
            raise RuleViolationError("invalid_limit", f"limit must be at least 1, got {limit}")
        statement = _list_statement(
            with_status=status is not None,
            with_destination=destination is not None,
            with_cursor=cursor is not None,
        )
        params = {
            "queue_id_": queue_id,
            "status_": status,
            "destination_": destination,
            "priority_": priority,
            "cursor_": cursor,
            "limit_": limit + 1,
        }
        with self._reader.connect() as conn:
            rows = conn.execute(statement, params).all()
        return CursorPage[QueueItemSummary](
            items=[QueueItemSummary.model_validate(_summary_fields(row)) for row in rows[:limit]],
            limit=limit,
            has_more=len(rows) > limit,
        )

    def list_all_queue_items(
        self, queue_id: str, destination: str | None = None
    ) -> list[QueueItemSummary]:
        with self._reader.connect() as conn:
            if destination is None:
                rows = conn.execute(_LIST_ALL, {"queue_id_": queue_id}).all()
            else:
                rows = conn.execute(
                    _LIST_ALL_FOR_DESTINATION,
                    {"queue_id_": queue_id, "destination_": destination},
                ).all()
        return [QueueItemSummary.model_validate(_summary_fields(row)) for row in rows]

    def get_queue_status(self, queue_id: str) -> QueueStatus:
        params = {"queue_id_": queue_id}
        with self._reads.together(_QUEUE_COUNTS, _CURRENT_REF, reader=self._reader) as reads:
            counts = _counts(reads.all(_QUEUE_COUNTS, params))
            current = reads.one(_CURRENT_REF, params)
        return QueueStatus(
            **counts,
            queue_id=queue_id,
            item_id=None if current is None else current["item_id"],
            batch_id=None if current is None else current["batch_id"],
            session_id=None if current is None else current["session_id"],
        )

    def get_batch_status(self, queue_id: str, batch_id: str) -> BatchStatus:
        params = {"queue_id_": queue_id, "batch_id_": batch_id}
        with self._reads.together(_BATCH_COUNTS, _BATCH_ROUTE, reader=self._reader) as reads:
            counts = _counts(reads.all(_BATCH_COUNTS, params))
            route = reads.one(_BATCH_ROUTE, params)
        return BatchStatus(
            **counts,
            queue_id=queue_id,
            batch_id=batch_id,
            origin=None if route is None else route["origin"],
            destination=None if route is None else route["destination"],
        )

    def get_counts_by_destination(self, queue_id: str, destination: str) -> DestinationCounts:
        params = {"queue_id_": queue_id, "destination_": destination}
        counts = _counts(self._reads.all(_DESTINATION_COUNTS, params))
        return DestinationCounts(**counts, queue_id=queue_id, destination=destination)

    def _pending(self, queue_id: str) -> int:
        with self._reader.connect() as conn:
            count: int = conn.execute(_PENDING_COUNT, {"queue_id_": queue_id}).scalar_one()
        return count

    def is_empty(self, queue_id: str) -> bool:
        return self._pending(queue_id) == 0

    def is_full(self, queue_id: str) -> bool:
        return self._pending(queue_id) >= self._max_queue_size


def _build_list_statement(
    *, with_status: bool, with_destination: bool, with_cursor: bool
) -> sa.Select[Any]:
    statement = sa.select(*_SUMMARY_COLUMNS).where(_c.queue_id == sa.bindparam("queue_id_"))
    if with_status:
        statement = statement.where(_c.status == sa.bindparam("status_"))
    if with_destination:
        statement = statement.where(_c.destination == sa.bindparam("destination_"))
    if with_cursor:
        # Parenthesized by construction: the keyset condition never escapes the filters.
        statement = statement.where(
            sa.or_(
                _c.priority < sa.bindparam("priority_"),
                sa.and_(
                    _c.priority == sa.bindparam("priority_"),
                    _c.item_id > sa.bindparam("cursor_"),
                ),
            )
        )
    return statement.order_by(*_DEQUEUE_ORDER).limit(sa.bindparam("limit_"))


# All eight filter combinations, built once.
_LIST_STATEMENTS = {
    (status, destination, cursor): _build_list_statement(
        with_status=status, with_destination=destination, with_cursor=cursor
    )
    for status in (False, True)
    for destination in (False, True)
    for cursor in (False, True)
}


def _list_statement(
    *, with_status: bool, with_destination: bool, with_cursor: bool
) -> sa.Select[Any]:
    return _LIST_STATEMENTS[(with_status, with_destination, with_cursor)]
