"""Properties of the comparison (shadow.runtime._compare), checked on generated results.

Hypothesis draws result-shaped values -- JSON-like scalars, datetimes (naive
and aware), text that is or is not JSON, nested lists and dicts, pages of rows
-- and checks the laws every comparison relies on:

* a result equals itself, and a deep copy of itself, under every order spec;
* under ``UNORDERED`` a result equals any permutation of its rows (unique keys);
* :func:`normalize` is idempotent: normalizing twice changes nothing, so a
  normalized result compares equal to the raw one.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from shadow import Compare, Order
from shadow.runtime import compare_values, normalize

# Small examples and a modest count: these run in the fast suite.
_SETTINGS = settings(max_examples=60, deadline=None)

_FIELDS = st.sampled_from(["id", "name", "starred", "created_at", "tags", "config", "note"])

_datetimes = st.one_of(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=2)), timezone(-timedelta(hours=5))]
        ),
    ),
)
_json_text = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), st.text(max_size=5)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
).map(json.dumps)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=8),
    _json_text,
    _datetimes,
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(_FIELDS, inner, max_size=4),
    ),
    max_leaves=12,
)


def _row(key: int, fields: dict[str, Any]) -> dict[str, Any]:
    return {**fields, "id": key}


_rows = st.lists(st.integers(0, 10_000), unique=True, max_size=8).flatmap(
    lambda keys: st.tuples(
        *(
            st.dictionaries(_FIELDS.filter(lambda name: name != "id"), _scalars, max_size=3)
            for _ in keys
        )
    ).map(lambda fields: [_row(key, row) for key, row in zip(keys, fields, strict=True)])
)

_SPECS = [
    Compare(),
    Compare(order=Order.UNORDERED, key=("id",)),
    Compare(order=Order.UNORDERED, rows="items", key=("id",)),
    Compare(order=Order.TIES, rows="items", key=("id",), sort_key=("created_at",)),
    Compare(timestamps=frozenset({"created_at"}), ignore=frozenset({"note"})),
]


@_SETTINGS
@given(value=_values, spec=st.sampled_from(_SPECS))
def test_every_result_equals_itself_and_its_deep_copy_under_every_spec(
    value: Any, spec: Compare
) -> None:
    """Self-equality: the same value (and a structural copy) is never reported as different."""
    assert compare_values(spec, value, value).equal
    assert compare_values(spec, value, copy.deepcopy(value), tolerance=0.0).equal


@_SETTINGS
@given(rows=_rows, data=st.data())
def test_unordered_rows_equal_every_permutation_of_themselves(
    rows: list[dict[str, Any]], data: st.DataObject
) -> None:
    """Permutation invariance: under UNORDERED the order of rows with unique keys is free."""
    permuted = data.draw(st.permutations(rows))
    bare = Compare(order=Order.UNORDERED, key=("id",))
    paged = Compare(order=Order.UNORDERED, rows="items", key=("id",))
    assert compare_values(bare, rows, permuted).equal
    assert compare_values(
        paged,
        {"items": rows, "total": len(rows)},
        {
            "items": permuted,
            "total": len(rows),
        },
    ).equal


@_SETTINGS
@given(rows=_rows.filter(lambda rows: len(rows) >= 2), data=st.data())
def test_unordered_still_sees_a_changed_row_after_a_permutation(
    rows: list[dict[str, Any]], data: st.DataObject
) -> None:
    """Permuting is all UNORDERED forgives: a row whose key changed is still a difference."""
    permuted = list(data.draw(st.permutations(rows)))
    permuted[0] = {**permuted[0], "id": -1}
    spec = Compare(order=Order.UNORDERED, key=("id",))
    assert not compare_values(spec, rows, permuted).equal


@_SETTINGS
@given(value=_values, ignore=st.frozensets(_FIELDS, max_size=2))
def test_normalizing_twice_changes_nothing(value: Any, ignore: frozenset[str]) -> None:
    """Idempotent normalization: normalize(normalize(x)) == normalize(x), ignore fields or not."""
    once = normalize(value, ignore)
    assert normalize(once, ignore) == once


@_SETTINGS
@given(value=_values, spec=st.sampled_from(_SPECS))
def test_a_normalized_result_compares_equal_to_the_raw_one(value: Any, spec: Compare) -> None:
    """Comparing accepts raw or normalized values alike (the recorder stores normalized ones)."""
    assert compare_values(spec, value, normalize(value, spec.ignore)).equal
