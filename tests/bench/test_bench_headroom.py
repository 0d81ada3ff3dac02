"""The mirror headroom benchmark counts what it claims (structure and counts, never timings)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bench import headroom
from imagegen.db.engine import create_engine
from imagegen.demo import DemoOptions
from shadow import ConfigError
from shadow.runtime import WorkerKind


@pytest.mark.slow
def test_a_writes_only_run_mirrors_every_write_and_samples_out_every_read(tmp_path: Path) -> None:
    arm = headroom._counted(
        DemoOptions(
            ops=60, workdir=tmp_path / "demo", coverage=False, worker=WorkerKind.THREAD,
            read_sample_rate=0.0, runtime_settings=headroom.UNBOUNDED,
        )
    )  # fmt: skip
    assert arm.writes > 0 and arm.calls > arm.writes  # the demo's mix has both
    assert arm.mirrored_writes == arm.writes and arm.dropped_writes == 0
    assert arm.mirrored_calls == arm.writes  # no read reached the mirror...
    assert arm.sampled_reads == arm.calls - arm.writes  # ...each was counted as sampled out
    assert arm.seconds > 0
    assert len(arm.busy) == 1 and arm.busy[0] > 0  # the one worker's busy time, from /metrics
    assert 0 < arm.call_seconds < arm.busy[0]  # the candidate's calls are part of that time
    config = tomllib.loads((tmp_path / "demo" / "shadow.toml").read_text())
    assert config["queue_size"] == headroom.UNBOUNDED["queue_size"]  # the runtime got the lever
    assert {entry["read_sample_rate"] for entry in config["services"].values()} == {0.0}


def test_the_writes_are_the_contracts_mutating_methods() -> None:
    assert ("session_queue", "dequeue") in headroom.WRITES
    assert ("images", "save") in headroom.WRITES
    assert ("images", "get") not in headroom.WRITES


def test_a_mirror_no_slower_than_the_legacy_run_is_marked_as_a_lower_bound() -> None:
    legacy = headroom.Arm(load=0.0, seconds=10.0)
    assert headroom.Arm(load=0.0, seconds=10.5, mirrored_writes=100).kept_up(legacy)
    assert not headroom.Arm(load=0.0, seconds=12.0, mirrored_writes=100).kept_up(legacy)


def test_a_read_sample_rate_outside_zero_to_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="read sample rate"):
        DemoOptions(workdir=tmp_path, read_sample_rate=1.5).validate()


def test_an_unknown_backend_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert headroom.main(["--backends", "sqlite,oracle"]) == 2
    assert "unknown backends ['oracle']" in capsys.readouterr().err


@pytest.mark.slow
def test_the_durability_arms_candidate_runs_at_synchronous_normal(tmp_path: Path) -> None:
    """A demo whose SQLite candidate is a URL with ``?synchronous=NORMAL`` (the arm's lever)
    builds that file, mirrors every write into it and finishes; an engine made from that
    URL (as the worker's is) runs at NORMAL (1)."""
    url = f"sqlite:///{tmp_path / 'normal.db'}?synchronous=NORMAL"
    arm = headroom._counted(
        DemoOptions(
            ops=60, workdir=tmp_path / "demo", coverage=False, worker=WorkerKind.THREAD,
            read_sample_rate=0.0, runtime_settings=headroom.UNBOUNDED, candidate_url=url,
        )
    )  # fmt: skip
    assert arm.writes > 0 and arm.mirrored_writes == arm.writes and arm.dropped_writes == 0
    engine = create_engine(url, must_exist=True)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1
            images = connection.exec_driver_sql("SELECT count(*) FROM images").scalar()
            assert images, "the mirrored writes reached the NORMAL file"
    finally:
        engine.dispose()


@pytest.mark.slow
def test_the_per_domain_arm_runs_a_worker_process_per_domain_and_mirrors_every_call(
    tmp_path: Path,
) -> None:
    """Every call mirrored by six worker processes (one per conflict domain of the demo):
    nothing dropped, no divergence, no candidate error (a lock timeout between the
    workers on the shared SQLite candidate file would show as one)."""
    per_domain = headroom.spec("domains-calls").settings
    assert per_domain["mirror_workers"] == 6
    arm = headroom._counted(
        DemoOptions(
            ops=80, workdir=tmp_path / "demo", coverage=False, worker=WorkerKind.PROCESS,
            runtime_settings=per_domain,
        )
    )  # fmt: skip
    assert arm.writes > 0 and arm.mirrored_writes == arm.writes and arm.dropped_writes == 0
    assert arm.mirrored_calls == arm.calls and arm.failures == 0
    config = tomllib.loads((tmp_path / "demo" / "shadow.toml").read_text())
    assert config["mirror_workers"] == 6
    assert len(arm.busy) == 6 and all(seconds > 0 for seconds in arm.busy)  # each worker's own


def test_the_capacity_is_the_calls_over_the_busiest_workers_busy_time() -> None:
    """Two workers, busy 2 s and 5 s, with 1,000 writes between them: the busier one
    bounds them both (the mix keeps its shares), so 1,000 / 5 s, whatever the run's length."""
    arm = headroom.Arm(load=0.0, seconds=30.0, mirrored_writes=1000, busy=(2.0, 5.0))
    assert arm.capacity(writes=True) == pytest.approx(200.0)
    assert arm.mirror_write_rate == pytest.approx(1000 / 30)
    assert headroom.Arm(load=0.0, seconds=1.0, mirrored_writes=10).capacity(writes=True) == 0.0


@pytest.mark.slow
def test_the_group_commit_arm_mirrors_every_call_without_a_failure(tmp_path: Path) -> None:
    """Every call mirrored by a worker process applying runs of writes in groups of up to
    64: nothing dropped, no divergence, no candidate error (a write's timestamps judged
    against a window its group's commit widened diverged here once)."""
    group = headroom.spec("group-calls")
    assert group.settings["group_commit"] == headroom.GROUP_COMMIT and not group.writes_only
    arm = headroom._counted(
        DemoOptions(
            ops=120, workdir=tmp_path / "demo", coverage=False, worker=WorkerKind.PROCESS,
            runtime_settings=group.settings,
        )
    )  # fmt: skip
    assert arm.writes > 0 and arm.mirrored_writes == arm.writes and arm.dropped_writes == 0
    assert arm.mirrored_calls == arm.calls and arm.failures == 0


def test_an_unknown_arm_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert headroom.main(["--arms", "writes,fastest"]) == 2
    assert "unknown arms ['fastest']" in capsys.readouterr().err
