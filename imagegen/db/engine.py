"""Engines for the SQLModel layer: one factory for SQLite, PostgreSQL and MariaDB.

:func:`create_engine` validates the URL (a malformed one is a
:class:`~shadow.ConfigError`, not a traceback) and makes every connection
behave the way the schema needs:

* SQLite: ``PRAGMA foreign_keys=ON`` on every connection (without it the
  cascades silently do nothing and the two layers diverge), WAL and a 5 s busy
  timeout as on the legacy connection. The driver's own transaction handling is
  turned off and the engine's dialect (:class:`SQLiteDialect`, not engine
  events, which would slow every execute) emits ``BEGIN`` itself, so a
  transaction starts at its first statement, reads included;
  ``execution_options(sqlite_begin="IMMEDIATE")`` takes the write lock up
  front for read-then-write transactions. Such write
  transactions of one process queue on a Python lock per database file before
  ``BEGIN IMMEDIATE`` (see :class:`_Writers`), so threads take SQLite's write
  lock in turn instead of polling for it in its busy handler.
  A SQLite URL may carry ``?synchronous=NORMAL`` (or ``OFF``, ``FULL``,
  ``EXTRA``): the file's durability setting, ``PRAGMA synchronous`` on every
  connection (SQLite's default, ``FULL``, otherwise). ``NORMAL`` in WAL mode
  may lose the last transactions on a power cut, never corrupt the file; it
  is meant for a store that can be rebuilt, such as a shadow candidate (a
  ``shadow data repair`` restores what a crash lost), never the legacy one.
  A file's engine (unless the caller chooses the pool) has a
  :class:`~imagegen.db.thread_reads.ThreadReadPool`: SQLite's default pool
  plus a read connection per thread, outside the pool, for reads in
  autocommit; closed with the engine.
* MariaDB: utf8mb4 and a UTC session time zone.
* PostgreSQL and MariaDB: a pool that keeps :data:`SERVER_POOL_SIZE`
  connections (unless the caller chooses the pool), enough for the demo's
  threads without opening a connection per call.

:func:`create_schema` brings an empty database to the schema's head revision.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import sqlalchemy as sa
import structlog
from sqlalchemy import event, util
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.engine.characteristics import ConnectionCharacteristic
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from imagegen.db.thread_reads import ThreadReadPool
from shadow._exceptions import ConfigError

__all__ = [
    "SERVER_POOL_SIZE",
    "DatabaseFileGoneError",
    "SQLiteDialect",
    "connectable",
    "create_engine",
    "create_schema",
    "file_check",
    "parse_url",
    "reused_engine",
    "safe_url",
]

_log = structlog.get_logger("imagegen.db")

_SUPPORTED = ("sqlite", "postgresql", "mysql", "mariadb")

SERVER_POOL_SIZE = 10
"""Connections a PostgreSQL or MariaDB engine keeps open by default (SQLAlchemy's: 5)."""


def parse_url(url: str | URL) -> URL:
    """Parse a database URL, or raise :class:`ConfigError` saying why it is unusable."""
    if isinstance(url, URL):
        parsed = url
    else:
        try:
            parsed = make_url(url)
        except (ArgumentError, ValueError) as error:  # ValueError: a non-numeric port
            raise ConfigError(f"malformed database URL {url!r}: {error}") from None
    backend = parsed.get_backend_name()
    if backend not in _SUPPORTED:
        raise ConfigError(
            f"unsupported database {backend!r} in URL; use sqlite, postgresql+psycopg "
            "or mysql+pymysql (MariaDB)"
        )
    return parsed


def safe_url(url: str | URL) -> str:
    """The URL as text with any password masked, for messages."""
    try:
        return parse_url(url).render_as_string(hide_password=True)
    except ConfigError:
        return "<malformed URL>"


@contextmanager
def connectable(url: str | URL, *, must_exist: bool = True) -> Iterator[sa.Engine]:
    """An engine for ``url`` that has been proven to connect, disposed afterwards.

    Raises :class:`ConfigError` for a malformed URL, an unreachable server, or
    (with ``must_exist``) a SQLite file that does not exist, instead of letting
    SQLite create an empty one.
    """
    parsed = parse_url(url)
    if must_exist and parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or not Path(database).is_file():
            raise ConfigError(f"no such SQLite database file: {database or '(none given)'}")
    engine = create_engine(parsed, poolclass=sa.NullPool)
    try:
        try:
            with engine.connect():
                pass
        except sa.exc.DBAPIError as error:
            reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
            raise ConfigError(f"cannot connect to {safe_url(parsed)}: {reason}") from None
        yield engine
    finally:
        engine.dispose()


class DatabaseFileGoneError(sqlite3.OperationalError):
    """The SQLite file an engine opened was deleted or replaced while in use."""


_REUSED: dict[str, sa.Engine] = {}
"""Engines :func:`reused_engine` hands out, by URL (rendered with its password)."""


def _url_key(url: str | URL) -> str:
    return url if isinstance(url, str) else url.render_as_string(hide_password=False)


@contextmanager
def reused_engine(url: str | URL) -> Iterator[sa.Engine]:
    """One engine for ``url`` that :func:`create_engine` returns inside the block.

    Within the block, ``create_engine(url)`` called with no extra options (what
    the service factories do) returns this engine instead of a new one; it is
    disposed when the block ends. Exploration builds both sides afresh for
    every example, and a new engine recompiles every statement (SQLAlchemy's
    compiled cache belongs to the engine): reusing one engine over a database
    whose content is restored between examples makes an example up to three
    times cheaper (``./dev bench explore``). Outside such a block nothing changes.
    """
    key = _url_key(url)
    if key in _REUSED:
        raise RuntimeError(f"an engine for {safe_url(url)} is already being reused")
    engine = create_engine(url)
    _REUSED[key] = engine
    try:
        yield engine
    finally:
        del _REUSED[key]
        engine.dispose()


def create_engine(url: str | URL, *, must_exist: bool = False, **kwargs: Any) -> sa.Engine:
    """Create an engine for ``url`` with the per-connection setup the schema relies on.

    With ``must_exist`` a SQLite file is opened, never created: a missing file
    is a :class:`ConfigError` now, every later connection opens it read-write
    only (``mode=rw``), and every transaction first checks that the file is
    still the one opened, raising :class:`DatabaseFileGoneError` (and logging
    ``database_file_gone``) when it was deleted or replaced. An open
    connection to a deleted file would otherwise keep working on a file that
    no longer exists. Extra keyword arguments go to :func:`sqlalchemy.create_engine`.
    Inside :func:`reused_engine` for the same URL, a call without extra keyword
    arguments returns that engine.
    """
    if not kwargs and (shared := _REUSED.get(_url_key(url))) is not None:
        return shared
    parsed = parse_url(url)
    backend = parsed.get_backend_name()
    synchronous = None
    if backend == "sqlite" and "synchronous" in parsed.query:
        synchronous = _checked_synchronous(parsed.query["synchronous"])
        parsed = parsed.difference_update_query(["synchronous"])
    if backend in ("mysql", "mariadb"):
        if "charset" not in parsed.query:
            parsed = parsed.update_query_dict({"charset": "utf8mb4"})
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("init_command", "SET time_zone = '+00:00'")
        kwargs["connect_args"] = connect_args
    if backend != "sqlite" and "poolclass" not in kwargs and "pool" not in kwargs:
        # SQLAlchemy keeps 5 connections by default and closes every overflow
        # connection on its return, so with more threads than that (the demo's
        # 8 API threads and its queue worker) checkouts past the fifth open a
        # new server connection each time: a pool of 10 gave PostgreSQL's
        # saturated demo 1.2-1.35x the requests/s (docs/benchmarks.md, After
        # the cutover).
        kwargs.setdefault("pool_size", SERVER_POOL_SIZE)
    in_memory = backend == "sqlite" and parsed.database in (None, "", ":memory:")
    if backend == "sqlite" and not in_memory and "poolclass" not in kwargs and "pool" not in kwargs:
        # SQLite's default for a file (QueuePool) plus a read connection per
        # thread for the Core services' driver reads (imagegen.db.thread_reads).
        kwargs["poolclass"] = ThreadReadPool
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except (ArgumentError, NoSuchModuleError, ImportError) as error:
        raise ConfigError(f"cannot create an engine for {parsed!r}: {error}") from None
    if backend == "sqlite":
        watched = None
        if must_exist and not in_memory:
            watched = _existing_file(str(parsed.database))
        _configure_sqlite(engine, in_memory=in_memory, watched=watched, synchronous=synchronous)
    return engine


_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")


def _checked_synchronous(value: str | tuple[str, ...]) -> str:
    mode = value.upper() if isinstance(value, str) else ""
    if mode not in _SYNCHRONOUS:
        raise ConfigError(
            f"synchronous={value!r} in a SQLite URL must be one of {', '.join(_SYNCHRONOUS)}"
        )
    return mode


def _existing_file(database: str) -> Path:
    path = Path(database)
    if not path.is_file():
        raise ConfigError(f"no such SQLite database file: {database} (it is opened, never created)")
    return path.resolve()


_BUSY_TIMEOUT_SECONDS = 5.0

_BEGIN_MODES = ("DEFERRED", "IMMEDIATE", "EXCLUSIVE")


def _identity(path: str) -> tuple[int, int] | None:
    try:
        status = os.stat(path)  # not Path.stat: this runs before every transaction
    except OSError:
        return None
    return (status.st_dev, status.st_ino)


class _Writers:
    """One process's write transactions on one SQLite file, one at a time, in arrival order.

    Why: SQLite's busy handler polls for a held write lock with sleeps of up to
    100 ms, so under a few writing threads a waiting writer sleeps long after
    the lock was freed; after the cutover the demo's 4 API threads lost most of
    their time in ``BEGIN IMMEDIATE`` (``./dev bench aftercutover``, py-spy),
    and some waited out the 5 s busy timeout (``database is locked``). Here a
    writer waits on a lock instead, taken before ``BEGIN IMMEDIATE`` and freed
    right after the ``COMMIT`` or ``ROLLBACK`` (issued here, so the lock is
    not freed before SQLite's). Writers of other processes still meet the busy
    timeout. A writer that cannot get the lock within the busy timeout fails as
    SQLite would, with ``database is locked``. Whether a connection holds the
    lock is kept on its driver connection.
    """

    _by_file: ClassVar[dict[str, threading.Lock]] = {}
    _guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, database: str) -> None:
        with self._guard:
            self._lock = self._by_file.setdefault(str(Path(database).resolve()), threading.Lock())

    def acquire(self, driver: _DriverConnection) -> None:
        if not self._lock.acquire(timeout=_BUSY_TIMEOUT_SECONDS):
            raise sqlite3.OperationalError("database is locked")
        driver.holds_writer_lock = True

    def end(self, driver: _DriverConnection, statement: str) -> None:
        """Run ``statement`` (COMMIT or ROLLBACK) on the driver, then free the lock."""
        try:
            if driver.in_transaction:
                driver.execute(statement)
        finally:
            # A failed COMMIT leaves the transaction open: its rollback frees the lock.
            if statement != "COMMIT" or not driver.in_transaction:
                self.release(driver)

    def release(self, driver: _DriverConnection) -> None:
        if driver.holds_writer_lock:
            driver.holds_writer_lock = False
            self._lock.release()


