"""Prometheus metrics of the runtime, on an injected registry.

Nothing is registered at import time: :class:`ShadowMetrics` registers its
families on the :class:`~prometheus_client.CollectorRegistry` it is given, so
two runtimes (or two tests) never share counters. Label values are bounded:
only service, method, outcome, side and mode, never ids or messages. The
label sets of every declared method are created when a service is registered,
so dashboards show zeros instead of gaps.

The names are fixed (dashboards are built against them):

=======================================  =========  ===========================
``shadow_comparisons_total``             Counter    service, method, outcome
``shadow_call_duration_seconds``         Histogram  service, method, side
``shadow_compare_duration_seconds``      Histogram  service, method
``shadow_mirror_queue_depth``            Gauge
``shadow_mirror_lag_seconds``            Gauge      (age of the oldest queued call)
``shadow_dropped_writes_total``          Counter    service, method
``shadow_circuit_breaker_open``          Gauge      service
``shadow_service_mode``                  Gauge      service, mode
``shadow_service_dirty``                 Gauge      service
=======================================  =========  ===========================
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from shadow._vocabulary import Mode, Outcome, Side

__all__ = ["ShadowMetrics"]

_LATENCY_BUCKETS = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


class ShadowMetrics:
    """The runtime's metric families, registered on ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.comparisons = Counter(
            "shadow_comparisons",
            "Proxied calls by comparison outcome.",
            ("service", "method", "outcome"),
            registry=registry,
        )
        self.call_duration = Histogram(
            "shadow_call_duration_seconds",
            "Duration of service calls, per side.",
            ("service", "method", "side"),
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.compare_duration = Histogram(
            "shadow_compare_duration_seconds",
            "Time spent comparing the two results of a call.",
            ("service", "method"),
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.queue_depth = Gauge(
            "shadow_mirror_queue_depth", "Mirrored calls waiting or running.", registry=registry
        )
        self.mirror_lag = Gauge(
            "shadow_mirror_lag_seconds",
            "Age of the oldest mirrored call still waiting.",
            registry=registry,
        )
        self.dropped_writes = Counter(
            "shadow_dropped_writes",
            "Writes that were not mirrored (the service is dirty until reconciled).",
            ("service", "method"),
            registry=registry,
        )
        self.breaker_open = Gauge(
            "shadow_circuit_breaker_open",
            "1 while a service's circuit breaker stops mirroring.",
            ("service",),
            registry=registry,
        )
        self.service_mode = Gauge(
            "shadow_service_mode",
            "1 for the mode a service runs in, 0 for the others.",
            ("service", "mode"),
            registry=registry,
        )
        self.service_dirty = Gauge(
            "shadow_service_dirty",
            "1 while a service has a dropped write not yet reconciled.",
            ("service",),
            registry=registry,
        )
        self._lock = threading.Lock()
        self._services: set[str] = set()
        self._servers: list[WSGIServer] = []

    def register_service(
        self, service: str, methods: Iterable[str], writes: Iterable[str], mode: Mode
    ) -> None:
        """Create every label set of ``service`` (zeros), and set its mode."""
        with self._lock:
            if service in self._services:
                return
            self._services.add(service)
        for method in methods:
            for outcome in Outcome:
                self.comparisons.labels(service, method, outcome.value)
            for side in Side:
                self.call_duration.labels(service, method, side.value)
            self.compare_duration.labels(service, method)
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
        """Read the queue gauges from the executor at scrape time (no per-call cost)."""
        self.queue_depth.set_function(depth)
        self.mirror_lag.set_function(lag)

    def serve(self, port: int, addr: str = "127.0.0.1") -> int:
        """Serve ``/metrics`` on ``addr:port`` (loopback by default); return the port bound.

        Port 0 picks a free port. :meth:`stop_serving` shuts the server down.
        """
        server, _thread = start_http_server(port, addr=addr, registry=self.registry)
        self._servers.append(server)
        bound: int = server.server_port
        return bound

    def stop_serving(self) -> None:
        """Shut down every ``/metrics`` server started by :meth:`serve`."""
        while self._servers:
            server = self._servers.pop()
            server.shutdown()
            server.server_close()
