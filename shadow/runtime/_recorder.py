"""Publish observations: metrics, the divergence store, logs and observers.

Everything that happens to a proxied call ends here, in the caller's process:
the executor hands over each worker observation, the proxy reports calls it
did not mirror (sampled out, dropped). The recorder is cheap per call (a lock,
a few dict increments and metric updates); the store is written in batches
(:meth:`Recorder.flush`, one transaction each), and one log line is written per
divergence, never with a sensitive value in it.

What decides whether an observation is evidence (dirt, breakers, write lag)
is kept apart, in :class:`~shadow.runtime._evidence.EvidenceState`
(:attr:`Recorder.evidence`): the recorder updates it from what it publishes,
and writes its dirty/clean transitions with the batches, retried until written.
"""

from __future__ import annotations

import pickle
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC
from typing import Any

from shadow._sources import Clock, SystemClock
from shadow._vocabulary import Mode, Outcome, Side
from shadow.runtime._coverage import CoverageReport
from shadow.runtime._errors import explain_error, named_arguments, secret_values
from shadow.runtime._evidence import EvidenceState
from shadow.runtime._metrics import ShadowMetrics
from shadow.runtime._observation import MethodPlan, Observation, Reason, Task
from shadow.runtime._settings import ShadowSettings
from shadow.runtime._store import DivergenceStore, StoreBatch

__all__ = ["Observer", "Recorder"]

Observer = Callable[[Observation], None]
"""Called with every observation (after ``evidence`` is set); see shadow.testing."""

_GROUPED = frozenset({Outcome.DIVERGENCE, Outcome.CANDIDATE_ERROR})
_MIRRORED_IN = {Side.CANDIDATE: Mode.SHADOW.value, Side.LEGACY: Mode.REVERSE.value}
"""The mode a call was made in, from the side that was mirrored."""


