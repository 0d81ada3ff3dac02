"""End to end: a real Prometheus scrapes running shadow workloads, and every panel's and
annotation's expression, every recording rule and every alert's expression (without its
threshold) returns data."""

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
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, start_http_server

from imagegen.cutover import REFERENCE_PLAN, reference_declared_methods
from imagegen.demo import DemoOptions, run_demo
from shadow.cutover import CutoverSettings, GateReadiness, rollback
from shadow.cutover.modes import append_audit
from tests.dashboards.dashboard_files import (
    DASHBOARDS,
    RULES,
    alert_expressions,
    concrete,
    load,
    panel_expressions,
    without_threshold,
)
from tests.dashboards.shadow_workload import Workload, running_workload

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


@contextmanager
def prometheus(tmp_path: Path, targets: list[str]) -> Iterator[int]:
    """A Prometheus on 127.0.0.1 scraping ``targets`` every second, with the rules; its port."""
    assert PROMETHEUS is not None, "prometheus is required in CI"
    (tmp_path / "shadow-rules.yml").write_text(RULES.read_text())
    config = tmp_path / "prometheus.yml"
    config.write_text(
        json.dumps(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": ["shadow-rules.yml"],
                "scrape_configs": [
                    {"job_name": "shadow", "static_configs": [{"targets": targets}]}
                ],
            }
        )
    )
    port = free_port()
    with (tmp_path / "prometheus.log").open("w") as log:
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
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def prometheus_scraping(tmp_path: Path) -> Iterator[tuple[int, list[Workload]]]:
    """A Prometheus scraping two running workloads (two instances) every second.

    Each runtime serves its own /metrics: the "one scrape target per process"
    way of running several application processes (docs/runtime.md).
    """
    assert PROMETHEUS is not None, "prometheus is required in CI"
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    with running_workload(tmp_path / "one") as one, running_workload(tmp_path / "two") as two:
        stop = threading.Event()

        def drive() -> None:
            # Bounded: at most DEADLINE_SECONDS of traffic, a few hundred calls a second.
            until = time.monotonic() + DEADLINE_SECONDS
            while not stop.is_set() and time.monotonic() < until:
                one.run(10)
                two.run(10)
                time.sleep(0.05)

        driver = threading.Thread(target=drive, daemon=True)
        driver.start()
        try:
            targets = [f"127.0.0.1:{one.port}", f"127.0.0.1:{two.port}"]
            with prometheus(tmp_path, targets) as port:
                yield port, [one, two]
        finally:
            stop.set()
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


def panel_queries() -> dict[str, str]:
    return {
        f"{path.name}: {title} ({ref})": concrete(expression, rate_interval="15s")
        for path in DASHBOARDS
        for title, ref, expression in panel_expressions(load(path))
    }


ALERTS = {
    f"alert {name} (without its threshold)": without_threshold(expression)
    for name, expression in alert_expressions().items()
}

RECORDED = {
    "service:shadow_divergence_ratio:rate5m": "service:shadow_divergence_ratio:rate5m",
    "service_outcome:shadow_comparisons:rate5m": "service_outcome:shadow_comparisons:rate5m",
    "service_side:shadow_call_duration_seconds:p99_5m": (
        "service_side:shadow_call_duration_seconds:p99_5m"
    ),
}


def wait_for_the_audit_counter(port: int) -> None:
    """Until Prometheus has scraped the audit counters at 0 (so a change is a step it sees)."""
    query = {"audit": 'shadow_cutover_actions_total{action="promote"}'}
    assert wait_for_data(port, query, time.monotonic() + DEADLINE_SECONDS), "no audit counter"


def test_every_panel_rule_and_alert_returns_data_from_a_real_prometheus(
    prometheus_scraping: tuple[int, list[Workload]],
) -> None:
    port, workloads = prometheus_scraping
    wait_for_the_audit_counter(port)
    first = workloads[0].cutover
    append_audit(first.audit_log, at=first.clock.now(), actor="test", action="promote", reason="t")
    wanted = panel_queries() | RECORDED | ALERTS
    found = wait_for_data(port, wanted, time.monotonic() + DEADLINE_SECONDS)
    missing = sorted(set(wanted) - set(found))
    assert not missing, f"no data for: {missing}"
    targets = api(port, "/api/v1/targets")["data"]["activeTargets"]
    assert [target["health"] for target in targets] == ["up", "up"]
    # The planted divergence shows: the divergence ratio of kv is above zero.
    ratio = api(
        port, "/api/v1/query", query='service:shadow_divergence_ratio:rate5m{service="kv"} > 0'
    )
    assert ratio["data"]["result"], "the planted divergence did not reach Prometheus"
    # Two processes, two instances: the per-instance mode panel tells them apart.
    [per_instance] = [name for name in found if "Mode per instance" in name]
    assert found[per_instance] == 2
    # A lean exposition: the scrape itself is far below the slow-scrape alert.
    slow = api(port, "/api/v1/query", query='scrape_duration_seconds{job="shadow"} > 1')
    assert not slow["data"]["result"], slow


def test_every_panel_returns_data_while_prometheus_scrapes_a_running_demo(tmp_path: Path) -> None:
    """The issue's setup: ``shadow demo`` serving /metrics, paced so it runs while we look.

    The gate-readiness gauge comes from a second exporter reading the demo's store
    (GateReadiness can run in any process that can read the store).
    """
    demo_port, readiness_port = free_port(), free_port()
    workdir = tmp_path / "demo"
    options = DemoOptions(ops=900, rate=30.0, workdir=workdir, metrics_port=demo_port)
    failures: list[BaseException] = []

    def run() -> None:
        try:
            run_demo(options)
        except BaseException as error:  # reported by the test below
            failures.append(error)

    demo = threading.Thread(target=run, daemon=True)
    demo.start()
    deadline = time.monotonic() + 30
    while not (workdir / "shadow.toml").is_file() and time.monotonic() < deadline:
        time.sleep(0.2)
    settings = CutoverSettings.from_files(
        workdir / "shadow.toml",
        declared_methods=reference_declared_methods(),
        default_plan=REFERENCE_PLAN,
    )
    registry = CollectorRegistry()
    registry.register(GateReadiness(settings, min_interval=2.0))
    server, _thread = start_http_server(readiness_port, addr="127.0.0.1", registry=registry)
    try:
        targets = [f"127.0.0.1:{demo_port}", f"127.0.0.1:{readiness_port}"]
        with prometheus(tmp_path, targets) as port:
            wait_for_the_audit_counter(port)
            # A real rollback while the demo runs: the audit log's entry becomes the
            # promotions annotation, and the demo's processes pick the mode change up.
            last_phase = max(settings.phase_plan().numbers)
            rollback(settings, actor="test", reason="exercise the annotation", phase=last_phase)
            wanted = panel_queries() | RECORDED | ALERTS
            found = wait_for_data(port, wanted, time.monotonic() + DEADLINE_SECONDS)
            assert demo.is_alive() or not failures, failures
            missing = sorted(set(wanted) - set(found))
            assert not missing, f"no data for: {missing}"
            [mode_panel] = [name for name in found if "Mode per service" in name]
            assert found[mode_panel] == 11  # every reference service reported its mode
    finally:
        server.shutdown()
        server.server_close()
        demo.join(timeout=300)
    assert not failures, failures
