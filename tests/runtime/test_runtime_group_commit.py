"""Group commit: a run of mirrored writes in one transaction, a savepoint per call, or
optimistic (none; a failing call sends the group back to run alone, call by call).

The candidate is the key-value service of ``runtime_kv`` offering group commit
(``build_grouped``: each group logs its size). The dispatcher lingers a second
for a batch, so the few calls of each test reach the worker together.
"""

from __future__ import annotations

from typing import Any, Protocol

import pytest

from shadow.runtime import Outcome, Runtime
from shadow.runtime._observation import Observation
from shadow.testing import capture_comparisons
from tests.runtime import runtime_kv
from tests.runtime.runtime_kv import KeyValue, MakeRuntime


class MakeGrouped(Protocol):
    def __call__(
        self, *, group_commit: int = 8, worker: str = "thread", **candidate: Any
    ) -> Runtime: ...


@pytest.fixture
def make_grouped(make_runtime: MakeRuntime) -> MakeGrouped:
    def make(*, group_commit: int = 8, worker: str = "thread", **candidate: Any) -> Runtime:
        return make_runtime(
            worker=worker,
            group_commit=group_commit,
            batch_size=16,
            batch_linger_seconds=1.0,
            candidate_builder="build_grouped",
            candidate_options=candidate,
        )

    return make


def _keys(path: str) -> list[str]:
    return [row[0] for row in runtime_kv.rows(path)]


def _verdicts(seen: list[Observation]) -> list[tuple[str, Outcome, bool, tuple[str, ...]]]:
    return [(item.method, item.outcome, item.mirror_failed, item.error_types) for item in seen]


def _puts(runtime: Runtime, keys: str) -> list[Observation]:
    kv = runtime.proxy(KeyValue, "kv")
    with capture_comparisons(runtime) as seen:
        for key in keys:
            kv.put(key, f"value of {key}")
        assert runtime.flush(60)
    assert [item.seq for item in seen] == sorted(item.seq for item in seen)
    return seen


@pytest.mark.parametrize(("group_commit", "groups"), [(8, [3]), (1, [])])
def test_a_write_failing_mid_group_is_one_failure_as_alone_and_the_others_commit(
    make_grouped: MakeGrouped, paths: dict[str, str], group_commit: int, groups: list[int]
) -> None:
    # group_commit=1 is the reference: a commit per call, no group.
    runtime = make_grouped(group_commit=group_commit, fault="raise_after_insert", fault_key="b")
    seen = _puts(runtime, "abc")
    assert runtime_kv.group_sizes(paths["candidate"]) == groups
    assert _keys(paths["candidate"]) == ["a", "c"]  # b rolled back (to its savepoint)
    assert _verdicts(seen) == [
        ("put", Outcome.MATCH, False, ()),
        ("put", Outcome.CANDIDATE_ERROR, True, ("none", "builtins.RuntimeError")),
        ("put", Outcome.MATCH, False, ()),
    ]


def test_an_optimistic_group_rolls_back_at_a_failing_call_and_each_of_its_calls_runs_alone(
    make_grouped: MakeGrouped, paths: dict[str, str]
) -> None:
    # b writes, then raises, in an optimistic group: its write is in the
    # group's transaction. The group a, b rolls back whole; a and b run again
    # alone (a matches: its replay drew the same id and time from its tape as
    # the rolled-back attempt did); c, d and e, after the failure, group again.
    runtime = make_grouped(savepoints=False, fault="raise_after_insert", fault_key="b")
    seen = _puts(runtime, "abcde")
    assert runtime_kv.group_sizes(paths["candidate"]) == [2, 3]
    assert _keys(paths["candidate"]) == ["a", "c", "d", "e"]  # b's write never committed
    assert _verdicts(seen) == [
        ("put", Outcome.MATCH, False, ()),
        ("put", Outcome.CANDIDATE_ERROR, True, ("none", "builtins.RuntimeError")),
        *[("put", Outcome.MATCH, False, ())] * 3,
    ]
    stored = {row[0]: row for row in runtime_kv.rows(paths["candidate"])}
    legacy = {row[0]: row for row in runtime_kv.rows(paths["legacy"])}
    assert stored == {key: legacy[key] for key in "acde"}  # the same ids, each written once


