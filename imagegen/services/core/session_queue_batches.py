"""Putting batches into the SQLModel queue: the per-queue lock, bulk inserts, retries.

Split from :mod:`imagegen.services.core.session_queue` (the service) because this
is where the backends differ most:

* the enqueue lock. An enqueue reads the queue's pending count and inserts in
  one transaction; two concurrent enqueues must not both fill the same free
  capacity, and row locks cannot prevent that (the rows that would need
  locking are the ones not inserted yet). SQLite has one write lock
  (``BEGIN IMMEDIATE``); PostgreSQL takes a transaction-scoped advisory lock
  keyed by the queue; MariaDB takes a named lock (``GET_LOCK``), which belongs
  to the connection, so it is released only after the commit.
* item ids in insertion order. One bulk ``INSERT`` (executemany) per batch,
  then the batch's rows by ascending ``item_id``: the batch id is new, so these
  are exactly the rows just inserted, and ids ascend in insertion order on all
  three backends (whatever the driver does with the rows in between).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any, TypeAlias

import sqlalchemy as sa

from imagegen.db.tables import SessionQueueTable
from imagegen.services.batches import retry_session_json
from imagegen.services.core.group_commit import Joinable
from shadow._sources import IdSource

__all__ = ["chunks", "insert_batch", "insert_retries", "locked_queue", "pending_stats"]

_Row: TypeAlias = sa.Row[*tuple[Any, ...]]

_table: sa.Table = SessionQueueTable.__table__  # type: ignore[attr-defined]
_c = _table.c

# Keeps an expanded IN (...) list well under every backend's bound-parameter limit.
_CHUNK = 500
# Seconds MariaDB waits for another enqueue into the same queue to finish.
_QUEUE_LOCK_TIMEOUT = 30

_INSERT = sa.insert(_table)
_PENDING_STATS = sa.select(sa.func.count(), sa.func.max(_c.priority)).where(
    _c.queue_id == sa.bindparam("queue_id_"), _c.status == "pending"
)
_PG_QUEUE_LOCK = sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(sa.bindparam("key_"))))
_MARIADB_GET_LOCK = sa.select(sa.func.get_lock(sa.bindparam("key_"), _QUEUE_LOCK_TIMEOUT))
_MARIADB_RELEASE_LOCK = sa.select(sa.func.release_lock(sa.bindparam("key_")))
_BATCH_ITEM_IDS = (
    sa.select(_c.item_id).where(_c.batch_id == sa.bindparam("batch_id_")).order_by(_c.item_id)
)
_RETRY_SOURCES = sa.select(
    _c.item_id,
    _c.batch_id,
    _c.field_values,
    _c.session,
    _c.priority,
    _c.workflow,
    _c.origin,
    _c.destination,
    _c.user_id,
    _c.retried_from_item_id,
).where(
    _c.queue_id == sa.bindparam("queue_id_"),
    _c.status.in_([sa.literal(status, _c.status.type) for status in ("failed", "canceled")]),
    _c.item_id.in_(sa.bindparam("ids_", expanding=True)),
)
_IDS_OF_SESSIONS = sa.select(_c.item_id).where(
    _c.session_id.in_(sa.bindparam("session_ids_", expanding=True))
)


def chunks(values: Sequence[Any]) -> Iterator[list[Any]]:
    """``values`` in lists of at most 500, for IN (...) lists of any length."""
    for start in range(0, len(values), _CHUNK):
        yield list(values[start : start + _CHUNK])


@contextmanager
def locked_queue(writer: Joinable, queue_id: str) -> Iterator[sa.Connection]:
    """A write transaction holding the queue's enqueue lock until it has committed.

    ``writer`` is the service's engine with ``sqlite_begin="IMMEDIATE"``. Inside
    a group commit (the mirror worker applying its calls one at a time, see
    ``group_commit``) MariaDB's named lock is held for the call only, not until the
    group commits: the group's own transaction is the one open.
    """
    dialect = writer.dialect.name
    if dialect not in ("mysql", "mariadb"):
        with writer.begin() as conn:
            if dialect == "postgresql":
                conn.execute(_PG_QUEUE_LOCK, {"key_": f"session_queue:{queue_id}"})
            yield conn
        return
    # Lock names stop at 64 characters; queue ids may be longer.
    key = "session_queue:" + hashlib.sha256(queue_id.encode()).hexdigest()[:40]
    grouped = writer.joined() is not None
    with writer.connect() as conn:
        locked = conn.execute(_MARIADB_GET_LOCK, {"key_": key}).scalar()
        if not grouped:
            conn.commit()
        if locked != 1:
            raise TimeoutError(f"another enqueue held the queue lock for {_QUEUE_LOCK_TIMEOUT} s")
        try:
            with nullcontext() if grouped else conn.begin():
                yield conn
        finally:
            conn.execute(_MARIADB_RELEASE_LOCK, {"key_": key})
            if not grouped:
                conn.commit()


def pending_stats(conn: sa.Connection, queue_id: str) -> tuple[int, int | None]:
    """The queue's pending count and highest pending priority (None when nothing pends)."""
    row = conn.execute(_PENDING_STATS, {"queue_id_": queue_id}).one()
    return row[0], row[1]


def insert_batch(conn: sa.Connection, batch_id: str, rows: list[dict[str, Any]]) -> list[int]:
    """Insert a new batch's rows in one bulk insert; return their ids in insertion order."""
    if not rows:
        return []
    conn.execute(_INSERT, rows)
    return list(conn.execute(_BATCH_ITEM_IDS, {"batch_id_": batch_id}).scalars())


def insert_retries(
    conn: sa.Connection, ids: IdSource, queue_id: str, item_ids: Sequence[int]
) -> tuple[list[int], list[int]]:
    """Re-enqueue the queue's failed or canceled items among ``item_ids`` (in that order).

    Returns the retried ids and the new items' ids (ascending: insertion order).
    """
    wanted = list(dict.fromkeys(item_ids))
    found: dict[int, _Row] = {}
    for chunk in chunks(wanted):
        rows = conn.execute(_RETRY_SOURCES, {"queue_id_": queue_id, "ids_": chunk})
        found.update((row.item_id, row) for row in rows)
    retried = [item_id for item_id in wanted if item_id in found]
    new_rows = [_retry_row(ids, queue_id, found[item_id]) for item_id in retried]
    new_ids: list[int] = []
    if new_rows:
        conn.execute(_INSERT, new_rows)
        for chunk in chunks([row["session_id"] for row in new_rows]):
            new_ids.extend(conn.execute(_IDS_OF_SESSIONS, {"session_ids_": chunk}).scalars())
        new_ids.sort()
    return retried, new_ids


def _retry_row(ids: IdSource, queue_id: str, original: _Row) -> dict[str, Any]:
    session_id = ids.new_id()
    first = original.retried_from_item_id
    return {
        "queue_id": queue_id,
        "batch_id": original.batch_id,
        "session_id": session_id,
        "field_values": original.field_values,
        "session": retry_session_json(original.session, session_id),
        "status": "pending",
        "priority": original.priority,
        "workflow": original.workflow,
        "origin": original.origin,
        "destination": original.destination,
        "user_id": original.user_id,
        "retried_from_item_id": original.item_id if first is None else first,
    }
