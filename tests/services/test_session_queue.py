"""The session queue contract, run on legacy/SQLite and SQLModel on SQLite, PostgreSQL, MariaDB.

Every test builds the service through the shared ``backend`` fixture, so one
suite checks both implementations on every backend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from imagegen.services.contracts.session_queue import (
    Batch,
    BatchDatum,
    QueueItem,
    QueueItemSummary,
    SessionQueueService,
)
from imagegen.services.core.session_queue import CoreSessionQueueService
from imagegen.services.errors import NotFoundError, RuleViolationError
from imagegen.services.legacy.session_queue import LegacySessionQueueService
from shadow import Kind, contract_methods

GRAPH: dict[str, Any] = {"nodes": {"prompt": {"text": "a cat"}}, "edges": []}


def make(backend: Any, **kwargs: Any) -> SessionQueueService:
    service: SessionQueueService = backend.build(
        LegacySessionQueueService, CoreSessionQueueService, **kwargs
    )
    return service


def datum(node: str, field: str, *items: Any) -> BatchDatum:
    return BatchDatum(node_path=node, field_name=field, items=list(items))


def batch(
    runs: int = 1,
    data: list[list[BatchDatum]] | None = None,
    *,
    destination: str | None = None,
    origin: str | None = None,
    graph: dict[str, Any] | None = None,
    workflow: dict[str, Any] | None = None,
) -> Batch:
    return Batch(
        graph=GRAPH if graph is None else graph,
        runs=runs,
        data=data,
        destination=destination,
        origin=origin,
        workflow=workflow,
    )


def values_of(item: QueueItemSummary) -> list[tuple[str, str, Any]]:
    return [(v.node_path, v.field_name, v.value) for v in item.field_values or []]


def ids_of(items: list[QueueItemSummary]) -> list[int]:
    return [item.item_id for item in items]


def test_every_method_is_declared_with_timestamps_and_the_session_kept_secret() -> None:
    specs = contract_methods(SessionQueueService)
    assert specs["dequeue"].kind is Kind.READ_WRITE
    assert specs["enqueue_batch"].kind is Kind.WRITE and specs["get_queue_item"].kind is Kind.READ
    assert {"session", "batch"} <= specs["enqueue_batch"].compare.sensitive
    for name in ("dequeue", "get_queue_item", "set_queue_item_session", "list_queue_items"):
        compare = specs[name].compare
        assert "session" in compare.sensitive
        assert compare.timestamps == {"created_at", "updated_at", "started_at", "completed_at"}
    assert specs["list_queue_items"].compare.rows == "items"


# --- enqueue: expansion, ids, capacity, priority ----------------------------------------


def test_enqueue_zips_inside_a_group_takes_the_product_across_groups_and_repeats_runs(
    backend: Any,
) -> None:
    queue = make(backend)
    data = [
        [datum("a", "x", 1, 2), datum("a", "y", "p", "q")],
        [datum("b", "z", "u", "v", "w")],
    ]
    result = queue.enqueue_batch("default", batch(runs=2, data=data))
    assert (result.requested, result.enqueued, result.priority) == (12, 12, 0)
    items = queue.list_all_queue_items("default")
    assert ids_of(items) == result.item_ids
    one_run = [
        [("a", "x", x), ("a", "y", y), ("b", "z", z)]
        for x, y in ((1, "p"), (2, "q"))
        for z in ("u", "v", "w")
    ]
    assert [values_of(item) for item in items] == one_run + one_run
    assert all(item.batch_id == result.batch_id for item in items)


def test_a_batch_without_data_makes_one_session_per_run_with_the_graph_and_no_field_values(
    backend: Any,
) -> None:
    queue = make(backend)
    result = queue.enqueue_batch("default", batch(runs=3, workflow={"name": "wf"}))
    assert (result.requested, result.enqueued) == (3, 3)
    items = [queue.get_queue_item(item_id) for item_id in result.item_ids]
    assert [item.field_values for item in items] == [None, None, None]
    assert all(item.session == {"id": item.session_id, "graph": GRAPH} for item in items)
    assert all(item.workflow == {"name": "wf"} for item in items)
    assert len({item.session_id for item in items} | {result.batch_id}) == 4


def test_item_ids_come_back_in_insertion_order_and_each_session_id_from_the_id_source(
    backend: Any,
) -> None:
    queue = make(backend)
    first = queue.enqueue_batch("default", batch(data=[[datum("n", "f", *range(40))]]))
    second = queue.enqueue_batch("other", batch(runs=5))
    assert first.item_ids == sorted(first.item_ids) and len(first.item_ids) == 40
    assert second.item_ids == sorted(second.item_ids) and min(second.item_ids) > max(first.item_ids)
    items = queue.list_all_queue_items("default")
    assert [values_of(item)[0][2] for item in items] == list(range(40))
    assert [item.session_id for item in items] == sorted(item.session_id for item in items)


def test_the_sqlmodel_side_enqueues_a_batch_with_one_bulk_insert(backend: Any) -> None:
    """One INSERT execution (executemany) for the whole batch, not one per session."""
    if backend.engine is None:
        pytest.skip("the legacy layer's bulk path is sqlite3's executemany")
    inserts: list[bool] = []

    def count(_conn: Any, clause: Any, _multiparams: Any, params: Any, _options: Any) -> None:
        if isinstance(clause, sa.Insert):
            inserts.append(True)

    sa.event.listen(backend.engine, "before_execute", count)
    try:
        result = make(backend).enqueue_batch("default", batch(runs=300))
    finally:
        sa.event.remove(backend.engine, "before_execute", count)
    assert result.enqueued == 300
    assert len(inserts) == 1


def test_capacity_is_max_queue_size_minus_the_queues_pending_items(backend: Any) -> None:
    queue = make(backend, max_queue_size=5)
    assert queue.is_empty("default") and not queue.is_full("default")
    first = queue.enqueue_batch("default", batch(runs=8))
    assert (first.requested, first.enqueued, len(first.item_ids)) == (8, 5, 5)
    assert queue.is_full("default")
    full = queue.enqueue_batch("default", batch(runs=2))
    assert (full.requested, full.enqueued, full.item_ids) == (2, 0, [])
    dequeued = queue.dequeue()
    assert dequeued is not None
    assert not queue.is_full("default")
    assert queue.enqueue_batch("default", batch(runs=3)).enqueued == 1
    # Capacity is per queue.
    assert queue.enqueue_batch("other", batch(runs=9)).enqueued == 5
    assert queue.get_queue_status("default").total == 6


def test_a_huge_batch_is_generated_only_up_to_capacity(backend: Any) -> None:
    """requested counts the whole product; generation is lazy and stops at capacity."""
    queue = make(backend, max_queue_size=3)
    data = [[datum("a", "x", *range(1000))], [datum("b", "y", *range(1000))]]
    result = queue.enqueue_batch("default", batch(runs=1000, data=data))
    assert (result.requested, result.enqueued) == (10**9, 3)
    items = queue.list_all_queue_items("default")
    assert [values_of(item) for item in items] == [[("a", "x", 0), ("b", "y", y)] for y in range(3)]


def test_prepend_priority_is_the_highest_pending_priority_plus_one(backend: Any) -> None:
    queue = make(backend)
    assert queue.enqueue_batch("default", batch(), prepend=True).priority == 1
    assert queue.enqueue_batch("default", batch(), prepend=True).priority == 2
    assert queue.enqueue_batch("default", batch()).priority == 0
    assert queue.enqueue_batch("other", batch(), prepend=True).priority == 1
    # Finished items no longer count: dequeue and complete both prepended items.
    for _ in range(2):
        item = queue.dequeue()
        assert item is not None and item.queue_id == "default" and item.priority > 0
        queue.complete_queue_item(item.item_id)
    other_item = queue.dequeue()
    assert other_item is not None and other_item.queue_id == "other"
    assert queue.enqueue_batch("default", batch(), prepend=True).priority == 1


@pytest.mark.parametrize(
    ("bad_batch", "rule"),
    [
        (batch(data=[[datum("a", "x", 1, 2), datum("a", "y", 1)]]), "unequal_zip"),
        (batch(data=[]), "empty_data"),
        (batch(data=[[datum("a", "x", 1)], []]), "empty_data"),
        (batch(data=[[datum("a", "x")]]), "empty_data"),
        (batch(runs=0), "invalid_runs"),
        (batch(runs=-3), "invalid_runs"),
    ],
    ids=["unequal-zip", "no-groups", "empty-group", "no-items", "zero-runs", "negative-runs"],
)
def test_an_invalid_batch_is_refused_and_nothing_is_inserted(
    backend: Any, bad_batch: Batch, rule: str
) -> None:
    queue = make(backend)
    with pytest.raises(RuleViolationError) as caught:
        queue.enqueue_batch("default", bad_batch)
    assert caught.value.rule == rule
    assert queue.list_all_queue_items("default") == []
    assert queue.get_queue_status("default").total == 0


def test_an_unknown_or_empty_queue_is_refused_and_nothing_is_inserted(backend: Any) -> None:
    queue = make(backend, queue_ids={"default"})
    for queue_id in ("elsewhere", ""):
        with pytest.raises(RuleViolationError) as caught:
            queue.enqueue_batch(queue_id, batch())
        assert caught.value.rule == "unknown_queue"
        assert queue.list_all_queue_items(queue_id) == []
    assert queue.enqueue_batch("default", batch()).enqueued == 1
    any_queue = make(backend)
    for queue_id in ("", "q" * 256):
        with pytest.raises(RuleViolationError):
            any_queue.enqueue_batch(queue_id, batch())
    assert any_queue.enqueue_batch("q" * 255, batch()).enqueued == 1


def test_enqueue_stores_user_origin_destination_and_workflow(backend: Any) -> None:
    queue = make(backend)
    result = queue.enqueue_batch(
        "default",
        batch(origin="canvas", destination="gallery", workflow={"w": [1, 2]}),
        user_id="alice",
    )
    item = queue.get_queue_item(result.item_ids[0])
    assert (item.user_id, item.origin, item.destination) == ("alice", "canvas", "gallery")
    assert item.workflow == {"w": [1, 2]}
    assert (item.status, item.status_sequence, item.started_at, item.completed_at) == (
        "pending",
        0,
        None,
        None,
    )
    assert item.created_at.tzinfo is not None and item.updated_at >= item.created_at


# --- dequeue and the status machine ----------------------------------------------------


def test_dequeue_takes_priority_desc_then_item_id_asc_over_all_queues(backend: Any) -> None:
    queue = make(backend)
    low = queue.enqueue_batch("a", batch(runs=2)).item_ids
    high = queue.enqueue_batch("b", batch(runs=2), prepend=True).item_ids
    higher = queue.enqueue_batch("b", batch(), prepend=True).item_ids
    order = []
    while (item := queue.dequeue()) is not None:
        order.append(item.item_id)
    assert order == higher + high + low
    assert queue.dequeue() is None


def test_dequeue_moves_the_item_to_in_progress_with_started_at_and_one_transition(
    backend: Any,
) -> None:
    queue = make(backend)
    (item_id,) = queue.enqueue_batch("default", batch()).item_ids
    item = queue.dequeue()
    assert item is not None and item.item_id == item_id
    assert (item.status, item.status_sequence) == ("in_progress", 1)
    assert item.started_at is not None and item.completed_at is None
    assert item.started_at >= item.created_at
    assert queue.get_current("default") == item
    assert queue.get_queue_item(item_id) == item


def test_complete_sets_completed_at_and_bumps_the_sequence(backend: Any) -> None:
    queue = make(backend)
    queue.enqueue_batch("default", batch())
    started = queue.dequeue()
    assert started is not None
    done = queue.complete_queue_item(started.item_id)
    assert (done.status, done.status_sequence) == ("completed", 2)
    assert done.completed_at is not None and done.started_at == started.started_at
    assert (done.error_type, done.error_message, done.error_traceback) == (None, None, None)
    assert queue.get_current("default") is None


def test_fail_writes_the_error_and_cancel_of_a_pending_item_never_starts_it(
    backend: Any,
) -> None:
    queue = make(backend)
    first, second = queue.enqueue_batch("default", batch(runs=2)).item_ids
    failed = queue.fail_queue_item(first, "ValueError", "bad value", "Traceback ...")
    assert (failed.status, failed.status_sequence) == ("failed", 1)
    assert (failed.error_type, failed.error_message, failed.error_traceback) == (
        "ValueError",
        "bad value",
        "Traceback ...",
    )
    assert failed.completed_at is not None and failed.started_at is None
    canceled = queue.cancel_queue_item(second)
    assert (canceled.status, canceled.status_sequence) == ("canceled", 1)
    assert canceled.completed_at is not None and canceled.started_at is None


@pytest.mark.parametrize("terminal", ["completed", "failed", "canceled"])
def test_a_terminal_item_never_changes_and_is_returned_unchanged(
    backend: Any, terminal: str
) -> None:
    queue = make(backend)
    (item_id,) = queue.enqueue_batch("default", batch()).item_ids
    queue.dequeue()
    if terminal == "completed":
        final = queue.complete_queue_item(item_id)
    elif terminal == "failed":
        final = queue.fail_queue_item(item_id, "E", "m", "tb")
    else:
        final = queue.cancel_queue_item(item_id)
    assert final.status == terminal and final.status_sequence == 2
    assert queue.complete_queue_item(item_id) == final
    assert queue.fail_queue_item(item_id, "Other", "other", "other tb") == final
    assert queue.cancel_queue_item(item_id) == final
    assert queue.cancel_by_queue_id("default") == 0
    assert queue.get_queue_item(item_id) == final


def test_status_changes_and_reads_of_a_missing_item_raise_not_found(backend: Any) -> None:
    queue = make(backend)
    calls: list[Callable[[], object]] = [
        lambda: queue.get_queue_item(404),
        lambda: queue.complete_queue_item(404),
        lambda: queue.fail_queue_item(404, "E", "m", "tb"),
        lambda: queue.cancel_queue_item(404),
        lambda: queue.set_queue_item_session(404, {"id": "x"}),
    ]
    for call in calls:
        with pytest.raises(NotFoundError):
            call()


def test_set_session_replaces_a_large_unicode_session_and_leaves_the_status(
    backend: Any,
) -> None:
    queue = make(backend)
    (item_id,) = queue.enqueue_batch("default", batch()).item_ids
    started = queue.dequeue()
    assert started is not None
    session = {
        "id": started.session_id,
        "graph": GRAPH,
        "results": {f"node-{i}": "Grüße, 猫 🐈 " * 40 for i in range(60)},
    }
    updated = queue.set_queue_item_session(item_id, session)
    assert updated.session == session
    assert (updated.status, updated.status_sequence) == ("in_progress", 1)
    assert queue.get_queue_item(item_id).session == session


# --- bulk operations ---------------------------------------------------------------------


def test_cancel_by_batch_ids_cancels_only_active_items_of_those_batches_in_that_queue(
    backend: Any,
) -> None:
    queue = make(backend)
    one = queue.enqueue_batch("default", batch(runs=3))
    two = queue.enqueue_batch("default", batch(runs=2))
    kept = queue.enqueue_batch("default", batch(runs=2))
    elsewhere = queue.enqueue_batch("other", batch(runs=2))
    queue.complete_queue_item(one.item_ids[0])
    started = queue.dequeue()
    assert started is not None and started.item_id == one.item_ids[1]
    canceled = queue.cancel_by_batch_ids("default", [one.batch_id, two.batch_id, one.batch_id])
    assert canceled == 4
    statuses = {item.item_id: item.status for item in queue.list_all_queue_items("default")}
    assert [statuses[i] for i in one.item_ids] == ["completed", "canceled", "canceled"]
    assert [statuses[i] for i in two.item_ids + kept.item_ids] == [
        "canceled",
        "canceled",
        "pending",
        "pending",
    ]
    assert queue.get_batch_status("other", elsewhere.batch_id).pending == 2
    assert queue.get_queue_item(one.item_ids[1]).status_sequence == 2
    assert queue.cancel_by_batch_ids("default", []) == 0
    assert queue.cancel_by_batch_ids("default", [one.batch_id]) == 0


def test_cancel_by_destination_and_by_queue_return_their_counts(backend: Any) -> None:
    queue = make(backend)
    queue.enqueue_batch("default", batch(runs=3, destination="canvas"))
    queue.enqueue_batch("default", batch(runs=2, destination="gallery"))
    queue.enqueue_batch("other", batch(runs=2, destination="canvas"))
    assert queue.cancel_by_destination("default", "canvas") == 3
    assert queue.get_counts_by_destination("default", "canvas").canceled == 3
    assert queue.get_counts_by_destination("other", "canvas").pending == 2
    assert queue.cancel_by_queue_id("default") == 2
    assert queue.cancel_by_queue_id("default") == 0
    assert queue.get_queue_status("default").canceled == 5
    assert queue.get_queue_status("other").pending == 2


def test_clear_deletes_every_item_of_the_queue_and_prune_only_the_terminal_ones(
    backend: Any,
) -> None:
    queue = make(backend)
    ids = queue.enqueue_batch("default", batch(runs=5)).item_ids
    queue.enqueue_batch("other", batch(runs=2))
    queue.complete_queue_item(ids[0])
    queue.fail_queue_item(ids[1], "E", "m", "tb")
    queue.cancel_queue_item(ids[2])
    queue.dequeue()  # ids[3] goes in progress
    assert queue.prune("default") == 3
    assert ids_of(queue.list_all_queue_items("default")) == ids[3:]
    assert queue.prune("default") == 0
    assert queue.clear("default") == 2
    assert queue.list_all_queue_items("default") == []
    assert queue.clear("default") == 0
    assert len(queue.list_all_queue_items("other")) == 2


def test_delete_by_id_counts_only_rows_that_existed(backend: Any) -> None:
    queue = make(backend)
    ids = queue.enqueue_batch("default", batch(runs=4)).item_ids
    assert queue.delete_queue_items_by_id([ids[0], ids[2], ids[2], 9999]) == 2
    assert ids_of(queue.list_all_queue_items("default")) == [ids[1], ids[3]]
    assert queue.delete_queue_items_by_id([]) == 0


def test_delete_by_id_handles_more_ids_than_one_statement_takes(backend: Any) -> None:
    queue = make(backend)
    ids = queue.enqueue_batch("default", batch(runs=1200)).item_ids
    assert queue.delete_queue_items_by_id([*ids, *range(100_000, 101_000)]) == 1200
    assert queue.is_empty("default")


def test_retry_reenqueues_failed_and_canceled_items_pointing_back_to_the_first(
    backend: Any,
) -> None:
    queue = make(backend)
    data = [[datum("a", "x", 1, 2, 3, 4)]]
    result = queue.enqueue_batch(
        "default", batch(data=data, destination="canvas", origin="o", workflow={"w": 1}), True
    )
    failed, canceled, done, pending = result.item_ids
    queue.fail_queue_item(failed, "E", "m", "tb")
    queue.cancel_queue_item(canceled)
    queue.complete_queue_item(done)
    retry = queue.retry_items_by_id("default", [canceled, done, pending, failed, 404])
    assert (retry.queue_id, retry.retried, retry.retried_item_ids) == (
        "default",
        2,
        [canceled, failed],
    )
    assert len(retry.item_ids) == 2 and min(retry.item_ids) > max(result.item_ids)
    new_for_canceled, new_for_failed = (queue.get_queue_item(i) for i in retry.item_ids)
    original = queue.get_queue_item(canceled)
    assert new_for_canceled.retried_from_item_id == canceled
    assert new_for_failed.retried_from_item_id == failed
    assert (new_for_canceled.status, new_for_canceled.status_sequence) == ("pending", 0)
    assert new_for_canceled.error_type is None and new_for_canceled.started_at is None
    for field in ("batch_id", "queue_id", "priority", "field_values", "workflow", "user_id"):
        assert getattr(new_for_canceled, field) == getattr(original, field)
    assert (new_for_canceled.destination, new_for_canceled.origin) == ("canvas", "o")
    assert new_for_canceled.session_id != original.session_id
    assert new_for_canceled.session == {"id": new_for_canceled.session_id, "graph": GRAPH}
    # Retrying the retry points back to the first item of the chain.
    queue.cancel_queue_item(new_for_canceled.item_id)
    again = queue.retry_items_by_id("default", [new_for_canceled.item_id])
    assert queue.get_queue_item(again.item_ids[0]).retried_from_item_id == canceled
    # Items of another queue are not retried through this one.
    assert queue.retry_items_by_id("other", [failed]).retried == 0


# --- reads -------------------------------------------------------------------------------


def test_get_next_and_get_current_follow_dequeue_order_within_one_queue(backend: Any) -> None:
    queue = make(backend)
    assert queue.get_next("default") is None and queue.get_current("default") is None
    first = queue.enqueue_batch("default", batch(runs=2)).item_ids
    urgent = queue.enqueue_batch("default", batch(), prepend=True).item_ids
    queue.enqueue_batch("other", batch(), prepend=True)
    queue.enqueue_batch("other", batch(), prepend=True)  # priority 2: dequeued first
    next_item = queue.get_next("default")
    assert isinstance(next_item, QueueItem) and next_item.item_id == urgent[0]
    other = queue.dequeue()
    assert other is not None and (other.queue_id, other.priority) == ("other", 2)
    assert queue.get_current("default") is None
    taken = queue.dequeue()
    assert taken is not None and taken.item_id == urgent[0]
    current = queue.get_current("default")
    assert current is not None and current.item_id == urgent[0]
    next_item = queue.get_next("default")
    assert next_item is not None and next_item.item_id == first[0]


def test_list_items_pages_by_keyset_with_filters_applied_on_every_page(backend: Any) -> None:
    queue = make(backend)
    queue.enqueue_batch("default", batch(runs=4, destination="canvas"))
    queue.enqueue_batch("default", batch(runs=3, destination="gallery"), prepend=True)
    queue.enqueue_batch("default", batch(runs=4, destination="canvas"), prepend=True)
    queue.enqueue_batch("other", batch(runs=3, destination="canvas"))
    queue.cancel_queue_item(queue.list_all_queue_items("default")[1].item_id)
    expected = [
        item
        for item in queue.list_all_queue_items("default", destination="canvas")
        if item.status == "pending"
    ]
    assert len(expected) == 7
    pages: list[list[QueueItemSummary]] = []
    cursor: int | None = None
    priority = 0
    while True:
        page = queue.list_queue_items(
            "default", 3, priority, cursor, status="pending", destination="canvas"
        )
        pages.append(page.items)
        assert all(item.status == "pending" and item.destination == "canvas" for item in page.items)
        if not page.has_more:
            break
        cursor, priority = page.items[-1].item_id, page.items[-1].priority
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [item for page in pages for item in page] == expected
    beyond = queue.list_queue_items("default", 3, expected[-1].priority, expected[-1].item_id)
    assert (beyond.items, beyond.has_more) == ([], False)


def test_list_items_edges_empty_exact_last_page_and_invalid_limit(backend: Any) -> None:
    queue = make(backend)
    empty = queue.list_queue_items("default", 10, 0)
    assert (empty.items, empty.limit, empty.has_more) == ([], 10, False)
    ids = queue.enqueue_batch("default", batch(runs=4)).item_ids
    exact = queue.list_queue_items("default", 4, 0)
    assert (ids_of(exact.items), exact.has_more) == (ids, False)
    first = queue.list_queue_items("default", 2, 0)
    assert (ids_of(first.items), first.has_more) == (ids[:2], True)
    last = queue.list_queue_items("default", 2, 0, ids[1])
    assert (ids_of(last.items), last.has_more) == (ids[2:], False)
    assert not any(hasattr(item, "session") for item in last.items)
    with pytest.raises(RuleViolationError):
        queue.list_queue_items("default", 0, 0)


def test_list_all_items_is_in_dequeue_order_and_filters_by_destination(backend: Any) -> None:
    queue = make(backend)
    plain = queue.enqueue_batch("default", batch(runs=2, destination="canvas")).item_ids
    urgent = queue.enqueue_batch("default", batch(destination="gallery"), prepend=True).item_ids
    assert ids_of(queue.list_all_queue_items("default")) == urgent + plain
    assert ids_of(queue.list_all_queue_items("default", "canvas")) == plain
    assert queue.list_all_queue_items("default", "nowhere") == []


def test_queue_status_counts_each_status_and_names_the_current_item(backend: Any) -> None:
    queue = make(backend)
    ids = queue.enqueue_batch("default", batch(runs=6)).item_ids
    queue.enqueue_batch("other", batch(runs=2))
    queue.complete_queue_item(ids[0])
    queue.fail_queue_item(ids[1], "E", "m", "tb")
    queue.cancel_queue_item(ids[2])
    current = queue.dequeue()
    assert current is not None
    status = queue.get_queue_status("default")
    counts = (status.pending, status.in_progress, status.completed, status.failed, status.canceled)
    assert counts == (2, 1, 1, 1, 1) and status.total == 6
    assert (status.item_id, status.batch_id, status.session_id) == (
        current.item_id,
        current.batch_id,
        current.session_id,
    )
    idle = queue.get_queue_status("idle")
    assert (idle.total, idle.item_id, idle.batch_id, idle.session_id) == (0, None, None, None)


def test_batch_status_and_destination_counts(backend: Any) -> None:
    queue = make(backend)
    result = queue.enqueue_batch("default", batch(runs=3, origin="wf", destination="canvas"))
    queue.enqueue_batch("default", batch(runs=2, destination="canvas"))
    queue.complete_queue_item(result.item_ids[0])
    status = queue.get_batch_status("default", result.batch_id)
    assert (status.pending, status.completed, status.total) == (2, 1, 3)
    assert (status.origin, status.destination) == ("wf", "canvas")
    unknown = queue.get_batch_status("default", "no-such-batch")
    assert (unknown.total, unknown.origin, unknown.destination) == (0, None, None)
    assert queue.get_batch_status("other", result.batch_id).total == 0
    counts = queue.get_counts_by_destination("default", "canvas")
    assert (counts.pending, counts.completed, counts.total) == (4, 1, 5)
    assert queue.get_counts_by_destination("default", "elsewhere").total == 0


def test_is_empty_and_is_full_count_pending_items_only(backend: Any) -> None:
    queue = make(backend, max_queue_size=2)
    ids = queue.enqueue_batch("default", batch(runs=2)).item_ids
    assert queue.is_full("default") and not queue.is_empty("default")
    queue.complete_queue_item(ids[0])
    assert not queue.is_full("default")
    queue.cancel_queue_item(ids[1])
    assert queue.is_empty("default")
    assert queue.is_empty("never-used") and not queue.is_full("never-used")


def test_unicode_and_long_values_round_trip(backend: Any) -> None:
    queue = make(backend)
    long_prompt = "ein 🐈 auf dem Dach, 猫が屋根の上に " * 500
    data = [[datum("prompt", "text", long_prompt, "50% off_sale")]]
    result = queue.enqueue_batch(
        "default",
        batch(data=data, origin="Ursprung ✓", destination="Ziel ✓"),
        user_id="ユーザー",
    )
    first, second = (queue.get_queue_item(i) for i in result.item_ids)
    assert values_of(first) == [("prompt", "text", long_prompt)]
    assert values_of(second) == [("prompt", "text", "50% off_sale")]
    assert (first.origin, first.destination, first.user_id) == ("Ursprung ✓", "Ziel ✓", "ユーザー")
    failed = queue.fail_queue_item(first.item_id, "Fehler", "x" * 100_000, "tb ✗ " * 10_000)
    assert failed.error_message == "x" * 100_000
    assert queue.get_counts_by_destination("default", "Ziel ✓").total == 2
    assert queue.get_counts_by_destination("default", "Ziel %").total == 0
