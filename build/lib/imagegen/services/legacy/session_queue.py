"""The session queue over the legacy ``sqlite3`` connection.

Every call is one locked transaction of :class:`LegacyDatabase`: its RLock is
what makes ``dequeue`` atomic (two workers never get the same item) and what
serializes an enqueue's capacity check with its insert. The database's
defaults and triggers set the timestamps (``created_at``, ``updated_at``,
``started_at``, ``completed_at``). Rules shared with the SQLModel side are in
``imagegen.services.contracts.session_queue``; batch expansion is in
``imagegen.services.batches``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterator, Sequence, Sized
from typing import Any

from imagegen.db.legacy import LegacyDatabase
from imagegen.db.types import parse_utc
from imagegen.services.batches import dump_json, expand_batch, retry_session_json, validate_batch
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
from imagegen.services.errors import NotFoundError, RuleViolationError
from shadow._sources import Clock, IdSource

__all__ = ["LegacySessionQueueService"]

_SUMMARY_COLUMNS = (
    "item_id, queue_id, batch_id, session_id, status, priority, field_values, origin,"
    " destination, error_type, error_message, error_traceback, retried_from_item_id,"
    " user_id, status_sequence, created_at, updated_at, started_at, completed_at"
)
_ITEM_COLUMNS = _SUMMARY_COLUMNS + ", session, workflow"
_DEQUEUE_ORDER = "ORDER BY priority DESC, item_id ASC"
_TERMINAL = "('completed', 'failed', 'canceled')"
_ACTIVE = "('pending', 'in_progress')"
_BUMP = "status_sequence = COALESCE(status_sequence, 0) + 1"

_COLUMNS = (
    "queue_id, batch_id, session_id, field_values, session, status, priority, workflow, origin,"
    " destination, user_id"
)
_VALUES = (
    ":queue_id, :batch_id, :session_id, :field_values, :session, :status, :priority, :workflow,"
    " :origin, :destination, :user_id"
)
_INSERT = f"INSERT INTO session_queue ({_COLUMNS}) VALUES ({_VALUES})"
_INSERT_RETRY = (
    f"INSERT INTO session_queue ({_COLUMNS}, retried_from_item_id)"
    f" VALUES ({_VALUES}, :retried_from_item_id)"
)
# Keeps an IN (...) list well under SQLite's bound-variable limit.
_CHUNK = 500


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _placeholders(values: Sized) -> str:
    return ", ".join("?" * len(values))


def _optional_time(value: str | None) -> Any:
    return None if value is None else parse_utc(value)


def _summary_fields(row: sqlite3.Row) -> dict[str, Any]:
    field_values = row["field_values"]
    return {
        "item_id": row["item_id"],
        "queue_id": row["queue_id"],
        "batch_id": row["batch_id"],
        "session_id": row["session_id"],
        "status": row["status"],
        "priority": row["priority"],
        "field_values": None if field_values is None else json.loads(field_values),
        "origin": row["origin"],
        "destination": row["destination"],
        "error_type": row["error_type"],
        "error_message": row["error_message"],
        "error_traceback": row["error_traceback"],
        "retried_from_item_id": row["retried_from_item_id"],
        "user_id": row["user_id"] if row["user_id"] is not None else "system",
        "status_sequence": row["status_sequence"] or 0,
        "created_at": parse_utc(row["created_at"]),
        "updated_at": parse_utc(row["updated_at"]),
        "started_at": _optional_time(row["started_at"]),
        "completed_at": _optional_time(row["completed_at"]),
    }


def _summary(row: sqlite3.Row) -> QueueItemSummary:
    return QueueItemSummary(**_summary_fields(row))


def _item(row: sqlite3.Row) -> QueueItem:
    workflow = row["workflow"]
    return QueueItem(
        **_summary_fields(row),
        session=json.loads(row["session"]),
        workflow=None if workflow is None else json.loads(workflow),
    )


def _counts(cur: sqlite3.Cursor, where: str, params: Sequence[Any]) -> dict[str, int]:
    counts = dict.fromkeys(("pending", "in_progress", "completed", "failed", "canceled"), 0)
    cur.execute(f"SELECT status, COUNT(*) FROM session_queue WHERE {where} GROUP BY status", params)
    for status, count in cur.fetchall():
        counts[status] = count
    return {**counts, "total": sum(counts.values())}


class LegacySessionQueueService(SessionQueueService):
    """The session queue in hand-written SQL over the shared legacy connection.

    ``max_queue_size`` bounds a queue's pending items; ``queue_ids``, when
    given, is the set of queues an enqueue may target (None: any non-empty id).
    """

    def __init__(
        self,
        db: LegacyDatabase,
        *,
        ids: IdSource,
        clock: Clock,
        max_queue_size: int = 10000,
        queue_ids: Collection[str] | None = None,
    ) -> None:
        self._db = db
        self._ids = ids
        self._clock = clock
        self._max_queue_size = max_queue_size
        self._queue_ids = None if queue_ids is None else frozenset(queue_ids)

    # --- writes ---------------------------------------------------------------------

    def enqueue_batch(
        self, queue_id: str, batch: Batch, prepend: bool = False, user_id: str = "system"
    ) -> EnqueueResult:
        validate_batch(queue_id, batch, self._queue_ids)
        with self._db.transaction() as cur:
            cur.execute(
                "SELECT COUNT(*), MAX(priority) FROM session_queue"
                " WHERE queue_id = ? AND status = 'pending'",
                (queue_id,),
            )
            pending, top_priority = cur.fetchone()
            priority = (top_priority or 0) + 1 if prepend else 0
            expanded = expand_batch(
                queue_id,
                batch,
                ids=self._ids,
                capacity=self._max_queue_size - pending,
                priority=priority,
                user_id=user_id,
            )
            item_ids: list[int] = []
            if expanded.rows:
                cur.executemany(_INSERT, expanded.rows)
                cur.execute(
                    "SELECT item_id FROM session_queue WHERE batch_id = ? ORDER BY item_id",
                    (expanded.batch_id,),
                )
                item_ids = [row[0] for row in cur.fetchall()]
        return EnqueueResult(
            queue_id=queue_id,
            batch_id=expanded.batch_id,
            requested=expanded.requested,
            enqueued=len(expanded.rows),
            priority=priority,
            item_ids=item_ids,
        )

    def dequeue(self) -> QueueItem | None:
        with self._db.transaction() as cur:
            cur.execute(
                f"SELECT item_id FROM session_queue WHERE status = 'pending' {_DEQUEUE_ORDER}"
                " LIMIT 1"
            )
            row = cur.fetchone()
            if row is None:
                return None
            cur.execute(
                f"UPDATE session_queue SET status = 'in_progress', {_BUMP} WHERE item_id = ?",
                (row[0],),
            )
            return self._fetch(cur, row[0])

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
        with self._db.transaction() as cur:
            cur.execute("SELECT status FROM session_queue WHERE item_id = ?", (item_id,))
            row = cur.fetchone()
            if row is None:
                raise NotFoundError("session queue item", str(item_id))
            if row[0] not in TERMINAL_STATUSES:
                cur.execute(
                    "UPDATE session_queue SET status = ?, error_type = ?, error_message = ?,"
                    f" error_traceback = ?, {_BUMP} WHERE item_id = ?",
                    (status, error_type, error_message, error_traceback, item_id),
                )
            return self._fetch(cur, item_id)

    def set_queue_item_session(self, item_id: int, session: dict[str, Any]) -> QueueItem:
        text = dump_json(session)
        with self._db.transaction() as cur:
            cur.execute("UPDATE session_queue SET session = ? WHERE item_id = ?", (text, item_id))
            if cur.rowcount == 0:
                raise NotFoundError("session queue item", str(item_id))
            return self._fetch(cur, item_id)

    def cancel_by_batch_ids(self, queue_id: str, batch_ids: list[str]) -> int:
        unique = list(dict.fromkeys(batch_ids))
        canceled = 0
        with self._db.transaction() as cur:
            for chunk in _chunks(unique):
                canceled += self._cancel_where(
                    cur,
                    f"queue_id = ? AND batch_id IN ({_placeholders(chunk)})",
                    [queue_id, *chunk],
                )
        return canceled

    def cancel_by_destination(self, queue_id: str, destination: str) -> int:
        with self._db.transaction() as cur:
            return self._cancel_where(
                cur, "queue_id = ? AND destination = ?", (queue_id, destination)
            )

    def cancel_by_queue_id(self, queue_id: str) -> int:
        with self._db.transaction() as cur:
            return self._cancel_where(cur, "queue_id = ?", (queue_id,))

    @staticmethod
    def _cancel_where(cur: sqlite3.Cursor, where: str, params: Sequence[Any]) -> int:
        cur.execute(
            f"UPDATE session_queue SET status = 'canceled', {_BUMP}"
            f" WHERE {where} AND status IN {_ACTIVE}",
            params,
        )
        return cur.rowcount

    def clear(self, queue_id: str) -> int:
        with self._db.transaction() as cur:
            cur.execute("DELETE FROM session_queue WHERE queue_id = ?", (queue_id,))
            return cur.rowcount

    def prune(self, queue_id: str) -> int:
        with self._db.transaction() as cur:
            cur.execute(
                f"DELETE FROM session_queue WHERE queue_id = ? AND status IN {_TERMINAL}",
                (queue_id,),
            )
            return cur.rowcount

    def delete_queue_items_by_id(self, item_ids: list[int]) -> int:
        unique = list(dict.fromkeys(item_ids))
        deleted = 0
        with self._db.transaction() as cur:
            for chunk in _chunks(unique):
                cur.execute(
                    f"DELETE FROM session_queue WHERE item_id IN ({_placeholders(chunk)})", chunk
                )
                deleted += cur.rowcount
        return deleted

    def retry_items_by_id(self, queue_id: str, item_ids: list[int]) -> RetryResult:
        wanted = list(dict.fromkeys(item_ids))
        with self._db.transaction() as cur:
            found: dict[int, sqlite3.Row] = {}
            for chunk in _chunks(wanted):
                cur.execute(
                    "SELECT item_id, batch_id, field_values, session, priority, workflow,"
                    " origin, destination, user_id, retried_from_item_id FROM session_queue"
                    f" WHERE queue_id = ? AND status IN ('failed', 'canceled')"
                    f" AND item_id IN ({_placeholders(chunk)})",
                    [queue_id, *chunk],
                )
                found.update((row["item_id"], row) for row in cur.fetchall())
            retried = [item_id for item_id in wanted if item_id in found]
            rows = [self._retry_row(queue_id, found[item_id]) for item_id in retried]
            new_ids: list[int] = []
            if rows:
                cur.executemany(_INSERT_RETRY, rows)
                session_ids = [row["session_id"] for row in rows]
                for chunk in _chunks(session_ids):
                    cur.execute(
                        "SELECT item_id FROM session_queue"
                        f" WHERE session_id IN ({_placeholders(chunk)})",
                        chunk,
                    )
                    new_ids.extend(row[0] for row in cur.fetchall())
                new_ids.sort()
        return RetryResult(
            queue_id=queue_id, retried=len(retried), retried_item_ids=retried, item_ids=new_ids
        )

    def _retry_row(self, queue_id: str, original: sqlite3.Row) -> dict[str, Any]:
        session_id = self._ids.new_id()
        first = original["retried_from_item_id"]
        return {
            "queue_id": queue_id,
            "batch_id": original["batch_id"],
            "session_id": session_id,
            "field_values": original["field_values"],
            "session": retry_session_json(original["session"], session_id),
            "status": "pending",
            "priority": original["priority"],
            "workflow": original["workflow"],
            "origin": original["origin"],
            "destination": original["destination"],
            "user_id": original["user_id"],
            "retried_from_item_id": original["item_id"] if first is None else first,
        }

    # --- reads ----------------------------------------------------------------------

    @staticmethod
    def _fetch(cur: sqlite3.Cursor, item_id: int) -> QueueItem:
        cur.execute(f"SELECT {_ITEM_COLUMNS} FROM session_queue WHERE item_id = ?", (item_id,))
        row = cur.fetchone()
        if row is None:
            raise NotFoundError("session queue item", str(item_id))
        return _item(row)

    def get_queue_item(self, item_id: int) -> QueueItem:
        with self._db.transaction() as cur:
            return self._fetch(cur, item_id)

    def _first(self, queue_id: str, status: QueueItemStatus) -> QueueItem | None:
        with self._db.transaction() as cur:
            cur.execute(
                f"SELECT {_ITEM_COLUMNS} FROM session_queue WHERE queue_id = ? AND status = ?"
                f" {_DEQUEUE_ORDER} LIMIT 1",
                (queue_id, status),
            )
            row = cur.fetchone()
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
        where = ["queue_id = ?"]
        params: list[Any] = [queue_id]
        if status is not None:
            where.append("status = ?")
            params.append(status)
        if destination is not None:
            where.append("destination = ?")
            params.append(destination)
        if cursor is not None:
            where.append("(priority < ? OR (priority = ? AND item_id > ?))")
            params.extend((priority, priority, cursor))
        params.append(limit + 1)
        with self._db.transaction() as cur:
            cur.execute(
                f"SELECT {_SUMMARY_COLUMNS} FROM session_queue WHERE {' AND '.join(where)}"
                f" {_DEQUEUE_ORDER} LIMIT ?",
                params,
            )
            rows = cur.fetchall()
        return CursorPage[QueueItemSummary](
            items=[_summary(row) for row in rows[:limit]], limit=limit, has_more=len(rows) > limit
        )

    def list_all_queue_items(
        self, queue_id: str, destination: str | None = None
    ) -> list[QueueItemSummary]:
        where, params = "queue_id = ?", [queue_id]
        if destination is not None:
            where, params = where + " AND destination = ?", [queue_id, destination]
        with self._db.transaction() as cur:
            cur.execute(
                f"SELECT {_SUMMARY_COLUMNS} FROM session_queue WHERE {where} {_DEQUEUE_ORDER}",
                params,
            )
            return [_summary(row) for row in cur.fetchall()]

    def get_queue_status(self, queue_id: str) -> QueueStatus:
        with self._db.transaction() as cur:
            counts = _counts(cur, "queue_id = ?", (queue_id,))
            cur.execute(
                "SELECT item_id, batch_id, session_id FROM session_queue"
                f" WHERE queue_id = ? AND status = 'in_progress' {_DEQUEUE_ORDER} LIMIT 1",
                (queue_id,),
            )
            current = cur.fetchone()
        return QueueStatus(
            **counts,
            queue_id=queue_id,
            item_id=None if current is None else current["item_id"],
            batch_id=None if current is None else current["batch_id"],
            session_id=None if current is None else current["session_id"],
        )

    def get_batch_status(self, queue_id: str, batch_id: str) -> BatchStatus:
        with self._db.transaction() as cur:
            counts = _counts(cur, "queue_id = ? AND batch_id = ?", (queue_id, batch_id))
            cur.execute(
                "SELECT origin, destination FROM session_queue"
                " WHERE queue_id = ? AND batch_id = ? ORDER BY item_id LIMIT 1",
                (queue_id, batch_id),
            )
            first = cur.fetchone()
        return BatchStatus(
            **counts,
            queue_id=queue_id,
            batch_id=batch_id,
            origin=None if first is None else first["origin"],
            destination=None if first is None else first["destination"],
        )

    def get_counts_by_destination(self, queue_id: str, destination: str) -> DestinationCounts:
        with self._db.transaction() as cur:
            counts = _counts(cur, "queue_id = ? AND destination = ?", (queue_id, destination))
        return DestinationCounts(**counts, queue_id=queue_id, destination=destination)

    def _pending(self, queue_id: str) -> int:
        with self._db.transaction() as cur:
            cur.execute(
                "SELECT COUNT(*) FROM session_queue WHERE queue_id = ? AND status = 'pending'",
                (queue_id,),
            )
            count: int = cur.fetchone()[0]
        return count

    def is_empty(self, queue_id: str) -> bool:
        return self._pending(queue_id) == 0

    def is_full(self, queue_id: str) -> bool:
        return self._pending(queue_id) >= self._max_queue_size
