"""The fault suite: faults injected around a running runtime with the reference services.

Each scenario runs the deterministic workload of :mod:`fault_harness` with one
fault injected and checks the promises against a fault-free run of the same
workload:

* no caller-visible change: every call answered exactly as without the fault;
* no lost authoritative write: the legacy store holds exactly the same rows;
* the fault is counted (a comparison outcome, a drop, a store write failure);
* a service whose mirror store may now differ is dirty, in memory and in the
  divergence store;
* the gate is blocked, and a dirty service stays blocked by ``no_dirty`` until
  it is reconciled.

With ``SHADOW_FAULT_TABLE=path`` the figures of every scenario run are
written to ``path`` as the Markdown table of docs/reliability.md.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client import generate_latest

from shadow.cutover.control import CutoverSettings
from shadow.cutover.policy import PolicySet
from shadow.cutover.readiness import GateReadiness
from shadow.runtime import _runtime
from shadow.runtime._store import DivergenceStore
from tests.faults.fault_harness import (
    PLAN,
    POLICY,
    Rig,
    Run,
    close_runtime,
    failed_criteria,
    finish,
    run_workload,
)

_TABLE: list[str] = []


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The fault-free run every scenario is compared with."""
    rig = Rig(tmp_path_factory.mktemp("baseline"))
    run = finish(rig, run_workload(rig))
    assert not failed_criteria(run.gate), "the fault-free run must pass the gate"
    assert run.comparisons["match"] == len(run.answers) + 3  # and the warm-up reads
    return run


@pytest.fixture(scope="module", autouse=True)
def _write_table() -> Iterator[None]:
    yield
    target = os.environ.get("SHADOW_FAULT_TABLE")
    if target and _TABLE:
        header = (
            "| scenario | calls | caller-visible changes | lost authoritative writes "
            "| fault counted as | dirty (memory / store) | gate fails on |\n"
            "|---|---|---|---|---|---|---|\n"
        )
        Path(target).write_text(header + "\n".join(_TABLE) + "\n")


def check(
    name: str,
    run: Run,
    baseline: Run,
    *,
    counted: dict[str, float],
    dirty: set[str],
    gate_blocked: bool = True,
) -> None:
    """The promises every scenario keeps, and its row of the figures table."""
    changed = sum(1 for got, want in zip(run.answers, baseline.answers, strict=True) if got != want)
    lost = sum(
        len(set(baseline.legacy_rows[table]) - set(run.legacy_rows[table]))
        for table in baseline.legacy_rows
    )
    failed = failed_criteria(run.gate)
    _TABLE.append(
        f"| {name} | {len(run.answers)} | {changed} | {lost} | "
        + ", ".join(f"{key} {value:g}" for key, value in counted.items())
        + f" | {', '.join(sorted(run.dirty)) or '-'} / {', '.join(sorted(run.stored_dirty)) or '-'}"
        + f" | {', '.join(failed) or '(passes)'} |"
    )
    assert run.answers == baseline.answers, "a caller saw a difference"
    assert run.legacy_rows == baseline.legacy_rows, "an authoritative write was lost or changed"
    assert counted and all(value > 0 for value in counted.values()), f"not counted: {counted}"
    assert dirty <= run.dirty, f"dirty in memory: {sorted(run.dirty)}, expected {sorted(dirty)}"
    assert run.stored_dirty == run.dirty, "the store must know every dirty service"
    if gate_blocked:
        assert failed, "the gate passed on evidence from a faulty run"
    for service in dirty:
        assert "no_dirty" in failed, f"{service} is dirty but no_dirty did not block"


def reconciled_unblocks(rig: Rig, services: set[str]) -> None:
    """Reconciling the dirty services clears no_dirty (the simple path of issue 11)."""
    rig.fault_off()
    for service in sorted(services):
        rig.runtime.reconcile(service)
    assert rig.runtime.recorder.evidence.dirty_services() == frozenset()
    rig.runtime.flush()
    assert DivergenceStore(rig.store_url).dirty_services() == frozenset()


