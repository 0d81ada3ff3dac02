"""What travels between the proxy, the mirror worker and the recorder.

A :class:`Task` is one authoritative call handed off for mirroring: the
method's plan, its arguments pickled *before* the call (so neither the
implementation nor the caller mutating them later changes what the mirror
runs), its result detached from the caller's containers (pickled off the
caller's thread, when the task crosses to a worker process), the tape of ids
and times it drew, and its timing. The worker answers each task with an
:class:`Observation`: the outcome, the redacted differences, the fingerprint
and the timings. Both are plain picklable data, so they cross a process pipe.

:class:`Wire` is the one codec for that pipe: tasks go as compact tuples (each
method's plan once, then by number), a plain match comes back as a tuple of
its timings, and each answer travels in a frame of its own (:meth:`Wire.frame`,
:class:`AnswerFrames`) so the dispatcher reads every answer that has arrived in
one go. :class:`Reason` names why a call was not compared, or why a
service turned dirty.
"""

from __future__ import annotations

import enum
import pickle
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from shadow._contract import Compare, Kind
from shadow._vocabulary import Outcome, Side
from shadow.runtime._compare import Difference, normalize
from shadow.runtime._coverage import CoverageReport
from shadow.runtime._tape import Tape

__all__ = [
    "UNPICKLABLE",
    "Answer",
    "AnswerFrames",
    "BatchBusy",
    "Compact",
    "MethodPlan",
    "Observation",
    "Outcome",
    "Reason",
    "Task",
    "Wire",
    "error_name",
]

UNPICKLABLE: Final = "<shadow: unpicklable result>"
"""Stands in for a result that could not be sent to the worker process."""


class Reason(enum.StrEnum):
    """Why a call was not compared (``skipped`` / ``dropped``), or a service turned dirty.

    The values are what the store's ``shadow_drops.reason`` and the log lines
    carry; they never change.
    """

    SAMPLED = "sampled"
    """Skipped: the read was not drawn by the service's sample rate."""
    ADAPTIVE = "adaptive"
    """Skipped: the queue passed its high-water mark, reads are sampled down."""
    UNPICKLABLE = "unpicklable"
    """Dropped: the arguments or the result could not be sent to the mirror."""
    BREAKER_OPEN = "breaker_open"
    """Dropped: the service's circuit breaker is open."""
    QUEUE_FULL = "queue_full"
    """Dropped: the queue was full (by count or bytes)."""
    SHUTDOWN = "shutdown"
    """Dropped: handed off while the runtime was closing."""
    DEADLINE = "deadline"
    """Dropped: the mirror did not answer within the deadline."""
    WORKER_CRASH = "worker_crash"
    """Dropped: the worker died."""
    WORKER_ERROR = "worker_error"
    """Dropped: the worker could not run the call (``detail`` says which error)."""
    MIRROR_UNAVAILABLE = "mirror_unavailable"
    """Skipped: the mirror side's factory could not build it (tried once per worker)."""
    MODE_CHANGE_UNDRAINED = "mode_change_undrained"
    """Dirty: the sides changed roles before the queue drained."""
    ENTERED_DUAL_WRITE = "entered_dual_write"
    """Dirty: writes made in a single-side mode reached one store only."""
    MIRROR_WRITE_FAILED = "mirror_write_failed"
    """Dirty: the mirror refused a write the authoritative side applied."""
    WRITE_OUTCOME_MISMATCH = "write_outcome_mismatch"
    """Dirty: the two sides of a write failed differently."""

    @property
    def mirror_failure(self) -> bool:
        """The mirror itself failed (counts against the service's circuit breaker)."""
        return self in (Reason.DEADLINE, Reason.WORKER_CRASH, Reason.WORKER_ERROR)


def error_name(error: BaseException) -> str:
    """The qualified type name errors are compared by (``module.Class``)."""
    kind = type(error)
    return f"{kind.__module__}.{kind.__qualname__}"


@dataclass(frozen=True, slots=True)
class MethodPlan:
    """What the worker needs to know about a contract method (picklable)."""

    service: str
    method: str
    kind: Kind
    compare: Compare
    parameters: tuple[str, ...]
    is_async: bool = False
    """Declared ``async def``: the caller awaits it, and the mirror runs in the worker's loop."""


