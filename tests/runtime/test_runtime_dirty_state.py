"""Dirty state: durable, never written from the caller's path, set by every write mismatch.

A service is dirty when its two stores may differ: a write was not mirrored
(dropped), or the two sides disagreed on whether a write succeeded. Its later
comparisons are then not evidence. These tests pin the rules issue 15 found
broken: the dirty mark must reach the store even if the first write of it
fails, must never be written by the caller's thread, must be set by write
outcome mismatches, and must not be moved forward by a late-reported drop.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from shadow import FixedClock, SequentialIds, StoreError
from shadow._contract import Kind
from shadow._vocabulary import Side
from shadow.runtime import Runtime, ServiceSettings, ShadowSettings, SideFactory
from shadow.runtime._metrics import ShadowMetrics
from shadow.runtime._observation import MethodPlan, Observation, Outcome, Reason, Task
from shadow.runtime._recorder import Recorder
from shadow.runtime._store import DivergenceStore, StoreBatch
from shadow.runtime._tape import Tape
from tests.runtime.runtime_kv import KeyMissingError, KeyValue, MakeRuntime


class FlakyStore(DivergenceStore):
    """A real store whose first ``failures`` writes fail, as a locked or full store's would."""

    def __init__(self, url: str, failures: int) -> None:
        super().__init__(url)
        self.failures = failures

    def _maybe_fail(self) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise StoreError("divergence store write failed: OperationalError")

    def record(self, batch: StoreBatch) -> None:
        self._maybe_fail()
        super().record(batch)

    def mark_dirty(self, service: str, at: datetime) -> None:
        self._maybe_fail()
        super().mark_dirty(service, at)


