"""A SQLite file's read connection per thread (imagegen.db.thread_reads): its lifecycle.

The driver reads of the Core services take the calling thread's own
connection instead of one from the pool; these tests hold it to the pool's
rules: opened as the pool opens one, one per thread, outside the pool's
count, closed with the engine (``dispose``, ``CoreServices.close``) and with
its thread, and blind to nothing the pooled path notices (a replaced file).
"""

from __future__ import annotations

import gc
import shutil
import sqlite3
import threading
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
import sqlalchemy as sa

from imagegen.db.engine import create_engine, create_schema
from imagegen.db.tables import metadata
from imagegen.db.thread_reads import ThreadReader, ThreadReadPool
from imagegen.services.core._base import CoreService
from imagegen.services.core._driver_read import DriverRead
from imagegen.services.core.group_commit import CoreServices
from shadow import FixedClock, SequentialIds

_users = metadata.tables["users"]
_settings = metadata.tables["app_settings"]
_ONE_USER = sa.select(_users.c.user_id).where(_users.c.user_id == sa.bindparam("id"))


def _pool(engine: sa.Engine) -> ThreadReadPool:
    pool = engine.pool
    assert isinstance(pool, ThreadReadPool)
    return pool


def _reader_of_this_thread(engine: sa.Engine) -> ThreadReader:
    reader = _pool(engine).reader()
    assert reader is not None
    reader.release()
    return reader


def _is_closed(driver: sqlite3.Connection) -> bool:
    try:
        driver.execute("SELECT 1").close()
    except sqlite3.ProgrammingError:  # "Cannot operate on a closed database."
        return True
    return False


def _in_threads(count: int, engine: sa.Engine, work: Callable[[], None]) -> list[ThreadReader]:
    """Run ``work`` in ``count`` threads alive at once; each thread's reader of ``engine``."""
    ready = threading.Barrier(count + 1)
    done = threading.Event()
    readers: list[ThreadReader] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
            readers.append(_reader_of_this_thread(engine))
        except BaseException as error:  # reported in the test's thread
            errors.append(error)
        ready.wait()
        done.wait()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    ready.wait()
    done.set()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return readers


def test_a_file_engine_reads_on_one_connection_per_thread_outside_the_pool(
    sqlite_engine: sa.Engine,
) -> None:
    """Reads check nothing out of the pool; each thread keeps one connection, the
    same one for every read it makes; the pool's own connections stay for writes."""
    read = DriverRead(_ONE_USER, sqlite_engine)
    assert read.first({"id": "system"}) == {"user_id": "system"}
    mine = _reader_of_this_thread(sqlite_engine)
    assert read.first({"id": "nobody"}) is None
    assert _reader_of_this_thread(sqlite_engine) is mine
    pool = _pool(sqlite_engine)
    assert pool.checkedin() == 0 and pool.checkedout() == 0  # the pool opened none
    others = _in_threads(3, sqlite_engine, _system_read(read))
    assert len({id(reader) for reader in [mine, *others]}) == 4
    assert len({id(reader.driver) for reader in [mine, *others]}) == 4
    assert pool.checkedin() == 0 and pool.checkedout() == 0


def _system_read(read: DriverRead) -> Callable[[], None]:
    def first() -> None:
        assert read.first({"id": "system"}) == {"user_id": "system"}

    return first


def test_the_thread_connection_is_opened_as_the_pool_opens_one(tmp_path: Path) -> None:
    """The same file and the same per-connection setup (the engine's connect events)."""
    path = tmp_path / "store.db"
    built = create_engine(f"sqlite:///{path}")
    create_schema(built)
    built.dispose()
    engine = create_engine(f"sqlite:///{path}?synchronous=NORMAL", must_exist=True)
    try:
        pragmas = ("foreign_keys", "busy_timeout", "journal_mode", "synchronous")
        with engine.connect() as connection:
            pooled = [connection.exec_driver_sql(f"PRAGMA {name}").scalar() for name in pragmas]
            pooled_file = connection.exec_driver_sql("PRAGMA database_list").fetchall()[0][2]
        driver = _reader_of_this_thread(engine).driver
        own = [driver.execute(f"PRAGMA {name}").fetchone()[0] for name in pragmas]
        assert own == pooled == [1, 5000, "wal", 1]
        assert driver.execute("PRAGMA database_list").fetchall()[0][2] == pooled_file
        assert driver.isolation_level is None  # autocommit: a lone read is its own transaction
    finally:
        engine.dispose()


def test_dispose_and_core_services_close_close_every_thread_connection(
    sqlite_engine: sa.Engine,
) -> None:
    """Those of live threads too; the engine's next reads open new ones."""
    read = DriverRead(_ONE_USER, sqlite_engine)
    read.first({"id": "system"})
    old_pool = _pool(sqlite_engine)
    mine = _reader_of_this_thread(sqlite_engine)
    others = _in_threads(2, sqlite_engine, _system_read(read))
    assert old_pool.open_readers() == 3
    sqlite_engine.dispose()
    assert old_pool.open_readers() == 0
    assert all(_is_closed(reader.driver) for reader in [mine, *others])
    assert old_pool.reader() is None  # a disposed pool opens no more
    assert read.first({"id": "system"}) == {"user_id": "system"}  # on the new pool's
    renewed = _reader_of_this_thread(sqlite_engine)
    assert renewed is not mine and not _is_closed(renewed.driver)
    CoreServices({}, sqlite_engine).close()
    assert _is_closed(renewed.driver)


