"""Batch expansion for the session queue, shared by both implementations.

Expanding a batch is pure Python: validation, the zip/product/runs expansion,
id drawing and JSON encoding. Both the legacy and the SQLModel queue call the
functions here, so the same batch with the same id source yields the very same
rows (same ids, same JSON text) on both sides; only the insert differs.

Expansion order: inside a group the data are zipped (item *i* of every datum of
the group goes to session *i*), groups are combined by cartesian product (the
last group varies fastest, as :func:`itertools.product` does), and the whole
product repeats ``runs`` times. Generation stops at the capacity it is given.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

from imagegen.services.contracts.session_queue import Batch
from imagegen.services.errors import RuleViolationError
from shadow._sources import IdSource

__all__ = [
    "MAX_QUEUE_ID_LENGTH",
    "ExpandedBatch",
    "dump_json",
    "expand_batch",
    "field_value_lists",
    "requested_count",
    "retry_session_json",
    "validate_batch",
]


def dump_json(value: Any) -> str:
    """The JSON text both sides store: compact, keys in the caller's order."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# The longest queue id every backend stores (MariaDB keys it as VARCHAR(255)).
MAX_QUEUE_ID_LENGTH = 255


def validate_batch(queue_id: str, batch: Batch, queue_ids: Collection[str] | None) -> None:
    """Refuse a batch that breaks the rules, with a :class:`RuleViolationError`.

    ``queue_ids`` is the set of known queues, or None when any non-empty id of
    at most :data:`MAX_QUEUE_ID_LENGTH` characters is.
    """
    if (
        not queue_id
        or len(queue_id) > MAX_QUEUE_ID_LENGTH
        or (queue_ids is not None and queue_id not in queue_ids)
    ):
        raise RuleViolationError("unknown_queue", f"unknown queue: {queue_id[:80]!r}")
    if batch.runs < 1:
        raise RuleViolationError("invalid_runs", f"runs must be at least 1, got {batch.runs}")
    if batch.data is None:
        return
    if not batch.data:
        raise RuleViolationError("empty_data", "batch data is empty (omit it instead)")
    for index, group in enumerate(batch.data):
        if not group:
            raise RuleViolationError("empty_data", f"batch data group {index} is empty")
        lengths = {len(datum.items) for datum in group}
        if 0 in lengths:
            raise RuleViolationError("empty_data", f"batch data group {index} has no items")
        if len(lengths) > 1:
            raise RuleViolationError(
                "unequal_zip",
                f"batch data group {index} zips items of unequal lengths {sorted(lengths)}",
            )


def requested_count(batch: Batch) -> int:
    """How many sessions the (valid) batch asks for: product of group sizes times runs."""
    count = batch.runs
    for group in batch.data or ():
        count *= len(group[0].items)
    return count


def field_value_lists(batch: Batch) -> Iterator[list[dict[str, Any]] | None]:
    """The field values of each session the (valid) batch generates, in order.

    Yields None per run when the batch has no ``data``. Lazy, so a huge product
    cut short by capacity costs only what is generated.
    """
    if batch.data is None:
        yield from itertools.repeat(None, batch.runs)
        return
    zipped_groups = [
        list(
            zip(
                *(
                    [
                        {"node_path": d.node_path, "field_name": d.field_name, "value": item}
                        for item in d.items
                    ]
                    for d in group
                ),
                strict=True,
            )
        )
        for group in batch.data
    ]
    for _ in range(batch.runs):
        for combination in itertools.product(*zipped_groups):
            yield [value for group_values in combination for value in group_values]


@dataclass(frozen=True, slots=True)
class ExpandedBatch:
    """The rows to insert for one batch, in insertion order, and what was asked for."""

    batch_id: str
    requested: int
    rows: list[dict[str, Any]]


def expand_batch(
    queue_id: str,
    batch: Batch,
    *,
    ids: IdSource,
    capacity: int,
    priority: int,
    user_id: str,
) -> ExpandedBatch:
    """Draw the batch id and one session id per session, up to ``capacity`` rows.

    Each row maps column names to the values to insert. The graph is encoded
    once and spliced into each session's JSON, which keeps a batch of thousands
    of sessions cheap on both sides.
    """
    batch_id = ids.new_id()
    graph_json = dump_json(batch.graph)
    workflow_json = None if batch.workflow is None else dump_json(batch.workflow)
    rows: list[dict[str, Any]] = []
    for values in itertools.islice(field_value_lists(batch), max(capacity, 0)):
        session_id = ids.new_id()
        rows.append(
            {
                "queue_id": queue_id,
                "batch_id": batch_id,
                "session_id": session_id,
                "field_values": None if values is None else dump_json(values),
                "session": _session_json(session_id, graph_json),
                "status": "pending",
                "priority": priority,
                "workflow": workflow_json,
                "origin": batch.origin,
                "destination": batch.destination,
                "user_id": user_id,
            }
        )
    return ExpandedBatch(batch_id=batch_id, requested=requested_count(batch), rows=rows)


def _session_json(session_id: str, graph_json: str) -> str:
    return f'{{"id":{dump_json(session_id)},"graph":{graph_json}}}'


def retry_session_json(session_text: str, session_id: str) -> str:
    """A fresh session for a retry: a new id on the original session's graph."""
    graph = json.loads(session_text).get("graph")
    return _session_json(session_id, dump_json(graph))
