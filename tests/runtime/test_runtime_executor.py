"""Mirroring off the caller's path: worker process or thread, order, deadlines, drops, breaker."""

from __future__ import annotations

import os
import threading

import pytest
from structlog.testing import capture_logs

from shadow.runtime import Outcome, Runtime, Side
from shadow.testing import capture_comparisons
from tests.runtime import runtime_kv
from tests.runtime.runtime_kv import KeyValue, MakeRuntime


def metric(runtime: Runtime, name: str, **labels: str) -> float:
    return runtime.metrics.registry.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize("worker", ["process", "thread"])
def test_mirrored_writes_are_applied_in_the_order_the_authoritative_calls_completed(
    make_runtime: MakeRuntime, paths: dict[str, str], worker: str
) -> None:
    runtime = make_runtime(worker=worker, batch_size=7)
    with capture_comparisons(runtime) as seen:
        kv = runtime.proxy(KeyValue, "kv")

        def writer(prefix: str) -> None:
            for n in range(40):
                kv.put(f"{prefix}{n % 5}", f"{prefix}{n}")

        threads = [threading.Thread(target=writer, args=(prefix,)) for prefix in "abc"]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        kv.list_all()
        assert runtime.flush(30)
        # Overwrites of the same keys from three threads: only the same order gives the same rows.
        assert runtime_kv.rows(paths["candidate"]) == runtime_kv.rows(paths["legacy"])
        assert {item.outcome for item in seen} == {Outcome.MATCH}
        assert len(seen) == 121


def test_the_process_worker_really_runs_the_mirror_in_another_process(
    make_runtime: MakeRuntime,
) -> None:
    runtime = make_runtime(worker="process")
    with capture_comparisons(runtime) as seen:
        kv = runtime.proxy(KeyValue, "kv")
        assert kv.worker_pid() == os.getpid()  # the caller gets the authoritative answer
        assert runtime.flush(30)
        (observation,) = seen
        # worker_pid answers differently on the two sides: the mirror's pid is another process.
        assert observation.outcome is Outcome.DIVERGENCE
        mirror_pid = observation.differences[0].mirror
        assert isinstance(mirror_pid, int) and mirror_pid != os.getpid()


def test_mirror_nice_lowers_the_worker_process_priority_and_not_the_callers(
    make_runtime: MakeRuntime,
) -> None:
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    runtime = make_runtime(worker="process", mirror_nice=7)
    with capture_comparisons(runtime) as seen:
        kv = runtime.proxy(KeyValue, "kv")
        kv.worker_pid()
        assert runtime.flush(30)
        (observation,) = seen
        mirror_pid = observation.differences[0].mirror
        assert isinstance(mirror_pid, int) and mirror_pid != os.getpid()
        # Read while the worker is alive (it stops with the runtime).
        assert os.getpriority(os.PRIO_PROCESS, mirror_pid) == min(19, ours + 7)
    assert os.getpriority(os.PRIO_PROCESS, 0) == ours


@pytest.mark.slow
@pytest.mark.parametrize("worker", ["process", "thread"])
def test_a_hanging_candidate_read_is_dropped_at_the_deadline_and_mirroring_goes_on(
    make_runtime: MakeRuntime, worker: str
) -> None:
    runtime = make_runtime(
        worker=worker,
        deadline_seconds=0.5,
        candidate_options={"fault": "hang", "fault_method": "get"},
    )
    with capture_comparisons(runtime) as seen:
        kv = runtime.proxy(KeyValue, "kv")
        kv.put("a", "1")
        assert kv.get("a").value == "1"  # returns at once, whatever the candidate does
        kv.put("b", "2")
        with capture_logs() as logs:
            assert runtime.flush(30)
        outcomes = [(item.method, item.outcome, item.reason) for item in seen]
        assert outcomes == [
            ("put", Outcome.MATCH, None),
            ("get", Outcome.DROPPED, "deadline"),
            ("put", Outcome.MATCH, None),
        ]
        assert (
            metric(
                runtime, "shadow_comparisons_total", service="kv", method="get", outcome="dropped"
            )
            == 1
        )
        assert not runtime.recorder.evidence.is_dirty(
            "kv"
        )  # a dropped read leaves the stores alike
        assert any(line["event"] == "shadow_mirror_abandoned" for line in logs)


def test_a_dropped_write_marks_the_service_dirty_until_reconciled(
    make_runtime: MakeRuntime, paths: dict[str, str]
) -> None:
    runtime = make_runtime(
        worker="thread",
        deadline_seconds=0.5,
        candidate_options={"fault": "hang", "fault_method": "put"},
    )
    runtime._reconcile = lambda service, source: runtime_kv.copy_entries(
        paths[source.value], paths[source.other.value]
    )
    with capture_comparisons(runtime) as seen:
        kv = runtime.proxy(KeyValue, "kv")
        kv.put("a", "1")
        assert runtime.flush(30)
        assert runtime.recorder.evidence.is_dirty("kv")
        assert metric(runtime, "shadow_service_dirty", service="kv") == 1
        assert metric(runtime, "shadow_dropped_writes_total", service="kv", method="put") == 1
        assert runtime.store.dirty_services() == {"kv"}
        kv.list_all()
        assert runtime.flush(30)
        # The stores differ now, but a dirty service's comparisons are not evidence.
        assert seen[-1].outcome is Outcome.DIVERGENCE and seen[-1].evidence is False
        assert runtime.store.groups() == []
        runtime.reconcile("kv")
        assert not runtime.recorder.evidence.is_dirty("kv")
        assert runtime.store.dirty_services() == frozenset()
        kv.list_all()
        assert runtime.flush(30)
        rechecked = seen[-1]
        assert rechecked.outcome is Outcome.MATCH and rechecked.evidence is True


