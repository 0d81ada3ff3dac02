"""`shadow demo`: the main job, run as a user runs it (a real subprocess, real stores).

Each test runs a small demo (a few hundred requests) with the default process
worker and reads what it reports: the JSON summary, the divergence store and
the JSON log in its work directory.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shadow.runtime import DivergenceStore

# The repository root: the planted factories import as tests.demo.planted_candidate.
ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() == "true"
METRIC_FAMILIES = (
    "shadow_comparisons_total",
    "shadow_call_duration_seconds",
    "shadow_compare_duration_seconds",
    "shadow_mirror_queue_depth",
    "shadow_mirror_lag_seconds",
    "shadow_dropped_writes_total",
    "shadow_circuit_breaker_open",
    "shadow_service_mode",
    "shadow_service_dirty",
)


def shadow(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imagegen", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


def run_demo(
    workdir: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    done = shadow("demo", "--workdir", str(workdir), "--json", *args, env=env)
    assert done.stdout, f"no summary printed; stderr: {done.stderr[-2000:]}"
    return done.returncode, json.loads(done.stdout)


def assert_clean_run(returncode: int, summary: dict[str, Any]) -> None:
    assert summary["divergences"] == 0, summary
    assert summary["uncovered"] == [], "every declared method must be called"
    assert returncode == 0
    for service in summary["services"]:
        assert service["outcomes"].get("match", 0) > 0, service
        assert service["outcomes"].get("divergence", 0) == 0, service
        assert service["outcomes"].get("candidate_error", 0) == 0, service


@pytest.mark.slow
def test_default_demo_calls_every_method_and_reports_zero_divergences(tmp_path: Path) -> None:
    returncode, summary = run_demo(tmp_path, "--ops", "200")
    assert_clean_run(returncode, summary)
    assert {s["service"] for s in summary["services"]} == {
        "app_settings",
        "client_state",
        "style_presets",
        "workflows",
        "users",
        "boards",
        "board_images",
        "images",
        "models",
        "model_relationships",
        "session_queue",
    }
    # The store stays for later commands (gate, report).
    assert (tmp_path / "divergences.sqlite3").is_file()
    assert (tmp_path / "shadow.toml").is_file()


@pytest.mark.slow
def test_reverse_mode_demo_reports_zero_divergences(tmp_path: Path) -> None:
    returncode, summary = run_demo(tmp_path, "--ops", "150", "--mode", "reverse")
    assert_clean_run(returncode, summary)


@pytest.mark.slow
def test_aa_noise_check_with_legacy_on_both_sides_reports_zero_divergences(tmp_path: Path) -> None:
    returncode, summary = run_demo(tmp_path, "--ops", "150", "--aa")
    assert_clean_run(returncode, summary)


@pytest.mark.postgres
def test_demo_with_a_postgresql_candidate_reports_zero_divergences(
    tmp_path: Path, empty_database: Callable[[str], str]
) -> None:
    returncode, summary = run_demo(
        # Traffic only: exploration's target rebuilds the --candidate-url database
        # from its own template, so the demo's check of the stores at rest would
        # then find them different (the NUL-id divergence exploration found here
        # is fixed; tests/services/test_users.py).
        tmp_path,
        "--ops",
        "120",
        "--explore-seconds",
        "0",
        "--candidate-url",
        empty_database("postgresql"),
    )
    assert_clean_run(returncode, summary)


@pytest.mark.mariadb
def test_demo_with_a_mariadb_candidate_reports_zero_divergences(
    tmp_path: Path, empty_database: Callable[[str], str]
) -> None:
    returncode, summary = run_demo(
        # Traffic only: exploration's target rebuilds the --candidate-url database
        # from its own template, so the demo's check of the stores at rest would
        # then find them different (the NUL-id divergence exploration found here
        # is fixed; tests/services/test_users.py).
        tmp_path,
        "--ops",
        "120",
        "--explore-seconds",
        "0",
        "--candidate-url",
        empty_database("mariadb"),
    )
    assert_clean_run(returncode, summary)


@pytest.mark.slow
def test_a_planted_difference_is_reported_under_its_service_method_and_path(tmp_path: Path) -> None:
    returncode, summary = run_demo(
        tmp_path,
        "--ops",
        "100",
        "--candidate-factory",
        "tests.demo.planted_candidate:build",
        env={"PYTHONPATH": str(ROOT)},
    )
    assert returncode == 1, "a divergence must fail the run"
    by_service = {s["service"]: s for s in summary["services"]}
    assert by_service["style_presets"]["outcomes"].get("divergence", 0) >= 1
    assert all(
        s["outcomes"].get("divergence", 0) == 0
        for name, s in by_service.items()
        if name != "style_presets"
    )
    store = DivergenceStore(summary["store_url"])
    try:
        groups = store.groups()
    finally:
        store.close()
    assert [(g.service, g.method) for g in groups] == [("style_presets", "get")]
    assert any("['name']" in path for path in groups[0].paths), groups[0].paths
    logged = [json.loads(line) for line in (tmp_path / "shadow.log").read_text().splitlines()]
    divergence_lines = [line for line in logged if line.get("event") == "shadow_divergence"]
    assert divergence_lines and all(line["service"] == "style_presets" for line in divergence_lines)
    assert divergence_lines[0]["fingerprint"] == groups[0].fingerprint


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_metrics_scraped_during_a_demo_have_every_family_and_pass_promtool(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        if IN_CI:
            pytest.fail("promtool is missing: .ci/run installs Debian's prometheus package")
        pytest.skip("promtool not installed (Debian package prometheus)")
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "imagegen",
        "demo",
        "--workdir",
        str(tmp_path),
        "--ops",
        "600",
        "--rate",
        "60",
        "--metrics-port",
        str(port),
        "--json",
    ]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as demo:
        exposition = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "shadow_comparisons_total{" not in exposition:
            time.sleep(0.5)
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/metrics", timeout=5
                ) as answer:
                    exposition = answer.read().decode()
            except OSError:
                continue
        running_while_scraped = demo.poll() is None
        _, stderr = demo.communicate(timeout=300)
    assert running_while_scraped, "the scrape must happen while the demo runs"
    for family in METRIC_FAMILIES:
        assert f"# TYPE {family.removesuffix('_total')}" in exposition, family
    checked = subprocess.run(
        [promtool, "check", "metrics"],
        input=exposition,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert demo.returncode == 0, stderr[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mode", "bogus"], "--mode"),
        (["--ops", "-1"], "--ops"),
        (["--candidate-url", "not a url"], "URL"),
        (["--candidate-url", "postgresql+psycopg://nobody@127.0.0.1:1/x"], "cannot connect"),
        (["--candidate-factory", "nosuch_module:build"], "nosuch_module"),
        (["--aa", "--candidate-url", "sqlite:///x.db"], "--aa"),
    ],
)
def test_bad_input_is_one_clear_message_and_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    done = shadow("demo", "--workdir", str(tmp_path), "--ops", "5", *args, timeout=120)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