class Recorder:
    """Turns observations into metrics, store rows, log lines and observer calls."""

    def __init__(
        self,
        *,
        settings: ShadowSettings,
        metrics: ShadowMetrics,
        store: DivergenceStore,
        logger: Any,
        observers: Sequence[Observer] = (),
        clock: Clock | None = None,
        recheck: Callable[[Task], None] = lambda task: None,
    ) -> None:
        self._metrics = metrics
        self._store = store
        self._log = logger
        self._observers = tuple(observers)
        self._clock = clock or SystemClock()
        self._recheck = recheck
        self._examples = settings.examples_per_group
        self._flush_every = settings.store_flush_seconds
        self._breaker_threshold = settings.breaker_failures
        self._breaker_reset = settings.breaker_reset_seconds
        self.evidence = EvidenceState(
            settings,
            clock=self._clock,
            dirty=store.dirty_services(),
            on_breaker_change=self._breaker_changed,
        )
        self._lock = threading.Lock()
        self._batch = StoreBatch(self._examples)
        self._next_flush = time.monotonic() + self._flush_every
        self._children: dict[tuple[str, ...], Any] = {}
        self._unavailable: dict[Side, str] = {}
        # One store write at a time, so dirty/clean transitions land in order.
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._flusher: threading.Thread | None = None
        self._stopping = False

    # -- observers --------------------------------------------------------------------------

    def add_observer(self, observer: Observer) -> None:
        """Call ``observer`` with every observation from now on."""
        with self._lock:
            self._observers = (*self._observers, observer)

    def remove_observer(self, observer: Observer) -> None:
        """Stop calling ``observer``."""
        with self._lock:
            self._observers = tuple(item for item in self._observers if item is not observer)

    # -- evidence transitions ---------------------------------------------------------------

    def _breaker_changed(self, service: str, is_open: bool) -> None:
        self._metrics.breaker_open.labels(service).set(1 if is_open else 0)
        if is_open:
            self._log.error(
                "shadow_circuit_breaker_open",
                service=service,
                consecutive_failures=self._breaker_threshold,
                retry_after_seconds=self._breaker_reset,
            )
        else:
            self._log.info("shadow_circuit_breaker_closed", service=service)

    def mark_dirty(self, service: str, seq: int, *, method: str, reason: Reason) -> None:
        """Calls of ``service`` from sequence ``seq`` on may see a store that diverged.

        Called from the caller's thread (a write dropped at hand-off, under the
        sequencer lock), so it never touches the store: the transition waits
        for the next batch, which the flusher writes soon (the next flush is
        brought forward) and keeps retrying until it is stored.
        """
        if self.evidence.mark_dirty(service, seq):
            self._flush_soon()
            self._metrics.service_dirty.labels(service).set(1)
            self._log.warning(
                "shadow_service_dirty", service=service, method=method, reason=str(reason)
            )

    def mark_clean(self, service: str) -> None:
        """``service`` was reconciled: its comparisons count as evidence again.

        The store learns it with the next flush (:meth:`flush` writes it now),
        in order after any dirty mark still pending.
        """
        self.evidence.mark_clean(service)
        self._flush_soon()
        self._metrics.service_dirty.labels(service).set(0)
        self._log.info("shadow_service_reconciled", service=service)

    def _flush_soon(self) -> None:
        with self._lock:
            self._next_flush = 0.0
        self._wake.set()

    # -- recording --------------------------------------------------------------------------

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (str(id(metric)), *labels)
        child = self._children.get(key)
        if child is None:
            child = metric.labels(*labels)
            self._children[key] = child
        return child

    def latency(self, plan: MethodPlan, side: Side, seconds: float) -> None:
        """Record the duration of one call on ``side``."""
        self._child(self._metrics.call_duration, plan.service, side.value).observe(seconds)
        with self._lock:
            self._batch.add_latency(plan.service, plan.method, side.value, seconds)

    def unmirrored(
        self,
        plan: MethodPlan,
        outcome: Outcome,
        reason: Reason,
        seq: int,
        *,
        detail: str | None = None,
    ) -> None:
        """Record a call that was not mirrored (``skipped`` or ``dropped``)."""
        if outcome is Outcome.DROPPED and plan.kind.mutates:
            self._child(self._metrics.dropped_writes, plan.service, plan.method).inc()
            self.mark_dirty(plan.service, seq, method=plan.method, reason=reason)
        evidence = self.evidence.counts(plan.service, seq)
        self._count(plan.service, plan.method, outcome, evidence)
        observation = Observation(
            plan.service,
            plan.method,
            outcome,
            seq=seq,
            reason=reason,
            detail=detail,
            evidence=evidence,
        )
        if outcome is Outcome.DROPPED:
            with self._lock:
                kind = "write" if plan.kind.mutates else "read"
                self._batch.add_drop(plan.service, plan.method, kind, observation.drop_label)
        if self._observers:
            self._notify(observation)

    def _count(self, service: str, method: str, outcome: Outcome, evidence: bool) -> None:
        self._child(self._metrics.comparisons, service, method, outcome.value).inc()
        # The time only matters for a service's first comparison in a batch.
        at = self._batch.first_comparisons.get(service) or self._clock.now()
        with self._lock:
            self._batch.add_outcome(service, method, outcome.value, evidence=evidence, at=at)

    def observe(self, task: Task, observation: Observation) -> None:
        """Publish what the worker observed for ``task``.

        The authoritative call's duration is recorded here too, off the caller's thread.
        """
        plan = task.plan
        self.latency(plan, task.mirror.other, task.authoritative_seconds)
        if observation.reason is Reason.MIRROR_UNAVAILABLE:
            self._mirror_unavailable(task.mirror, observation)
            self.unmirrored(plan, Outcome.SKIPPED, Reason.MIRROR_UNAVAILABLE, task.seq)
            return
        mode = _MIRRORED_IN[task.mirror]
        if observation.outcome is Outcome.DROPPED:
            # The worker could not run the call (setup failure): a failure of the mirror.
            reason = observation.reason or Reason.WORKER_ERROR
            self.dropped(task, reason, detail=observation.detail, timed=True)
            return
        breaker = self.evidence.breaker(plan.service)
        if observation.mirror_failed:
            breaker.failure()
        else:
            breaker.success()
        if plan.kind.mutates and observation.lag_seconds is not None:
            self.evidence.lags.add(observation.lag_seconds)
        evidence = self.evidence.counts(plan.service, task.seq)
        if not evidence:
            observation = replace(observation, evidence=False)
        self._count(plan.service, plan.method, observation.outcome, evidence)
        self._count_in_mode(task, mode, observation, evidence)
        if observation.mirror_seconds is not None:
            self.latency(plan, task.mirror, observation.mirror_seconds)
        if observation.compare_seconds is not None:
            self._child(self._metrics.compare_duration, plan.service).observe(
                observation.compare_seconds
            )
        if observation.outcome in _GROUPED:
            self._divergence(observation, write=plan.kind.mutates, task=task)
        if plan.kind.mutates and observation.error_types:
            # One side applied the write and the other refused it (or both
            # failed differently): the stores now differ. This comparison is
            # evidence; the ones after it are not, until reconciled.
            reason = (
                Reason.MIRROR_WRITE_FAILED
                if observation.mirror_failed
                else Reason.WRITE_OUTCOME_MISMATCH
            )
            self.mark_dirty(plan.service, task.seq + 1, method=plan.method, reason=reason)
        self._notify(observation)
        if observation.outcome is Outcome.RACED and not task.recheck:
            self._recheck(task)

    def _count_in_mode(
        self, task: Task, mode: str, observation: Observation, evidence: bool
    ) -> None:
        """The per-mode evidence the gate judges a step on (see the store's tables)."""
        plan = task.plan
        at = self._batch.mode_first.get((plan.service, mode)) or self._clock.now()
        with self._lock:
            self._batch.add_mode_outcome(
                plan.service, plan.method, mode, observation.outcome.value, evidence=evidence, at=at
            )
            self._batch.add_mode_latency(
                plan.service, plan.method, mode, task.mirror.other.value, task.authoritative_seconds
            )
            if observation.mirror_seconds is not None:
                self._batch.add_mode_latency(
                    plan.service, plan.method, mode, task.mirror.value, observation.mirror_seconds
                )

    def _mirror_unavailable(self, side: Side, observation: Observation) -> None:
        """``side`` could not be built: say so once, in the log, the metric and the store.

        Its calls are skipped, not dropped: no breaker opens, no service turns
        dirty call by call; the store keeps one row for the side, which the gate
        and ``shadow status`` report until the stores are aligned again.
        """
        explained = observation.mirror_error or {}
        error = f"{explained.get('type')}: {explained.get('message')}"
        now = self._clock.now()
        with self._lock:
            first = side not in self._unavailable
            self._unavailable[side] = error
            if first or not any(mark[0] == side.value for mark in self._batch.side_marks):
                self._batch.side_marks.append((side.value, error, now))
        if first:
            self._metrics.mirror_unavailable.labels(side.value).set(1)
            self._log.error(
                "shadow_mirror_unavailable",
                side=side.value,
                error=error,
                frames=list(explained.get("frames", ())),
            )

    def unavailable_sides(self) -> dict[Side, str]:
        """Sides this runtime could not build, with the redacted error."""
        with self._lock:
            return dict(self._unavailable)

    def mirrors_aligned(self) -> None:
        """The stores were aligned: clear the store's record of unavailable sides."""
        now = self._clock.now()
        with self._lock:
            for side in Side:
                self._batch.side_marks.append((side.value, None, now))

    def dropped(
        self, task: Task, reason: Reason, *, detail: str | None = None, timed: bool = False
    ) -> None:
        """A task that was not mirrored: refused at hand-off, or lost later (deadline, crash).

        Records the authoritative call's duration unless ``timed`` says that was done.
        """
        if not timed:
            self.latency(task.plan, task.mirror.other, task.authoritative_seconds)
        if reason.mirror_failure:
            self.evidence.breaker(task.plan.service).failure()
        self.unmirrored(task.plan, Outcome.DROPPED, reason, task.seq, detail=detail)

    def _divergence(
        self, observation: Observation, *, write: bool = False, task: Task | None = None
    ) -> None:
        fingerprint = observation.fingerprint or ""
        # A dirty service diverges by construction: still one line, but at debug level.
        log = self._log.warning if observation.evidence else self._log.debug
        log(
            "shadow_divergence",
            service=observation.service,
            method=observation.method,
            outcome=observation.outcome.value,
            fingerprint=fingerprint,
            paths=list(observation.paths),
            error_types=list(observation.error_types),
            evidence=observation.evidence,
        )
        if not observation.evidence:
            return  # a dirty store diverges by construction: not a group to review
        now = self._clock.now()
        example = {
            "seen_at": now.astimezone(UTC).isoformat(),
            "outcome": observation.outcome.value,
            "mirror": observation.mirror.value if observation.mirror else None,
            # A divergent write may leave the stores drifted: later groups of the
            # service are linked to it as its consequences (shadow_group_roots).
            "write": write,
            "arguments": dict(observation.arguments),
            "error_types": list(observation.error_types),
            **_explained_errors(task, observation),
            "differences": [
                {
                    "path": item.path,
                    "change": item.change,
                    "authoritative": item.authoritative,
                    "mirror": item.mirror,
                }
                for item in observation.differences
            ],
        }
        with self._lock:
            self._batch.add_divergence(
                fingerprint,
                service=observation.service,
                method=observation.method,
                outcome=observation.outcome.value,
                paths=observation.paths,
                error_types=observation.error_types,
                at=now,
                example=example,
            )

    def mirror_busy(self, worker: str, seconds: float) -> None:
        """Count a batch's busy seconds against mirror worker ``worker`` (its index)."""
        self._metrics.mirror_busy.labels(worker).inc(seconds)

    def coverage(self, report: CoverageReport) -> None:
        """Fold a worker's coverage news into the next store write."""
        with self._lock:
            for file in report.files:
                self._batch.add_coverage(file)

    def _notify(self, observation: Observation) -> None:
        for observer in self._observers:
            observer(observation)

    # -- store ------------------------------------------------------------------------------

    def start_flusher(self) -> None:
        """Write the store from a thread of its own from now on (see :meth:`maybe_flush`).

        A store that is locked or slow then holds up no one: not the callers,
        not the dispatcher that feeds the mirror. The flusher writes every
        ``store_flush_seconds``, and at once when a service turns dirty.
        """
        if self._flusher is None:
            self._flusher = threading.Thread(
                target=self._flush_loop, name="shadow-store", daemon=True
            )
            self._flusher.start()

    def stop_flusher(self, timeout: float) -> None:
        """Stop the flusher thread (the caller writes the last batch itself)."""
        flusher, self._flusher = self._flusher, None
        if flusher is not None:
            self._stopping = True
            self._wake.set()
            flusher.join(timeout)

    def _stopped(self) -> bool:
        # A method, so type checkers do not narrow the flag across the wait above.
        return self._stopping

    def _flush_loop(self) -> None:
        while not self._stopping:
            self._wake.wait(max(0.0, self._next_flush - time.monotonic()))
            self._wake.clear()
            if self._stopped():
                return
            if time.monotonic() >= self._next_flush:
                self.flush()

    def maybe_flush(self) -> None:
        """Write the pending batch if the flush interval has passed (no-op with a flusher)."""
        if self._flusher is None and time.monotonic() >= self._next_flush:
            self.flush()

    def flush(self) -> bool:
        """Write the pending batch to the store now (kept for the next try on failure).

        Returns False when the store refused it.
        """
        with self._flush_lock:
            return self._flush()

    def _flush(self) -> bool:
        with self._lock:
            batch = self._batch
            self._batch = StoreBatch(self._examples)
            self._next_flush = time.monotonic() + self._flush_every
            batch.service_marks = self.evidence.take_marks()
        if not batch and not batch.first_comparisons:
            return True
        try:
            self._store.record(batch)
        except Exception as error:
            self._metrics.store_write_failures.inc()
            self._log.error(
                "shadow_store_write_failed",
                error=str(error),
                dirty_pending=sorted(
                    {service for service, dirty, _ in batch.service_marks if dirty}
                ),
            )
            self.evidence.give_back(batch.service_marks)
            with self._lock:
                _merge(self._batch, batch)
                # Retry at the next interval, not in a tight loop.
                self._next_flush = time.monotonic() + self._flush_every
            return False
        return True