@pytest.mark.slow
def test_a_crashed_worker_process_is_replaced(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime(
        worker="process", candidate_options={"fault": "exit", "fault_method": "delete"}
    )
    with capture_comparisons(runtime) as seen:
        kv = runtime.proxy(KeyValue, "kv")
        kv.put("a", "1")
        kv.delete("a")
        kv.put("b", "2")
        assert runtime.flush(60)
        outcomes = [(item.method, item.outcome, item.reason) for item in seen]
        assert outcomes == [
            ("put", Outcome.MATCH, None),
            ("delete", Outcome.DROPPED, "worker_crash"),
            ("put", Outcome.MATCH, None),
        ]
        assert runtime.recorder.evidence.is_dirty("kv")


def test_the_breaker_opens_after_repeated_failures_and_says_so(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime(
        worker="inline",
        breaker_failures=3,
        breaker_reset_seconds=3600,
        candidate_options={"fault": "raise", "fault_method": "put"},
    )
    with capture_comparisons(runtime) as seen:
        kv = runtime.proxy(KeyValue, "kv")
        with capture_logs() as logs:
            for n in range(5):
                kv.put(f"k{n}", "v")
        assert [item.outcome for item in seen] == [Outcome.CANDIDATE_ERROR] * 3 + [
            Outcome.DROPPED
        ] * 2
        assert {item.reason for item in seen[3:]} == {"breaker_open"}
        assert metric(runtime, "shadow_circuit_breaker_open", service="kv") == 1
        opened = [line for line in logs if line["event"] == "shadow_circuit_breaker_open"]
        assert len(opened) == 1 and opened[0]["service"] == "kv"
        assert runtime.recorder.evidence.is_dirty("kv")


def test_a_full_queue_samples_reads_away_before_it_drops_a_write(
    make_runtime: MakeRuntime,
) -> None:
    release = threading.Event()
    runtime = make_runtime(
        worker="thread",
        queue_size=10,
        read_high_water=0.5,
        batch_size=1,
        deadline_seconds=60,
        candidate_options={"gate": release.wait},
    )
    with capture_comparisons(runtime) as seen:
        kv = runtime.proxy(KeyValue, "kv")
        kv.put("a", "1")
        assert runtime.flush(30)
        kv.get("a")  # blocks the worker until released
        for n in range(8):
            kv.put(f"w{n}", "x")
        assert runtime.executor.depth() == 9
        for _ in range(20):
            kv.get("a")
        skipped = [item for item in seen if item.outcome is Outcome.SKIPPED]
        assert len(skipped) == 20 and {item.reason for item in skipped} == {"adaptive"}
        assert not runtime.recorder.evidence.is_dirty("kv")  # no write dropped so far
        kv.put("w8", "x")  # the last slot
        kv.put("w9", "x")  # the queue is full: dropped
        dropped = [item for item in seen if item.outcome is Outcome.DROPPED]
        assert [(item.method, item.reason) for item in dropped] == [("put", "queue_full")]
        assert runtime.recorder.evidence.is_dirty("kv")
        release.set()
        assert runtime.flush(30)


def test_reverse_mode_builds_legacy_in_the_worker_process(
    make_runtime: MakeRuntime, paths: dict[str, str]
) -> None:
    runtime = make_runtime(worker="process", mode="reverse")
    with capture_comparisons(runtime) as seen:
        kv = runtime.proxy(KeyValue, "kv")
        kv.put("a", "1")
        assert runtime.flush(30)
        assert [(item.mirror, item.outcome) for item in seen] == [(Side.LEGACY, Outcome.MATCH)]
        assert runtime_kv.rows(paths["legacy"]) == runtime_kv.rows(paths["candidate"])


def test_a_result_that_cannot_reach_the_worker_process_is_dropped_not_failed(
    make_runtime: MakeRuntime,
) -> None:
    runtime = make_runtime(worker="process", default_mode="shadow")
    with capture_comparisons(runtime) as seen:
        handles = runtime.proxy(runtime_kv.Handles, "handles")
        assert "lock" in handles.lock()  # the caller gets its result regardless
        assert runtime.flush(30)
        assert [(item.outcome, item.reason) for item in seen] == [(Outcome.DROPPED, "unpicklable")]
        assert not runtime.recorder.evidence.breaker("handles").is_open


def test_flush_tells_its_progress_the_calls_still_pending_until_drained(
    make_runtime: MakeRuntime,
) -> None:
    """``flush(progress=...)`` reports the queue counting down (a drain bar): the calls
    pending when it starts, then fewer, then 0; on a timeout it returns False, last
    reporting what is still pending."""
    release = threading.Event()
    runtime = make_runtime(
        worker="thread", batch_size=1, deadline_seconds=60, candidate_options={"gate": release.wait}
    )
    kv = runtime.proxy(KeyValue, "kv")
    kv.put("a", "1")
    assert runtime.flush(30)
    kv.get("a")  # holds the worker until released
    for n in range(5):
        kv.put(f"w{n}", "x")
    waited: list[int] = []
    assert not runtime.flush(0.5, progress=waited.append)
    assert waited and waited[0] == 6 and waited[-1] == 6
    threading.Timer(0.5, release.set).start()
    told: list[int] = []
    assert runtime.flush(30, progress=told.append)
    assert told[0] == 6 and told[-1] == 0
    assert told == sorted(told, reverse=True), "the count only goes down"
