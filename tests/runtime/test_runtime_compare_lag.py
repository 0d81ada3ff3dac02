"""Rows stamped while the mirror lagged by varying amounts may swap places, and only those."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shadow import Compare, Order
from shadow.runtime import compare_values

SPEC = Compare(
    order=Order.TIES,
    rows="items",
    key=("name",),
    sort_key=("starred", "created_at"),
    timestamps=frozenset({"created_at"}),
)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def page(*rows: tuple[str, float]) -> dict[str, object]:
    return {
        "items": [{"name": name, "starred": False, "created_at": at(s)} for name, s in rows],
        "total": len(rows),
    }


def test_a_row_written_during_a_backlog_may_overtake_a_row_written_after_it() -> None:
    # a written at 45.1 while the mirror lagged 9.1 s; b at 50.0 with 1 s lag:
    # the mirror stamps a after b, so newest-first lists disagree on their order.
    # Row "0" (37.0, 1 s lag) is within the tolerance of "a" on the legacy side
    # but not of "b" on the mirror, so near-equal rows group differently per side.
    legacy = page(("b", 50.0), ("a", 45.1), ("0", 37.0))
    mirror = page(("a", 54.2), ("b", 51.0), ("0", 38.0))
    assert compare_values(SPEC, legacy, mirror, tolerance=9.1 + 1.0).equal


def test_rows_further_apart_than_the_tolerance_must_keep_their_order() -> None:
    legacy = page(("b", 50.0), ("a", 35.0), ("c", 30.0))
    mirror = page(("a", 36.0), ("b", 51.0), ("c", 31.0))  # a listed first: wrong
    assert not compare_values(SPEC, legacy, mirror, tolerance=2.0).equal


def test_a_timestamp_beyond_the_tolerance_is_still_a_divergence() -> None:
    legacy = page(("b", 50.0), ("a", 45.1))
    mirror = page(("a", 58.0), ("b", 51.0))
    assert not compare_values(SPEC, legacy, mirror, tolerance=5.0).equal


def test_a_missing_row_is_still_a_divergence() -> None:
    legacy = page(("b", 50.0), ("a", 45.1))
    mirror = page(("b", 50.5), ("x", 45.5))
    assert not compare_values(SPEC, legacy, mirror, tolerance=5.0).equal