class BlockingStore(DivergenceStore):
    """A real store whose writes wait until released, as a store locked by another process."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.release = threading.Event()

    def record(self, batch: StoreBatch) -> None:
        self.release.wait(30)
        super().record(batch)

    def mark_dirty(self, service: str, at: datetime) -> None:
        self.release.wait(30)
        super().mark_dirty(service, at)


def _runtime(
    paths: dict[str, str], store: DivergenceStore, *, worker: str = "inline", **settings: Any
) -> Runtime:
    return Runtime(
        ShadowSettings(
            worker=worker,
            services={"kv": ServiceSettings(mode="shadow")},
            store_url=paths["store"],
            **settings,
        ),
        legacy=SideFactory("tests.runtime.runtime_kv:build", {"path": paths["legacy"]}),
        candidate=SideFactory(
            "tests.runtime.runtime_kv:build",
            {"path": paths["candidate"], "fault": "raise", "fault_method": "get"},
        ),
        registry=CollectorRegistry(),
        store=store,
        ids=SequentialIds("kv"),
        clock=FixedClock(),
    )


def test_a_dirty_mark_whose_first_store_write_fails_is_retried_and_survives_a_restart(
    paths: dict[str, str],
) -> None:
    """The dirty mark is kept with the batch when the store refuses it, and written later."""
    store = FlakyStore(paths["store"], failures=1)
    runtime = _runtime(paths, store)
    try:
        runtime.proxy(KeyValue, "kv")
        runtime.recorder.mark_dirty("kv", 1, method="put", reason=Reason.QUEUE_FULL)
        assert not runtime.recorder.flush(), "the first write must fail in this test"
        assert store.dirty_services() == frozenset()
        assert runtime.recorder.flush(), "the retry must go through"
        assert store.dirty_services() == {"kv"}
    finally:
        runtime.close()
    restarted = Recorder(
        settings=ShadowSettings(),
        metrics=ShadowMetrics(CollectorRegistry()),
        store=DivergenceStore(paths["store"]),
        logger=runtime.log,
    )
    assert restarted.evidence.is_dirty("kv"), "a restarted runtime must know the service is dirty"


def test_a_dirty_mark_made_on_the_callers_thread_never_waits_for_the_store(
    paths: dict[str, str],
) -> None:
    """A write dropped at hand-off (breaker open) returns while the store is still locked."""
    store = BlockingStore(paths["store"])
    runtime = _runtime(paths, store, worker="thread", breaker_failures=1)
    try:
        kv = runtime.proxy(KeyValue, "kv")
        kv.put("a", "1")
        with pytest.raises(RuntimeError):  # the candidate's get raises; the legacy's does not
            runtime.switchboard.implementation(Side.CANDIDATE, "kv").get("a")
        kv.get("a")  # the candidate raises: the breaker (threshold 1) opens
        assert runtime.executor.flush(10)
        assert not runtime.recorder.evidence.breaker("kv").allow()
        finished = threading.Event()

        def write() -> None:
            kv.put("b", "2")  # dropped with breaker_open: the service turns dirty
            finished.set()

        caller = threading.Thread(target=write)
        caller.start()
        assert finished.wait(5), "the caller waited for the store"
        assert runtime.recorder.evidence.is_dirty("kv")
        assert not store.release.is_set(), "the store was blocked all along"
    finally:
        store.release.set()
        runtime.close()
    assert DivergenceStore(paths["store"]).dirty_services() == {"kv"}


def test_a_write_the_mirror_refused_marks_the_service_dirty_after_it(
    make_runtime: MakeRuntime,
) -> None:
    """A candidate error on a write is evidence itself; the comparisons after it are not."""
    runtime = make_runtime(candidate_options={"fault": "raise", "fault_method": "put"})
    kv = runtime.proxy(KeyValue, "kv")
    seen: list[Observation] = []
    runtime.recorder.add_observer(seen.append)
    kv.put("a", "1")
    assert runtime.recorder.evidence.is_dirty("kv")
    with pytest.raises(KeyMissingError):
        kv.delete("nothing")
    first, after = seen
    assert first.outcome is Outcome.CANDIDATE_ERROR and first.evidence
    assert not after.evidence
    runtime.flush()
    assert runtime.store.dirty_services() == {"kv"}


def test_a_write_the_authoritative_side_refused_and_the_mirror_applied_marks_dirty(
    make_runtime: MakeRuntime, paths: dict[str, str]
) -> None:
    """Legacy raises KeyMissingError on delete, the candidate deletes a row it had: dirty."""
    runtime = make_runtime()
    kv = runtime.proxy(KeyValue, "kv")
    candidate = runtime.switchboard.implementation(Side.CANDIDATE, "kv")
    candidate.put("only-there", "x")  # a row the legacy store does not have
    with pytest.raises(KeyMissingError):
        kv.delete("only-there")
    assert runtime.recorder.evidence.is_dirty("kv")
    with sqlite3.connect(paths["candidate"]) as connection:
        assert connection.execute("SELECT COUNT(*) FROM entries").fetchone() == (0,)


def _task(seq: int) -> Task:
    from shadow._contract import Compare  # noqa: PLC0415

    plan = MethodPlan("kv", "get", Kind.READ, Compare(), ("key",))
    return Task(
        seq=seq,
        plan=plan,
        mirror=Side.CANDIDATE,
        payload=b"x",
        result=None,
        error_type=None,
        tape=Tape(),
        started_at=0.0,
        authoritative_seconds=0.001,
    )


def test_a_drop_reported_late_for_an_older_call_moves_the_dirty_marker_back(
    paths: dict[str, str],
) -> None:
    """Calls after the real first drop are not evidence, whatever order the drops arrive in."""
    recorder = Recorder(
        settings=ShadowSettings(),
        metrics=ShadowMetrics(CollectorRegistry()),
        store=DivergenceStore(paths["store"]),
        logger=__import__("structlog").get_logger("test"),
    )
    recorder.mark_dirty("kv", 10, method="put", reason=Reason.QUEUE_FULL)
    recorder.mark_dirty(
        "kv", 5, method="put", reason=Reason.DEADLINE
    )  # an older call, reported late
    seen: list[Observation] = []
    recorder.add_observer(seen.append)
    recorder.observe(_task(7), Observation("kv", "get", Outcome.MATCH, seq=7))
    recorder.observe(_task(4), Observation("kv", "get", Outcome.MATCH, seq=4))
    assert [item.evidence for item in seen] == [False, True]
    assert recorder.evidence.pending_marks() == [("kv", True)], "one dirty transition, not two"
    recorder.flush()
    [state] = [s for s in DivergenceStore(paths["store"]).services() if s.service == "kv"]
    assert state.dirty and state.dirty_since is not None
    assert state.dirty_since <= datetime.now(UTC)


def test_a_clean_mark_after_a_pending_dirty_mark_is_the_last_word_in_the_store(
    paths: dict[str, str],
) -> None:
    """Transitions refused by the store keep their order when retried: reconciled stays clean."""
    store = FlakyStore(paths["store"], failures=1)
    runtime = _runtime(paths, store)
    try:
        runtime.proxy(KeyValue, "kv")
        runtime.recorder.mark_dirty("kv", 1, method="put", reason=Reason.QUEUE_FULL)
        assert not runtime.recorder.flush()
        runtime.recorder.mark_clean("kv")
        assert runtime.recorder.flush()
        assert store.dirty_services() == frozenset()
    finally:
        runtime.close()


def test_calls_refused_because_the_runtime_is_closing_are_labelled_shutdown(
    make_runtime: MakeRuntime,
) -> None:
    """A read handed off while the runtime closes is dropped as ``shutdown``, not queue_full."""
    runtime = make_runtime(worker="thread")
    kv = runtime.proxy(KeyValue, "kv")
    kv.put("a", "1")
    seen: list[Observation] = []
    runtime.recorder.add_observer(seen.append)
    runtime.close()
    kv.get("a")  # the caller still gets the legacy answer
    assert [(item.outcome, item.reason) for item in seen][-1] == (Outcome.DROPPED, "shutdown")
