"""``/metrics`` served from a rendering made in the background, so a scrape only copies bytes.

Rendering the exposition of the 11 reference services takes about 17 ms of
CPU in prometheus_client (``generate_latest``), but the scrape's thread gets
the GIL in turns with the application's threads, so under the demo a render
at scrape time took 100 to 300 ms of wall time (docs/benchmarks.md, "/metrics:
size and serve time while the demo runs"). Here a daemon thread, started by
the first scrape, re-renders every format a scraper has asked for every
``refresh_seconds``; the request handler only writes the last bytes.

Staleness bound: the values served were collected at most ``refresh_seconds``
plus one render (tens of milliseconds) before the scrape; 1 s by default,
against a 15 s scrape interval in ``dashboards/prometheus/prometheus.yml``.
The first scrape of a format renders it on the spot, so nothing is served
that was never current. A render that fails drops the format's bytes: the
next scrape renders on the spot again and answers 500 with the error, as
prometheus_client's own server does.

The server is the standard library's single-threaded ``HTTPServer`` rather
than prometheus_client's thread-per-request WSGI server: starting a thread
and going through wsgiref costs several more GIL hand-offs per scrape, each
of which waits for a busy thread's switch interval (measured in
docs/benchmarks.md). Scrapes are answered one at a time, each within a
socket timeout, which is what a scrape target is asked for.
"""

from __future__ import annotations

import gzip
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import cast
from urllib.parse import parse_qs, urlsplit

from prometheus_client.exposition import choose_encoder, gzip_accepted
from prometheus_client.registry import Collector, CollectorRegistry

from shadow.runtime._logging import runtime_logger

__all__ = ["PrerenderedExposition", "serve_exposition"]

REFRESH_SECONDS = 1.0
"""How often a scraped format is re-rendered (the bound on what a scrape serves late)."""

_CLIENT_TIMEOUT_SECONDS = 5.0

_Format = tuple[str, bool]
"""What a scraper asked for: the encoder's content type and whether the body is gzipped."""


class PrerenderedExposition:
    """The exposition of ``registry`` in each format asked for, re-rendered in the background."""

    def __init__(self, registry: CollectorRegistry, refresh_seconds: float = REFRESH_SECONDS):
        self._registry = registry
        self._refresh_seconds = refresh_seconds
        # Entries are replaced whole by the refresher and read by scrapes without a lock.
        self._bodies: dict[_Format, bytes] = {}
        self._encoders: dict[_Format, Callable[[Collector], bytes]] = {}
        self._lock = threading.Lock()  # guards _encoders and starting the refresher
        self._stop = threading.Event()
        self._refresher: threading.Thread | None = None

    def body(self, accept: str, accept_encoding: str) -> tuple[bytes, str, bool]:
        """The last rendering for these request headers: (body, content type, gzipped)."""
        encoder, content_type = choose_encoder(accept)
        wanted: _Format = (content_type, gzip_accepted(accept_encoding))
        body = self._bodies.get(wanted)
        if body is None:
            body = _render(encoder, self._registry, gzipped=wanted[1])
            self._bodies[wanted] = body
            with self._lock:
                self._encoders[wanted] = encoder
            self._start()
        return body, content_type, wanted[1]

    def refresh(self) -> None:
        """Re-render every format asked for so far (the background thread's work)."""
        with self._lock:
            formats = list(self._encoders.items())
        for wanted, encoder in formats:
            try:
                self._bodies[wanted] = _render(encoder, self._registry, gzipped=wanted[1])
            except Exception as error:  # a collector's failure: the next scrape shows it
                self._bodies.pop(wanted, None)
                runtime_logger.warning("metrics_render_failed", error=repr(error))

    def close(self) -> None:
        """Stop the background refresher (idempotent)."""
        self._stop.set()
        with self._lock:
            refresher = self._refresher
        if refresher is not None:
            refresher.join(timeout=30)

    def _start(self) -> None:
        with self._lock:
            if self._stop.is_set() or self._refresher is not None:
                return
            self._refresher = threading.Thread(
                target=self._refresh_forever, name="shadow-metrics-render", daemon=True
            )
            self._refresher.start()

    def _refresh_forever(self) -> None:
        while not self._stop.wait(self._refresh_seconds):
            self.refresh()


def _render(encoder: Callable[[Collector], bytes], registry: Collector, *, gzipped: bool) -> bytes:
    output = encoder(registry)
    return gzip.compress(output) if gzipped else output


class _MetricsHandler(BaseHTTPRequestHandler):
    """GET answers with the last rendering; ``name[]`` filters are rendered on the spot."""

    exposition: PrerenderedExposition
    registry: CollectorRegistry
    timeout = _CLIENT_TIMEOUT_SECONDS

    def do_GET(self) -> None:
        accept = self.headers.get("Accept", "")
        accept_encoding = self.headers.get("Accept-Encoding", "")
        names = parse_qs(urlsplit(self.path).query).get("name[]")
        try:
            if names:
                encoder, content_type = choose_encoder(accept)
                gzipped = gzip_accepted(accept_encoding)
                # A RestrictedRegistry has collect() but is not declared a Collector.
                restricted = cast(Collector, self.registry.restricted_registry(names))
                body = _render(encoder, restricted, gzipped=gzipped)
            else:
                body, content_type, gzipped = self.exposition.body(accept, accept_encoding)
        except Exception as error:
            self.send_error(500, "error rendering the metrics", repr(error))
            return
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        if gzipped:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Log nothing per request (a scrape every few seconds is not news)."""


class _HTTPServer6(HTTPServer):
    address_family = socket.AF_INET6


def serve_exposition(
    registry: CollectorRegistry, port: int, addr: str, refresh_seconds: float = REFRESH_SECONDS
) -> tuple[HTTPServer, PrerenderedExposition]:
    """Serve ``registry`` on ``addr:port`` from a daemon thread; the caller shuts both down."""
    exposition = PrerenderedExposition(registry, refresh_seconds)
    handler = type(
        "MetricsHandler", (_MetricsHandler,), {"exposition": exposition, "registry": registry}
    )
    server = (_HTTPServer6 if ":" in addr else HTTPServer)((addr, port), handler)
    threading.Thread(target=server.serve_forever, name="shadow-metrics-http", daemon=True).start()
    return server, exposition
