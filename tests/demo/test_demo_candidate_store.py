"""Mirror stores are opened, never created; a vanished one fails loudly; evidence counted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from imagegen.db.admin import init_legacy
from imagegen.db.engine import create_engine, create_schema
from imagegen.db.tables import metadata
from imagegen.db.thread_reads import ThreadReadPool
from imagegen.demo import DemoOptions
from imagegen.demo.run import DemoResult, ServiceSummary, _shadow_durability
from imagegen.demo.wiring import build_candidate, build_legacy
from imagegen.services.core._driver_read import DriverRead
from imagegen.services.core.group_commit import CoreServices
from shadow import ConfigError, FixedClock, SequentialIds
from shadow.runtime import Mode, Side, SideFactory
from shadow.runtime._worker import MirrorEngine


def test_build_candidate_refuses_a_missing_sqlite_file_and_creates_none(tmp_path: Path) -> None:
    """A replaced mirror worker must not mirror into an empty database it just created."""
    missing = tmp_path / "candidate.sqlite3"
    with pytest.raises(ConfigError, match="never created"):
        build_candidate(ids=SequentialIds("c"), clock=FixedClock(), url=f"sqlite:///{missing}")
    assert not missing.exists()


def test_build_legacy_refuses_a_missing_file_and_creates_none(tmp_path: Path) -> None:
    """The legacy side is the mirror in reverse mode: the same rule holds for it."""
    missing = tmp_path / "legacy.sqlite3"
    with pytest.raises(ConfigError, match="never created"):
        build_legacy(ids=SequentialIds("l"), clock=FixedClock(), path=str(missing))
    assert not missing.exists()


def test_a_candidate_file_deleted_mid_run_fails_the_next_call_instead_of_going_unnoticed(
    tmp_path: Path,
) -> None:
    """An open connection would keep using the deleted inode; the engine notices and refuses."""
    path = tmp_path / "candidate.sqlite3"
    engine = create_engine(f"sqlite:///{path}")
    create_schema(engine)
    engine.dispose()
    services = build_candidate(ids=SequentialIds("c"), clock=FixedClock(), url=f"sqlite:///{path}")
    assert services["app_settings"].get("theme") is None  # works, and holds a pooled connection
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    with pytest.raises(sa.exc.OperationalError, match="deleted or replaced"):
        services["app_settings"].get("theme")
    assert not path.exists(), "nothing may recreate the file"


def test_a_legacy_file_built_by_init_legacy_still_opens(tmp_path: Path) -> None:
    """must_exist changes nothing for a file that exists (it is opened read-write)."""
    path = tmp_path / "legacy.sqlite3"
    init_legacy(path)
    services = build_legacy(ids=SequentialIds("l"), clock=FixedClock(), path=str(path))
    services["app_settings"].set("theme", "dark")
    assert services["app_settings"].get("theme") == "dark"
    assert os.path.getsize(path) > 0


def _summary(outcomes: dict[str, int], evidence: dict[str, int]) -> ServiceSummary:
    return ServiceSummary(
        service="boards", phase=2, outcomes=outcomes, divergence_groups=0, latency={},
        evidence=evidence,
    )  # fmt: skip


def test_the_demo_counts_only_divergences_that_are_evidence(tmp_path: Path) -> None:
    """Comparisons the store marks as not evidence (a dirty service) are not divergences."""
    dirty = _summary({"match": 90, "divergence": 4000}, {"match": 10, "divergence": 0})
    clean = _summary({"match": 50, "divergence": 2}, {"match": 50, "divergence": 2})
    result = DemoResult(
        services=[dirty],
        uncovered=[],
        requests=1,
        elapsed_seconds=1.0,
        request_latencies=[],
        api_seconds=1.0,
        errors={},
        workdir=tmp_path,
        store_url="sqlite://",
        metrics_port=None,
    )
    assert result.divergences == 0
    result.services.append(clean)
    assert result.divergences == 2


@pytest.mark.parametrize(
    ("changes", "durability"),
    [
        ({}, "?synchronous=NORMAL"),  # the demo's own shadow candidate: rebuildable
        ({"mode": Mode.REVERSE}, ""),  # starts authoritative: the file's default (FULL)
        ({"mode": Mode.SQLMODEL}, ""),
        ({"candidate_url": "sqlite:////somewhere/given.db"}, ""),  # the operator's URL is theirs
        ({"aa": True}, ""),
    ],
)
def test_the_demo_opens_its_own_shadow_candidate_at_synchronous_normal_and_nothing_else(
    tmp_path: Path, changes: dict[str, object], durability: str
) -> None:
    url = "sqlite:////work/candidate.sqlite3"
    options = DemoOptions(workdir=tmp_path, **changes)  # type: ignore[arg-type]
    assert _shadow_durability(url, options) == url + durability


def test_the_candidate_side_disposes_of_its_engines_pool_when_the_mirror_closes(
    tmp_path: Path,
) -> None:
    """Its pooled connections and its threads' read connections end with the mirror (a thread
    worker's too), not at collection."""
    url = f"sqlite:///{tmp_path / 'candidate.sqlite3'}"
    create_schema(create_engine(url))
    mirror = MirrorEngine({Side.CANDIDATE: SideFactory(build_candidate, {"url": url})})
    assert mirror.prepare(Side.CANDIDATE) is None
    built = mirror._sides[Side.CANDIDATE]
    assert isinstance(built, CoreServices)
    with built.engine.connect():
        pass
    users = metadata.tables["users"]
    assert DriverRead(sa.select(users.c.user_id), built.engine).first({}) is not None
    pool = built.engine.pool
    assert isinstance(pool, ThreadReadPool)
    assert pool.checkedin() == 1
    assert pool.open_readers() == 1  # this thread's read connection, outside the pool
    mirror.close()
    assert pool.open_readers() == 0
    disposed = built.engine.pool  # dispose() swaps in a fresh, empty pool
    assert disposed is not pool
    assert isinstance(disposed, sa.QueuePool)
    assert disposed.checkedin() == 0
