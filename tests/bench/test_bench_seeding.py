"""Seeded stores for the benchmarks: made once, reused, copied; the --seeded options."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import closing
from pathlib import Path

import pytest

from bench import aftercutover, seeding, services
from bench.harness import candidate_server, open_pair, seeded_stores
from imagegen.db.engine import create_engine
from imagegen.db.legacy import LATEST_VERSION
from imagegen.db.migrate import downgrade, head_revision
from shadow import ConfigError


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_seeded_stores_are_made_once_and_reused_from_their_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = seeding.seeded(50, tmp_path / "new")
    assert first.legacy.is_file() and first.sqlmodel.is_file()
    assert capsys.readouterr().out.count("seeded ") == 2
    again = seeding.seeded(50, tmp_path / "new")
    assert again == first
    assert capsys.readouterr().out.count("reusing ") == 2
    assert "50 images, 0 boards, 5 queue items, 1 users" in first.describe()


def test_a_pair_opened_on_seeded_stores_holds_their_rows_at_the_current_schema(
    tmp_path: Path,
) -> None:
    stores = seeding.seeded(200, tmp_path / "seeded")
    before = (_digest(stores.legacy), _digest(stores.sqlmodel))
    with seeded_stores(stores):
        pair = open_pair(tmp_path / "work", "images")
    try:
        with pair.legacy_db.transaction() as cursor:
            legacy_images = cursor.execute("SELECT COUNT(*) FROM images").fetchone()[0]
            version = cursor.execute("SELECT MAX(version) FROM migrations").fetchone()[0]
        with pair.engine.connect() as connection:
            sqlmodel_images = connection.exec_driver_sql("SELECT COUNT(*) FROM images").scalar()
            revision = connection.exec_driver_sql("SELECT version_num FROM alembic_version")
            assert revision.scalar() == head_revision()
    finally:
        pair.close()
    assert legacy_images == sqlmodel_images == 200
    assert version == LATEST_VERSION
    # The seeded files are kept for later runs: the pair worked on copies.
    assert (_digest(stores.legacy), _digest(stores.sqlmodel)) == before
    with seeded_stores(None):
        fresh = open_pair(tmp_path / "fresh", "images")
    try:
        with fresh.legacy_db.transaction() as cursor:
            assert cursor.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 0
    finally:
        fresh.close()


def test_seeded_stores_with_a_server_candidate_are_refused(tmp_path: Path) -> None:
    stores = seeding.Seeded(seeding.scale_for(10), tmp_path / "a", tmp_path / "b")
    with (
        candidate_server("postgresql+psycopg://nobody@127.0.0.1:1/none"),
        pytest.raises(ConfigError, match="not with a server candidate"),
        seeded_stores(stores),
    ):
        pass


BAD_OPTIONS = [
    (["--seeded", "0"], "must be at least 1 image: 0"),
    (["--seeded", "many"], "not a whole number of images: 'many'"),
    (["--seeded-dir", "/tmp"], "--seeded-dir needs --seeded IMAGES"),
]


@pytest.mark.parametrize("main", [services.main, aftercutover.main], ids=["services", "after"])
@pytest.mark.parametrize(("argv", "message"), BAD_OPTIONS)
def test_a_bad_seeded_option_is_one_usage_error_and_exit_2(
    main: Callable[[Sequence[str]], int],
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize("main", [services.main, aftercutover.main], ids=["services", "after"])
def test_a_seeded_dir_that_is_a_file_is_refused(
    main: Callable[[Sequence[str]], int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("")
    with pytest.raises(SystemExit) as exit_:
        main(["--seeded", "10", "--seeded-dir", str(a_file)])
    assert exit_.value.code == 2
    assert f"--seeded-dir {a_file} is not a directory" in capsys.readouterr().err


def test_services_on_seeded_stores_refuse_a_server_candidate(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        services.main(["--seeded", "10", "--candidate-url", "postgresql+psycopg://x@h/db"])
    assert exit_.value.code == 2
    assert "--seeded runs on SQLite stores: not with --candidate-url" in capsys.readouterr().err


def test_a_quick_seeded_services_run_measures_the_cases_beside_the_seeded_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = services.main(["images", "--quick", "--seeded", "120", "--seeded-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 0
    assert "| images.get_many (page of 50, board+filters)" in out
    assert "Data: stores seeded with 120 images, 1 boards, 12 queue items, 1 users" in out
    with closing(sqlite3.connect(tmp_path / "legacy-120.sqlite3")) as kept:
        assert kept.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 120


def test_stores_seeded_by_an_older_schema_are_upgraded_once_into_copies_beside_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = seeding.seeded(40, tmp_path)
    with closing(sqlite3.connect(old.legacy)) as connection:  # back to legacy version 3
        for index in (
            "ix_boards_cover_image_name",
            "ix_board_images_board_id_image_name",
            "ix_session_queue_status_queue_id",
            "ix_session_queue_priority_desc_item_id",
        ):
            connection.execute(f"DROP INDEX {index}")
        connection.execute("DELETE FROM migrations WHERE version = 4")
        connection.commit()
    engine = create_engine(f"sqlite:///{old.sqlmodel}")
    try:
        downgrade(engine, "0001")
    finally:
        engine.dispose()
    kept = (_digest(old.legacy), _digest(old.sqlmodel))
    capsys.readouterr()

    upgraded = seeding.seeded(40, tmp_path)
    assert upgraded.legacy == tmp_path / f"legacy-40.v{LATEST_VERSION}.sqlite3"
    assert upgraded.sqlmodel == tmp_path / f"sqlmodel-40.{head_revision()}.sqlite3"
    assert capsys.readouterr().out.count("upgraded a copy of ") == 2
    with closing(sqlite3.connect(upgraded.legacy)) as connection:
        assert connection.execute("SELECT MAX(version) FROM migrations").fetchone() == (
            LATEST_VERSION,
        )
        assert connection.execute("SELECT COUNT(*) FROM images").fetchone() == (40,)
    with closing(sqlite3.connect(upgraded.sqlmodel)) as connection:
        revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        assert revision == (head_revision(),)
    assert (_digest(old.legacy), _digest(old.sqlmodel)) == kept  # the originals: untouched
    assert not list(tmp_path.glob("*.partial*")) and not list(tmp_path.glob("*backup*"))

    assert seeding.seeded(40, tmp_path) == upgraded
    assert capsys.readouterr().out.count("(upgraded from ") == 2
