"""End to end: a real Prometheus scrapes a running shadow workload, and every panel's
expression (and every recording rule) returns data."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dashboard_files import DASHBOARDS, RULES, concrete, load, panel_expressions
from shadow_workload import running_workload

PROMETHEUS = shutil.which("prometheus")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        PROMETHEUS is None and os.environ.get("CI") != "true",
        reason="prometheus missing (Debian package prometheus; .ci/run installs it)",
    ),
]
DEADLINE_SECONDS = 90


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def api(port: int, path: str, **query: str) -> Any:
    url = f"http://127.0.0.1:{port}{path}?{urllib.parse.urlencode(query)}"
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


@pytest.fixture
def prometheus_scraping(tmp_path: Path) -> Iterator[int]:
    """A Prometheus on 127.0.0.1 scraping a running workload every second; its port."""
    assert PROMETHEUS is not None, "prometheus is required in CI"
    with running_workload(tmp_path) as workload:
        stop = threading.Event()

        def drive() -> None:
            # Bounded: at most DEADLINE_SECONDS of traffic, a few hundred calls a second.
            until = time.monotonic() + DEADLINE_SECONDS
            while not stop.is_set() and time.monotonic() < until:
                workload.run(20)
                time.sleep(0.05)

        driver = threading.Thread(target=drive, daemon=True)
        driver.start()
        (tmp_path / "shadow-rules.yml").write_text(RULES.read_text())
        config = tmp_path / "prometheus.yml"
        config.write_text(
            json.dumps(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "rule_files": ["shadow-rules.yml"],
                    "scrape_configs": [
                        {
                            "job_name": "shadow",
                            "static_configs": [{"targets": [f"127.0.0.1:{workload.port}"]}],
                        }
                    ],
                }
            )
        )
        port = free_port()
        log = (tmp_path / "prometheus.log").open("w")
        process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield port
        finally:
            stop.set()
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()
            driver.join(timeout=10)


def wait_for_data(port: int, expressions: dict[str, str], deadline: float) -> dict[str, int]:
    """Query each expression until it returns at least one series; series counts by name."""
    found: dict[str, int] = {}
    while time.monotonic() < deadline and len(found) < len(expressions):
        for name, expression in expressions.items():
            if name in found:
                continue
            try:
                answer = api(port, "/api/v1/query", query=expression)
            except OSError:
                break  # Prometheus still starting
            assert answer["status"] == "success", (name, answer)
            if answer["data"]["result"]:
                found[name] = len(answer["data"]["result"])
        time.sleep(1)
    return found


def test_every_panel_and_recording_rule_returns_data_from_a_real_prometheus(
    prometheus_scraping: int,
) -> None:
    expressions = {
        f"{path.name}: {title} ({ref})": concrete(expression, rate_interval="15s")
        for path in DASHBOARDS
        for title, ref, expression in panel_expressions(load(path))
    }
    recorded = {
        "service:shadow_divergence_ratio:rate5m": "service:shadow_divergence_ratio:rate5m",
        "service_outcome:shadow_comparisons:rate5m": "service_outcome:shadow_comparisons:rate5m",
        "service_side:shadow_call_duration_seconds:p99_5m": (
            "service_side:shadow_call_duration_seconds:p99_5m"
        ),
    }
    wanted = expressions | recorded
    found = wait_for_data(prometheus_scraping, wanted, time.monotonic() + DEADLINE_SECONDS)
    missing = sorted(set(wanted) - set(found))
    assert not missing, f"no data for: {missing}"
    targets = api(prometheus_scraping, "/api/v1/targets")["data"]["activeTargets"]
    assert [target["health"] for target in targets] == ["up"]
    # The planted divergence shows: the divergence ratio of kv is above zero.
    ratio = api(
        prometheus_scraping,
        "/api/v1/query",
        query='service:shadow_divergence_ratio:rate5m{service="kv"} > 0',
    )
    assert ratio["data"]["result"], "the planted divergence did not reach Prometheus"
