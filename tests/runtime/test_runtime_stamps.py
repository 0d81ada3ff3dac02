"""The window rule for database timestamps in a write's result (shadow.runtime._stamps).

Times are seconds on one wall clock. The authoritative call ran in [100.0,
100.010], the mirror's in [102.0, 102.010] (two seconds of queue lag); the
columns have millisecond precision and the read tolerance is lag + 1 s.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shadow import Compare, write
from shadow.runtime import compare_values
from shadow.runtime._stamps import StampRule, Window

SPEC = Compare(
    timestamps=frozenset({"updated_at"}),
    timestamp_precisions=(("updated_at", 0.001),),
)
AUTHORITATIVE = Window(100.0, 100.010)
MIRROR = Window(102.0, 102.010)
WINDOWS = (AUTHORITATIVE, MIRROR)
TOLERANCE = 2.010 + 1.0  # the write lag plus the spec's coarse precision


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def write_rule(spec: Compare = SPEC) -> StampRule:
    return StampRule(spec, TOLERANCE, WINDOWS)


def test_values_each_inside_their_own_sides_window_match() -> None:
    """Two fresh values match although they are two seconds apart."""
    assert write_rule().accepts("updated_at", at(100.004), at(102.007))


def test_a_truncated_value_just_before_the_start_is_inside_the_window() -> None:
    """A millisecond column may store up to 1 ms before the call's start."""
    assert write_rule().accepts("updated_at", at(99.9995), at(101.9992))


def test_a_stale_mirror_value_is_a_divergence_even_when_close() -> None:
    """The mirror's value predates its call while the authoritative one is fresh.

    It is 1.2 s from the authoritative value, inside the old lag tolerance.
    """
    assert not write_rule().accepts("updated_at", at(100.005), at(101.2))


def test_a_stale_authoritative_value_against_a_fresh_mirror_is_a_divergence() -> None:
    """The reverse direction (a stale legacy side in reverse mode) is caught the same way."""
    assert not write_rule().accepts("updated_at", at(99.5), at(102.005))


def test_a_value_from_after_the_call_ended_is_a_divergence() -> None:
    """No call produces a value after it returned."""
    assert not write_rule().accepts("updated_at", at(100.005), at(102.5))


def test_two_copies_of_one_earlier_write_match_within_the_lag() -> None:
    """Both predate their calls (an unchanged created_at): the lag rule applies."""
    assert write_rule().accepts("updated_at", at(50.0), at(51.5))


def test_two_old_values_further_apart_than_the_lag_are_a_divergence() -> None:
    """Old values differing by more than the write lag plus the column's precision."""
    assert not write_rule().accepts("updated_at", at(50.0), at(52.2))


def test_a_coarse_column_widens_the_window_by_its_precision() -> None:
    """A whole-second column may store up to a second before the call started."""
    spec = Compare(
        timestamps=frozenset({"updated_at"}), timestamp_precisions=(("updated_at", 1.0),)
    )
    assert write_rule(spec).accepts("updated_at", at(99.2), at(101.3))
    assert not write_rule(SPEC).accepts("updated_at", at(99.2), at(101.3))


def test_reads_keep_the_lag_tolerance() -> None:
    """Without windows (a read), values within the tolerance match, in either order."""
    rule = StampRule(SPEC, TOLERANCE)
    assert rule.accepts("updated_at", at(100.0), at(102.5))
    assert rule.accepts("updated_at", at(102.5), at(100.0))
    assert not rule.accepts("updated_at", at(100.0), at(103.5))


def test_compare_values_applies_the_window_rule_to_a_write_result() -> None:
    """End to end through compare_values: stale is a divergence on that path, fresh is not."""
    fresh = {"name": "n", "updated_at": at(100.004)}
    assert compare_values(
        SPEC, fresh, {"name": "n", "updated_at": at(102.003)}, tolerance=TOLERANCE, windows=WINDOWS
    ).equal
    verdict = compare_values(
        SPEC, fresh, {"name": "n", "updated_at": at(101.5)}, tolerance=TOLERANCE, windows=WINDOWS
    )
    assert not verdict.equal
    assert verdict.patterns == ("root['updated_at']",)
    # Without windows the same pair is within the read tolerance: the old, blind rule.
    assert compare_values(
        SPEC, fresh, {"name": "n", "updated_at": at(101.5)}, tolerance=TOLERANCE
    ).equal


def test_declared_precisions_come_from_a_timestamps_mapping() -> None:
    """``@write(timestamps={name: seconds})`` declares each column's precision."""

    @write(timestamps={"created_at": 0.001, "updated_at": 1.0})
    def method() -> None: ...

    spec = method.__shadow_method__.compare  # type: ignore[attr-defined]
    assert spec.timestamps == frozenset({"created_at", "updated_at"})
    assert spec.precision_of("created_at") == 0.001
    assert spec.precision_of("updated_at") == 1.0
    assert Compare(timestamps=frozenset({"x"})).precision_of("x") == 1.0


def test_a_wall_clock_step_during_the_call_stays_inside_its_window() -> None:
    """Windows are bounded by both wall-clock readings and the monotonic duration.

    Stepped forward by 5 ms during a 1 ms call, the wall clock reads 100.000
    and 100.006: a stamp at 100.005 is inside. Stepped back by 5 ms, it reads
    100.000 and 99.996: a stamp at 99.9955 is inside.
    """
    forward = Window.around(100.0, 100.006, 0.001)
    assert (forward.start, forward.end) == (100.0, 100.006)
    backward = Window.around(100.0, 99.996, 0.001)
    assert backward.start == pytest.approx(99.995) and backward.end == pytest.approx(100.001)
    rule = StampRule(SPEC, TOLERANCE, (backward, MIRROR))
    assert rule.accepts("updated_at", at(99.9955), at(102.005))
