"""``shadow_gate_ready{phase}``: the gate's verdict per phase as a Prometheus gauge.

A custom collector evaluated at scrape time, so the dashboard shows what
``shadow gate --phase N`` would answer now without a separate job. Register it
on the registry a process already serves, e.g. the runtime's::

    runtime.metrics.registry.register(GateReadiness(cutover_settings))

Reading the store on every scrape would make scrape cost grow with the store,
so verdicts are cached for ``min_interval`` seconds. A phase whose gate cannot
be evaluated (store missing, bad policy) reports 0: not ready is the safe side.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from shadow._exceptions import ShadowError
from shadow.cutover.control import CutoverSettings, gate

__all__ = ["GateReadiness"]


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
        self._lock = threading.Lock()
        self._cached: dict[int, bool] | None = None
        self._next = 0.0

    def readiness(self) -> dict[int, bool]:
        """Each phase's verdict (cached for ``min_interval`` seconds)."""
        with self._lock:
            now = self._monotonic()
            if self._cached is None or now >= self._next:
                self._cached = self._evaluate()
                self._next = now + self._min_interval
            return dict(self._cached)

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
        """Yield the gauge family (called by the registry on every scrape)."""
        family = GaugeMetricFamily(
            "shadow_gate_ready",
            "1 when the phase's cutover gate passes on the store's evidence now.",
            labels=["phase"],
        )
        for phase, ready in sorted(self.readiness().items()):
            family.add_metric([str(phase)], 1.0 if ready else 0.0)
        yield family

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """Describe the family without evaluating the gate (registration stays cheap)."""
        yield GaugeMetricFamily(
            "shadow_gate_ready",
            "1 when the phase's cutover gate passes on the store's evidence now.",
            labels=["phase"],
        )