@dataclass(slots=True)
class Task:
    """One authoritative call, handed off to be mirrored and compared."""

    seq: int
    plan: MethodPlan
    mirror: Side
    payload: bytes = field(repr=False)
    """pickle of ``(args, kwargs)``, taken at hand-off so that a caller mutating an
    argument afterwards cannot change what the mirror runs. It holds the raw
    arguments (passwords included), so it is never shown in a repr."""
    result: Any = field(repr=False)
    """The authoritative result itself (None when the call raised). Pickled off the
    caller's thread, if at all: results are records, not mutated after return."""
    error_type: str | None
    tape: Tape = field(repr=False)
    started_at: float
    """Wall-clock time the authoritative call started (``time.time()``)."""
    authoritative_seconds: float
    finished_at: float = 0.0
    """Wall-clock time the authoritative call returned (``time.time()``), for its window."""
    race_window: bool = False
    """True when a write was sequenced while this read ran: a mismatch is ``raced``."""
    recheck: bool = False
    queued_at: float = 0.0
    """``time.monotonic()`` at hand-off, for the queue lag gauge."""
    size: int = 0
    """Estimated bytes, counted against ``queue_max_bytes`` while queued."""
    error: BaseException | None = field(default=None, repr=False, compare=False)
    """The authoritative exception itself, kept in this process (never sent to the
    worker) so a one-sided error's example can explain it (shadow.runtime._errors)."""


@dataclass(frozen=True, slots=True)
class Observation:
    """The outcome of one proxied call, with everything the recorder publishes.

    ``differences`` and ``arguments`` are redacted: sensitive fields and
    arguments never appear in them. ``evidence`` is False for calls made while
    the service was dirty (a dropped write not yet reconciled).
    """

    service: str
    method: str
    outcome: Outcome
    mirror: Side | None = None
    seq: int = 0
    fingerprint: str | None = None
    paths: tuple[str, ...] = ()
    error_types: tuple[str, ...] = ()
    differences: tuple[Difference, ...] = ()
    arguments: Mapping[str, Any] = field(default_factory=dict)
    mirror_seconds: float | None = None
    compare_seconds: float | None = None
    lag_seconds: float | None = None
    """How long after the authoritative start the mirror finished (for tolerances)."""
    mirror_failed: bool = False
    """The mirror raised, hung or crashed where the authoritative side succeeded."""
    reason: Reason | None = None
    """Why a call was skipped or dropped."""
    detail: str | None = None
    """What lies behind ``reason`` (the error type of a ``worker_error``), if anything."""
    mirror_error: Mapping[str, Any] | None = None
    """The mirror's exception, explained and redacted (type, message, innermost frames)."""
    recheck: bool = False
    evidence: bool = True

    @classmethod
    def about(cls, task: Task, outcome: Outcome, **fields: Any) -> Observation:
        """The observation of ``task`` (its service, method, mirror, seq and recheck)."""
        plan = task.plan
        return cls(
            plan.service,
            plan.method,
            outcome,
            mirror=task.mirror,
            seq=task.seq,
            recheck=task.recheck,
            **fields,
        )

    @property
    def drop_label(self) -> str:
        """``reason``, with its detail when there is one (``worker_error:KeyError``)."""
        reason = str(self.reason or "")
        return f"{reason}:{self.detail}" if self.detail else reason


@dataclass(frozen=True, slots=True)
class BatchBusy:
    """How long a worker was busy with one batch: from taking it until its last answer.

    Sent just before that answer. The seconds a worker is busy, against the calls
    it answered, are its capacity beside the application (calls over busy
    seconds), whether or not it was fed enough to reach it: a worker that keeps
    up waits between batches, and a rate over the run shows only what it was fed.
    """

    seconds: float


Compact = tuple[float | None, float | None, float | None]
"""A plain match as sent back over the pipe: mirror, compare and lag seconds."""

Answer = Observation | Compact | CoverageReport | BatchBusy
"""What the worker sends back: an observation (a plain match compact), or news between them."""

_FRAME_LENGTH = struct.Struct("!I")