class _DriverConnection(sqlite3.Connection):
    """A sqlite3 connection that remembers how its next transaction begins, and
    whether it holds its file's writer lock (:class:`_Writers`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.begin_mode = "DEFERRED"
        self.holds_writer_lock = False


def _as_ours(driver: sqlite3.Connection) -> _DriverConnection:
    """``driver`` as the connection class the dialect opens (its ``connect``)."""
    if not isinstance(driver, _DriverConnection):
        raise TypeError(f"not a connection of this dialect: {driver!r}")
    return driver


def _checked_mode(value: Any) -> str:
    if value not in _BEGIN_MODES:
        raise ValueError(f"sqlite_begin must be DEFERRED, IMMEDIATE or EXCLUSIVE, not {value!r}")
    return str(value)


class _BeginMode(ConnectionCharacteristic):
    """The ``sqlite_begin`` execution option: DEFERRED, IMMEDIATE or EXCLUSIVE.

    Set on the driver connection for as long as the connection is checked out
    (reset to DEFERRED on its return to the pool), read by the next ``BEGIN``.
    """

    transactional = True  # it cannot change the transaction already begun

    def reset_characteristic(self, dialect: Any, dbapi_conn: Any) -> None:
        dbapi_conn.begin_mode = "DEFERRED"

    def set_characteristic(self, dialect: Any, dbapi_conn: Any, value: Any) -> None:
        dbapi_conn.begin_mode = _checked_mode(value)

    def get_characteristic(self, dialect: Any, dbapi_conn: Any) -> Any:
        return dbapi_conn.begin_mode


class _SQLiteConnection(sa.Connection):
    """A connection that takes its engine's ``sqlite_begin`` as it opens.

    What SQLAlchemy does for an engine's connection characteristics (an
    ``engine_connect`` listener, which this replaces) costs more than the
    listener's work: an engine with any event dispatches events on every
    execute, begin and commit of its connections, about 80 µs of a write
    transaction's 260 single-threaded (docs/benchmarks.md, "Where the paced
    p50 goes"). The mode is read from the connection's own options, so an
    engine derived from a writer with another mode gets that mode.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        mode = self.get_execution_options().get("sqlite_begin")
        if mode is not None:
            self.dialect.set_connection_execution_options(self, {"sqlite_begin": mode})


