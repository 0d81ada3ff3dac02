"""The session queue contract (phase 3): batches in, one item at a time out.

A *batch* is a graph (opaque JSON) plus ``data`` that varies field values
across the sessions the batch generates, repeated ``runs`` times. Enqueueing
expands the batch into sessions (``imagegen.services.batches``, shared by both
implementations so they generate the same rows with the same ids), inserts them
in bulk, and workers ``dequeue`` them one at a time, by ``priority DESC,
item_id ASC`` over all queues.

Statuses: ``pending`` -> ``in_progress`` -> ``completed`` / ``failed`` /
``canceled``. The last three are terminal: a later status change does nothing
and returns the item unchanged. Every real transition bumps
``status_sequence`` by one. The database sets ``started_at`` when the status
becomes ``in_progress`` and ``completed_at`` when it becomes terminal (the
SQLite triggers; their equivalents on the servers).

Decisions where docs/reference-app.md is silent (both implementations do the same):

* ``batch_id`` is drawn from the id source first, then one session id per
  generated session, in generation order.
* A session's JSON is ``{"id": session_id, "graph": graph}``; the field values
  of that session are stored beside it in ``field_values`` (a JSON list of
  ``{node_path, field_name, value}``, or null when the batch has no ``data``).
  Applying them to the graph is the executor's business: the graph is opaque here.
* Validation (``RuleViolationError``, nothing inserted): ``runs`` below 1
  (``invalid_runs``); ``data`` given but empty, an empty group or a datum
  without items (``empty_data``); unequal item counts inside a group
  (``unequal_zip``); an empty ``queue_id``, one longer than 255 characters
  (what every backend can key), or one outside the ``queue_ids`` the service
  was built with, when it was given any (``unknown_queue``).
* Capacity and ``prepend`` priority are per queue: capacity is
  ``max_queue_size`` minus the queue's pending items (never below zero; a full
  queue enqueues nothing and returns ``enqueued=0``); the prepend priority is the
  queue's highest pending priority + 1 (so 1 on a queue with nothing pending).
* ``item_ids`` come back in insertion order (ascending ``item_id``).
* Status changes on a missing item raise ``NotFoundError``; a change from any
  non-terminal status is allowed (a pending item can be completed or failed
  directly); error fields are written by ``fail`` and cleared by the others.
* ``set_queue_item_session`` replaces the session JSON whatever the status and
  does not touch the status.
* ``cancel_by_*`` cancel pending and in-progress items and return how many;
  ``clear`` deletes every item of the queue, ``prune`` the terminal ones,
  ``delete_queue_items_by_id`` the given ids (unknown ids are ignored); all return
  the number of rows deleted.
* ``retry_items_by_id`` retries only failed or canceled items of ``queue_id``
  (others, and unknown ids, are skipped). Each retry is a new pending item with
  the same batch, queue, priority, field values, workflow, origin, destination
  and user, a new session id from the id source, a fresh session JSON on the
  original graph, and ``retried_from_item_id`` pointing at the *first* item of
  the retry chain. Retries are not limited by capacity.
* ``get_current`` is the queue's in-progress item first in dequeue order
  (``priority DESC, item_id ASC``) when several workers run; ``get_next`` the
  queue's first pending item in that order.
* ``list_queue_items``: ``cursor`` is the ``item_id`` and ``priority`` the
  priority of the last item of the previous page (``priority`` is ignored
  without a cursor); ``status`` and ``destination`` are keyword-only filters
  and apply on every page;
  ``limit`` must be at least 1 (``invalid_limit``). List results carry no session
  or workflow JSON (``QueueItemSummary``); single-item results do (``QueueItem``).
* ``is_empty``: the queue has no pending item; ``is_full``: its pending items
  reach ``max_queue_size`` (an enqueue would add nothing). Both follow the
  capacity rule rather than counting finished items.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any, Literal

from pydantic import JsonValue

from imagegen.services.contracts.edges import USER_ID
from imagegen.services.contracts.pages import CursorPage, Record
from shadow._contract import Order, read, read_write, write
from shadow._inputs import Arg, explore_inputs

__all__ = [
    "TERMINAL_STATUSES",
    "Batch",
    "BatchDatum",
    "BatchStatus",
    "DestinationCounts",
    "EnqueueResult",
    "FieldValue",
    "QueueItem",
    "QueueItemStatus",
    "QueueItemSummary",
    "QueueStatus",
    "RetryResult",
    "SessionQueueService",
    "StatusCounts",
]

QueueItemStatus = Literal["pending", "in_progress", "completed", "failed", "canceled"]
TERMINAL_STATUSES: tuple[QueueItemStatus, ...] = ("completed", "failed", "canceled")

# Millisecond columns (defaults and triggers), precision in seconds.
_TIMESTAMPS = {"created_at": 0.001, "updated_at": 0.001, "started_at": 0.001, "completed_at": 0.001}
# The session (and the batch graph it is built from) is PII: prompts live in it.
# Field values are usually prompt text too.
_SENSITIVE = {"session", "batch", "field_values", "graph"}


class BatchDatum(Record):
    """One field varied across a batch: ``items`` go to ``node_path.field_name`` in turn."""

    node_path: str
    field_name: str
    items: list[JsonValue]


class Batch(Record):
    """What a client enqueues: a graph, the field values to vary, and how many runs.

    ``data`` is a list of groups; the data of one group are zipped (their
    ``items`` must have equal lengths), groups are combined by cartesian product.
    """

    graph: dict[str, Any]
    runs: int = 1
    data: list[list[BatchDatum]] | None = None
    origin: str | None = None
    destination: str | None = None
    workflow: dict[str, Any] | None = None


class FieldValue(Record):
    """The value one session gives to one field of the graph."""

    node_path: str
    field_name: str
    value: JsonValue


class EnqueueResult(Record):
    """What ``enqueue_batch`` did: ``requested`` sessions, ``enqueued`` of them inserted."""

    queue_id: str
    batch_id: str
    requested: int
    enqueued: int
    priority: int
    item_ids: list[int]


class QueueItemSummary(Record):
    """A queue item without its (large) session and workflow JSON."""

    item_id: int
    queue_id: str
    batch_id: str
    session_id: str
    status: QueueItemStatus
    priority: int
    field_values: list[FieldValue] | None
    origin: str | None
    destination: str | None
    error_type: str | None
    error_message: str | None
    error_traceback: str | None
    retried_from_item_id: int | None
    user_id: str
    status_sequence: int
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    completed_at: datetime | None


class QueueItem(QueueItemSummary):
    """A queue item with its session JSON (and the workflow it came from, if any)."""

    session: dict[str, Any]
    workflow: dict[str, Any] | None


class StatusCounts(Record):
    """Items by status, and their total."""

    pending: int
    in_progress: int
    completed: int
    failed: int
    canceled: int
    total: int


class QueueStatus(StatusCounts):
    """A queue's counts and its current (in-progress) item, if any."""

    queue_id: str
    item_id: int | None
    batch_id: str | None
    session_id: str | None


