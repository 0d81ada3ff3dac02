"""One example: a fresh runtime over fresh sides, running calls through the proxies.

A :class:`Session` is what one generated call sequence runs in. It builds a
:class:`~shadow.runtime.Runtime` exactly as traffic uses it (proxies in
``shadow`` mode, the legacy side authoritative, the mirror, the comparison,
the recorder), with the inline worker, so each call's observation is known
when the call returns, and deterministic sources: sequential ids (the same
ids in every replay of a sequence) and a clock in a zone other than UTC.

Its store writes are held back (:class:`_HeldStore`): what the session
recorded reaches the real divergence store only when the engine says the
session is evidence (:meth:`Session.publish`), so the many runs hypothesis
makes while shrinking a failure never inflate the counts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from prometheus_client import CollectorRegistry

from shadow._contract import Compare
from shadow._inputs import Arg
from shadow._sources import SequentialIds
from shadow.runtime import (
    DivergenceStore,
    Mode,
    Observation,
    Outcome,
    Runtime,
    ShadowSettings,
    SideFactory,
    WorkerKind,
)
from shadow.runtime._provenance import EXPLORATION, record_origin
from shadow.runtime._store import StoreBatch

__all__ = [
    "EXPLORE_CLOCK_ZONE",
    "Call",
    "Rule",
    "Session",
    "ZonedClock",
    "merge_counts",
    "publish_batch",
]

EXPLORE_CLOCK_ZONE = timezone(timedelta(hours=-3, minutes=-30), "UTC-03:30")
"""The zone of the clock the implementations get while exploring: not UTC, not a whole hour."""

_FAILING = frozenset({Outcome.DIVERGENCE, Outcome.CANDIDATE_ERROR})


class ZonedClock:
    """The wall clock, told in a zone other than UTC (an aware datetime all the same)."""

    def __init__(self, zone: timezone = EXPLORE_CLOCK_ZONE) -> None:
        self.zone = zone

    def now(self) -> datetime:
        return datetime.now(self.zone)


@dataclass(frozen=True, slots=True)
class Rule:
    """One method exploration may call: its service, name, function and inputs."""

    service: str
    method: str
    function: Callable[..., Any]
    inputs: Mapping[str, Arg]
    compare: Compare
    mutates: bool


@dataclass(slots=True)
class Call:
    """What happened to one call of a session."""

    rule: Rule
    arguments: dict[str, Any]
    result: Any = None
    error: Exception | None = None
    observations: list[Observation] = field(default_factory=list)

    @property
    def failing(self) -> Observation | None:
        """The first divergence or candidate error this call produced, if any."""
        for observation in self.observations:
            if observation.outcome in _FAILING and observation.evidence:
                return observation
        return None


class _HeldStore(DivergenceStore):
    """A store that keeps the batches it is given until told where they go."""

    def __init__(self) -> None:  # no engine: nothing is written until publish()
        self.url = "held://"
        self.batches: list[StoreBatch] = []

    def close(self) -> None:
        return

    def record(self, batch: StoreBatch) -> None:
        self.batches.append(batch)

    def mark_dirty(self, service: str, at: datetime) -> None:
        return

    def mark_clean(self, service: str, at: datetime) -> None:
        return

    def dirty_services(self) -> frozenset[str]:
        return frozenset()


class _QuietLogger:
    """Drops the runtime's log lines: exploration reports what it finds in its result.

    (Shrinking runs one failure hundreds of times; a warning per run helps nobody.)
    """

    def _drop(self, *args: Any, **kwargs: Any) -> None:
        return

    debug = info = warning = error = exception = _drop


class Session:
    """Fresh sides, one runtime and its proxies, for one call sequence."""

    def __init__(
        self,
        legacy: SideFactory,
        candidate: SideFactory,
        contracts: Mapping[str, type],
        services: Sequence[str],
    ) -> None:
        self._held = _HeldStore()
        self._seen: list[Observation] = []
        self.runtime = Runtime(
            ShadowSettings(
                worker=WorkerKind.INLINE,
                default_mode=Mode.SHADOW,
                store_flush_seconds=3600.0,
                examples_per_group=1,
            ),
            legacy=legacy,
            candidate=candidate,
            registry=CollectorRegistry(),
            store=self._held,
            ids=SequentialIds("x"),
            clock=ZonedClock(),
            observers=(self._seen.append,),
            logger=_QuietLogger(),
        )
        # One runtime per example, its private registry never scraped: creating
        # every service's zero-valued label sets took two thirds of an
        # example's time (measured), for nothing.
        self.runtime.switchboard.precreate_labels = False
        self._proxies: dict[str, Any] = {
            name: self.runtime.proxy(contracts[name], name) for name in services
        }
        self.calls: list[Call] = []

    def call(self, rule: Rule, arguments: dict[str, Any]) -> Call:
        """Call ``rule`` with ``arguments`` through its proxy; return what happened."""
        done = len(self._seen)
        record = Call(rule, arguments)
        try:
            record.result = getattr(self._proxies[rule.service], rule.method)(**arguments)
        except Exception as error:  # the authoritative side's error is the caller's answer
            record.error = error
        record.observations = self._seen[done:]
        self.calls.append(record)
        return record

    def close(self) -> None:
        """Stop the runtime (its last batch is held, not written)."""
        self.runtime.close()

    def publish(self, store: DivergenceStore, pending: StoreBatch | None = None) -> None:
        """Write everything this session recorded into ``store``, marked as exploration.

        With ``pending``, batches that only count (no divergence group) are added
        into it instead, for the caller to write later in one transaction
        (:func:`publish_batch`): a store write per example cost more than the
        example's calls (measured).
        """
        for batch in self._held.batches:
            if pending is None or not merge_counts(pending, batch):
                publish_batch(store, batch)
        self._held.batches.clear()


def publish_batch(store: DivergenceStore, batch: StoreBatch) -> None:
    """Record ``batch`` in ``store`` and count it as exploration's, without its latency.

    Exploration's comparisons are evidence like traffic's; its latencies are
    not: every example builds both sides afresh (a first call pays for
    connecting) and runs in the caller's thread, so its figures would only
    blur the latency the gate's ``max_p95_ratio`` judges (it once failed a
    phase that traffic alone passed).
    """
    batch.latency.clear()
    batch.mode_latency.clear()
    if batch:
        store.record(batch)
        record_origin(store, batch, EXPLORATION)


def merge_counts(into: StoreBatch, batch: StoreBatch) -> bool:
    """Add ``batch``'s counts into ``into``; False, changing nothing, if it cannot be summed.

    Summable: every aggregate is a dict of counts (``int``), of lists of counts
    (added position by position) or of first-seen times (the earliest wins).
    A batch with a divergence group, or with an aggregate of any other kind
    (one added to :class:`StoreBatch` later), is refused and recorded alone.
    """
    if batch.groups:
        return False
    names = [item.name for item in dataclasses.fields(batch) if item.name != "examples_per_group"]
    for name in names:
        mine, theirs = getattr(into, name), getattr(batch, name)
        if not isinstance(theirs, dict) or not isinstance(mine, dict):
            return False
        for key, value in theirs.items():
            if not _summable(mine.get(key), value):
                return False
    for name in names:
        mine = getattr(into, name)
        for key, value in getattr(batch, name).items():
            mine[key] = _sum(mine.get(key), value)
    return True


def _summable(mine: Any, theirs: Any) -> bool:
    if isinstance(theirs, bool):
        return False
    if isinstance(theirs, int | datetime):
        return mine is None or type(mine) is type(theirs)
    if isinstance(theirs, list) and all(type(item) is int for item in theirs):
        return mine is None or (isinstance(mine, list) and len(mine) == len(theirs))
    return False


def _sum(mine: Any, theirs: Any) -> Any:
    if mine is None:
        return list(theirs) if isinstance(theirs, list) else theirs
    if isinstance(theirs, datetime):
        return min(mine, theirs)
    if isinstance(theirs, list):
        return [a + b for a, b in zip(mine, theirs, strict=True)]
    return mine + theirs
