"""Differential test: random call sequences give equal results on the legacy and SQLModel queues.

Each sequence is generated from its seed (printed on a mismatch, so a failure
replays exactly): random enqueues (valid and invalid batches, prepend, small
capacities), dequeues, completes, fails, cancels, session updates, bulk
cancels, retries, prunes, clears, deletes and every read. The legacy side is
SQLite; the SQLModel side runs on SQLite (``make_pair``), PostgreSQL and MariaDB, with
separate, identically seeded id sources and identical clocks. Results are
compared after normalizing database-generated timestamps (only whether each is
set is compared); errors are compared by type (and rule).

Between sequences both queues are emptied through the service itself, so the
autoincrement counters stay in step and item ids must agree exactly.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from imagegen.services.contracts.session_queue import (
    Batch,
    BatchDatum,
    QueueItemStatus,
    SessionQueueService,
)
from imagegen.services.core.session_queue import CoreSessionQueueService
from imagegen.services.legacy.session_queue import LegacySessionQueueService
from shadow import FixedClock, SequentialIds
from tests.differential import outcome

SEQUENCES = 200
STEPS = 24
QUEUES = ("q1", "q2")
DESTINATIONS = (None, "canvas", "gallery")
TIMESTAMPS = {"created_at", "updated_at", "started_at", "completed_at"}
MISSING_ID = 987_654

Call = Callable[[SessionQueueService], Any]


def random_batch(rng: random.Random) -> Batch:
    data: list[list[BatchDatum]] | None = None
    if rng.random() < 0.7:
        data = []
        for group in range(rng.randint(0 if rng.random() < 0.05 else 1, 2)):
            size = rng.randint(1, 3)
            group_data = []
            for field in range(rng.randint(1, 2)):
                items: list[Any] = [rng.choice([rng.randint(0, 9), f"p{rng.randint(0, 9)}"])]
                items *= size
                if rng.random() < 0.05:
                    items.append(1)  # unequal zip
                group_data.append(
                    BatchDatum(node_path=f"n{group}", field_name=f"f{field}", items=items)
                )
            data.append(group_data)
    return Batch(
        graph={"nodes": {"n0": {"f0": 0}}, "edges": []},
        runs=rng.choice([1, 1, 2, 3, 0 if rng.random() < 0.2 else 1]),
        data=data,
        destination=rng.choice(DESTINATIONS),
        origin=rng.choice([None, "workflows"]),
        workflow=rng.choice([None, {"name": "wf"}]),
    )


def random_call(rng: random.Random, known: list[int], batches: list[str]) -> Call:
    def item_id() -> int:
        return rng.choice(known) if known and rng.random() < 0.9 else MISSING_ID

    queue = rng.choice(QUEUES)
    kind = rng.choices(
        [
            "enqueue",
            "dequeue",
            "complete",
            "fail",
            "cancel",
            "session",
            "cancel_batches",
            "cancel_destination",
            "cancel_queue",
            "retry",
            "prune",
            "clear",
            "delete",
            "read",
        ],
        weights=[6, 5, 3, 2, 2, 2, 1, 1, 0.5, 2, 1, 0.3, 1, 6],
    )[0]
    if kind == "enqueue":
        new_batch = random_batch(rng)
        prepend = rng.random() < 0.3
        user = rng.choice(["system", "alice"])
        return lambda s: s.enqueue_batch(queue, new_batch, prepend, user)
    if kind == "dequeue":
        return lambda s: s.dequeue()
    if kind == "complete":
        target = item_id()
        return lambda s: s.complete_queue_item(target)
    if kind == "fail":
        target = item_id()
        return lambda s: s.fail_queue_item(target, "RuntimeError", "boom", "Traceback")
    if kind == "cancel":
        target = item_id()
        return lambda s: s.cancel_queue_item(target)
    if kind == "session":
        target = item_id()
        session = {"id": "s", "step": rng.randint(0, 99)}
        return lambda s: s.set_queue_item_session(target, session)
    if kind == "cancel_batches":
        chosen = [*rng.sample(batches, min(len(batches), 2)), "unknown-batch"]
        return lambda s: s.cancel_by_batch_ids(queue, chosen)
    if kind == "cancel_destination":
        destination = rng.choice(["canvas", "gallery"])
        return lambda s: s.cancel_by_destination(queue, destination)
    if kind == "cancel_queue":
        return lambda s: s.cancel_by_queue_id(queue)
    if kind == "retry":
        targets = [item_id() for _ in range(rng.randint(1, 3))]
        return lambda s: s.retry_items_by_id(queue, targets)
    if kind == "prune":
        return lambda s: s.prune(queue)
    if kind == "clear":
        return lambda s: s.clear(queue)
    if kind == "delete":
        targets = [item_id() for _ in range(rng.randint(1, 2))]
        return lambda s: s.delete_queue_items_by_id(targets)
    return random_read(rng, queue, item_id, batches)


def random_read(
    rng: random.Random, queue: str, item_id: Callable[[], int], batches: list[str]
) -> Call:
    kind = rng.randrange(9)
    if kind == 0:
        target = item_id()
        return lambda s: s.get_queue_item(target)
    if kind == 1:
        return lambda s: s.get_current(queue)
    if kind == 2:
        return lambda s: s.get_next(queue)
    if kind == 3:
        limit, priority = rng.randint(1, 4), rng.randint(0, 3)
        cursor = item_id() if rng.random() < 0.6 else None
        statuses: list[QueueItemStatus | None] = [None, "pending", "canceled"]
        status = rng.choice(statuses)
        destination = rng.choice(DESTINATIONS)
        return lambda s: s.list_queue_items(
            queue, limit, priority, cursor, status=status, destination=destination
        )
    if kind == 4:
        destination = rng.choice(DESTINATIONS)
        return lambda s: s.list_all_queue_items(queue, destination)
    if kind == 5:
        return lambda s: s.get_queue_status(queue)
    if kind == 6:
        batch_id = rng.choice(batches) if batches else "none"
        return lambda s: s.get_batch_status(queue, batch_id)
    if kind == 7:
        destination = rng.choice(["canvas", "gallery"])
        return lambda s: s.get_counts_by_destination(queue, destination)
    return lambda s: (s.is_empty(queue), s.is_full(queue))


def learn(result: Any, known: list[int], batches: list[str]) -> None:
    """Remember the item and batch ids a result revealed, for later calls to target."""
    if result[0] != "ok" or not isinstance(result[1], dict):
        return
    data = result[1]
    known.extend(data.get("item_ids", []))
    if "batch_id" in data and "requested" in data:
        batches.append(data["batch_id"])


def without_fsync(legacy_db: Any, engine: sa.Engine) -> None:
    """Skip the fsync per commit on both files: durability is not what this test checks,
    and ~10,000 synced commits take half a minute on a busy disk."""
    legacy_db.connection.execute("PRAGMA synchronous = OFF")

    @sa.event.listens_for(engine, "connect")
    def _no_sync(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA synchronous = OFF")

    engine.dispose()  # pooled connections reconnect with the pragma


@pytest.fixture(
    params=[
        "orm-sqlite",
        pytest.param("orm-postgres", marks=pytest.mark.postgres),
        pytest.param("orm-mariadb", marks=pytest.mark.mariadb),
    ]
)
def queue_pair(request: pytest.FixtureRequest, make_pair: Any) -> tuple[Any, sa.Engine]:
    """Legacy SQLite against the SQLModel queue on each backend it supports."""
    if request.param == "orm-sqlite":
        legacy_db, engine = make_pair()
        without_fsync(legacy_db, engine)
        return legacy_db, engine
    server_engine: sa.Engine = request.getfixturevalue(
        {"orm-postgres": "postgres_engine", "orm-mariadb": "mariadb_engine"}[request.param]
    )
    legacy_db = request.getfixturevalue("legacy_db")
    legacy_db.connection.execute("PRAGMA synchronous = OFF")
    return legacy_db, server_engine


@pytest.mark.slow
def test_random_sequences_agree_on_legacy_and_sqlmodel(queue_pair: tuple[Any, sa.Engine]) -> None:
    legacy_db, engine = queue_pair
    for seed in range(SEQUENCES):
        rng = random.Random(seed)
        capacity = rng.choice([3, 6, 50])
        clock_start = FixedClock().now()
        legacy = LegacySessionQueueService(
            legacy_db,
            ids=SequentialIds(f"s{seed}"),
            clock=FixedClock(clock_start),
            max_queue_size=capacity,
        )
        orm = CoreSessionQueueService(
            engine,
            ids=SequentialIds(f"s{seed}"),
            clock=FixedClock(clock_start),
            max_queue_size=capacity,
        )
        known: list[int] = []
        batches: list[str] = []
        for step in range(STEPS):
            call = random_call(rng, known, batches)
            expected = outcome(call, legacy, timestamps=TIMESTAMPS)
            actual = outcome(call, orm, timestamps=TIMESTAMPS)
            assert actual == expected, f"seed {seed}, step {step}: legacy/SQLModel differ"
            learn(expected, known, batches)
        for queue in QUEUES:
            assert legacy.clear(queue) == orm.clear(queue), f"seed {seed}: final clear differs"