class BatchStatus(StatusCounts):
    """One batch's counts; origin and destination are None for an unknown batch."""

    queue_id: str
    batch_id: str
    origin: str | None
    destination: str | None


class DestinationCounts(StatusCounts):
    """The counts of a queue's items bound for one destination."""

    queue_id: str
    destination: str


class RetryResult(Record):
    """Which items were retried (``retried_item_ids``) and the new items (``item_ids``)."""

    queue_id: str
    retried: int
    retried_item_ids: list[int]
    item_ids: list[int]


def _batch_items() -> Any:
    """Exploration's values for a batch field: short lists, so groups zip (or do not)."""
    from hypothesis import strategies as st  # noqa: PLC0415 - only imported when exploring

    return st.lists(st.integers(0, 3), min_size=1, max_size=2)


@explore_inputs(
    queue_id=Arg(examples=("default", "scratch", "never-existed-queue", ""), only=True),
    item_id=Arg(pool="item_id", harvest=("item_id", "item_ids"), examples=(0, -1, 999_999)),
    item_ids=Arg(pool="item_id", harvest=("item_id", "item_ids"), examples=(0, 999_999)),
    batch_id=Arg(pool="batch_id", examples=("never-existed-batch",)),
    batch_ids=Arg(pool="batch_id", examples=("never-existed-batch",)),
    user_id=USER_ID,
    destination=Arg(examples=(None, "gallery", "nowhere", "", "GALLERY")),
    origin=Arg(examples=(None, "workflows", "")),
    runs=Arg(examples=(1, 2, 3, 0, -1), only=True),
    items=Arg(strategy=_batch_items),
    limit=Arg(examples=(1, 2, 3, 10, 0, -1), only=True),
    cursor=Arg(pool="item_id", examples=(None, 0, 999_999)),
    priority=Arg(examples=(0, 1, -1, 2), only=True),
)
class SessionQueueService(ABC):
    """The generation queue. See the module docstring for every rule both sides share."""

    # --- writes ---------------------------------------------------------------------

    @write(sensitive=_SENSITIVE)
    @abstractmethod
    def enqueue_batch(
        self, queue_id: str, batch: Batch, prepend: bool = False, user_id: str = "system"
    ) -> EnqueueResult:
        """Expand ``batch`` into sessions and insert them in one bulk insert."""

    @read_write(timestamps=_TIMESTAMPS, sensitive=_SENSITIVE)
    @abstractmethod
    def dequeue(self) -> QueueItem | None:
        """Move the first pending item (all queues) to in_progress and return it."""

    @write(timestamps=_TIMESTAMPS, sensitive=_SENSITIVE)
    @abstractmethod
    def complete_queue_item(self, item_id: int) -> QueueItem:
        """Mark the item completed (no-op on a terminal item); return it."""

    @write(timestamps=_TIMESTAMPS, sensitive=_SENSITIVE)
    @abstractmethod
    def fail_queue_item(
        self, item_id: int, error_type: str, error_message: str, error_traceback: str
    ) -> QueueItem:
        """Mark the item failed with its error (no-op on a terminal item); return it."""

    @write(timestamps=_TIMESTAMPS, sensitive=_SENSITIVE)
    @abstractmethod
    def cancel_queue_item(self, item_id: int) -> QueueItem:
        """Mark the item canceled (no-op on a terminal item); return it."""

    @write(timestamps=_TIMESTAMPS, sensitive=_SENSITIVE)
    @abstractmethod
    def set_queue_item_session(self, item_id: int, session: dict[str, Any]) -> QueueItem:
        """Replace the item's session JSON; return the item."""

    @write()
    @abstractmethod
    def cancel_by_batch_ids(self, queue_id: str, batch_ids: list[str]) -> int:
        """Cancel the queue's non-terminal items of these batches; return how many."""

    @write()
    @abstractmethod
    def cancel_by_destination(self, queue_id: str, destination: str) -> int:
        """Cancel the queue's non-terminal items bound for ``destination``; return how many."""

    @write()
    @abstractmethod
    def cancel_by_queue_id(self, queue_id: str) -> int:
        """Cancel every non-terminal item of the queue; return how many."""

    @write()
    @abstractmethod
    def clear(self, queue_id: str) -> int:
        """Delete every item of the queue; return how many."""

    @write()
    @abstractmethod
    def prune(self, queue_id: str) -> int:
        """Delete the queue's completed, failed and canceled items; return how many."""

    @write()
    @abstractmethod
    def delete_queue_items_by_id(self, item_ids: list[int]) -> int:
        """Delete the items with these ids; return how many existed."""

    @write()
    @abstractmethod
    def retry_items_by_id(self, queue_id: str, item_ids: list[int]) -> RetryResult:
        """Re-enqueue the queue's failed or canceled items among ``item_ids``."""

    # --- reads ----------------------------------------------------------------------

    @read(timestamps=_TIMESTAMPS, sensitive=_SENSITIVE)
    @abstractmethod
    def get_queue_item(self, item_id: int) -> QueueItem:
        """The item (``NotFoundError`` when missing)."""

    @read(timestamps=_TIMESTAMPS, sensitive=_SENSITIVE)
    @abstractmethod
    def get_current(self, queue_id: str) -> QueueItem | None:
        """The queue's in-progress item, if any."""

    @read(timestamps=_TIMESTAMPS, sensitive=_SENSITIVE)
    @abstractmethod
    def get_next(self, queue_id: str) -> QueueItem | None:
        """The queue's next pending item, if any."""

    @read(rows="items", order=Order.ORDERED, timestamps=_TIMESTAMPS, sensitive=_SENSITIVE)
    @abstractmethod
    def list_queue_items(
        self,
        queue_id: str,
        limit: int,
        priority: int,
        cursor: int | None = None,
        *,
        status: QueueItemStatus | None = None,
        destination: str | None = None,
    ) -> CursorPage[QueueItemSummary]:
        """A page of the queue's items after the keyset position (priority, cursor)."""

    @read(order=Order.ORDERED, timestamps=_TIMESTAMPS, sensitive=_SENSITIVE)
    @abstractmethod
    def list_all_queue_items(
        self, queue_id: str, destination: str | None = None
    ) -> list[QueueItemSummary]:
        """Every item of the queue (optionally of one destination), in dequeue order."""

    @read()
    @abstractmethod
    def get_queue_status(self, queue_id: str) -> QueueStatus:
        """The queue's counts by status and its current item."""

    @read()
    @abstractmethod
    def get_batch_status(self, queue_id: str, batch_id: str) -> BatchStatus:
        """One batch's counts by status."""

    @read()
    @abstractmethod
    def get_counts_by_destination(self, queue_id: str, destination: str) -> DestinationCounts:
        """The counts by status of the queue's items bound for ``destination``."""

    @read()
    @abstractmethod
    def is_empty(self, queue_id: str) -> bool:
        """True when the queue has no pending item."""

    @read()
    @abstractmethod
    def is_full(self, queue_id: str) -> bool:
        """True when the queue's pending items reach ``max_queue_size``."""