def test_a_write_the_authoritative_side_failed_is_not_grouped(
    make_grouped: MakeGrouped, paths: dict[str, str]
) -> None:
    # Deleting a missing key fails on both sides (a match); it runs alone
    # between two groups rather than sending its group back to run alone.
    runtime = make_grouped(savepoints=False)
    kv = runtime.proxy(KeyValue, "kv")
    with capture_comparisons(runtime) as seen:
        kv.put("a", "1")
        kv.put("b", "2")
        with pytest.raises(runtime_kv.KeyMissingError):
            kv.delete("missing")
        kv.put("c", "3")
        kv.put("d", "4")
        assert runtime.flush(60)
    assert runtime_kv.group_sizes(paths["candidate"]) == [2, 2]
    assert [(item.method, item.outcome) for item in seen] == [
        ("put", Outcome.MATCH),
        ("put", Outcome.MATCH),
        ("delete", Outcome.MATCH),
        ("put", Outcome.MATCH),
        ("put", Outcome.MATCH),
    ]


def test_a_failed_commit_fails_every_write_of_the_group_and_the_service_goes_dirty(
    make_grouped: MakeGrouped, paths: dict[str, str]
) -> None:
    runtime = make_grouped(fail_commit=True)
    seen = _puts(runtime, "abc")
    assert runtime_kv.group_sizes(paths["candidate"]) == [3]
    assert _keys(paths["candidate"]) == []
    assert (
        _verdicts(seen)
        == [("put", Outcome.CANDIDATE_ERROR, True, ("none", "sqlite3.OperationalError"))] * 3
    )
    assert seen[0].mirror_error is not None
    assert "COMMIT failed" in seen[0].mirror_error["message"]
    assert runtime.recorder.evidence.is_dirty("kv")


def test_reads_are_never_grouped_they_end_the_group_before_them(
    make_grouped: MakeGrouped, paths: dict[str, str]
) -> None:
    runtime = make_grouped()
    kv = runtime.proxy(KeyValue, "kv")
    with capture_comparisons(runtime) as seen:
        kv.put("a", "1")
        kv.put("b", "2")
        kv.get("b")  # sees b: the group before it committed
        kv.put("c", "3")
        kv.put("d", "4")
        kv.put("e", "5")
        assert runtime.flush(60)
    assert runtime_kv.group_sizes(paths["candidate"]) == [2, 3]
    assert [(item.method, item.outcome) for item in seen] == [
        ("put", Outcome.MATCH),
        ("put", Outcome.MATCH),
        ("get", Outcome.MATCH),
        ("put", Outcome.MATCH),
        ("put", Outcome.MATCH),
        ("put", Outcome.MATCH),
    ]


def test_a_group_holds_at_most_group_commit_calls(
    make_grouped: MakeGrouped, paths: dict[str, str]
) -> None:
    seen = _puts(make_grouped(group_commit=2), "abcde")
    assert runtime_kv.group_sizes(paths["candidate"]) == [2, 2]  # e alone: no group
    assert {item.outcome for item in seen} == {Outcome.MATCH}
    assert _keys(paths["candidate"]) == list("abcde")


def test_a_groups_commit_time_is_shared_out_in_its_writes_latencies(
    make_grouped: MakeGrouped, paths: dict[str, str]
) -> None:
    # (That it never widens a call's timestamp window is tested on the session
    # queue, whose stamps are in milliseconds: tests/services/test_core_group_commit.py.)
    seen = _puts(make_grouped(slow_commit=0.5), "aa")
    assert runtime_kv.group_sizes(paths["candidate"]) == [2]
    assert [item.outcome for item in seen] == [Outcome.MATCH, Outcome.MATCH]
    assert all((item.mirror_seconds or 0) >= 0.25 for item in seen)  # half the commit each


@pytest.mark.slow
def test_a_worker_dying_mid_group_never_reports_a_call_it_had_not_committed(
    make_grouped: MakeGrouped, paths: dict[str, str]
) -> None:
    # c's call kills the worker process inside the group a, b, c: nothing was
    # committed, so nothing may be reported matched. The dispatcher drops the
    # first unanswered call and sends the rest again, to a worker that dies on c
    # again: every call ends dropped, the candidate holds nothing.
    runtime = make_grouped(worker="process", fault="exit", fault_method="put", fault_key="c")
    seen = _puts(runtime, "abc")
    assert [(item.outcome, item.reason) for item in seen] == [(Outcome.DROPPED, "worker_crash")] * 3
    assert _keys(paths["candidate"]) == []
    assert runtime.recorder.evidence.is_dirty("kv")