class SQLiteDialect(SQLiteDialect_pysqlite):
    """pysqlite with the transaction recipe in the dialect instead of engine events.

    SQLAlchemy's documented recipe for SQLite transactions puts ``BEGIN`` in a
    ``begin`` event; any engine event makes every execute of the engine run
    SQLAlchemy's event dispatch (six dispatches per point read), which cost
    about a quarter of a point read (``./dev bench percall``). Here ``BEGIN``
    (in the connection's ``sqlite_begin`` mode, after the writer lock for a
    write transaction), ``COMMIT`` and ``ROLLBACK`` are the dialect's own
    ``do_begin``/``do_commit``/``do_rollback``, and the open-never-create rule
    is its ``connect``; what is left as events belongs to the pool, which the
    execute path never dispatches.
    """

    supports_statement_cache = True
    connection_characteristics = util.immutabledict(
        {**SQLiteDialect_pysqlite.connection_characteristics, "sqlite_begin": _BeginMode()}
    )
    writers: _Writers | None = None
    watched: Path | None = None
    """The file a ``must_exist`` engine opened, checked at every ``BEGIN`` and by
    statements run without one (:func:`file_check`)."""
    _watched_path = ""
    opened: tuple[int, int] | None = None

    def watch(self, path: Path) -> None:
        """Check at every transaction that ``path`` is still the file opened now."""
        self.watched, self._watched_path, self.opened = path, str(path), _identity(str(path))

    def check_file(self) -> None:
        """Raise :class:`DatabaseFileGoneError` if the watched file was deleted or replaced."""
        if self.watched is not None and _identity(self._watched_path) != self.opened:
            _log.error("database_file_gone", path=self._watched_path)
            raise DatabaseFileGoneError(f"database file {self.watched} was deleted or replaced")

    def set_engine_execution_options(self, engine: sa.Engine, opts: Mapping[str, Any]) -> None:
        # Every engine derived from a SQLite engine: its connections apply its
        # sqlite_begin themselves (see _SQLiteConnection), with no engine event.
        engine._connection_cls = _SQLiteConnection
        if "sqlite_begin" not in opts:
            super().set_engine_execution_options(engine, opts)
            return
        _checked_mode(opts["sqlite_begin"])  # a wrong mode fails here, not at first use
        super().set_engine_execution_options(
            engine, {name: value for name, value in opts.items() if name != "sqlite_begin"}
        )

    def connect(self, *cargs: Any, **cparams: Any) -> Any:
        if self.watched is not None:
            # mode=rw: SQLite fails to open a missing file instead of creating an empty one.
            cargs, cparams["uri"] = (f"{self.watched.as_uri()}?mode=rw",), True
        return super().connect(*cargs, factory=_DriverConnection, **cparams)

    def do_begin(self, dbapi_connection: Any) -> None:
        driver: _DriverConnection = dbapi_connection.driver_connection
        self.begin_on(driver, driver.begin_mode)

    def do_commit(self, dbapi_connection: Any) -> None:
        self.end_on(dbapi_connection.driver_connection, "COMMIT")

    def do_rollback(self, dbapi_connection: Any) -> None:
        self.end_on(dbapi_connection.driver_connection, "ROLLBACK")

    def begin_on(self, driver: sqlite3.Connection, mode: str) -> None:
        """``BEGIN`` in ``mode`` on ``driver``: the file check, then (unless ``DEFERRED``)
        the writer lock. SQLAlchemy's ``do_begin`` and the Core services' driver
        writes (``imagegen.services.core._driver_write``) both begin here."""
        statement = f"BEGIN {_checked_mode(mode)}"
        conn = _as_ours(driver)
        self.check_file()
        # Raised errors are the driver's: SQLAlchemy wraps them as it wraps any.
        writers = self.writers if mode != "DEFERRED" else None
        if writers is not None:
            writers.acquire(conn)
        try:
            conn.execute(statement)
        except BaseException:
            if writers is not None:
                writers.release(conn)
            raise

    def end_on(self, driver: sqlite3.Connection, statement: str) -> None:
        """``COMMIT`` or ``ROLLBACK`` on ``driver``, then the writer lock freed if held."""
        conn = _as_ours(driver)
        if self.writers is not None and conn.holds_writer_lock:
            self.writers.end(conn, statement)
        elif statement == "COMMIT":
            driver.commit()  # what SQLAlchemy's own do_commit does
        else:
            driver.rollback()


