"""One bug, one story: the store links later groups of a service to their root group.

A group first recorded while its service has an open root group is linked to
the earliest one that came from a write (the stores may have drifted since)
or shares an id with it. Links are stored once, on every backend, and read
back with the groups; the gate still sees every group.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shadow.runtime import DivergenceStore
from shadow.runtime._store import StoreBatch
from tests.runtime.runtime_kv import KeyValue, MakeRuntime

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

BACKENDS = [
    pytest.param("sqlite"),
    pytest.param("postgresql", marks=pytest.mark.postgres),
    pytest.param("mariadb", marks=pytest.mark.mariadb),
]


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, empty_database: Callable[[str], str]) -> str:
    return empty_database(request.param)


def record(
    store: DivergenceStore,
    fingerprint: str,
    *,
    method: str,
    seconds: int,
    write: bool = False,
    service: str = "session_queue",
    arguments: dict[str, Any] | None = None,
    values: tuple[Any, Any] = ("x", "y"),
) -> None:
    """Record one divergence of a new group, in a flush of its own."""
    at = T0 + timedelta(seconds=seconds)
    batch = StoreBatch()
    batch.add_divergence(
        fingerprint,
        service=service,
        method=method,
        outcome="divergence",
        paths=("root['x']",),
        error_types=(),
        at=at,
        example={
            "seen_at": at.isoformat(),
            "write": write,
            "arguments": arguments or {},
            "differences": [
                {"path": "root['board_id']", "authoritative": values[0], "mirror": values[1]}
            ],
        },
    )
    store.record(batch)


def roots(store: DivergenceStore) -> dict[str, str | None]:
    return {group.fingerprint: group.root for group in store.groups()}


def test_groups_after_a_divergent_write_are_its_consequences(store_url: str) -> None:
    """A wrong dequeue, then wrong statuses and counts of that service: one story."""
    store = DivergenceStore(store_url)
    try:
        record(store, "dequeue", method="dequeue", seconds=1, write=True, values=(7, 8))
        record(store, "status", method="get_item", seconds=2, arguments={"item_id": 3})
        record(store, "counts", method="get_queue_status", seconds=3)
        record(store, "other", method="get", seconds=4, service="images")
        assert roots(store) == {
            "dequeue": None,
            "status": "dequeue",
            "counts": "dequeue",
            "other": None,  # another service: its own story
        }
        shown = store.group("status")
        assert shown is not None and shown.root == "dequeue"
    finally:
        store.close()


def test_read_groups_are_linked_only_when_they_share_an_id(store_url: str) -> None:
    """Without a divergent write, a later read group joins a root only through a shared id."""
    store = DivergenceStore(store_url)
    try:
        record(
            store,
            "first",
            method="get_many",
            seconds=1,
            arguments={"board_id": "b-1", "offset": 0, "limit": 10},
            values=("1", "2"),
        )
        record(store, "same-id", method="get_board", seconds=2, arguments={"board_id": "b-1"})
        record(store, "value-id", method="count", seconds=3, values=("b-1", "b-2"))
        record(  # shares only an offset, a limit and no id: not linked
            store,
            "unrelated",
            method="get_board",
            seconds=4,
            arguments={"board_id": "b-9", "offset": 0, "limit": 10},
            values=("3", "4"),
        )
        assert roots(store) == {
            "first": None,
            "same-id": "first",
            "value-id": "first",
            "unrelated": None,
        }
    finally:
        store.close()


def test_only_open_earlier_roots_are_candidates_and_links_point_at_roots(store_url: str) -> None:
    """A reviewed (fixed) write is no root; a consequence's consequences join its root."""
    store = DivergenceStore(store_url)
    try:
        record(store, "old-write", method="enqueue", seconds=1, write=True)
        store.mark_fixed("old-write", T0 + timedelta(seconds=2))
        record(store, "root", method="dequeue", seconds=3, write=True)
        record(store, "child", method="get_item", seconds=4, write=True)
        record(store, "grandchild", method="list_items", seconds=5)
        assert roots(store) == {
            "old-write": None,
            "root": None,
            "child": "root",
            "grandchild": "root",
        }
    finally:
        store.close()


def test_groups_first_seen_in_one_flush_are_linked_in_that_flush(store_url: str) -> None:
    """Root and consequence arriving in the same batch are linked too."""
    store = DivergenceStore(store_url)
    try:
        batch = StoreBatch()
        for seconds, (fingerprint, write) in enumerate((("w", True), ("r", False))):
            at = T0 + timedelta(seconds=seconds)
            batch.add_divergence(
                fingerprint,
                service="kv",
                method=fingerprint,
                outcome="divergence",
                paths=(),
                error_types=(),
                at=at,
                example={"seen_at": at.isoformat(), "write": write},
            )
        store.record(batch)
        assert roots(store) == {"w": None, "r": "w"}
    finally:
        store.close()


def test_through_the_runtime_a_failed_write_roots_the_reads_it_breaks(
    make_runtime: MakeRuntime,
) -> None:
    """The recorder marks write examples, so the store links what the write caused.

    The candidate stores a wrong value on ``put`` (and answers it), then a
    ``get`` of that key diverges too: two groups, one story. (A ``put`` that
    *raised* on the candidate would instead make the service dirty, and the
    ``get`` after it would not be evidence: see test_runtime_dirty_state.py.)
    """
    runtime = make_runtime(candidate_options={"fault": "store_wrong", "fault_method": "put"})
    kv = runtime.proxy(KeyValue, "kv")
    kv.put("a", "1")
    kv.get("a")
    assert runtime.flush(30)
    by_method = {group.method: group for group in runtime.store.groups()}
    assert set(by_method) == {"put", "get"}
    assert by_method["put"].root is None
    assert by_method["get"].root == by_method["put"].fingerprint