def test_a_connection_in_use_at_dispose_closes_at_its_release(sqlite_engine: sa.Engine) -> None:
    """Disposing never closes a connection under a running read (another thread's)."""
    pool = _pool(sqlite_engine)
    reader = pool.reader()
    assert reader is not None
    sqlite_engine.dispose()
    assert not _is_closed(reader.driver)  # the read on it goes on
    reader.release()
    assert _is_closed(reader.driver)


def test_a_thread_that_ends_closes_its_connection(sqlite_engine: sa.Engine) -> None:
    read = DriverRead(_ONE_USER, sqlite_engine)
    readers = _in_threads(2, sqlite_engine, _system_read(read))
    drivers = [reader.driver for reader in readers]
    del readers
    gc.collect()
    assert all(_is_closed(driver) for driver in drivers)
    assert _pool(sqlite_engine).open_readers() == 0


def test_a_read_inside_reads_together_takes_a_pooled_connection(sqlite_engine: sa.Engine) -> None:
    """The thread's connection holds the snapshot; a lone read meanwhile is not inside
    it (it sees a commit made after the snapshot began), as on the pooled path."""
    service = CoreService(sqlite_engine, ids=SequentialIds("t"), clock=FixedClock())
    count = sa.select(sa.func.count().label("count")).select_from(_users)
    with service._reads.together(count, reader=service._reader) as reads:
        assert reads.one(count, {}) == {"count": 1}
        with closing(sqlite3.connect(str(sqlite_engine.url.database))) as other:
            other.execute(
                "INSERT INTO users (user_id, email, password_hash) VALUES ('u', 'u@x', 'x')"
            )
            other.commit()
        assert service._reads.one(count, {}) == {"count": 2}  # a connection of the pool
        assert reads.one(count, {}) == {"count": 1}
    mine = _reader_of_this_thread(sqlite_engine)
    assert not mine.driver.in_transaction  # the snapshot's ROLLBACK ended it
    assert service._reads.one(count, {}) == {"count": 2}


def test_a_transaction_left_open_closes_the_connection(sqlite_engine: sa.Engine) -> None:
    """Were a BEGIN left open, every later lone read would see its old snapshot: the
    connection is closed at its release instead, and the next read opens another."""
    reader = _pool(sqlite_engine).reader()
    assert reader is not None
    reader.driver.execute("BEGIN")
    reader.release()
    assert _is_closed(reader.driver)
    assert DriverRead(_ONE_USER, sqlite_engine).first({"id": "system"}) is not None
    assert _reader_of_this_thread(sqlite_engine) is not reader


@pytest.mark.parametrize("change", ["deleted", "replaced"])
def test_a_deleted_or_replaced_file_is_noticed_on_the_thread_connection(
    tmp_path: Path, change: str
) -> None:
    """Its connection is open on the old file; the check before each read refuses it."""
    path = tmp_path / "store.db"
    built = create_engine(f"sqlite:///{path}")
    create_schema(built)
    built.dispose()
    shutil.copyfile(path, tmp_path / "other.db")
    engine = create_engine(f"sqlite:///{path}", must_exist=True)
    try:
        value = sa.select(_settings.c.value).where(_settings.c.key == sa.bindparam("key"))
        read = DriverRead(value, engine)
        assert read.first({"key": "missing"}) is None
        assert _pool(engine).open_readers() == 1
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        if change == "replaced":
            shutil.copyfile(tmp_path / "other.db", path)
        with pytest.raises(sa.exc.OperationalError, match="deleted or replaced"):
            read.first({"key": "missing"})
        service = CoreService(engine, ids=SequentialIds("t"), clock=FixedClock())
        with (
            pytest.raises(sa.exc.OperationalError, match="deleted or replaced"),
            service._reads.together(value, reader=service._reader),
        ):
            pass
    finally:
        engine.dispose()
    assert _pool(engine).open_readers() == 0


def test_engines_that_choose_their_pool_or_live_in_memory_keep_the_pooled_path(
    sqlite_engine: sa.Engine,
) -> None:
    static = create_engine(sqlite_engine.url, poolclass=sa.StaticPool)
    memory = create_engine("sqlite://")
    try:
        assert isinstance(sqlite_engine.pool, ThreadReadPool)
        assert not isinstance(static.pool, ThreadReadPool)
        assert not isinstance(memory.pool, ThreadReadPool)
        reader = _reader_of_this_thread(sqlite_engine)
        assert DriverRead(_ONE_USER, static).first({"id": "system"}) is not None
        assert _reader_of_this_thread(sqlite_engine) is reader  # the static engine's own
    finally:
        static.dispose()
        memory.dispose()
