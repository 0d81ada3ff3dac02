"""SQLite write transactions of one process queue on a lock per file, freed however they end."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from imagegen.db import engine as engine_module
from imagegen.db.engine import create_engine


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    yield engine.execution_options(sqlite_begin="IMMEDIATE")
    engine.dispose()


def _held(tmp_path: Path) -> bool:
    return engine_module._Writers._by_file[str((tmp_path / "w.db").resolve())].locked()


def _count(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        count: int = connection.exec_driver_sql("SELECT count(*) FROM t").scalar_one()
        return count


def test_the_lock_is_held_in_a_write_transaction_and_freed_after_its_commit(
    engine: sa.Engine, tmp_path: Path
) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO t VALUES (1)")
        assert _held(tmp_path)
    assert not _held(tmp_path)
    assert _count(engine) == 1  # committed before the lock was freed


def test_the_lock_is_freed_after_a_rollback_and_after_a_return_mid_transaction(
    engine: sa.Engine, tmp_path: Path
) -> None:
    with pytest.raises(RuntimeError), engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO t VALUES (1)")
        raise RuntimeError("the call failed")
    assert not _held(tmp_path)
    connection = engine.connect()
    connection.begin()
    connection.exec_driver_sql("INSERT INTO t VALUES (2)")
    connection.close()  # back to the pool with the transaction open: rolled back
    assert not _held(tmp_path)
    assert _count(engine) == 0


def test_reads_do_not_take_the_lock(engine: sa.Engine, tmp_path: Path) -> None:
    with engine.execution_options(sqlite_begin="DEFERRED").connect() as connection:
        connection.begin()
        connection.exec_driver_sql("SELECT count(*) FROM t")
        assert not _held(tmp_path)


def test_concurrent_writers_take_turns_and_every_write_lands(engine: sa.Engine) -> None:
    errors: list[BaseException] = []

    def write(start: int) -> None:
        try:
            for n in range(start, start + 50):
                with engine.begin() as connection:
                    connection.exec_driver_sql(f"INSERT INTO t VALUES ({n})")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write, args=(i * 100,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert _count(engine) == 300


def test_a_writer_that_waits_past_the_busy_timeout_fails_as_sqlite_would(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "_BUSY_TIMEOUT_SECONDS", 0.1)
    failures: list[BaseException] = []

    def second_writer() -> None:
        try:
            with engine.begin():
                pass
        except sa.exc.OperationalError as error:
            failures.append(error)

    with engine.begin():
        waiter = threading.Thread(target=second_writer)
        waiter.start()
        waiter.join()
    assert len(failures) == 1 and "database is locked" in str(failures[0])
    assert not _held(tmp_path)


def test_the_begin_mode_holds_for_one_checkout_and_adds_no_engine_event(tmp_path: Path) -> None:
    """A writer's connection begins IMMEDIATE, a derived engine's mode wins, and the pooled
    connection begins DEFERRED again for the next user; with no engine event (one would
    make SQLAlchemy dispatch events on every execute of the writer's connections)."""
    base = create_engine(f"sqlite:///{tmp_path / 'm.db'}", poolclass=sa.StaticPool)
    try:
        raw = base.raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        raw.close()
        issued: list[str] = []
        driver.set_trace_callback(issued.append)
        writer = base.execution_options(sqlite_begin="IMMEDIATE")
        for engine in (writer, base, writer.execution_options(sqlite_begin="EXCLUSIVE"), base):
            with engine.begin() as connection:
                connection.exec_driver_sql("SELECT 1")
        begins = [sql for sql in issued if sql.startswith("BEGIN")]
        assert begins == ["BEGIN IMMEDIATE", "BEGIN DEFERRED", "BEGIN EXCLUSIVE", "BEGIN DEFERRED"]
        assert not writer._has_events
    finally:
        base.dispose()