def _faulty(tmp_path: Path, fault: str, service: str, **options: Any) -> Rig:
    return Rig(tmp_path / "run", candidate_options={"fault": fault, "service": service, **options})


# -- the candidate's code ----------------------------------------------------------------------


def test_candidate_raising_always(tmp_path: Path, baseline: Run) -> None:
    """Every boards call raises on the candidate: errors counted, boards dirty, gate blocked."""
    rig = _faulty(tmp_path, "raise", "boards")
    run = finish(rig, run_workload(rig), close=False)
    check(
        "candidate raises on every call (boards)",
        run,
        baseline,
        counted={"candidate_error": run.comparisons["candidate_error"]},
        dirty={"boards"},
    )
    reconciled_unblocks(rig, {"boards"})
    close_runtime(rig)


def test_candidate_raising_at_random(tmp_path: Path, baseline: Run) -> None:
    """A third of client_state calls raise (seeded): the same promises hold."""
    rig = _faulty(tmp_path, "random", "client_state", probability=0.3, seed=15)
    run = finish(rig, run_workload(rig))
    check(
        "candidate raises at random, p=0.3 (client_state)",
        run,
        baseline,
        counted={"candidate_error": run.comparisons["candidate_error"]},
        dirty={"client_state"},
    )


@pytest.mark.slow
def test_candidate_hanging_past_the_deadline(tmp_path: Path, baseline: Run) -> None:
    """Two client_state writes hang: dropped at the 2 s deadline, the worker replaced."""
    rig = Rig(
        tmp_path / "run",
        candidate_options={
            "fault": "hang",
            "service": "client_state",
            "switch": str(tmp_path / "run" / "fault-on"),
        },
    )

    def at_step(step: int) -> None:
        if step == 8:
            rig.fault_on()
        if step == 10:
            rig.runtime.executor.flush(10)
            rig.fault_off()

    run = finish(rig, run_workload(rig, at_step=at_step))
    check(
        "candidate hangs past the deadline (client_state writes)",
        run,
        baseline,
        counted={"dropped deadline": run.drops.get("deadline", 0)},
        dirty={"client_state"},
    )


# -- the candidate's database ------------------------------------------------------------------

