"""``DemoOptions.legacy_template``: the demo's stores start from a seeded legacy file."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

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
