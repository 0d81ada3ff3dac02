"""Specs for results that are not records: a bare timestamp, ids ordered by an absent value."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from shadow import Compare, ContractError, Order, Side
from shadow.runtime import Runtime, ServiceSettings, ShadowSettings, SideFactory, compare_values
from shadow.runtime._stamps import Window
from tests.runtime.runtime_events import Events

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

# -- a bare timestamp -----------------------------------------------------------------------


def test_a_bare_timestamp_result_matches_within_the_read_tolerance_only() -> None:
    spec = Compare(timestamp_result=True, timestamp_precision=0.001)
    later = T0 + timedelta(milliseconds=40)
    assert compare_values(spec, T0, later, tolerance=0.05).equal
    assert not compare_values(spec, T0, T0 + timedelta(seconds=2), tolerance=0.05).equal
    # Without the declaration the same two values diverge, at the root.
    verdict = compare_values(Compare(), T0, later, tolerance=0.05)
    assert not verdict.equal and verdict.patterns == ("root",)


def test_a_bare_timestamp_needs_a_value_on_both_sides() -> None:
    spec = Compare(timestamp_result=True)
    assert compare_values(spec, None, None, tolerance=1.0).equal
    assert not compare_values(spec, T0, None, tolerance=1.0).equal


def test_a_list_of_bare_timestamps_is_compared_position_by_position() -> None:
    spec = Compare(timestamp_result=True, timestamp_precision=0.001)
    close = [T0 + timedelta(milliseconds=3), T0 + timedelta(seconds=5, milliseconds=2)]
    assert compare_values(spec, [T0, T0 + timedelta(seconds=5)], close, tolerance=0.01).equal
    assert not compare_values(spec, [T0, T0], [T0], tolerance=0.01).equal


def test_a_bare_timestamp_returned_by_a_write_must_fall_inside_its_own_call() -> None:
    spec = Compare(timestamp_result=True, timestamp_precision=0.001)
    start = T0.timestamp()
    windows = (Window(start, start + 0.01), Window(start + 0.5, start + 0.51))
    fresh_mirror = T0 + timedelta(seconds=0.505)
    assert compare_values(spec, T0, fresh_mirror, tolerance=1.0, windows=windows).equal
    # A stale mirror value (from before its call) next to a fresh authoritative one.
    stale = T0 - timedelta(seconds=0.2)
    assert not compare_values(spec, T0, stale, tolerance=1.0, windows=windows).equal


# -- ids ordered by a value the result does not carry ---------------------------------------

CREATED = {"a": T0, "b": T0, "c": T0 + timedelta(minutes=1), "d": T0 + timedelta(minutes=2)}


def _created(_implementation: Any, row: str) -> datetime:
    return CREATED[row]


TIES_BY_TIME = Compare(order=Order.TIES, tie_key=_created)


def _tie_value(row: Any) -> Any:
    return _created(None, row)


def test_ids_tied_by_the_key_may_swap_and_no_others() -> None:
    assert compare_values(
        TIES_BY_TIME, ["a", "b", "c"], ["b", "a", "c"], tie_value=_tie_value
    ).equal
    swapped = compare_values(TIES_BY_TIME, ["a", "c", "d"], ["a", "d", "c"], tie_value=_tie_value)
    assert not swapped.equal
    missing = compare_values(TIES_BY_TIME, ["a", "b"], ["a", "c"], tie_value=_tie_value)
    assert not missing.equal


def test_key_values_within_the_tolerance_tie_unordered_within_the_same_second() -> None:
    near = {"x": T0, "y": T0 + timedelta(milliseconds=600), "z": T0 + timedelta(seconds=3)}

    def value(row: Any) -> Any:
        return near[row]

    spec = Compare(order=Order.TIES, tie_key=_created)  # timestamp_precision 1 s
    assert compare_values(
        spec, ["x", "y", "z"], ["y", "x", "z"], tolerance=1.0, tie_value=value
    ).equal
    assert not compare_values(
        spec, ["x", "y", "z"], ["z", "x", "y"], tolerance=1.0, tie_value=value
    ).equal


def test_a_row_gone_from_the_store_ties_with_any_row() -> None:
    def value(row: Any) -> Any:
        return None if row == "gone" else _tie_value(row)

    assert compare_values(
        TIES_BY_TIME, ["gone", "c", "d"], ["c", "gone", "d"], tie_value=value
    ).equal
    assert not compare_values(
        TIES_BY_TIME, ["gone", "c", "d"], ["d", "c", "gone"], tie_value=value
    ).equal


def test_the_first_id_of_a_tied_order_may_be_either_of_the_tied_ids() -> None:
    assert compare_values(TIES_BY_TIME, "a", "b", tie_value=_tie_value).equal
    assert not compare_values(TIES_BY_TIME, "a", "c", tie_value=_tie_value).equal
    assert not compare_values(TIES_BY_TIME, "a", None, tie_value=_tie_value).equal


def test_the_key_runs_only_when_the_results_differ() -> None:
    calls: list[Any] = []

    def counted(row: Any) -> Any:
        calls.append(row)
        return _tie_value(row)

    assert compare_values(TIES_BY_TIME, ["a", "b"], ["a", "b"], tie_value=counted).equal
    assert calls == []
    assert compare_values(TIES_BY_TIME, ["a", "b"], ["b", "a"], tie_value=counted).equal
    assert sorted(set(calls)) == ["a", "b"]  # each row's value read once


def test_without_the_authoritative_side_a_tie_key_order_is_compared_exactly() -> None:
    assert not compare_values(TIES_BY_TIME, ["a", "b"], ["b", "a"]).equal


def test_a_tie_key_needs_ties_and_replaces_the_sort_key() -> None:
    with pytest.raises(ContractError, match=r"needs order=Order\.TIES"):
        Compare(tie_key=_created)
    with pytest.raises(ContractError, match="either a sort_key or a tie_key"):
        Compare(order=Order.TIES, key=("id",), sort_key=("at",), tie_key=_created)
    with pytest.raises(ContractError, match="sort_key \\(or a tie_key\\)"):
        Compare(order=Order.TIES, key=("id",))


# -- through the runtime, on both workers ---------------------------------------------------


@pytest.fixture
def make_events(tmp_path: Path) -> Iterator[Any]:
    created: list[Runtime] = []

    def make(worker: str, **candidate: Any) -> Runtime:
        runtime = Runtime(
            ShadowSettings(
                worker=worker,
                services={"events": ServiceSettings(mode="shadow")},
                store_url=f"sqlite:///{tmp_path / 'store.db'}",
            ),
            legacy=SideFactory(
                "tests.runtime.runtime_events:build", {"path": str(tmp_path / "legacy.db")}
            ),
            candidate=SideFactory(
                "tests.runtime.runtime_events:build",
                {"path": str(tmp_path / "candidate.db"), **candidate},
            ),
            registry=CollectorRegistry(),
        )
        created.append(runtime)
        return runtime

    yield make
    for runtime in created:
        runtime.close()


def _outcomes(runtime: Runtime) -> Counter[tuple[str, str]]:
    assert runtime.flush()
    return Counter(
        {(item.method, item.outcome): item.total for item in runtime.store.comparison_counts()}
    )


def _traffic(runtime: Runtime) -> None:
    events = runtime.proxy(Events, "events")
    for name, at in (("a", T0), ("b", T0), ("c", T0), ("d", T0 + timedelta(hours=1))):
        events.add(name, at)
        events.latest_at()
    events.ids_by_time()
    events.first_id()


@pytest.mark.parametrize("worker", ["thread", "process"])
def test_store_stamps_and_tie_breaks_that_differ_legitimately_all_match(
    make_events: Any, worker: str
) -> None:
    runtime = make_events(worker, descending_ties=True)
    _traffic(runtime)
    # The two stores really answer differently (so the matches below mean something).
    sides = [
        runtime.switchboard.implementation(side, "events") for side in (Side.LEGACY, Side.CANDIDATE)
    ]
    runtime.flush()
    legacy_ids, candidate_ids = (side.ids_by_time() for side in sides)
    assert legacy_ids != candidate_ids and sorted(legacy_ids) == sorted(candidate_ids)
    assert sides[0].latest_at() != sides[1].latest_at()
    assert _outcomes(runtime) == Counter(
        {
            ("add", "match"): 4,
            ("latest_at", "match"): 4,
            ("ids_by_time", "match"): 1,
            ("first_id", "match"): 1,
        }
    )


@pytest.mark.parametrize("worker", ["thread", "process"])
def test_an_order_reversed_beyond_its_ties_is_a_divergence(make_events: Any, worker: str) -> None:
    runtime = make_events(worker, fault="newest_first")
    _traffic(runtime)
    outcomes = _outcomes(runtime)
    assert outcomes[("ids_by_time", "divergence")] == 1
    assert outcomes[("first_id", "divergence")] == 1
    assert outcomes[("latest_at", "match")] == 4