def _configure_sqlite(
    engine: sa.Engine, *, in_memory: bool, watched: Path | None, synchronous: str | None
) -> None:
    if type(engine.dialect) is not SQLiteDialect_pysqlite:
        raise ConfigError(
            f"unsupported SQLite driver {engine.url.drivername!r}; use sqlite:// (pysqlite)"
        )
    # The engine is not connected yet: its dialect becomes the subclass above
    # before any use (SQLAlchemy picks the class from the URL alone).
    engine.dialect.__class__ = SQLiteDialect
    dialect = engine.dialect
    assert isinstance(dialect, SQLiteDialect)
    if watched is not None:
        dialect.watch(watched)
    if not in_memory:
        dialect.writers = writers = _Writers(str(engine.url.database or ""))

        @event.listens_for(engine, "invalidate")
        def _on_invalidate(dbapi_connection: Any, _record: Any, _exception: Any) -> None:
            if dbapi_connection is not None:  # a dropped connection holds no SQLite lock
                writers.release(dbapi_connection)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit at the driver level: the dialect's do_begin above starts
        # transactions, so SAVEPOINT and transactional reads work as documented.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA busy_timeout = 5000")
            if not in_memory:
                cursor.execute("PRAGMA journal_mode = WAL")
            if synchronous is not None:
                cursor.execute(f"PRAGMA synchronous = {synchronous}")  # checked: one of four words
        finally:
            cursor.close()


def _no_check() -> None:
    pass


def file_check(engine: sa.Engine) -> Callable[[], None]:
    """The check every transaction on ``engine`` starts with, for statements run without one.

    For a ``must_exist`` SQLite engine it raises :class:`DatabaseFileGoneError`
    when the file was deleted or replaced (see :func:`create_engine`); for
    any other engine it does nothing.
    """
    dialect = engine.dialect
    if isinstance(dialect, SQLiteDialect) and dialect.watched is not None:
        return dialect.check_file
    return _no_check


def create_schema(engine: sa.Engine) -> None:
    """Build the schema on an empty database: Alembic ``upgrade head`` on ``engine``.

    Tables, indexes, generated columns, triggers and seed rows, exactly as the
    migration scripts define them (the engine's connection is reused, so its
    per-connection setup applies).
    """
    from imagegen.db.migrate import upgrade  # noqa: PLC0415  (Alembic is heavy to import)

    upgrade(engine)
