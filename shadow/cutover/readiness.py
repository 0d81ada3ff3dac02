"""``shadow_gate_ready{phase}``: the gate's verdict per phase as a Prometheus gauge.

A custom collector, so the dashboard shows what ``shadow gate --phase N``
would answer without a separate job. Register it on the registry a process
already serves, e.g. the runtime's::

    runtime.metrics.registry.register(GateReadiness(cutover_settings))

Evaluating the gate reads the whole divergence store (half a second of CPU on
the demo's store, longer while another process holds its lock), far more than
a scrape may take (issue 13: under 50 ms). So the store is never read on the
scrape path: a background thread, started by the first scrape (or
:meth:`GateReadiness.start`), evaluates every phase every ``min_interval``
seconds into a snapshot, and a scrape only formats the last snapshot.
``shadow_gate_ready_age_seconds`` says how old the served verdicts are (+Inf
before the first evaluation finished, when every phase reports 0). A phase
whose gate cannot be evaluated (store missing, bad policy) reports 0: not
ready is the safe side.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from shadow._exceptions import ShadowError
from shadow.cutover.control import CutoverSettings, gate

__all__ = ["GateReadiness"]

_READY_HELP = "1 when the phase's cutover gate passes on the store's evidence now."
_AGE_HELP = "Seconds since the served shadow_gate_ready verdicts were evaluated."


@dataclass(frozen=True)
class _Snapshot:
    verdicts: dict[int, bool]
    evaluated_at: float
    """``monotonic()`` when the evaluation started (the evidence is at least that fresh)."""


class GateReadiness(Collector):
    """Exports ``shadow_gate_ready{phase}`` = 1 when that phase's gate passes."""

    def __init__(
        self,
        settings: CutoverSettings,
        *,
        min_interval: float = 15.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._min_interval = min_interval
        self._monotonic = monotonic
        # Replaced whole by the refresher, read whole by scrapes: no lock on the scrape path.
        self._snapshot: _Snapshot | None = None
        self._lock = threading.Lock()  # guards starting and stopping the refresher
        self._stop = threading.Event()
        self._refresher: threading.Thread | None = None

    def refresh(self) -> dict[int, bool]:
        """Evaluate every phase's gate now (this reads the store); scrapes serve the result."""
        started = self._monotonic()
        verdicts = self._evaluate()
        self._snapshot = _Snapshot(verdicts, started)
        return dict(verdicts)

    def start(self) -> None:
        """Start the background refresher (idempotent; the first scrape calls it)."""
        with self._lock:
            if self._stop.is_set() or (self._refresher and self._refresher.is_alive()):
                return
            self._refresher = threading.Thread(
                target=self._refresh_forever, name="shadow-gate-readiness", daemon=True
            )
            self._refresher.start()

    def close(self) -> None:
        """Stop the background refresher; later scrapes serve the last verdicts."""
        with self._lock:
            self._stop.set()
            refresher = self._refresher
        if refresher is not None:
            refresher.join(timeout=30)

    def _refresh_forever(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            if self._stop.wait(self._min_interval):
                return

    def served(self) -> tuple[dict[int, bool], float]:
        """The verdicts a scrape serves now and their age in seconds; never reads the store."""
        snapshot = self._snapshot
        if snapshot is None:
            return dict.fromkeys(self._settings.phase_plan().numbers, False), math.inf
        return dict(snapshot.verdicts), max(0.0, self._monotonic() - snapshot.evaluated_at)

    def _evaluate(self) -> dict[int, bool]:
        try:
            evidence = self._settings.evidence()
        except ShadowError:
            return dict.fromkeys(self._settings.phase_plan().numbers, False)
        verdicts = {}
        for phase in self._settings.phase_plan().numbers:
            try:
                verdicts[phase] = gate(self._settings, phase, evidence=evidence).passed
            except ShadowError:
                verdicts[phase] = False
        return verdicts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Yield the gauge families from the last snapshot (called by the registry per scrape)."""
        self.start()
        verdicts, age = self.served()
        family = GaugeMetricFamily("shadow_gate_ready", _READY_HELP, labels=["phase"])
        for phase, ready in sorted(verdicts.items()):
            family.add_metric([str(phase)], 1.0 if ready else 0.0)
        yield family
        yield GaugeMetricFamily("shadow_gate_ready_age_seconds", _AGE_HELP, value=age)

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """Describe the families without evaluating the gate (registration stays cheap)."""
        yield GaugeMetricFamily("shadow_gate_ready", _READY_HELP, labels=["phase"])
        yield GaugeMetricFamily("shadow_gate_ready_age_seconds", _AGE_HELP)
