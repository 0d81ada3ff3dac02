"""Comparison: normalization, order specs, tolerances, redaction, fingerprints."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import BaseModel

from shadow import Compare, Order
from shadow.runtime import REDACTED, compare_values, fingerprint, normalize, redact

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Colour(enum.Enum):
    RED = "red"


class Row(BaseModel):
    id: str
    name: str
    created_at: datetime


@dataclass
class Point:
    x: int
    y: tuple[int, ...]


def test_normalize_makes_canonical_plain_data() -> None:
    plus_two = timezone(timedelta(hours=2))
    value = {
        "row": Row(id="1", name="a", created_at=datetime(2026, 1, 1, 14, 0, tzinfo=plus_two)),
        "naive": datetime(2026, 1, 1, 12, 0),
        "json": '{"b": 1, "a": [1, 2]}',
        "not_json": "[not json",
        "tuple": (1, 2),
        "set": {3, 1, 2},
        "enum": Colour.RED,
        "point": Point(1, (2, 3)),
    }
    assert normalize(value) == {
        "row": {"id": "1", "name": "a", "created_at": T0},
        "naive": T0,
        "json": {"a": [1, 2], "b": 1},
        "not_json": "[not json",
        "tuple": [1, 2],
        "set": [1, 2, 3],
        "enum": "red",
        "point": {"x": 1, "y": [2, 3]},
    }


def test_json_text_with_other_key_order_and_spacing_is_equal() -> None:
    assert compare_values(
        Compare(), {"config": '{"a":1,"b":2}'}, {"config": '{ "b": 2, "a": 1 }'}
    ).equal


def test_ignored_fields_are_dropped_at_any_depth() -> None:
    spec = Compare(ignore=frozenset({"noise"}))
    assert compare_values(spec, [{"a": 1, "noise": 1}], [{"a": 1, "noise": 2}]).equal
    assert not compare_values(spec, [{"a": 1, "noise": 1}], [{"a": 2, "noise": 1}]).equal


def test_ordered_lists_must_match_position_by_position() -> None:
    rows = [{"id": 1}, {"id": 2}]
    verdict = compare_values(Compare(key=("id",)), rows, rows[::-1])
    assert not verdict.equal
    assert verdict.patterns == ("root[order]",)


def test_unordered_lists_are_compared_as_sets_of_rows_by_key() -> None:
    spec = Compare(order=Order.UNORDERED, key=("id",))
    assert compare_values(spec, [{"id": 1}, {"id": 2}], [{"id": 2}, {"id": 1}]).equal
    verdict = compare_values(spec, [{"id": 1}, {"id": 2}], [{"id": 2}, {"id": 3}])
    assert not verdict.equal
    assert set(verdict.patterns) == {"root[*]"}


def test_ties_allow_any_order_within_equal_sort_keys_only() -> None:
    spec = Compare(order=Order.TIES, key=("id",), sort_key=("rank",))
    left = [{"id": 1, "rank": 1}, {"id": 2, "rank": 1}, {"id": 3, "rank": 2}]
    assert compare_values(spec, left, [left[1], left[0], left[2]]).equal
    assert not compare_values(spec, left, [left[2], left[0], left[1]]).equal


def test_ties_on_a_database_timestamp_use_the_tolerance() -> None:
    spec = Compare(
        order=Order.TIES,
        key=("id",),
        sort_key=("created_at",),
        timestamps=frozenset({"created_at"}),
    )
    left = [{"id": "a", "created_at": T0}, {"id": "b", "created_at": T0}]
    right = [
        {"id": "b", "created_at": T0 + timedelta(milliseconds=2)},
        {"id": "a", "created_at": T0 + timedelta(milliseconds=3)},
    ]
    assert compare_values(spec, left, right, tolerance=0.01).equal


def test_page_rows_are_found_under_items() -> None:
    spec = Compare(order=Order.UNORDERED, rows="items", key=("id",))
    page = {"total": 2, "items": [{"id": 1}, {"id": 2}]}
    assert compare_values(spec, page, {"total": 2, "items": [{"id": 2}, {"id": 1}]}).equal
    verdict = compare_values(spec, page, {"total": 2, "items": [{"id": 1}, {"id": 2, "x": 1}]})
    assert verdict.patterns == ("root['items'][*]['x']",)


@pytest.mark.parametrize(
    ("gap", "tolerance", "equal"),
    [(0.004, 0.01, True), (0.02, 0.01, False), (0.9, 1.0, True)],
)
def test_timestamps_are_compared_within_the_tolerance(
    gap: float, tolerance: float, equal: bool
) -> None:
    spec = Compare(timestamps=frozenset({"created_at"}))
    left = {"created_at": T0, "name": "x"}
    right = {"created_at": T0 + timedelta(seconds=gap), "name": "x"}
    assert compare_values(spec, left, right, tolerance=tolerance).equal is equal


def test_timestamp_text_in_another_format_is_the_same_instant() -> None:
    spec = Compare(timestamps=frozenset({"updated_at"}))
    left = {"updated_at": "2026-01-01 12:00:00.123"}
    right = {"updated_at": "2026-01-01T12:00:00.123000+00:00"}
    assert compare_values(spec, left, right, tolerance=0.0).equal


def test_a_timestamp_outside_the_tolerance_fields_must_be_exact() -> None:
    left = {"expires_at": T0}
    right = {"expires_at": T0 + timedelta(milliseconds=1)}
    verdict = compare_values(
        Compare(timestamps=frozenset({"created_at"})), left, right, tolerance=5
    )
    assert verdict.patterns == ("root['expires_at']",)


def test_sensitive_values_are_compared_but_never_shown() -> None:
    spec = Compare(sensitive=frozenset({"password_hash"}))
    verdict = compare_values(
        spec, {"user": {"password_hash": "aaa", "n": 1}}, {"user": {"password_hash": "bbb", "n": 1}}
    )
    assert not verdict.equal
    (difference,) = verdict.differences
    assert (difference.authoritative, difference.mirror) == (REDACTED, REDACTED)


def test_a_sensitive_result_is_redacted_entirely() -> None:
    verdict = compare_values(Compare(sensitive_result=True), "secret-one", "secret-two")
    assert not verdict.equal
    assert "secret" not in repr(verdict)


def test_redact_hides_named_fields_at_any_depth() -> None:
    assert redact({"a": [{"email": "x@y"}], "b": 1}, {"email"}) == {
        "a": [{"email": REDACTED}],
        "b": 1,
    }


def test_fingerprints_wildcard_row_positions_and_keys() -> None:
    spec = Compare(order=Order.UNORDERED, key=("id",))
    first = compare_values(spec, [{"id": 1, "v": 1}], [{"id": 1, "v": 2}])
    second = compare_values(spec, [{"id": 7, "v": 1}], [{"id": 7, "v": 3}])
    assert first.patterns == second.patterns == ("root[*]['v']",)
    assert fingerprint("s", "m", first.patterns) == fingerprint("s", "m", second.patterns)
    assert fingerprint("s", "m", first.patterns) != fingerprint("s", "other", first.patterns)
    assert fingerprint("s", "m", (), ("A", "none")) != fingerprint("s", "m", (), ("B", "none"))


def test_bool_and_int_results_of_equal_meaning_match_and_a_wrong_bool_does_not() -> None:
    assert compare_values(Compare(), {"flag": True}, {"flag": True}).equal
    assert not compare_values(Compare(), {"flag": True}, {"flag": False}).equal


def test_records_differing_only_in_timestamps_within_tolerance_match_in_place() -> None:
    spec = Compare(timestamps=frozenset({"created_at"}), ignore=frozenset({"name"}))
    left = [Row(id="1", name="a", created_at=T0)]
    close = [Row(id="1", name="b", created_at=T0 + timedelta(milliseconds=4))]
    far = [Row(id="1", name="a", created_at=T0 + timedelta(seconds=2))]
    assert compare_values(spec, left, close, tolerance=0.01).equal
    verdict = compare_values(spec, left, far, tolerance=0.01)
    assert verdict.patterns == ("root[*]['created_at']",)
