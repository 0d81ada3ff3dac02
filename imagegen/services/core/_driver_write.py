"""Write transactions on SQLite run by the driver, with SQLAlchemy's SQL, types and errors.

After the reads moved to the driver (:mod:`imagegen.services.core._driver_read`),
what was left of a SQLModel request's extra cost after the cutover was its
write transactions: a ``Connection`` checked out of the pool, its
``sqlite_begin`` characteristic set and reset, the transaction's objects, and
per statement SQLAlchemy's execution layer (cache key, execution context,
cursor result). Single-threaded, ``set_queue_item_session`` (``BEGIN
IMMEDIATE``, an ``UPDATE``, a ``SELECT``, ``COMMIT``) cost 405 µs of CPU
against 238 µs on the legacy layer; the same transaction on the driver 207 µs
(docs/benchmarks.md, "Write transactions on the driver").

:meth:`DriverWrites.begin` keeps what SQLAlchemy decides and leaves out the
machinery in between:

* **The SQL and the types**: each statement is compiled by SQLAlchemy for the
  engine's dialect with the call's parameter names as its column keys, as
  ``Connection.execute`` compiles it (an ``INSERT`` names the columns given),
  once per statement and set of names; its parameters are ordered and
  converted by the bound types' processors, its rows (``RETURNING``,
  ``SELECT``) by the result columns' types, and handed back as SQLAlchemy's
  own :class:`~sqlalchemy.engine.Row` objects in a
  :class:`~sqlalchemy.engine.Result` that also has ``rowcount``.
* **The transaction recipe**: ``BEGIN`` in the writer's ``sqlite_begin`` mode
  after the writer lock and the file check, ``COMMIT`` or ``ROLLBACK`` and the
  lock's release, are the engine's dialect's own
  (:meth:`imagegen.db.engine.SQLiteDialect.begin_on` and ``end_on``, which
  SQLAlchemy's path calls too).
* **The errors**: a driver error is wrapped as SQLAlchemy wraps it
  (``sqlalchemy.exc.IntegrityError`` and the rest), and the transaction is
  rolled back as leaving ``engine.begin()`` with an exception rolls it back.

It runs on the calling thread's own connection when the engine's pool keeps
one (:class:`~imagegen.db.thread_reads.ThreadReadPool`), otherwise on one from
the pool. Everywhere else ``begin()`` is the writer's own: on the servers
(a round trip per statement, which this would not shorten), on an engine not
built by :func:`imagegen.db.engine.create_engine`, and inside a group commit,
whose calls join the group's ``Connection`` (its savepoints included).

A statement whose SQL depends on its parameters' values (an expanding ``IN``,
``literal_execute``) or that needs Python-side column defaults cannot run
here: :meth:`DriverTransaction.execute` raises ``TypeError`` for it, so a
method that uses one keeps ``self._writer.begin()``. No ``executemany``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol, TypeAlias, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine.result import IteratorResult, SimpleResultMetaData
from sqlalchemy.sql.compiler import SQLCompiler

from imagegen.db.engine import SQLiteDialect
from imagegen.services.core._driver_read import DriverSQL, driver_connection
from imagegen.services.core.group_commit import Joinable

__all__ = ["DriverResult", "DriverTransaction", "DriverWrites", "WriteConnection"]

_Processor = Callable[[Any], Any] | None


class DriverResult(IteratorResult[Any]):
    """SQLAlchemy's result over rows the driver returned, with the cursor's ``rowcount``."""

    def __init__(self, metadata: SimpleResultMetaData, rows: list[Any], rowcount: int) -> None:
        super().__init__(metadata, iter(rows))
        self.rowcount = rowcount


WriteConnection: TypeAlias = "sa.Connection | DriverTransaction"
"""What :meth:`DriverWrites.begin` yields: both run ``execute(statement, params)``."""


class _Compiled:
    """One statement compiled for one set of parameter names, ready for the driver."""

    def __init__(self, statement: sa.Executable, dialect: sa.Dialect, keys: list[str]) -> None:
        if not isinstance(statement, sa.ClauseElement):
            raise TypeError(f"not a SQL expression statement: {statement!r}")
        compiled = statement.compile(dialect=dialect, column_keys=keys)
        if not isinstance(compiled, SQLCompiler):
            raise TypeError(f"not compiled by a SQL compiler: {statement!r}")
        try:
            driver_sql = DriverSQL(compiled, dialect)
        except ValueError as error:  # a statement this connection cannot run: TypeError
            raise TypeError(str(error)) from None
        if getattr(compiled, "insert_prefetch", None) or getattr(compiled, "update_prefetch", None):
            raise TypeError(f"it needs Python-side column defaults: {compiled.string!r}")
        self.sql = driver_sql.sql
        self.arguments = driver_sql.arguments
        # What CursorResult matches the cursor's columns to (none: no rows returned).
        columns = compiled._result_columns or []
        self.returns_rows = bool(columns)
        self.metadata = SimpleResultMetaData([entry.keyname for entry in columns])
        self._results: list[_Processor] = [
            entry.type.dialect_impl(dialect).result_processor(dialect, None) for entry in columns
        ]
        self._processed = any(process is not None for process in self._results)

    def rows(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        if not self._processed:
            return rows
        results = self._results
        return [
            tuple(
                value if process is None else process(value)
                for value, process in zip(row, results, strict=True)
            )
            for row in rows
        ]


T = TypeVar("T")


class _Cache(Protocol):
    def get(self, key: Hashable, build: Callable[[], T]) -> T: ...


class DriverTransaction:
    """A write transaction open on a driver connection: ``execute`` as a ``Connection``'s."""

    __slots__ = ("_cache", "_driver", "dialect")

    def __init__(self, driver: sqlite3.Connection, dialect: sa.Dialect, cache: _Cache) -> None:
        self._driver = driver
        self.dialect = dialect
        self._cache = cache

    def execute(
        self, statement: sa.Executable, parameters: Mapping[str, Any] | None = None
    ) -> DriverResult:
        """Run ``statement`` with ``parameters`` (one set) in this transaction."""
        params = {} if parameters is None else parameters
        keys = sorted(params)  # the column keys Connection.execute compiles with
        dialect = self.dialect
        compiled = self._cache.get(
            ("driver write", statement, tuple(keys)), lambda: _Compiled(statement, dialect, keys)
        )
        arguments = compiled.arguments(params)
        try:
            cursor = self._driver.execute(compiled.sql, arguments)
            try:
                rows = cursor.fetchall() if compiled.returns_rows else []
                rowcount = cursor.rowcount
            finally:
                cursor.close()
        except sqlite3.Error as error:
            raise sa.exc.DBAPIError.instance(
                compiled.sql, arguments, error, sqlite3.Error
            ) from error
        return DriverResult(compiled.metadata, compiled.rows(rows), rowcount)


