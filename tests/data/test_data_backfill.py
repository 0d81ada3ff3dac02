"""Online backfill: resumable from its checkpoint, never overwriting newer rows, counters synced."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from imagegen.db.tables import ImageTable, SessionQueueTable
from shadow import ConfigError
from shadow.data import DataSchema, backfill, verify
from shadow.data._insqlite import CopyInSqlite
from shadow.data._write import next_counter
from tests.data.conftest import fill_images, image_name

images = ImageTable.__table__  # type: ignore[attr-defined]
queue = SessionQueueTable.__table__  # type: ignore[attr-defined]


class Interrupted(Exception):
    """Stands for a crash or Ctrl-C in the middle of a backfill."""


def test_interrupted_backfill_resumes_from_its_checkpoint_and_ends_equal(
    legacy_source: tuple[Path, sa.Engine], target: sa.Engine, schema: DataSchema, tmp_path: Path
) -> None:
    """A backfill stopped after two chunks leaves a checkpoint; the next run copies only
    the rest (it reports itself resumed, with every row counted once) and the stores end equal."""
    path, source = legacy_source
    fill_images(path, 2_500)
    tables = schema.tables(["images"])
    checkpoint = tmp_path / "backfill.json"
    seen: list[int] = []

    def crash_on_third(table: str, rows: list[dict[str, Any]]) -> None:
        seen.append(len(rows))
        if len(seen) == 3:
            raise Interrupted

    with pytest.raises(Interrupted):
        backfill(
            source, target, tables, checkpoint=checkpoint, chunk_size=500, pause=crash_on_third
        )
    state = json.loads(checkpoint.read_text())
    thousandth = sorted(image_name(i) for i in range(2_500))[999]
    assert state["tables"]["images"] == {"after": thousandth, "copied": 1000, "done": False}
    with target.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(images)).scalar() == 1000

    chunks: list[int] = []
    report = backfill(
        source,
        target,
        tables,
        checkpoint=checkpoint,
        chunk_size=500,
        pause=lambda table, rows: chunks.append(len(rows)),
    )
    assert chunks == [500, 500, 500], "the resumed run re-read chunks it had already copied"
    assert report.tables[0].resumed and report.tables[0].copied == 2_500
    assert verify(source, target, tables).equal


def test_checkpoint_of_another_copy_is_refused(
    legacy_source: tuple[Path, sa.Engine],
    sqlite_engine: sa.Engine,
    schema: DataSchema,
    tmp_path: Path,
) -> None:
    """A checkpoint written for other stores is bad input: resuming from it would skip rows."""
    _, source = legacy_source
    checkpoint = tmp_path / "backfill.json"
    checkpoint.write_text(
        json.dumps({"source": "sqlite:///elsewhere", "target": "x", "tables": {}})
    )
    with pytest.raises(ConfigError, match="belongs to"):
        backfill(source, sqlite_engine, schema.tables(["images"]), checkpoint=checkpoint)


def test_rows_written_by_the_mirror_during_a_chunk_are_never_overwritten(
    legacy_source: tuple[Path, sa.Engine], target: sa.Engine, schema: DataSchema
) -> None:
    """Between the backfill reading a chunk and writing it, a mirrored write changes a row
    of that chunk on both stores (and inserts a new one): the target keeps the newer values,
    not the copied older ones, and every other row is copied."""
    path, source = legacy_source
    fill_images(path, 300)
    tables = schema.tables(["images"])
    newer = image_name(150)

    def mirrored_write(table: str, rows: list[dict[str, Any]]) -> None:
        if newer not in {row["image_name"] for row in rows}:
            return
        # The authoritative upsert updates the row; its mirror, finding no row on the
        # target yet, inserts the same new state there.
        with source.begin() as connection:
            connection.execute(
                images.update()
                .where(images.c.image_name == newer)
                .values(image_category="mask", width=9, height=9)
            )
            state = connection.execute(sa.select(images).where(images.c.image_name == newer)).one()
        with target.begin() as connection:
            connection.execute(images.insert().values(**state._mapping))

    backfill(source, target, tables, chunk_size=100, pause=mirrored_write)
    with target.connect() as connection:
        row = connection.execute(sa.select(images).where(images.c.image_name == newer)).one()
        total = connection.execute(sa.select(sa.func.count()).select_from(images)).scalar()
    assert (row.image_category, row.width) == ("mask", 9), "the copy overwrote a newer row"
    assert total == 300
    assert verify(source, target, tables).equal


def test_copying_a_chunk_fires_no_update_trigger_on_rows_already_there(
    legacy_source: tuple[Path, sa.Engine], target: sa.Engine, schema: DataSchema
) -> None:
    """A row the mirror wrote while the backfill ran (its ``updated_at`` newer than the
    copy's) is left exactly as it is when a chunk holding its key is copied: no update of
    it, so no ``BEFORE UPDATE`` trigger re-stamps its ``updated_at`` with the copy's time
    (MariaDB's ``ON DUPLICATE KEY UPDATE k = k`` did). Its neighbours are copied."""
    path, source = legacy_source
    fill_images(path, 30)
    tables = schema.tables(["images"])
    newer = image_name(15)
    stamp = "2030-01-01 00:00:00"

    def mirrored_insert(table: str, rows: list[dict[str, Any]]) -> None:
        if newer not in {row["image_name"] for row in rows}:
            return
        with source.connect() as connection:
            state = connection.execute(sa.select(images).where(images.c.image_name == newer)).one()
        with target.begin() as connection:
            connection.execute(
                images.insert().values(
                    {**state._mapping, "width": 9, "updated_at": datetime(2030, 1, 1, tzinfo=UTC)}
                )
            )

    report = backfill(source, target, tables, chunk_size=10, pause=mirrored_insert)
    with target.connect() as connection:
        stored = connection.execute(
            sa.select(
                images.c.width, sa.type_coerce(images.c.updated_at, sa.String).label("at")
            ).where(images.c.image_name == newer)
        ).one()
        total = connection.execute(sa.select(sa.func.count()).select_from(images)).scalar()
    assert stored.width == 9
    assert str(stored.at).startswith(stamp), f"the copy re-stamped the newer row: {stored.at}"
    assert total == 30
    assert report.tables[0].inserted == 29


def test_a_chunk_with_a_row_whose_parent_is_gone_copies_the_others(
    legacy_source: tuple[Path, sa.Engine], target: sa.Engine, schema: DataSchema
) -> None:
    """A board link whose image was deleted on the target (the mirror deleted it after the
    backfill copied images) fails its foreign key: the chunk is copied row by row instead,
    that row skipped and counted, the nine others inserted."""
    path, source = legacy_source
    fill_images(path, 10)
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("INSERT INTO boards (board_id, board_name) VALUES ('b1', 'one')")
        connection.executemany(
            "INSERT INTO board_images (board_id, image_name) VALUES ('b1', ?)",
            [(image_name(i),) for i in range(10)],
        )
        connection.commit()
    backfill(source, target, schema.tables(["images", "boards"]))
    with target.begin() as connection:
        connection.execute(images.delete().where(images.c.image_name == image_name(4)))
    report = backfill(source, target, schema.tables(["board_images"]), chunk_size=10)
    assert (report.tables[0].inserted, report.tables[0].skipped) == (9, 1)
    with target.connect() as connection:
        linked = connection.exec_driver_sql("SELECT image_name FROM board_images").scalars()
        assert sorted(linked) == sorted(image_name(i) for i in range(10) if i != 4)


def test_backfill_raises_the_targets_autoincrement_counter(
    legacy_source: tuple[Path, sa.Engine], target: sa.Engine, schema: DataSchema
) -> None:
    """After copying the queue, the target hands out the id the source would (deleted
    rows' ids count as used), so the next mirrored insert gets the same item_id."""
    _, source = legacy_source
    with source.begin() as connection:
        for index in range(5):
            connection.execute(
                queue.insert().values(
                    batch_id="b",
                    queue_id="q",
                    session_id=f"s{index}",
                    session="{}",
                )
            )
        connection.execute(queue.delete().where(queue.c.session_id == "s4"))
    report = backfill(source, target, schema.tables(["session_queue"]))
    assert report.tables[0].next_id == 6
    with target.connect() as connection:
        assert next_counter(connection, queue) == 6


def test_backfill_writes_every_timestamp_shape_in_the_target_types_own_text(
    legacy_source: tuple[Path, sa.Engine],
    sqlite_engine: sa.Engine,
    schema: DataSchema,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Shapes SQLite rewrites (three legacy texts) and one it does not (an offset of +02:00,
    converted by the column type instead) all land as the candidate's own
    ``YYYY-MM-DD HH:MM:SS.ffffff`` UTC text, so SQL order stays time order; 0/1 and NULL
    pass as they are, and the stores verify equal. The chunk holding the offset (keys sort
    ``Img-1, Img-3, img-0 | img-2``) is rolled back inside SQLite and copied through Python;
    the next one is copied inside SQLite."""
    outcomes: list[object] = []
    copy_chunk = CopyInSqlite.copy_chunk

    def spy(self: CopyInSqlite, after: object) -> object:
        outcomes.append(copy_chunk(self, after))
        return outcomes[-1]

    monkeypatch.setattr(CopyInSqlite, "copy_chunk", spy)
    path, source = legacy_source
    fill_images(path, 4)
    with closing(sqlite3.connect(path)) as connection:
        connection.execute(
            "UPDATE images SET created_at = '2026-08-19T03:13:04.5+02:00' WHERE image_name = ?",
            (image_name(3),),
        )
        connection.commit()
    tables = schema.tables(["images"])
    backfill(source, sqlite_engine, tables, chunk_size=3)
    with sqlite_engine.connect() as engine_connection:
        stored = engine_connection.exec_driver_sql(
            "SELECT image_name, created_at, updated_at, starred, deleted_at FROM images"
            " ORDER BY image_name"
        ).all()
    by_name = {row[0]: row[1:] for row in stored}
    assert by_name[image_name(0)][:2] == (
        "2026-08-19 01:13:00.123000",
        "2026-08-19 01:13:00.000000",
    )
    assert by_name[image_name(1)][:2] == (
        "2026-08-19 01:13:01.000000",
        "2026-08-19 01:13:01.123000",
    )
    assert by_name[image_name(2)][:2] == (
        "2026-08-19 01:13:02.123000",
        "2026-08-19 01:13:02.123000",
    )
    assert by_name[image_name(3)][0] == "2026-08-19 01:13:04.500000"
    assert [by_name[image_name(i)][2:] for i in range(4)] == [(i % 2, None) for i in range(4)]
    assert verify(source, sqlite_engine, tables).equal
    assert outcomes == [None, (1, image_name(2), 1), (0, None, 0)]


def test_a_composite_key_row_already_there_is_left_as_it_is(
    legacy_source: tuple[Path, sa.Engine], target: sa.Engine, schema: DataSchema
) -> None:
    """``client_state`` is keyed on (user_id, key): the row the target already holds keeps
    its value (the copy looks the chunk's keys up as pairs, not column by column: the
    same user's other key and the other user's same key are copied)."""
    path, source = legacy_source
    with closing(sqlite3.connect(path)) as connection:
        connection.executemany(
            "INSERT INTO users (user_id, email, password_hash) VALUES (?, ?, 'x')",
            [("u1", "u1@example.com"), ("u2", "u2@example.com")],
        )
        connection.executemany(
            "INSERT INTO client_state (user_id, key, value) VALUES (?, ?, ?)",
            [("u1", "a", "old"), ("u1", "b", "1"), ("u2", "a", "2")],
        )
        connection.commit()
    backfill(source, target, schema.tables(["users"]))
    with target.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO client_state (user_id, `key`, value, updated_at)"
            " VALUES ('u1', 'a', 'newer', '2030-01-01 00:00:00')"
            if target.dialect.name in ("mysql", "mariadb")
            else "INSERT INTO client_state (user_id, key, value, updated_at)"
            " VALUES ('u1', 'a', 'newer', '2030-01-01 00:00:00')"
        )
    report = backfill(source, target, schema.tables(["client_state"]))
    with target.connect() as connection:
        stored = connection.exec_driver_sql(
            "SELECT user_id, value FROM client_state ORDER BY user_id, value"
        ).all()
    assert [tuple(row) for row in stored] == [("u1", "1"), ("u1", "newer"), ("u2", "2")]
    assert report.tables[0].inserted == 2
