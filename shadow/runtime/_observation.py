"""What travels between the proxy, the mirror worker and the recorder.

A :class:`Task` is one authoritative call handed off for mirroring: the
method's plan, its arguments pickled *before* the call (so neither the
implementation nor the caller mutating them later changes what the mirror
runs), its result detached from the caller's containers (pickled off the
caller's thread, when the task crosses to a worker process), the tape of ids
and times it drew, and its timing. The worker answers each task with an
:class:`Observation`: the outcome, the redacted differences, the fingerprint
and the timings. Both are plain picklable data, so they cross a process pipe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from shadow._contract import Compare, Kind
from shadow._vocabulary import Outcome, Side
from shadow.runtime._compare import Difference
from shadow.runtime._tape import Tape

__all__ = ["UNPICKLABLE", "MethodPlan", "Observation", "Outcome", "Task"]

UNPICKLABLE: Final = "<shadow: unpicklable result>"
"""Stands in for a result that could not be sent to the worker process."""


@dataclass(frozen=True, slots=True)
class MethodPlan:
    """What the worker needs to know about a contract method (picklable)."""

    service: str
    method: str
    kind: Kind
    compare: Compare
    parameters: tuple[str, ...]


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
    reason: str | None = None
    """Why a call was skipped or dropped (``sampled``, ``queue_full``, ``deadline``...)."""
    recheck: bool = False
    evidence: bool = True
