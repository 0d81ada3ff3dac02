"""``shadow_gate_ready{phase}``: the gate's verdict per phase as a Prometheus gauge.

A custom collector evaluated at scrape time, so the dashboard shows what
``shadow gate --phase N`` would answer now without a separate job. Register it
on the registry a process already serves, e.g. the runtime's::

    runtime.metrics.registry.register(GateReadiness(cutover_settings))

Reading the store on every scrape would make scrape cost grow with the store,
so verdicts are cached for ``min_interval`` seconds. A phase whose gate cannot
be evaluated (store missing, bad policy) reports 0: not ready is the safe side.

A scrape never waits on the store: a stale value is refreshed on a thread of
its own, the scrape waits at most ``scrape_wait`` seconds for it, and
otherwise serves the last known verdicts (a locked store can hold a read for
its whole busy timeout). ``shadow_gate_ready_age_seconds`` says how old the
served verdicts are (+Inf before the first evaluation finished, when every
phase reports 0).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from shadow._exceptions import ShadowError
from shadow.cutover.control import CutoverSettings, gate

__all__ = ["GateReadiness"]

_AGE_HELP = "Seconds since the served shadow_gate_ready verdicts were evaluated."


class GateReadiness(Collector):
    """Exports ``shadow_gate_ready{phase}`` = 1 when that phase's gate passes."""

    def __init__(
        self,
        settings: CutoverSettings,
        *,
        min_interval: float = 15.0,
        monotonic: Callable[[], float] = time.monotonic,
        scrape_wait: float = 1.0,
    ) -> None:
        self._settings = settings
        self._min_interval = min_interval
        self._monotonic = monotonic
        self._scrape_wait = scrape_wait
        self._lock = threading.Lock()
        self._cached: dict[int, bool] | None = None
        self._evaluated_at: float | None = None
        self._next = 0.0
        self._refreshing: threading.Thread | None = None

    def readiness(self) -> dict[int, bool]:
        """Each phase's verdict (cached for ``min_interval`` seconds)."""
        with self._lock:
            now = self._monotonic()
            if self._cached is None or now >= self._next:
                self._store_verdicts(self._evaluate(), now)
            assert self._cached is not None
            return dict(self._cached)

    def _store_verdicts(self, verdicts: dict[int, bool], evaluated_at: float) -> None:
        self._cached = verdicts
        self._evaluated_at = evaluated_at
        self._next = evaluated_at + self._min_interval

    def served(self) -> tuple[dict[int, bool], float]:
        """The verdicts a scrape serves now and their age in seconds, without waiting on the store.

        Starts a refresh when the value is stale, waits for it at most
        ``scrape_wait`` seconds, and otherwise answers with the last verdicts.
        """
        with self._lock:
            stale = self._cached is None or self._monotonic() >= self._next
            if stale and self._refreshing is None:
                self._refreshing = threading.Thread(
                    target=self._refresh, name="shadow-gate-readiness", daemon=True
                )
                self._refreshing.start()
            refreshing = self._refreshing
        if refreshing is not None:
            refreshing.join(self._scrape_wait)
        with self._lock:
            if self._cached is None or self._evaluated_at is None:
                return dict.fromkeys(self._settings.phase_plan().numbers, False), math.inf
            return dict(self._cached), max(0.0, self._monotonic() - self._evaluated_at)

    def _refresh(self) -> None:
        started = self._monotonic()
        verdicts: dict[int, bool] | None = None
        try:
            verdicts = self._evaluate()
        finally:
            with self._lock:
                self._refreshing = None
                if verdicts is not None:
                    self._store_verdicts(verdicts, started)

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
        verdicts, age = self.served()
        for phase, ready in sorted(verdicts.items()):
            family.add_metric([str(phase)], 1.0 if ready else 0.0)
        yield family
        yield GaugeMetricFamily("shadow_gate_ready_age_seconds", _AGE_HELP, value=age)

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """Describe the family without evaluating the gate (registration stays cheap)."""
        yield GaugeMetricFamily(
            "shadow_gate_ready",
            "1 when the phase's cutover gate passes on the store's evidence now.",
            labels=["phase"],
        )
        yield GaugeMetricFamily("shadow_gate_ready_age_seconds", _AGE_HELP)