class DriverWrites:
    """A service's write transactions: on the driver on SQLite, else the writer's own.

    An attribute of every Core service rather than methods of their base class,
    as :class:`~imagegen.services.core._driver_read.OneStatementReads` is (coverage
    evidence counts a service's own code and what it inherits).
    """

    def __init__(self, writer: Joinable, cache: _Cache) -> None:
        self._writer = writer
        self._engine = writer.engine
        self._cache = cache
        dialect = writer.dialect
        self._dialect: SQLiteDialect | None = (
            dialect if isinstance(dialect, SQLiteDialect) else None
        )
        self._mode = str(self._engine.get_execution_options().get("sqlite_begin", "DEFERRED"))

    def begin(self) -> AbstractContextManager[WriteConnection]:
        """A write transaction, committed at the end of the block, rolled back on an error."""
        if self._dialect is None or self._writer.joined() is not None:
            return self._writer.begin()
        return self._on_driver(self._dialect)

    @contextmanager
    def _on_driver(self, dialect: SQLiteDialect) -> Iterator[DriverTransaction]:
        with driver_connection(self._engine) as driver:
            try:
                dialect.begin_on(driver, self._mode)
            except sqlite3.Error as error:
                raise sa.exc.DBAPIError.instance(None, None, error, sqlite3.Error) from error
            try:
                yield DriverTransaction(driver, dialect, self._cache)
            except BaseException:
                _end(dialect, driver, "ROLLBACK")
                raise
            try:
                _end(dialect, driver, "COMMIT")
            except BaseException:
                # A failed COMMIT leaves the transaction open (and the writer lock held).
                _end(dialect, driver, "ROLLBACK")
                raise


def _end(dialect: SQLiteDialect, driver: sqlite3.Connection, statement: str) -> None:
    try:
        dialect.end_on(driver, statement)
    except sqlite3.Error as error:
        raise sa.exc.DBAPIError.instance(statement, (), error, sqlite3.Error) from error
