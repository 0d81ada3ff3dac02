"""Prometheus metrics of the runtime, on an injected registry, lean enough to scrape often.

Nothing is registered at import time: :class:`ShadowMetrics` registers its
families on the :class:`~prometheus_client.CollectorRegistry` it is given, so
two runtimes (or two tests) never share counters. Label values are bounded:
only service, method, outcome, side, mode and a mirror worker's index (fewer
than ``mirror_workers``), never ids or messages.

The names are fixed (dashboards are built against them):

=======================================  =========  ===========================
``shadow_comparisons_total``             Counter    service, method, outcome
``shadow_call_duration_seconds``         Histogram  service, side
``shadow_compare_duration_seconds``      Histogram  service
``shadow_mirror_queue_depth``            Gauge
``shadow_mirror_lag_seconds``            Gauge      (age of the oldest queued call)
``shadow_dropped_writes_total``          Counter    service, method
``shadow_circuit_breaker_open``          Gauge      service
``shadow_service_mode``                  Gauge      service, mode
``shadow_service_dirty``                 Gauge      service
``shadow_mirror_unavailable``            Gauge      side (its factory could not be built)
``shadow_store_write_failures_total``    Counter    (divergence store writes refused; retried)
``shadow_mirror_busy_seconds_total``     Counter    worker (its index, below ``mirror_workers``)
=======================================  =========  ===========================

``shadow_mirror_busy_seconds_total`` is what tells an operator how much
headroom the mirror has: its rate is the fraction of the time a worker is busy
(1 means it is at its capacity, and falls behind if the callers speed up);
calls answered over busy seconds is its capacity beside the application, which
a rate of calls alone cannot show while the mirror keeps up.

What keeps a scrape small (issue 13: 862 KB / 8,204 samples for the 11
reference services before, about a tenth of that now; ``python -m bench metrics``):

* **Per method only where the gate judges per method**: the gate counts
  comparisons, divergences and candidate errors per declared method, so
  ``shadow_comparisons_total`` and ``shadow_dropped_writes_total`` keep the
  method. Latency histograms are per service (and side): the gate's per-method
  p95 ratios come from the divergence store, not from Prometheus, and a
  histogram per method and side was nine tenths of the old exposition.
* **Zeros only where a missing zero would hide something**: every method's
  ``match``, ``divergence`` and ``candidate_error`` counters and every write's
  dropped-writes counter exist from registration, so the first divergence of
  a method is a visible 0 -> 1 step to ``rate()``. ``raced``, ``skipped`` and
  ``dropped`` appear when they first happen.
* **No ``_created`` series**, for these families only: they are registered on a
  private registry and exported through a collector that leaves the
  ``_created`` samples out. prometheus_client's own switch
  (``disable_created_metrics()`` or ``PROMETHEUS_DISABLE_CREATED_SERIES``) is
  process-wide and would change the application's other metrics, so the
  runtime does not use it.
* **Buckets fitted to the measured range** (docs/benchmarks.md): service calls
  take 15 µs to 17 ms at p99 on the reference services, comparisons 1 µs per
  equal record up to tens of milliseconds when DeepDiff explains a mismatch.

Multiprocess mode: when ``PROMETHEUS_MULTIPROC_DIR`` is set before
prometheus_client is imported, the values live in that directory's files and
one registry with a ``MultiProcessCollector`` exports every process's sum
(docs/runtime.md, "Metrics from several processes"). The gauges carry the
multiprocess mode that aggregates them meaningfully, and the queue gauges,
which are read from the executor at scrape time in a single process, are
refreshed into the files every second instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from http.server import HTTPServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import values as _values
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from shadow._vocabulary import Mode, Outcome, Side
from shadow.runtime._exposition import PrerenderedExposition, serve_exposition

__all__ = ["CALL_BUCKETS", "COMPARE_BUCKETS", "MULTIPROCESS", "ShadowMetrics"]

CALL_BUCKETS = (
    0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001,
    0.0025, 0.005, 0.01, 0.025, 0.1, 1.0,
)  # fmt: skip
"""Upper bounds of ``shadow_call_duration_seconds`` (plus +Inf): 25 µs to 1 s."""

COMPARE_BUCKETS = (0.00001, 0.000025, 0.0001, 0.00025, 0.001, 0.005, 0.025, 0.1)
"""Upper bounds of ``shadow_compare_duration_seconds`` (plus +Inf): 10 µs to 100 ms."""

PRECREATED_OUTCOMES = (Outcome.MATCH, Outcome.DIVERGENCE, Outcome.CANDIDATE_ERROR)
"""The outcomes whose per-method counters exist from registration (the gate judges them)."""

MULTIPROCESS: bool = _values.ValueClass is not _values.MutexValue
"""True when prometheus_client keeps values in ``PROMETHEUS_MULTIPROC_DIR`` files."""

_QUEUE_REFRESH_SECONDS = 1.0


class _WithoutCreated(Collector):
    """Exports the families of a private registry, leaving out their ``_created`` samples."""

    def __init__(
        self, families: CollectorRegistry, metrics: Callable[[], Iterable[MetricWrapperBase]]
    ) -> None:
        self._families = families
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        for family in self._families.collect():
            # Each collect() builds fresh Metric objects: replacing the list is safe.
            family.samples = [s for s in family.samples if not _is_created(s)]
            yield family

    def describe(self) -> Iterator[Metric]:
        for metric in self._metrics():
            yield from metric.describe()


def _is_created(sample: Sample) -> bool:
    return sample.name.endswith("_created")


class ShadowMetrics:
    """The runtime's metric families, exported on ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        # The families live on a private registry; ``registry`` gets one collector that
        # exports them without ``_created`` (see the module docstring).
        families = CollectorRegistry()
        self.comparisons = Counter(
            "shadow_comparisons",
            "Proxied calls by comparison outcome.",
            ("service", "method", "outcome"),
            registry=families,
        )
        self.call_duration = Histogram(
            "shadow_call_duration_seconds",
            "Duration of service calls, per side.",
            ("service", "side"),
            buckets=CALL_BUCKETS,
            registry=families,
        )
        self.compare_duration = Histogram(
            "shadow_compare_duration_seconds",
            "Time spent comparing the two results of a call.",
            ("service",),
            buckets=COMPARE_BUCKETS,
            registry=families,
        )
        self.queue_depth = Gauge(
            "shadow_mirror_queue_depth",
            "Mirrored calls waiting or running.",
            registry=families,
            multiprocess_mode="livesum",
        )
        self.mirror_lag = Gauge(
            "shadow_mirror_lag_seconds",
            "Age of the oldest mirrored call still waiting.",
            registry=families,
            multiprocess_mode="livemax",
        )
        self.dropped_writes = Counter(
            "shadow_dropped_writes",
            "Writes that were not mirrored (the service is dirty until reconciled).",
            ("service", "method"),
            registry=families,
        )
        self.breaker_open = Gauge(
            "shadow_circuit_breaker_open",
            "1 while a service's circuit breaker stops mirroring.",
            ("service",),
            registry=families,
            multiprocess_mode="livemax",
        )
        self.service_mode = Gauge(
            "shadow_service_mode",
            "1 for the mode a service runs in, 0 for the others.",
            ("service", "mode"),
            registry=families,
            # Per process (a pid label): a promotion that has not reached one shows.
            multiprocess_mode="liveall",
        )
        self.service_dirty = Gauge(
            "shadow_service_dirty",
            "1 while a service has a write not mirrored cleanly, not yet verified or reconciled.",
            ("service",),
            registry=families,
            multiprocess_mode="livemax",
        )
        self.mirror_unavailable = Gauge(
            "shadow_mirror_unavailable",
            "1 while a side's implementations cannot be built: calls are not mirrored to it.",
            ("side",),
            registry=families,
            multiprocess_mode="livemax",
        )
        for side in Side:
            self.mirror_unavailable.labels(side.value).set(0)
        self.mirror_busy = Counter(
            "shadow_mirror_busy_seconds",
            "Seconds a mirror worker spent on its batches, from taking one to its last answer.",
            ("worker",),
            registry=families,
        )
        self.store_write_failures = Counter(
            "shadow_store_write_failures",
            "Divergence store writes that failed (the batch is kept and retried).",
            registry=families,
        )
        registry.register(_WithoutCreated(families, self._families))
        self._lock = threading.Lock()
        self._services: set[str] = set()
        self._servers: list[tuple[HTTPServer, PrerenderedExposition]] = []
        self._stop_refresh = threading.Event()
        self._refresher: threading.Thread | None = None

    def _families(self) -> list[MetricWrapperBase]:
        # Every metric attribute, so a family added to __init__ is described without a list.
        return [value for value in vars(self).values() if isinstance(value, MetricWrapperBase)]

    def register_service(
        self, service: str, methods: Iterable[str], writes: Iterable[str], mode: Mode
    ) -> None:
        """Create the label sets of ``service`` that start at zero, and set its mode."""
        with self._lock:
            if service in self._services:
                return
            self._services.add(service)
        for method in methods:
            for outcome in PRECREATED_OUTCOMES:
                self.comparisons.labels(service, method, outcome.value)
        for side in Side:
            self.call_duration.labels(service, side.value)
        self.compare_duration.labels(service)
        for method in writes:
            self.dropped_writes.labels(service, method)
        self.breaker_open.labels(service).set(0)
        self.service_dirty.labels(service).set(0)
        self.set_mode(service, mode)

    def set_mode(self, service: str, mode: Mode) -> None:
        """Mark ``mode`` as the one ``service`` runs in."""
        for each in Mode:
            self.service_mode.labels(service, each.value).set(1 if each is mode else 0)

    def track_queue(self, depth: Callable[[], float], lag: Callable[[], float]) -> None:
        """Read the queue gauges from the executor at scrape time (no per-call cost).

        In multiprocess mode a scrape does not run in this process, so a daemon
        thread copies the two values into the files every second instead.
        """
        if not MULTIPROCESS:
            self.queue_depth.set_function(depth)
            self.mirror_lag.set_function(lag)
            return

        def refresh() -> None:
            while True:
                self.queue_depth.set(depth())
                self.mirror_lag.set(lag())
                if self._stop_refresh.wait(_QUEUE_REFRESH_SECONDS):
                    return

        self._refresher = threading.Thread(target=refresh, name="shadow-metrics", daemon=True)
        self._refresher.start()

    def serve(self, port: int, addr: str = "127.0.0.1") -> int:
        """Serve ``/metrics`` on ``addr:port`` (loopback by default); return the port bound.

        Port 0 picks a free port. :meth:`stop_serving` shuts the server down. A scrape
        serves a rendering at most about a second old (``shadow.runtime._exposition``).
        """
        server, exposition = serve_exposition(self.registry, port, addr)
        self._servers.append((server, exposition))
        bound: int = server.server_port
        return bound

    def stop_serving(self) -> None:
        """Shut down every ``/metrics`` server started by :meth:`serve` (and the refresher)."""
        self._stop_refresh.set()
        if self._refresher is not None:
            self._refresher.join(timeout=5)
        while self._servers:
            server, exposition = self._servers.pop()
            exposition.close()
            server.shutdown()
            server.server_close()