def _explained_errors(task: Task | None, observation: Observation) -> dict[str, Any]:
    """A one-sided error's explanations, per side (``errors``), for its stored example."""
    if task is None or not observation.error_types:
        return {}
    authoritative = None
    if task.error is not None:
        spec = task.plan.compare
        try:
            args, kwargs = pickle.loads(task.payload)
            named = named_arguments(task.plan.parameters, args, kwargs)
        except Exception:  # no arguments to redact by: the name rules still apply
            named = {}
        authoritative = explain_error(
            task.error, secret_values(named, spec.sensitive), spec.sensitive
        )
    mirror = observation.mirror
    sides = {
        (mirror.other.value if mirror else "authoritative"): authoritative,
        (mirror.value if mirror else "mirror"): observation.mirror_error,
    }
    return {"errors": sides}


def _merge(target: StoreBatch, older: StoreBatch) -> None:
    """Fold a batch that failed to be written into the current one."""
    for key, (total, evidence) in older.counts.items():
        entry = target.counts.setdefault(key, [0, 0])
        entry[0] += total
        entry[1] += evidence
    for latency_key, count in older.latency.items():
        target.latency[latency_key] = target.latency.get(latency_key, 0) + count
    for drop_key, count in older.drops.items():
        target.drops[drop_key] = target.drops.get(drop_key, 0) + count
    for fingerprint, delta in older.groups.items():
        current = target.groups.get(fingerprint)
        if current is None:
            target.groups[fingerprint] = delta
        else:
            current.count += delta.count
            current.first_seen = min(current.first_seen, delta.first_seen)
            current.examples = (delta.examples + current.examples)[: target.examples_per_group]
    for coverage_key, file_delta in older.coverage.items():
        newer = target.coverage.get(coverage_key)
        if newer is None:
            target.coverage[coverage_key] = file_delta
        elif newer.source_hash == file_delta.source_hash:
            newer.measurable_lines = newer.measurable_lines or file_delta.measurable_lines
            newer.measurable_branches = newer.measurable_branches or file_delta.measurable_branches
            newer.lines |= file_delta.lines
            newer.branches |= file_delta.branches
    for service, at in older.first_comparisons.items():
        target.first_comparisons[service] = min(at, target.first_comparisons.get(service, at))
    for mode_key, (total, evidence) in older.mode_counts.items():
        entry = target.mode_counts.setdefault(mode_key, [0, 0])
        entry[0] += total
        entry[1] += evidence
    for bucket_key, count in older.mode_latency.items():
        target.mode_latency[bucket_key] = target.mode_latency.get(bucket_key, 0) + count
    for first_key, at in older.mode_first.items():
        target.mode_first[first_key] = min(at, target.mode_first.get(first_key, at))
    target.side_marks[:0] = older.side_marks
