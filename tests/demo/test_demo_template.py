"""``DemoOptions.legacy_template``: the demo's stores start from a seeded legacy file."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from imagegen.db.engine import create_engine
from imagegen.db.migrate import downgrade, head_revision
from imagegen.db.populate import Scale, seed
from imagegen.demo import DemoOptions, run_demo
from shadow import ConfigError
from shadow.runtime import Mode


def _count(path: Path, sql: str) -> int:
    with closing(sqlite3.connect(path)) as connection:
        count: int = connection.execute(sql).fetchone()[0]
        return count


def test_both_stores_start_with_the_templates_rows_and_the_template_is_untouched(
    tmp_path: Path,
) -> None:
    template = tmp_path / "seeded.sqlite3"
    seed(f"sqlite:///{template}", Scale(users=2, boards=3, images=40, queue_items=6), legacy=True)
    workdir = tmp_path / "work"
    run_demo(DemoOptions(ops=20, workdir=workdir, legacy_template=template, mode=Mode.LEGACY))
    seeded = "SELECT count(*) FROM images WHERE image_name LIKE 'seed-%'"
    # The candidate is copied from the legacy store at the start; in legacy mode nothing
    # writes it after. The traffic cleared the legacy store's 4 seeded intermediates.
    assert _count(workdir / "candidate.sqlite3", seeded) == 40
    assert _count(workdir / "legacy.sqlite3", f"{seeded} AND NOT is_intermediate") == 36
    assert _count(template, "SELECT count(*) FROM images") == 40  # the demo wrote a copy


def test_a_candidate_template_is_the_sqlite_candidates_start(tmp_path: Path) -> None:
    scale = Scale(users=2, boards=3, images=40, queue_items=6)
    legacy, candidate = tmp_path / "legacy.sqlite3", tmp_path / "candidate.sqlite3"
    seed(f"sqlite:///{legacy}", scale, legacy=True)
    seed(f"sqlite:///{candidate}", scale)
    with closing(sqlite3.connect(candidate)) as connection:
        connection.execute("UPDATE boards SET board_name = 'only in the candidate template'")
        connection.commit()
    workdir = tmp_path / "work"
    options = DemoOptions(
        ops=10, workdir=workdir, legacy_template=legacy, candidate_template=candidate,
        mode=Mode.LEGACY,
    )  # fmt: skip
    run_demo(options)
    marked = "SELECT count(*) FROM boards WHERE board_name = 'only in the candidate template'"
    assert _count(workdir / "candidate.sqlite3", marked) == 3  # a copy of it, not of legacy


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"legacy_template": Path("missing.db")}, "no such legacy template file"),
        ({"candidate_template": Path("c.db")}, "goes with a legacy template"),
        (
            {"legacy_template": Path("l.db"), "candidate_template": Path("missing.db")},
            "no such candidate template file",
        ),
    ],
)
def test_a_missing_or_lone_template_is_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, changes: dict[str, Path], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("l.db", "c.db"):
        (tmp_path / name).write_bytes(b"")
    options = DemoOptions(workdir=tmp_path / "work", **changes)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=message):
        options.validate()


def test_without_the_tour_the_traffic_uses_the_seeded_rows_and_leaves_them_in_place(
    tmp_path: Path,
) -> None:
    scale = Scale(users=3, boards=5, images=60, queue_items=20)
    template = tmp_path / "seeded.sqlite3"
    seed(f"sqlite:///{template}", scale, legacy=True)
    workdir = tmp_path / "work"
    result = run_demo(
        DemoOptions(
            ops=200, workdir=workdir, legacy_template=template, mode=Mode.LEGACY, tour=False
        )
    )
    assert result.requests == 200
    legacy = workdir / "legacy.sqlite3"
    # No tour: its delete_intermediates and prune did not empty the seeded rows.
    assert _count(legacy, "SELECT count(*) FROM images WHERE image_name LIKE 'seed-%'") == 60
    assert _count(legacy, "SELECT count(*) FROM session_queue WHERE batch_id LIKE 'seed-%'") == 20
    # The only boards the traffic knows are the seeded ones: new images went on them.
    on_seeded_boards = (
        "SELECT count(*) FROM board_images WHERE image_name LIKE 'img-%'"
        " AND board_id LIKE 'seed-board-%'"
    )
    assert _count(legacy, on_seeded_boards) > 0
    assert "users.create" in result.uncovered  # what the tour would have called


def test_a_candidate_template_of_an_older_revision_is_brought_to_head(tmp_path: Path) -> None:
    scale = Scale(users=1, boards=1, images=10, queue_items=0)
    legacy, candidate = tmp_path / "legacy.sqlite3", tmp_path / "candidate.sqlite3"
    seed(f"sqlite:///{legacy}", scale, legacy=True)
    seed(f"sqlite:///{candidate}", scale)
    engine = create_engine(f"sqlite:///{candidate}")
    try:
        downgrade(engine, "0001")
    finally:
        engine.dispose()
    workdir = tmp_path / "work"
    options = DemoOptions(
        ops=5, workdir=workdir, legacy_template=legacy, candidate_template=candidate,
        mode=Mode.LEGACY,
    )  # fmt: skip
    run_demo(options)
    with closing(sqlite3.connect(workdir / "candidate.sqlite3")) as connection:
        (revision,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    assert revision == head_revision()
    with closing(sqlite3.connect(candidate)) as connection:  # the template itself: untouched
        assert connection.execute("SELECT version_num FROM alembic_version").fetchone() == ("0001",)
