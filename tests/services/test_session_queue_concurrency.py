"""Concurrency of the session queue on all four backends: no item twice, none lost.

Several threads call one service at once. On the legacy layer they share its
one connection behind its lock; on the SQLModel layer each thread checks out
its own pooled connection, so on PostgreSQL and MariaDB these are N database
connections racing (``FOR UPDATE SKIP LOCKED``, the per-queue enqueue locks).
"""

from __future__ import annotations

import threading
from typing import Any

from imagegen.services.contracts.session_queue import Batch, SessionQueueService
from imagegen.services.core.session_queue import CoreSessionQueueService
from imagegen.services.legacy.session_queue import LegacySessionQueueService


def make(backend: Any, **kwargs: Any) -> SessionQueueService:
    service: SessionQueueService = backend.build(
        LegacySessionQueueService, CoreSessionQueueService, **kwargs
    )
    return service


def batch(runs: int, origin: str | None = None) -> Batch:
    return Batch(graph={"nodes": {}}, runs=runs, origin=origin)


def test_concurrent_dequeues_hand_out_every_item_exactly_once(backend: Any) -> None:
    """N workers (threads; on the servers each on its own pooled connection) race to dequeue."""
    queue = make(backend)
    ids = queue.enqueue_batch("default", batch(runs=60)).item_ids
    workers = 6
    taken: list[list[int]] = [[] for _ in range(workers)]
    errors: list[BaseException] = []
    start = threading.Barrier(workers)

    def work(slot: int) -> None:
        try:
            start.wait()
            while (item := queue.dequeue()) is not None:
                taken[slot].append(item.item_id)
                assert item.status == "in_progress"
        except BaseException as error:  # collected and re-raised in the main thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(slot,)) for slot in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    handed_out = [item_id for slot in taken for item_id in slot]
    assert sorted(handed_out) == ids  # none twice, none lost
    assert queue.get_queue_status("default").in_progress == 60
    assert all(item.status_sequence == 1 for item in queue.list_all_queue_items("default"))


def test_concurrent_enqueues_each_get_exactly_their_own_item_ids(backend: Any) -> None:
    """Batches inserted at once from several threads never mix up their item ids."""
    queue = make(backend)
    workers = 4
    results: list[Any] = [None] * workers
    errors: list[BaseException] = []
    start = threading.Barrier(workers)

    def work(slot: int) -> None:
        try:
            start.wait()
            results[slot] = queue.enqueue_batch("default", batch(runs=50, origin=f"w{slot}"))
        except BaseException as error:  # collected and re-raised in the main thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(slot,)) for slot in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    by_origin: dict[str | None, list[int]] = {}
    for item in queue.list_all_queue_items("default"):
        by_origin.setdefault(item.origin, []).append(item.item_id)
    for slot, result in enumerate(results):
        assert result.enqueued == 50
        assert result.item_ids == by_origin[f"w{slot}"]


def test_concurrent_enqueues_never_exceed_the_capacity(backend: Any) -> None:
    """The pending count and the insert are serialized per queue: capacity holds under races."""
    queue = make(backend, max_queue_size=100)
    workers = 4
    enqueued: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(workers)

    def work() -> None:
        try:
            start.wait()
            for _ in range(3):
                enqueued.append(queue.enqueue_batch("default", batch(runs=20)).enqueued)
        except BaseException as error:  # collected and re-raised in the main thread
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sum(enqueued) == 100
    assert queue.get_queue_status("default").pending == 100