class Wire:
    """The codec between the dispatcher and a worker process (one instance per end).

    Each method's plan (its compare spec) crosses once and then goes by number;
    a task goes as a tuple, pickled one by one: pickling runs in the caller's
    process holding the GIL, and one task at a time never holds it long enough
    to show in the callers' latency. A result that cannot be pickled goes as
    plain data (:func:`normalize`), or as :data:`UNPICKLABLE`.
    """

    def __init__(self) -> None:
        self._plan_ids: dict[MethodPlan, int] = {}
        self._plans: dict[int, MethodPlan] = {}

    def encode(self, tasks: list[Task]) -> tuple[dict[int, MethodPlan], list[bytes]]:
        """The plans not sent before, and the tasks (the sending end)."""
        new_plans: dict[int, MethodPlan] = {}
        blobs = []
        for task in tasks:
            plan_id = self._plan_ids.get(task.plan)
            if plan_id is None:
                plan_id = self._plan_ids[task.plan] = len(self._plan_ids)
                new_plans[plan_id] = task.plan
            blobs.append(_encode(task, plan_id))
        return new_plans, blobs

    def decode(
        self, new_plans: Mapping[int, MethodPlan], blobs: list[bytes]
    ) -> Iterator[Task | Exception]:
        """Each task, or the error that stopped it being decoded (the receiving end)."""
        self._plans.update(new_plans)
        for blob in blobs:
            try:
                yield _decode(blob, self._plans)
            except Exception as error:  # e.g. a result class this process cannot import
                yield error

    @staticmethod
    def compact(observation: Observation) -> Observation | Compact:
        """A plain match shrinks to a tuple (most answers are plain matches)."""
        if (
            observation.outcome is Outcome.MATCH
            and not observation.mirror_failed
            and observation.reason is None
        ):
            return (
                observation.mirror_seconds,
                observation.compare_seconds,
                observation.lag_seconds,
            )
        return observation

    @staticmethod
    def frame(answer: Answer) -> bytes:
        """``answer`` pickled behind its length, for :class:`AnswerFrames` at the other end."""
        body = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        return _FRAME_LENGTH.pack(len(body)) + body

    @staticmethod
    def expand(task: Task, answer: Observation | Compact) -> Observation:
        """The observation of ``task`` from what came back over the pipe."""
        if isinstance(answer, Observation):
            return answer
        mirror_seconds, compare_seconds, lag_seconds = answer
        return Observation.about(
            task,
            Outcome.MATCH,
            mirror_seconds=mirror_seconds,
            compare_seconds=compare_seconds,
            lag_seconds=lag_seconds,
        )


class AnswerFrames:
    """Splits the bytes read from a worker's pipe into the answers :meth:`Wire.frame` framed.

    The worker writes each answer as soon as it has it (so an answer written
    before the worker crashed or hung is never lost), and the dispatcher reads
    whatever has arrived with one ``read``: at the paced rate several answers
    often come in one chunk, a frame may also be cut between two.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[Answer]:
        """The answers completed by ``chunk`` (none if it ends inside a frame)."""
        self._buffer += chunk
        answers: list[Answer] = []
        start = 0
        with memoryview(self._buffer) as view:
            while len(view) - start >= _FRAME_LENGTH.size:
                (length,) = _FRAME_LENGTH.unpack_from(view, start)
                end = start + _FRAME_LENGTH.size + length
                if end > len(view):
                    break
                answers.append(pickle.loads(view[start + _FRAME_LENGTH.size : end]))
                start = end
        del self._buffer[:start]
        return answers


def _encode(task: Task, plan_id: int) -> bytes:
    try:
        return _pickle(task, plan_id, task.result)
    except Exception:  # normalized only then: a walk of the whole result, under the GIL
        pass
    try:
        return _pickle(task, plan_id, _normalized(task.result))
    except Exception:
        return _pickle(task, plan_id, UNPICKLABLE)


def _normalized(value: object) -> object:
    try:
        return normalize(value)
    except Exception:
        return UNPICKLABLE


def _pickle(task: Task, plan_id: int, result: Any) -> bytes:
    return pickle.dumps(
        (
            task.seq,
            plan_id,
            task.mirror.value,
            task.payload,
            result,
            task.error_type,
            task.tape.ids,
            task.tape.times,
            task.tape.captured,
            task.started_at,
            task.authoritative_seconds,
            task.finished_at,
            task.race_window,
            task.recheck,
        ),
        protocol=pickle.HIGHEST_PROTOCOL,
    )


def _decode(blob: bytes, plans: Mapping[int, MethodPlan]) -> Task:
    (
        seq,
        plan_id,
        mirror,
        payload,
        result,
        error_type,
        ids,
        times,
        captured,
        started_at,
        authoritative_seconds,
        finished_at,
        race,
        recheck,
    ) = pickle.loads(blob)
    return Task(
        seq=seq,
        plan=plans[plan_id],
        mirror=Side(mirror),
        payload=payload,
        result=result,
        error_type=error_type,
        tape=Tape(ids=ids, times=times, captured=captured),
        started_at=started_at,
        authoritative_seconds=authoritative_seconds,
        finished_at=finished_at,
        race_window=race,
        recheck=recheck,
    )
