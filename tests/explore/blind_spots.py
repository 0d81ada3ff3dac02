"""Bugs the mutation benchmark's exploration first missed, planted one at a time.

Each is a surviving mutant of ``./dev bench mutation`` (bench/mutation_triage.toml)
rewritten as a candidate subclass, so a test can plant it without cosmic-ray.
:data:`BLIND_SPOTS` maps a name to (service, method where the divergence
shows, what is wrong, what now reaches it); ``build_<name>`` is a
``--candidate-factory``.
"""

from __future__ import annotations

from imagegen.services.contracts.session_queue import RetryResult
from imagegen.services.core.session_queue import CoreSessionQueueService
from imagegen.services.errors import NotFoundError
from tests.explore.planted_bugs import candidate_with

__all__ = ["BLIND_SPOTS"]

BLIND_SPOTS: dict[str, tuple[str, str, str, str]] = {
    "retry_other_queue": (
        "session_queue",
        "retry_items_by_id",
        "retries the failed or canceled items of any queue, not only the one named "
        "(session_queue_batches.py: `queue_id is not ...`)",
        "a second queue with a canceled item in the seeded world",
    ),
}


class _RetryOtherQueue(CoreSessionQueueService):
    def retry_items_by_id(self, queue_id: str, item_ids: list[int]) -> RetryResult:
        by_queue: dict[str, list[int]] = {}
        for item_id in item_ids:
            try:
                owner = self.get_queue_item(item_id).queue_id
            except NotFoundError:
                owner = queue_id
            by_queue.setdefault(owner, []).append(item_id)
        results = [super().retry_items_by_id(name, ids) for name, ids in by_queue.items()]
        return RetryResult(
            queue_id=queue_id,
            retried=sum(result.retried for result in results),
            retried_item_ids=[i for result in results for i in result.retried_item_ids],
            item_ids=[i for result in results for i in result.item_ids],
        )


build_retry_other_queue = candidate_with("session_queue", _RetryOtherQueue)
