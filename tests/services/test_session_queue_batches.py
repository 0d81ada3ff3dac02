"""Batch expansion (shared by both queue implementations), checked as properties."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imagegen.services.batches import (
    expand_batch,
    field_value_lists,
    requested_count,
    retry_session_json,
    validate_batch,
)
from imagegen.services.contracts.session_queue import Batch, BatchDatum
from imagegen.services.errors import RuleViolationError
from shadow import SequentialIds

GRAPH = {"nodes": {"n": {"f": 1}}}


@st.composite
def valid_batches(draw: st.DrawFn) -> Batch:
    """Batches that pass validation: 1-3 groups, each zipping 1-2 data of one length."""
    groups = []
    for group_index in range(draw(st.integers(1, 3))):
        length = draw(st.integers(1, 4))
        groups.append(
            [
                BatchDatum(
                    node_path=f"g{group_index}",
                    field_name=f"f{datum_index}",
                    items=[f"g{group_index}f{datum_index}v{i}" for i in range(length)],
                )
                for datum_index in range(draw(st.integers(1, 2)))
            ]
        )
    return Batch(graph=GRAPH, runs=draw(st.integers(1, 3)), data=groups)


@given(valid_batches())
def test_expansion_is_zip_in_groups_product_across_groups_repeated_runs(batch: Batch) -> None:
    validate_batch("default", batch, None)
    generated = list(field_value_lists(batch))
    assert len(generated) == requested_count(batch)
    assert batch.data is not None
    lengths = [len(group[0].items) for group in batch.data]
    one_run = list(itertools.product(*(range(length) for length in lengths)))
    assert generated == generated[: len(one_run)] * batch.runs
    for values, indexes in zip(generated, one_run, strict=False):
        expected = [
            {"node_path": datum.node_path, "field_name": datum.field_name, "value": datum.items[i]}
            for group, i in zip(batch.data, indexes, strict=True)
            for datum in group
        ]
        assert values == expected


@given(valid_batches(), st.integers(-2, 40))
def test_expansion_stops_at_capacity_and_draws_one_id_per_row_after_the_batch_id(
    batch: Batch, capacity: int
) -> None:
    ids = SequentialIds("x")
    expanded = expand_batch("q", batch, ids=ids, capacity=capacity, priority=7, user_id="u")
    assert expanded.requested == requested_count(batch)
    assert len(expanded.rows) == max(0, min(capacity, expanded.requested))
    assert expanded.batch_id == "x-000001"
    assert [row["session_id"] for row in expanded.rows] == [
        f"x-{n:06d}" for n in range(2, len(expanded.rows) + 2)
    ]
    for row in expanded.rows:
        assert json.loads(row["session"]) == {"id": row["session_id"], "graph": GRAPH}
        assert (row["queue_id"], row["priority"], row["user_id"]) == ("q", 7, "u")
        assert row["batch_id"] == expanded.batch_id and row["status"] == "pending"


def test_a_batch_without_data_yields_no_field_values_per_run() -> None:
    batch = Batch(graph=GRAPH, runs=3)
    assert list(field_value_lists(batch)) == [None, None, None]
    expanded = expand_batch("q", batch, ids=SequentialIds(), capacity=10, priority=0, user_id="u")
    assert [row["field_values"] for row in expanded.rows] == [None, None, None]


@pytest.mark.parametrize(
    ("batch", "rule"),
    [
        (Batch(graph=GRAPH, runs=0), "invalid_runs"),
        (Batch(graph=GRAPH, data=[]), "empty_data"),
        (Batch(graph=GRAPH, data=[[]]), "empty_data"),
        (
            Batch(graph=GRAPH, data=[[BatchDatum(node_path="n", field_name="f", items=[])]]),
            "empty_data",
        ),
        (
            Batch(
                graph=GRAPH,
                data=[
                    [
                        BatchDatum(node_path="n", field_name="a", items=[1, 2]),
                        BatchDatum(node_path="n", field_name="b", items=[1, 2, 3]),
                    ]
                ],
            ),
            "unequal_zip",
        ),
    ],
)
def test_validation_names_the_broken_rule(batch: Batch, rule: str) -> None:
    with pytest.raises(RuleViolationError) as caught:
        validate_batch("default", batch, None)
    assert caught.value.rule == rule


def test_validation_refuses_unknown_empty_and_overlong_queue_ids() -> None:
    batch = Batch(graph=GRAPH)
    validate_batch("default", batch, {"default"})
    validate_batch("q" * 255, batch, None)
    for queue_id, known in (("other", {"default"}), ("", None), ("q" * 256, None)):
        with pytest.raises(RuleViolationError) as caught:
            validate_batch(queue_id, batch, known)
        assert caught.value.rule == "unknown_queue"


def test_a_retry_session_keeps_the_graph_under_a_new_id() -> None:
    original: dict[str, Any] = {"id": "old", "graph": GRAPH, "results": {"n": 1}}
    assert json.loads(retry_session_json(json.dumps(original), "new")) == {
        "id": "new",
        "graph": GRAPH,
    }
