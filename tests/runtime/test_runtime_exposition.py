"""``/metrics`` from a background rendering: what a scrape gets, how late, in which format."""

from __future__ import annotations

import gzip
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from shadow.runtime._exposition import PrerenderedExposition, serve_exposition

OPENMETRICS = "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3"


class _Failing(Collector):
    """A collector that raises once ``failing`` is set (a broken application collector)."""

    def __init__(self) -> None:
        self.failing = False

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if self.failing:
            raise RuntimeError("collector broke")
        yield GaugeMetricFamily("app_up", "Up.", value=1)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def _get(port: int, path: str = "/metrics", **headers: str) -> tuple[bytes, dict[str, str]]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read(), dict(response.headers)


def test_a_scrape_serves_the_last_rendering_until_the_next_refresh(
    registry: CollectorRegistry,
) -> None:
    """The counter's step shows only once re-rendered: the scrape never renders by itself."""
    requests = Counter("app_requests", "Requests.", registry=registry)
    exposition = PrerenderedExposition(registry, refresh_seconds=3600)
    try:
        first, _, _ = exposition.body("", "")
        assert b"app_requests_total 0.0" in first
        requests.inc()
        assert exposition.body("", "")[0] == first  # served late, by at most one refresh
        exposition.refresh()
        assert b"app_requests_total 1.0" in exposition.body("", "")[0]
    finally:
        exposition.close()


def test_the_background_thread_refreshes_every_interval(registry: CollectorRegistry) -> None:
    requests = Counter("app_requests", "Requests.", registry=registry)
    exposition = PrerenderedExposition(registry, refresh_seconds=0.05)
    try:
        exposition.body("", "")  # the first scrape starts the refresher
        requests.inc()
        deadline = time.monotonic() + 30  # generous: a loaded machine delays the thread
        while b"app_requests_total 1.0" not in exposition.body("", "")[0]:
            assert time.monotonic() < deadline, "the rendering was never refreshed"
            time.sleep(0.02)
    finally:
        exposition.close()


def test_each_format_asked_for_is_served_as_prometheus_client_would(
    registry: CollectorRegistry,
) -> None:
    """Prometheus asks for OpenMetrics and gzip; a plain client gets text 0.0.4."""
    Counter("app_requests", "Requests.", registry=registry).inc()
    server, exposition = serve_exposition(registry, 0, "127.0.0.1")
    try:
        port = server.server_port
        plain, headers = _get(port)
        assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert b"app_requests_total 1.0" in plain and b"# EOF" not in plain
        packed, headers = _get(port, Accept=OPENMETRICS, **{"Accept-Encoding": "gzip"})
        assert headers["Content-Encoding"] == "gzip"
        assert headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
        opened = gzip.decompress(packed)
        assert opened.endswith(b"# EOF\n") and b"app_requests_total 1.0" in opened
    finally:
        exposition.close()
        server.shutdown()
        server.server_close()


def test_a_name_filter_serves_only_the_families_named(registry: CollectorRegistry) -> None:
    Counter("app_requests", "Requests.", registry=registry)
    Counter("app_errors", "Errors.", registry=registry)
    server, exposition = serve_exposition(registry, 0, "127.0.0.1")
    try:
        body, _ = _get(server.server_port, "/metrics?name[]=app_errors_total")
        assert b"app_errors_total" in body and b"app_requests" not in body
    finally:
        exposition.close()
        server.shutdown()
        server.server_close()


def test_a_collector_that_breaks_is_answered_500_not_served_stale(
    registry: CollectorRegistry,
) -> None:
    """A failed refresh drops the rendering: the next scrape renders and shows the error."""
    broken = _Failing()
    registry.register(broken)
    server, exposition = serve_exposition(registry, 0, "127.0.0.1", refresh_seconds=3600)
    try:
        assert b"app_up 1.0" in _get(server.server_port)[0]
        broken.failing = True
        exposition.refresh()
        with pytest.raises(urllib.error.HTTPError) as failed:
            _get(server.server_port)
        failed.value.close()
        assert failed.value.code == 500
        broken.failing = False
        assert b"app_up 1.0" in _get(server.server_port)[0]
    finally:
        exposition.close()
        server.shutdown()
        server.server_close()
