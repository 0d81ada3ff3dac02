"""``shadow data``: backfill, verify and repair from the command line, and bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from imagegen.cli import app, main
from imagegen.db.tables import ImageTable, SessionQueueTable
from tests.data.conftest import fill_images, image_name

images = ImageTable.__table__  # type: ignore[attr-defined]
queue = SessionQueueTable.__table__  # type: ignore[attr-defined]
runner = CliRunner()


def test_backfill_verify_repair_round_trip(
    legacy_source: tuple[Path, sa.Engine], sqlite_engine: sa.Engine, tmp_path: Path
) -> None:
    """backfill copies; a planted change makes verify exit 1 naming the key and column (also
    in --json and in the store); repair is a dry run until --apply; then verify exits 0."""
    path, _ = legacy_source
    fill_images(path, 200)
    source = f"sqlite:///{path}"
    target = f"sqlite:///{sqlite_engine.url.database}"
    store = f"sqlite:///{tmp_path / 'store.db'}"
    checkpoint = tmp_path / "copy.json"
    done = runner.invoke(
        app,
        ["data", "backfill", source, target, "--table", "images", "--checkpoint", str(checkpoint)],
    )
    assert done.exit_code == 0, done.output
    assert "images: 200 rows read, 200 inserted" in done.output
    again = runner.invoke(
        app,
        ["data", "backfill", source, target, "--table", "images", "--checkpoint", str(checkpoint)],
    )
    assert "images: 200 rows read, 0 inserted" in again.output, again.output
    changed = image_name(17)
    with sqlite_engine.begin() as connection:
        connection.execute(images.update().where(images.c.image_name == changed).values(height=1))

    found = runner.invoke(
        app, ["--store", store, "data", "verify", source, target, "--table", "images", "--json"]
    )
    assert found.exit_code == 1, found.output
    table = json.loads(found.output)["tables"][0]
    assert table["differing_rows"] == [{"key": [changed], "columns": ["height", "updated_at"]}]

    dry = runner.invoke(
        app, ["--store", store, "data", "repair", source, target, "--table", "images"]
    )
    assert dry.exit_code == 0, dry.output
    assert f"update: {changed} (height, updated_at)" in dry.output and "dry run" in dry.output
    with sqlite_engine.connect() as connection:
        height = connection.execute(
            sa.select(images.c.height).where(images.c.image_name == changed)
        )
        assert height.scalar() == 1, "the dry run wrote"

    fixed = runner.invoke(
        app, ["--store", store, "data", "repair", source, target, "--table", "images", "--apply"]
    )
    assert fixed.exit_code == 0, fixed.output
    assert "-> equal" in fixed.output
    again = runner.invoke(
        app, ["--store", store, "data", "verify", source, target, "--table", "images"]
    )
    assert again.exit_code == 0 and "images: equal (200 rows compared)" in again.output


@pytest.mark.postgres
def test_verify_with_digests_decides_by_digests_and_names_a_planted_change(
    legacy_source: tuple[Path, sa.Engine],
    postgres_engine: sa.Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--digests reaches verify() (the real one, watched), and a changed column on a
    PostgreSQL target is still named by key and column."""
    import shadow.data  # noqa: PLC0415

    path, _ = legacy_source
    fill_images(path, 300)
    source = f"sqlite:///{path}"
    target = postgres_engine.url.render_as_string(hide_password=False)
    copied = runner.invoke(app, ["data", "backfill", source, target, "--table", "images",
                                 "--checkpoint", str(path.with_suffix(".json"))])  # fmt: skip
    assert copied.exit_code == 0, copied.output
    changed = image_name(123)
    with postgres_engine.begin() as connection:
        connection.execute(images.update().where(images.c.image_name == changed).values(width=7))
    seen: list[bool] = []
    real = shadow.data.verify

    def watched(*args: object, **kwargs: object) -> object:
        seen.append(bool(kwargs.get("digests")))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(shadow.data, "verify", watched)
    found = runner.invoke(
        app, ["data", "verify", source, target, "--table", "images", "--digests", "--json"]
    )
    assert seen == [True]
    assert found.exit_code == 1, found.output
    table = json.loads(found.output)["tables"][0]
    assert [row["key"] for row in table["differing_rows"]] == [[changed]]
    assert "width" in table["differing_rows"][0]["columns"]


def _main(arguments: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    """Run the console entry point (which turns ConfigError into exit 2) in-process."""
    monkeypatch.setattr(sys, "argv", ["shadow", *arguments])
    try:
        main()
    except SystemExit as leaving:
        return int(leaving.code or 0)
    return 0


def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path,
    sqlite_engine: sa.Engine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A missing SQLite file, a malformed URL, an unsupported database, an unknown table, a
    repair without a store:
    one clear line each, exit status 2, and no file created."""
    target = f"sqlite:///{sqlite_engine.url.database}"
    missing = tmp_path / "nope.db"
    cases = [
        (["data", "verify", f"sqlite:///{missing}", target], "no such SQLite file"),
        (["data", "verify", "not a url", target], "not a valid SQLAlchemy URL"),
        (["data", "verify", "oracle://u@h/db", target], "unsupported database"),
        (["data", "verify", target, target, "--table", "imagez"], "unknown table"),
        (["data", "repair", target, target], "give shadow --store"),
    ]
    for arguments, message in cases:
        status = _main(arguments, monkeypatch)
        err = capsys.readouterr().err
        assert status == 2, (arguments, err)
        assert err.count("\n") == 1 and message in err, err
    assert not missing.exists()


def test_backfill_counters_only_prints_each_tables_next_id(
    legacy_source: tuple[Path, sa.Engine], sqlite_engine: sa.Engine
) -> None:
    """--counters-only raises the target's counters without copying a row and says, per
    table, the next id; a table without a counter is said to have none."""
    path, source_engine = legacy_source
    with source_engine.begin() as connection:
        for index in range(3):
            connection.execute(
                queue.insert().values(
                    batch_id="b", queue_id="q", session_id=f"s{index}", session="{}"
                )
            )
    source = f"sqlite:///{path}"
    target = f"sqlite:///{sqlite_engine.url.database}"
    counted = runner.invoke(
        app, ["data", "backfill", source, target, "--table", "session_queue", "--counters-only"]
    )
    assert counted.exit_code == 0, counted.output
    assert counted.output.strip() == "session_queue: next id 4"
    with sqlite_engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(queue)).scalar() == 0
    none = runner.invoke(
        app, ["data", "backfill", source, target, "--table", "images", "--counters-only"]
    )
    assert none.output.strip() == "no table has an autoincrement counter to raise"