_LOCKER = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
connection.execute("ROLLBACK")
"""


def _lock(path: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding an exclusive lock on the SQLite file ``path``."""
    locker = subprocess.Popen(
        [sys.executable, "-c", _LOCKER, str(path), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert locker.stdout is not None
    assert locker.stdout.readline().strip() == "locked"
    return locker


def _release(locker: subprocess.Popen[str]) -> None:
    locker.wait(30)
    if locker.stdout is not None:
        locker.stdout.close()


@pytest.mark.slow
def test_candidate_sqlite_file_locked_by_another_process(tmp_path: Path, baseline: Run) -> None:
    """The candidate file is locked for 3 s: the writes that waited past the deadline are
    dropped and their services dirty."""
    rig = Rig(tmp_path / "run")
    lockers: list[subprocess.Popen[str]] = []

    def at_step(step: int) -> None:
        if step == 8:
            rig.runtime.executor.flush(10)
            lockers.append(_lock(rig.candidate_path, 3.0))

    try:
        run = finish(rig, run_workload(rig, at_step=at_step), close=False)
    finally:
        for locker in lockers:
            _release(locker)
    failed_writes = run.drops.get("deadline", 0)
    check(
        "candidate SQLite file locked by another process (3 s)",
        run,
        baseline,
        counted={"dropped deadline": failed_writes},
        dirty={"app_settings"},
    )
    reconciled_unblocks(rig, set(run.dirty))
    close_runtime(rig)


def test_candidate_sqlite_file_deleted_mid_run(tmp_path: Path, baseline: Run) -> None:
    """The candidate file vanishes: every later call fails loudly on it; nothing recreates it."""
    rig = Rig(tmp_path / "run")

    def at_step(step: int) -> None:
        if step == 8:
            rig.runtime.executor.flush(10)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{rig.candidate_path}{suffix}").unlink(missing_ok=True)

    run = finish(rig, run_workload(rig, at_step=at_step))
    failing = {"app_settings", "client_state", "boards"}
    check(
        "candidate SQLite file deleted mid-run",
        run,
        baseline,
        counted={
            "candidate_error": run.comparisons["candidate_error"],
            # The breakers opened. How many calls they then dropped depends on how far
            # the mirror lagged: calls queued before the 20th failure came back still
            # run (and fail), so on a loaded machine none may be left to drop.
            "breakers opened": sum(
                rig.sample("shadow_circuit_breaker_open", service=service) for service in failing
            ),
        },
        dirty=failing,
    )
    assert not rig.candidate_path.exists(), "the mirror must never create a candidate store"


def test_candidate_sqlite_file_unwritable(tmp_path: Path, baseline: Run) -> None:
    """Every candidate write is refused as by a read-only file (PRAGMA query_only)."""
    rig = Rig(tmp_path / "run", candidate_options={"readonly": True})
    run = finish(rig, run_workload(rig))
    check(
        "candidate SQLite file unwritable (emulated: PRAGMA query_only)",
        run,
        baseline,
        counted={"candidate_error": run.comparisons["candidate_error"]},
        dirty={"app_settings", "client_state", "boards"},
    )


def test_candidate_disk_full(tmp_path: Path, baseline: Run) -> None:
    """The candidate file cannot grow (PRAGMA max_page_count at its size): writes that need a
    new page fail with "database or disk is full"."""
    # 512-byte pages, so the workload's few rows need new pages soon (4 KB pages have room
    # for all of them). The Rig has not opened the candidate yet: its rebuild is safe.
    rig = Rig(tmp_path / "run", candidate_options={"disk_full": True}, defer_candidate=True)
    connection = sqlite3.connect(rig.candidate_path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode = DELETE")
        connection.execute("PRAGMA page_size = 512")
        connection.execute("VACUUM")
        connection.execute("PRAGMA journal_mode = WAL")
    finally:
        connection.close()
    rig.start()
    run = finish(rig, run_workload(rig))
    check(
        "candidate disk full (emulated: PRAGMA max_page_count)",
        run,
        baseline,
        counted={"candidate_error": run.comparisons["candidate_error"]},
        dirty={"boards"},
    )


def _alter_candidate(rig: Rig, statement: str) -> None:
    engine = sa.create_engine(f"sqlite:///{rig.candidate_path}")
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


def test_candidate_schema_missing_a_column(tmp_path: Path, baseline: Run) -> None:
    """boards.archived is gone from the candidate's schema (renamed away)."""
    rig = Rig(tmp_path / "run", defer_candidate=True)
    _alter_candidate(rig, "ALTER TABLE boards RENAME COLUMN archived TO archived_gone")
    rig.start()
    run = finish(rig, run_workload(rig))
    check(
        "candidate schema missing a column (boards.archived)",
        run,
        baseline,
        counted={"candidate_error": run.comparisons["candidate_error"]},
        dirty={"boards"},
    )


def test_candidate_schema_missing_a_table(tmp_path: Path, baseline: Run) -> None:
    """The candidate has no client_state table."""
    rig = Rig(tmp_path / "run", defer_candidate=True)
    _alter_candidate(rig, "DROP TABLE client_state")
    rig.start()
    run = finish(rig, run_workload(rig))
    check(
        "candidate schema missing a table (client_state)",
        run,
        baseline,
        counted={"candidate_error": run.comparisons["candidate_error"]},
        dirty={"client_state"},
    )


# -- the mirror worker and the servers ---------------------------------------------------------


@pytest.mark.slow
def test_mirror_worker_process_killed(tmp_path: Path, baseline: Run) -> None:
    """The worker process is SIGKILLed while a boards write runs in it: dropped, replaced."""
    switch = tmp_path / "run" / "fault-on"
    rig = Rig(
        tmp_path / "run",
        worker="process",
        deadline_seconds=10.0,
        candidate_options={"fault": "slow", "service": "boards", "seconds": 3.0,
                           "switch": str(switch)},
    )  # fmt: skip
    killed: list[int] = []

    def at_step(step: int) -> None:
        if step == 6:
            rig.runtime.executor.flush(60)
            rig.fault_on()
        if step == 7:  # step 6's boards.save is now sleeping in the worker
            time.sleep(0.5)
            worker: Any = getattr(rig.runtime.executor, "worker")  # noqa: B009
            killed.append(worker.process.pid)
            worker.process.kill()
            rig.fault_off()

    run = finish(rig, run_workload(rig, at_step=at_step))
    assert killed
    check(
        "mirror worker process killed (SIGKILL, a write in flight)",
        run,
        baseline,
        counted={"dropped worker_crash": run.drops.get("worker_crash", 0)},
        dirty={"boards"},
    )


@pytest.mark.postgres
@pytest.mark.slow
def test_postgresql_connections_terminated(
    tmp_path: Path, baseline: Run, postgres_engine: sa.Engine
) -> None:
    """pg_terminate_backend on every connection of the candidate database, mid-run."""
    url = postgres_engine.url.render_as_string(hide_password=False)
    rig = Rig(tmp_path / "run", candidate_url=url)
    terminated: list[int] = []

    def at_step(step: int) -> None:
        if step == 8:
            rig.runtime.executor.flush(10)
            with postgres_engine.connect() as connection:
                terminated.extend(
                    connection.exec_driver_sql(
                        "SELECT pid FROM pg_stat_activity, pg_terminate_backend(pid) "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    ).scalars()
                )

    run = finish(rig, run_workload(rig, at_step=at_step), close=False)
    assert terminated, "the candidate held connections to terminate"
    check(
        "PostgreSQL candidate connections terminated (pg_terminate_backend)",
        run,
        baseline,
        counted={"candidate_error": run.comparisons["candidate_error"]},
        dirty=set(),
    )
    assert run.dirty, "the write that met a terminated connection must mark its service dirty"
    reconciled_unblocks(rig, set(run.dirty))
    close_runtime(rig)


# -- the divergence store ----------------------------------------------------------------------


def _short_timeout_store(url: str) -> DivergenceStore:
    return DivergenceStore(url, busy_timeout=0.3)


@pytest.mark.slow
def test_divergence_store_locked_by_another_process(tmp_path: Path, baseline: Run) -> None:
    """The store is locked for 2 s: writes fail and are retried, a scrape does not wait."""
    rig = Rig(tmp_path / "run", store=_short_timeout_store)
    readiness = GateReadiness(
        CutoverSettings(
            modes_file=tmp_path / "shadow.toml",
            audit_log=tmp_path / "audit.jsonl",
            declared_methods={},
            store=rig.store_url,
            plan=PLAN,
            policies=PolicySet(POLICY),
        )
    )
    rig.registry.register(readiness)
    scrape_seconds: list[float] = []
    lockers: list[subprocess.Popen[str]] = []

    def at_step(step: int) -> None:
        if step == 4:
            rig.runtime.flush()
            lockers.append(_lock(rig.store_path, 2.0))
        if step == 6:
            started = time.monotonic()
            generate_latest(rig.registry)
            scrape_seconds.append(time.monotonic() - started)
            time.sleep(0.5)  # let the flusher meet the lock

    try:
        answers = run_workload(rig, at_step=at_step)
    finally:
        for locker in lockers:
            _release(locker)
        readiness.close()
    run = finish(rig, answers)
    stored = DivergenceStore(rig.store_url).comparison_counts()
    check(
        "divergence store locked by another process (2 s)",
        run,
        baseline,
        counted={"store write failures": run.store_write_failures},
        dirty=set(),
        gate_blocked=False,
    )
    assert sum(count.total for count in stored) == len(run.answers) + 3, "evidence was lost"
    assert scrape_seconds and scrape_seconds[0] < 2.0, "a scrape waited on the locked store"


@pytest.mark.slow
def test_divergence_store_deleted_mid_run(
    tmp_path: Path, baseline: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store file vanishes: no write goes to the deleted file; failures counted, logged."""
    monkeypatch.setattr(_runtime, "_CLOSE_RETRY_SECONDS", 0.5)
    rig = Rig(tmp_path / "run")

    def at_step(step: int) -> None:
        if step == 8:
            rig.runtime.flush()
            for suffix in ("", "-wal", "-shm"):
                Path(f"{rig.store_path}{suffix}").unlink(missing_ok=True)
            time.sleep(0.3)

    run = finish(rig, run_workload(rig, at_step=at_step))
    check(
        "divergence store deleted mid-run",
        run,
        baseline,
        counted={"store write failures": run.store_write_failures},
        dirty=set(),
    )
    assert not rig.store_path.exists(), "nothing may write evidence to a new, empty store file"


def test_divergence_store_unwritable(tmp_path: Path, baseline: Run) -> None:
    """The store refuses writes for a while (PRAGMA query_only): retried, nothing lost."""
    switch = tmp_path / "run" / "store-readonly"

    def readonly_store(url: str) -> DivergenceStore:
        store = DivergenceStore(url)

        # At checkout, before the store's own BEGIN IMMEDIATE (query_only refuses it too).
        @sa.event.listens_for(store._engine, "checkout")
        def _maybe_readonly(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
            state = "ON" if switch.exists() else "OFF"
            dbapi_connection.execute(f"PRAGMA query_only = {state}")

        return store

    rig = Rig(tmp_path / "run", store=readonly_store)

    def at_step(step: int) -> None:
        if step == 8:
            rig.runtime.flush()
            switch.touch()
        if step == 12:
            time.sleep(0.3)  # at least one flush meets the refusal
        if step == 16:
            switch.unlink()

    run = finish(rig, run_workload(rig, at_step=at_step))
    stored = DivergenceStore(rig.store_url).comparison_counts()
    check(
        "divergence store unwritable for a while (emulated: PRAGMA query_only)",
        run,
        baseline,
        counted={"store write failures": run.store_write_failures},
        dirty=set(),
        gate_blocked=False,
    )
    assert sum(count.total for count in stored) == len(run.answers) + 3, "evidence was lost"


# -- the legacy side ---------------------------------------------------------------------------


def test_legacy_side_raising(tmp_path: Path) -> None:
    """Every third boards.save raises on the legacy side: the caller gets exactly that error.

    Compared with a legacy-only run of the same faulty legacy: the same answers
    (the same exceptions) and rows. The candidate applied what the legacy
    refused, so boards is dirty.
    """
    legacy_options = {"fault": "legacy", "service": "boards"}
    alone = Rig(tmp_path / "alone", legacy_options=legacy_options, mode="legacy")
    reference = finish(alone, run_workload(alone))
    assert any(answer[0] == "raised" for answer in reference.answers if isinstance(answer, tuple))
    rig = Rig(tmp_path / "run", legacy_options=legacy_options)
    run = finish(rig, run_workload(rig))
    refused = [a for a in run.answers if isinstance(a, tuple) and a[0] == "raised"]
    assert refused and all(a[1] == "LegacyRefused" for a in refused)
    check(
        "legacy side raising (every third boards.save)",
        run,
        reference,
        counted={"divergence": run.comparisons["divergence"]},
        dirty={"boards"},
    )


def test_the_suite_compares_against_a_run_that_really_mirrored(baseline: Run) -> None:
    """The baseline compared every call and stayed clean: the scenarios' checks can fail."""
    assert baseline.comparisons["match"] == len(baseline.answers) + 3 > 100
    assert baseline.dirty == baseline.stored_dirty == frozenset()
    assert not baseline.drops
