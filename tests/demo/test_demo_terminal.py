"""`shadow demo` on a terminal: a summary that fits 80 columns, dirty services said, the
metrics URL printed at start, ``--quiet`` printing only the result, ``--log-level``.

The summary is rendered in this process from a made-up result (fast); the rest runs
the demo as a user does (a subprocess, real stores).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from imagegen.cli.demo import _print_summary
from imagegen.demo.run import DemoResult, ServiceSummary, _why_dirty
from imagegen.demo.wiring import SERVICES
from shadow.runtime import DropCount

# The repository root: the planted factories import as tests.demo.planted_candidate.
ROOT = Path(__file__).resolve().parents[2]


def result(**changes: object) -> DemoResult:
    """A run with the widest figures a row can have: every service, 6-digit counts."""
    services = [
        ServiceSummary(
            service=wiring.name,
            phase=2,
            outcomes={
                "match": 999_999,
                "divergence": 99_999,
                "raced": 99_999,
                "candidate_error": 99_999,
                "skipped": 99_999,
                "dropped": 99_999,
            },
            divergence_groups=999,
            latency={"legacy": (1.23456, 12.3456), "candidate": (2.34567, 23.4567)},
        )
        for wiring in SERVICES
    ]
    fields: dict[str, object] = {
        "services": services,
        "uncovered": [],
        "requests": 3000,
        "elapsed_seconds": 41.5,
        "request_latencies": [],
        "api_seconds": 30.0,
        "errors": {},
        "workdir": Path("/tmp/shadow-work"),
        "store_url": "sqlite:////tmp/shadow-work/divergences.sqlite3",
        "metrics_port": None,
    }
    fields.update(changes)
    return DemoResult(**fields)  # type: ignore[arg-type]


def test_the_summary_table_fits_80_columns_and_cuts_no_cell(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """At COLUMNS=80 every line fits and every value is shown whole (no ``…``)."""
    monkeypatch.setenv("COLUMNS", "80")
    _print_summary(result(), wide=False)
    out = capsys.readouterr().out
    table = out.split("divergences:")[0]
    assert max(len(line) for line in table.splitlines()) <= 80, table
    assert "…" not in table
    for wiring in SERVICES:
        assert f"{wiring.name} " in table
    # p99 in ms, legacy / candidate: a figure too wide for the column wraps, whole.
    assert "999999" in table and "12345.60 / 23456.70" in " ".join(table.split())


def test_wide_shows_every_outcome_and_both_quantiles(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--wide``: raced, skipped, groups and p50 as well, whatever the terminal's width."""
    monkeypatch.setenv("COLUMNS", "80")
    _print_summary(result(), wide=True)
    out = capsys.readouterr().out
    for header in ("raced", "skipped", "groups", "legacy p50/p99 ms"):
        assert header in out
    assert "1234.56/12345.60" in out and "…" not in out


def test_a_dirty_service_is_named_with_its_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    reason = "2 write(s) not mirrored: queue_full x2"
    _print_summary(result(dirty=["users"], dirty_reasons={"users": reason}), wide=False)
    words = " ".join(capsys.readouterr().out.split())  # long lines wrap at 80 columns
    assert f"users ({reason})" in words
    assert "not ok: dirty" in words


def test_why_dirty_names_the_dropped_writes_or_a_one_sided_write() -> None:
    drops = [
        DropCount("users", "create", "write", "queue_full", 2),
        DropCount("users", "update", "write", "deadline", 1),
        DropCount("users", "get", "read", "queue_full", 9),  # a read does not make it dirty
        DropCount("boards", "create", "write", "queue_full", 5),
    ]
    assert _why_dirty("users", drops) == "3 write(s) not mirrored: deadline x1, queue_full x2"
    assert "one side" in _why_dirty("images", drops)


def shadow(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imagegen", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "80", **(env or {})},
        check=False,
    )


SMALL = ("--ops", "60", "--explore-seconds", "0")


@pytest.mark.slow
def test_the_metrics_url_is_printed_at_start_with_the_port_chosen(tmp_path: Path) -> None:
    """``--metrics-port 0``: the port the runtime chose is printed (stderr), the same the
    summary reports; at COLUMNS=80 the table on stdout fits them."""
    done = shadow("demo", "--workdir", str(tmp_path), *SMALL, "--metrics-port", "0", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    port = json.loads(done.stdout)["metrics_port"]
    assert isinstance(port, int) and port > 0
    assert f"metrics: http://127.0.0.1:{port}/metrics" in done.stderr.splitlines()
    table = shadow("demo", "--workdir", str(tmp_path), *SMALL)
    assert table.returncode == 0, table.stderr[-2000:]
    rows = table.stdout.split("divergences:")[0]  # the paths after it are never wrapped
    assert "users" in rows and "…" not in rows
    assert max(len(line) for line in rows.splitlines()) <= 80, table.stdout


@pytest.mark.slow
def test_quiet_prints_only_the_result_line(tmp_path: Path) -> None:
    done = shadow("-q", "demo", "--workdir", str(tmp_path), *SMALL, "--metrics-port", "0")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr == ""
    assert done.stdout == "ok: 60 requests, 0 divergences\n"


@pytest.mark.slow
def test_log_level_filters_the_demo_log_file(tmp_path: Path) -> None:
    """A planted divergence logs a warning line; ``--log-level error`` keeps it out."""
    planted = ("--candidate-factory", "tests.demo.planted_candidate:build")
    done = shadow("--log-level", "error", "demo", "--workdir", str(tmp_path), *SMALL, *planted)
    assert done.returncode == 1, done.stderr[-2000:]
    assert "not ok:" in done.stdout and "divergences" in done.stdout
    logged = [json.loads(line) for line in (tmp_path / "shadow.log").read_text().splitlines()]
    assert all(line["level"] in ("error", "critical") for line in logged), logged[:3]
    again = shadow("--log-level", "warning", "demo", "--workdir", str(tmp_path), *SMALL, *planted)
    assert again.returncode == 1
    logged = [json.loads(line) for line in (tmp_path / "shadow.log").read_text().splitlines()]
    assert any(line["event"] == "shadow_divergence" for line in logged)
