"""`shadow demo` as an operator meets it: bad options, Ctrl-C, and runs that are not ok.

Real subprocesses, real stores. Regression tests for issue 15: a re-run with a
bad option deleted the previous run's stores before refusing; bad options
printed tracebacks; Ctrl-C printed a traceback from the worker, kept the
traffic going and stored killed calls as candidate errors; a run with
candidate errors, drops, dirty services or a factory that built nothing
exited 0.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from shadow.runtime import DivergenceStore
from shadow.runtime._store import StoreBatch

# The repository root: the planted factories import as tests.demo.planted_candidate.
ROOT = Path(__file__).resolve().parents[2]


def shadow(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imagegen", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        check=False,
    )


def previous_run(workdir: Path) -> dict[str, bytes]:
    """A work directory as a previous run left it: a divergence store with evidence."""
    workdir.mkdir(exist_ok=True)
    store = DivergenceStore(f"sqlite:///{workdir / 'divergences.sqlite3'}")
    batch = StoreBatch()
    batch.add_outcome(
        "users", "get", "match", evidence=True, at=__import__("datetime").datetime.now()
    )
    store.record(batch)
    store.close()
    (workdir / "legacy.sqlite3").write_bytes(b"previous legacy store")
    return {path.name: path.read_bytes() for path in workdir.iterdir()}


def assert_one_line_error(done: subprocess.CompletedProcess[str], message: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--metrics-port", "99999"], {}, "--metrics-port 99999"),
        (["--metrics-port", "-1"], {}, "--metrics-port -1"),
        (["--candidate-url", "postgresql+psycopg://u@127.0.0.1:abc/db"], {}, "malformed"),
        (["--candidate-factory", "nosuch_module:build"], {}, "nosuch_module"),
        (["--candidate-factory", "tests.demo.planted_candidate:WRONG_SECRET"], {}, "not callable"),
        ([], {"SHADOW_SERVICES": "notjson"}, "invalid shadow settings"),
    ],
)
def test_a_bad_option_on_a_rerun_is_one_line_and_keeps_the_previous_runs_files(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    workdir = tmp_path / "work"
    before = previous_run(workdir)
    done = shadow("demo", "--workdir", str(workdir), "--ops", "5", *args, env=env, timeout=120)
    assert_one_line_error(done, message)
    after = {path.name: path.read_bytes() for path in workdir.iterdir()}
    assert after == before, "a refused run must write and delete nothing"


def test_a_workdir_under_proc_or_on_a_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    assert_one_line_error(
        shadow("demo", "--workdir", "/proc/shadow-demo", "--ops", "5"), "system tree"
    )
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    assert_one_line_error(
        shadow("demo", "--workdir", str(a_file / "sub"), "--ops", "5"), "not a directory"
    )
    assert_one_line_error(shadow("demo", "--workdir", str(a_file), "--ops", "5"), "not a directory")
    assert a_file.read_text() == "not a directory"


def run_json(workdir: Path, *args: str) -> tuple[int, dict[str, Any]]:
    done = shadow("demo", "--workdir", str(workdir), "--json", *args)
    assert done.stdout, done.stderr[-2000:]
    return done.returncode, json.loads(done.stdout)


@pytest.mark.slow
def test_candidate_errors_fail_the_run_and_say_so(tmp_path: Path) -> None:
    code, summary = run_json(
        tmp_path, "--ops", "60", "--candidate-factory", "tests.demo.planted_candidate:build_failing"
    )
    assert code == 1 and not summary["ok"]
    assert any("candidate errors" in problem for problem in summary["problems"]), summary
    assert summary["divergences"] == 0 or "divergences" in " ".join(summary["problems"])


@pytest.mark.slow
def test_a_candidate_factory_that_builds_nothing_fails_the_run_and_says_so(
    tmp_path: Path,
) -> None:
    code, summary = run_json(
        tmp_path, "--ops", "20", "--candidate-factory", "tests.demo.planted_candidate:build_nothing"
    )
    assert code == 1 and not summary["ok"]
    assert any("compared nothing" in problem for problem in summary["problems"]), summary
    previous = (tmp_path / "divergences.previous.sqlite3").exists()
    assert not previous  # first run: nothing to keep


@pytest.mark.slow
def test_a_rerun_keeps_the_previous_runs_divergence_store(tmp_path: Path) -> None:
    previous_run(tmp_path)
    run_json(tmp_path, "--ops", "20")
    kept = DivergenceStore(f"sqlite:///{tmp_path / 'divergences.previous.sqlite3'}")
    try:
        assert [(c.service, c.method) for c in kept.comparison_counts()] == [("users", "get")]
    finally:
        kept.close()


@pytest.mark.slow
def test_one_ctrl_c_stops_the_traffic_drains_writes_the_store_and_exits_130(
    tmp_path: Path,
) -> None:
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "imagegen", "demo", "--workdir", str(tmp_path), "--json"),
            *("--ops", "1000000", "--rate", "300"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=True,  # a terminal's Ctrl-C reaches the whole process group
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (tmp_path / "divergences.sqlite3").exists():
            time.sleep(0.2)
        time.sleep(4)  # traffic flowing, the worker busy with in-flight calls
        os.killpg(process.pid, signal.SIGINT)
        interrupted_at = time.monotonic()
        stdout, stderr = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 130, stderr[-3000:]
    assert time.monotonic() - interrupted_at < 60, "traffic must stop at the first Ctrl-C"
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr[-3000:]
    summary = json.loads(stdout)
    assert summary["interrupted"] is True and not summary["ok"]
    assert 0 < summary["requests"] < 1_000_000  # the requests made, not --ops
    outcomes = [service["outcomes"] for service in summary["services"]]
    assert sum(o.get("match", 0) for o in outcomes) > 0
    assert sum(o.get("candidate_error", 0) for o in outcomes) == 0, "killed calls stored"
    store = DivergenceStore(summary["store_url"])
    try:
        stored = store.comparison_counts()
    finally:
        store.close()
    assert sum(c.total for c in stored if c.outcome == "match") > 0
    assert not [c for c in stored if c.outcome == "candidate_error"]


@pytest.mark.slow
def test_a_candidate_factory_that_cannot_build_fails_the_run_loudly_once(tmp_path: Path) -> None:
    code, summary = run_json(
        tmp_path,
        "--ops",
        "20",
        "--candidate-factory",
        "tests.demo.planted_candidate:build_unreachable",
    )
    assert code == 1 and not summary["ok"]
    assert summary["unavailable"] == {
        "candidate": "builtins.ConnectionError: could not connect to "
        "postgresql://demo:[redacted]@candidate-db/app"
    }
    assert summary["problems"][0].startswith("the candidate side could not be built")
    assert not summary["dirty"]
    log = (tmp_path / "shadow.log").read_text()
    assert log.count("shadow_mirror_unavailable") == 1
    assert "hunter2" not in log and "hunter2" not in json.dumps(summary)
