"""What a Prometheus scrape of the runtime costs: exposition size and serve time under the demo.

The demo runs in a child process (its own interpreter, as an application
scraped by Prometheus would), paced so that it keeps all 11 reference services
busy for the whole measurement, serving ``/metrics`` on a loopback port. This
process scrapes it every ``--interval`` seconds the way Prometheus does (one
HTTP GET, the whole body read) and records, per scrape, the wall time from
request to the last byte, the body's size and its sample count.

Targets (issue 13): the exposition under 150 KB, served in under 50 ms (judged
on the 95th percentile of the scrapes; the maximum is printed too), and no
``_created`` series. The gate-readiness collector the demo registers is part
of what is served, so its cost is measured too.

``--baseline DIR`` measures a checkout of another revision too (``git worktree
add --detach DIR REV``; its demo runs with ``PYTHONPATH=DIR``), the two arms
interleaved run by run so that the machine's load hits both alike.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from bench.harness import Environment, percentile

__all__ = ["MAX_BYTES", "MAX_SERVE_SECONDS", "Scrape", "main", "measure", "table"]

MAX_BYTES = 150 * 1024
MAX_SERVE_SECONDS = 0.050

# The child: the demo with its log lines in a file (terminal I/O is not what is measured).
_DEMO = """
import sys, structlog
from pathlib import Path
from imagegen.demo import DemoOptions, run_demo
log = open(sys.argv[1], "w", encoding="utf-8")
structlog.configure(logger_factory=structlog.WriteLoggerFactory(file=log))
run_demo(DemoOptions(ops=int(sys.argv[2]), rate=float(sys.argv[3]), workdir=Path(sys.argv[4]),
                     metrics_port=int(sys.argv[5])))
"""


@dataclass(frozen=True)
class Scrape:
    """One scrape: how long it took, how big it was, what it held."""

    seconds: float
    size: int
    samples: int
    created: int


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _scrape(url: str) -> Scrape:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=10) as response:
        body = response.read()
    seconds = time.perf_counter() - started
    samples = [
        sample
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    ]
    created = sum(1 for sample in samples if sample.name.endswith("_created"))
    return Scrape(seconds, len(body), len(samples), created)


def measure(
    ops: int, rate: float, interval: float, root: Path, source: Path | None = None
) -> list[Scrape]:
    """Scrape a demo of ``ops`` requests at ``rate`` in a child process (from ``source``)."""
    port = _free_port()
    env = {**os.environ, "NO_COLOR": "1"}
    if source is not None:
        env["PYTHONPATH"] = str(source)
    url = f"http://127.0.0.1:{port}/metrics"
    errors = (root / "demo.err").open("w", encoding="utf-8")
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _DEMO,
            str(root / "demo.log"),
            str(ops),
            str(rate),
            str(root / "demo"),
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=errors,  # a mirror process stopped with the demo complains there
        env=env,
        cwd=root,  # `python -c` puts the working directory first on sys.path
    )
    scrapes: list[Scrape] = []
    try:
        # Generous: a loaded machine runs the paced demo far slower than ops / rate.
        deadline = time.monotonic() + 120 + 4 * ops / rate
        while child.poll() is None and time.monotonic() < deadline:
            try:
                scrape = _scrape(url)
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)  # the demo is still preparing its stores
                continue
            # The first scrapes come before every service has taken traffic: skip two.
            scrapes.append(scrape)
            time.sleep(interval)
    finally:
        child.terminate()
        child.wait(timeout=60)
        errors.close()
    return scrapes[2:]


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench metrics", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--repeat", type=int, default=None, help="demo runs (default 1)")
    parser.add_argument("--ops", type=int, default=None, help="requests per demo run")
    parser.add_argument("--rate", type=float, default=100.0, help="demo requests per second")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between scrapes")
    parser.add_argument(
        "--baseline", type=Path, default=None, help="a checkout of another revision to compare"
    )
    args = parser.parse_args(list(argv))
    if args.baseline is not None and not (args.baseline / "shadow").is_dir():
        print(f"bench metrics: error: {args.baseline} is not a checkout", file=sys.stderr)
        return 2
    ops = args.ops or (600 if args.quick else 3000)
    arms: dict[str, list[Scrape]] = {"this checkout": []}
    if args.baseline is not None:
        arms["baseline"] = []
    with tempfile.TemporaryDirectory(prefix="shadow-bench-metrics-") as scratch:
        for number in range(args.repeat or 1):
            for name, scrapes in arms.items():
                run = Path(scratch) / f"run-{number}-{name.replace(' ', '-')}"
                run.mkdir()
                source = args.baseline if name == "baseline" else None
                scrapes.extend(measure(ops, args.rate, args.interval, run, source))
    if not all(arms.values()):
        print("bench metrics: error: the demo's /metrics never answered", file=sys.stderr)
        return 1
    print(Environment.current().describe())
    print(
        f"load average {os.getloadavg()[0]:.1f}; a scrape every {args.interval:g} s of a demo "
        f"paced at {args.rate:g} requests/s ({ops} requests per run, "
        f"{args.repeat or 1} run(s) per arm)\n"
    )
    status = 0
    for name, scrapes in arms.items():
        print(f"### {name} ({len(scrapes)} scrapes)\n")
        status |= table(scrapes, judged=name == "this checkout")
        print()
    return status


def table(scrapes: list[Scrape], *, judged: bool) -> int:
    """Print the scrapes' figures as a Markdown table; return 1 when a judged target is missed."""
    times = [scrape.seconds for scrape in scrapes]
    p95 = percentile(times, 0.95)
    size = max(scrape.size for scrape in scrapes)
    samples = max(scrape.samples for scrape in scrapes)
    created = max(scrape.created for scrape in scrapes)
    print("| measure | value | target | met |")
    print("|---|---:|---:|:---:|")
    rows = [
        ("exposition size (KB, largest)", size / 1024, MAX_BYTES / 1024, size <= MAX_BYTES),
        ("samples (largest)", samples, None, True),
        ("`_created` samples", created, 0, created == 0),
        ("serve time p50 (ms)", statistics.median(times) * 1000, None, True),
        ("serve time p95 (ms)", p95 * 1000, MAX_SERVE_SECONDS * 1000, p95 <= MAX_SERVE_SECONDS),
        ("serve time max (ms)", max(times) * 1000, None, True),
    ]
    status = 0
    for name, value, target, met in rows:
        status |= 0 if met or not judged else 1
        shown_target = "" if target is None or not judged else f"<= {target:g}"
        verdict = "" if target is None or not judged else ("yes" if met else "no")
        print(f"| {name} | {value:,.1f} | {shown_target} | {verdict} |")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
