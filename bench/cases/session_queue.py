"""Session queue read cases for the service benchmark, and the queue's shared bench data.

The reads polled around every status change: ``get_queue_status`` and a
50-item page of ``list_queue_items`` filtered by status, on a queue holding
2,000 pending and 300 canceled items. The two write paths (enqueue of 1,000
sessions, the dequeue -> set session -> complete cycle) change the state each
call sees, so they run in :mod:`bench.queue` with an untimed reset before every
call; their data builders live here so both modules share them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.harness import Case, open_pair
from imagegen.services.contracts.session_queue import Batch, BatchDatum, SessionQueueService
from imagegen.services.core.session_queue import CoreSessionQueueService
from imagegen.services.legacy.session_queue import LegacySessionQueueService

__all__ = ["GRAPH", "big_session", "cases", "service_pair", "thousand_session_batch"]

_UNBOUNDED = 10**9

GRAPH: dict[str, Any] = {
    "id": "graph",
    "nodes": {
        "prompt": {"id": "prompt", "type": "string", "value": ""},
        "seed": {"id": "seed", "type": "integer", "value": 0},
        "denoise": {"id": "denoise", "type": "denoise_latents", "steps": 30, "cfg_scale": 7.5},
    },
    "edges": [
        {"source": {"node_id": "prompt", "field": "value"}, "destination": {"node_id": "denoise"}},
        {"source": {"node_id": "seed", "field": "value"}, "destination": {"node_id": "denoise"}},
    ],
}


def thousand_session_batch() -> Batch:
    """1,000 sessions: two zipped fields x 20, a product group of 5, 10 runs."""
    prompts = [f"a watercolor of a lighthouse, variation {i}" for i in range(20)]
    return Batch(
        graph=GRAPH,
        runs=10,
        data=[
            [
                BatchDatum(node_path="prompt", field_name="value", items=list(prompts)),
                BatchDatum(node_path="seed", field_name="value", items=list(range(20))),
            ],
            [BatchDatum(node_path="denoise", field_name="steps", items=[20, 25, 30, 35, 40])],
        ],
        destination="gallery",
        origin="bench",
    )


def big_session(session_id: str) -> dict[str, Any]:
    """A session of about 20 KB of JSON, like one a worker writes back mid-run."""
    return {
        "id": session_id,
        "graph": GRAPH,
        "executed": [f"node-{i}" for i in range(51)],
        "results": {
            f"node-{i}": {
                "type": "image_output",
                "image": {"image_name": f"{session_id}-{i:04d}.png"},
                "width": 1024,
                "height": 1024,
                "note": "intermediate latents and conditioning for this node " * 5,
            }
            for i in range(51)
        },
    }


def service_pair(workdir: Path, name: str) -> tuple[SessionQueueService, SessionQueueService]:
    """A legacy and a SQLModel queue on identical fresh SQLite files, capacity unbounded."""
    pair = open_pair(workdir, name)
    legacy_ids, legacy_clock = pair.sources()
    orm_ids, orm_clock = pair.sources()
    legacy = LegacySessionQueueService(
        pair.legacy_db, ids=legacy_ids, clock=legacy_clock, max_queue_size=_UNBOUNDED
    )
    orm = CoreSessionQueueService(
        pair.engine, ids=orm_ids, clock=orm_clock, max_queue_size=_UNBOUNDED
    )
    return legacy, orm


def cases(workdir: Path) -> list[Case]:
    """The queue's hot reads, each arm on its own identical SQLite file."""
    legacy, orm = service_pair(workdir, "queue-reads")
    for service in (legacy, orm):
        service.enqueue_batch("default", Batch(graph=GRAPH, runs=2000, destination="gallery"))
        finished = service.enqueue_batch("default", Batch(graph=GRAPH, runs=300))
        service.cancel_by_batch_ids("default", [finished.batch_id])
        service.dequeue()
    return [
        Case(
            "counts and current item",
            "session_queue",
            "get_queue_status",
            lambda: legacy.get_queue_status("default"),
            lambda: orm.get_queue_status("default"),
        ),
        Case(
            "page of 50 pending",
            "session_queue",
            "list_queue_items",
            lambda: legacy.list_queue_items("default", 50, 0, status="pending"),
            lambda: orm.list_queue_items("default", 50, 0, status="pending"),
        ),
    ]
