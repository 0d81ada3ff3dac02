"""Single-statement reads on SQLite run by the driver, with SQLAlchemy's SQL and types.

A point read through SQLAlchemy's execution layer costs several times the
statement itself on SQLite: checking a ``Connection`` out, computing the
statement's cache key, building an execution context and a result
(``./dev bench percall``: 2.2x to 2.8x the legacy layer's raw ``sqlite3``
read, against 1.0x to 1.4x for the same SQL on the pooled driver connection).
A :class:`DriverRead` keeps what the layer decides -- the SQL SQLAlchemy
compiled for the engine's dialect, the types' bind and result processing,
the engine's check that its file is still there -- and leaves out the
machinery in between: the statement is compiled once, its parameters ordered
and converted by the bound types' processors, its rows converted by the
selected columns' types.

No ``BEGIN`` and ``ROLLBACK`` around it: the driver connection is in
autocommit mode, where SQLite runs a lone statement in a read transaction of
its own, the same snapshot a ``BEGIN``/``ROLLBACK`` pair around it would
give. Each of those two statements is one more driver call, and every driver
call gives up the GIL and waits to get it back behind the other threads
(docs/benchmarks.md, "Where the paced p50 goes").

The statement runs on the calling thread's own read connection when the
engine's pool keeps one (:class:`~imagegen.db.thread_reads.ThreadReadPool`,
a file's default), so a read checks nothing out of the pool; otherwise, or
when that connection is in use already, on one from the pool.

Only SQLite takes this path (:class:`OneStatementReads`): on the servers a read
costs a round trip, which this would not shorten. Statements whose SQL
depends on the parameters (expanding ``IN``, ``literal_execute``) are not
supported and stay on the execution layer. Driver errors are wrapped as
SQLAlchemy wraps them, so callers see the same ``sqlalchemy.exc`` types.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.sql.compiler import SQLCompiler

from imagegen.db.engine import file_check
from imagegen.db.thread_reads import ThreadReader, ThreadReadPool
from imagegen.services.core.group_commit import Joinable

__all__ = [
    "DriverRead",
    "DriverSQL",
    "OneStatementReads",
    "Snapshot",
    "driver_connection",
    "fixed_in",
    "fixed_in_params",
]

_Processor = Callable[[Any], Any] | None


class DriverSQL:
    """A compiled statement as the driver takes it: its fixed SQL text, and its
    parameters in the placeholders' order, each converted by its type's bind processor.

    Shared by the driver reads (:class:`DriverRead`) and writes
    (``imagegen.services.core._driver_write``). Raises ``ValueError`` when the SQL
    depends on the parameters' values (an expanding ``IN``, ``literal_execute``).
    """

    __slots__ = ("_binds", "_compiled", "sql")

    def __init__(self, compiled: SQLCompiler, dialect: sa.Dialect) -> None:
        binds = compiled.binds
        if (
            compiled.positiontup is None
            or compiled.literal_execute_params
            or compiled.post_compile_params
            or any(bind.expanding for bind in binds.values())
        ):
            raise ValueError(f"the statement's SQL depends on its parameters: {compiled.string!r}")
        self._compiled = compiled
        self.sql = compiled.string
        self._binds: list[tuple[str, _Processor]] = [
            (name, binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in compiled.positiontup
        ]

    def arguments(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        """``params`` (name to value) as the driver's positional arguments."""
        values = self._compiled.construct_params(dict(params))
        assert values is not None  # None only with _no_postcompile, never asked for here
        return tuple(
            values[name] if process is None else process(values[name])
            for name, process in self._binds
        )


class DriverRead:
    """``statement`` compiled once for ``engine``'s SQLite dialect, run on its driver."""

    def __init__(self, statement: sa.Select[Any], engine: sa.Engine) -> None:
        dialect = engine.dialect
        driver_sql = DriverSQL(statement.compile(dialect=dialect), dialect)
        keys = [column.key for column in statement.selected_columns]
        if None in keys or len(set(keys)) != len(keys):
            raise ValueError(f"every selected column needs a name of its own: {keys}")
        self._engine = engine
        self._check_file = file_check(engine)
        self._sql = driver_sql.sql
        self._arguments = driver_sql.arguments
        self._keys = tuple(str(key) for key in keys)
        self._results: list[_Processor] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        ]

    def _row(self, row: tuple[Any, ...]) -> dict[str, Any]:
        return {
            key: value if process is None else process(value)
            for key, value, process in zip(self._keys, row, self._results, strict=True)
        }

    def _run(self, params: Mapping[str, Any], fetch: Callable[[sqlite3.Cursor], Any]) -> Any:
        """``fetch(cursor)`` after the statement, run alone in its own read transaction."""
        if (reader := _thread_reader(self._engine)) is not None:
            try:
                return self._execute(reader.driver, params, fetch, check_file=True)
            finally:
                reader.release()
        raw = self._engine.raw_connection()
        try:
            return self._execute(raw.driver_connection, params, fetch, check_file=True)  # type: ignore[arg-type]
        finally:
            raw.close()

    def _execute(
        self,
        driver: sqlite3.Connection,
        params: Mapping[str, Any],
        fetch: Callable[[sqlite3.Cursor], Any],
        *,
        check_file: bool,
    ) -> Any:
        arguments = self._arguments(params)
        try:
            if check_file:
                self._check_file()
            cursor = driver.execute(self._sql, arguments)
            try:
                return fetch(cursor)
            finally:
                cursor.close()  # resets the statement: alone, its read transaction ends here
        except sqlite3.Error as error:
            raise sa.exc.DBAPIError.instance(self._sql, arguments, error, sqlite3.Error) from error

    def all(
        self, params: Mapping[str, Any], on: sqlite3.Connection | None = None
    ) -> list[dict[str, Any]]:
        """Every row, as column name to value (``on``: inside that connection's transaction)."""
        rows: list[tuple[Any, ...]] = (
            self._run(params, sqlite3.Cursor.fetchall)
            if on is None
            else self._execute(on, params, sqlite3.Cursor.fetchall, check_file=False)
        )
        return [self._row(row) for row in rows]

    def first(
        self, params: Mapping[str, Any], on: sqlite3.Connection | None = None
    ) -> dict[str, Any] | None:
        """The first row, or ``None`` when there is none (``on``: as for :meth:`all`)."""
        row: tuple[Any, ...] | None = (
            self._run(params, sqlite3.Cursor.fetchone)
            if on is None
            else self._execute(on, params, sqlite3.Cursor.fetchone, check_file=False)
        )
        return None if row is None else self._row(row)


def fixed_in(column: sa.ColumnElement[Any], name: str, count: int) -> sa.ColumnElement[bool]:
    """``column IN (:name_0, ..., :name_<count-1>)``: one bind parameter per value.

    An expanding ``IN`` renders its SQL per call, so it cannot take the driver
    path; this SQL is fixed per ``count`` (callers keep the counts few: an
    enum's values, say). With ``count`` 0 it is SQLAlchemy's empty ``IN``,
    which matches nothing. Its values: :func:`fixed_in_params`.
    """
    return column.in_([sa.bindparam(f"{name}_{index}") for index in range(count)])


def fixed_in_params(name: str, values: Iterable[Any]) -> dict[str, Any]:
    """The parameters of :func:`fixed_in` for ``values``, each once, in order
    (so ``count`` is the length of the result)."""
    return {f"{name}_{index}": value for index, value in enumerate(dict.fromkeys(values))}


def _thread_reader(engine: sa.Engine) -> ThreadReader | None:
    """The calling thread's own read connection to ``engine``'s file, taken, when its
    pool keeps one (a file's default pool); None: take one from the pool instead."""
    pool = engine.pool  # read each time: engine.dispose() replaces it
    return pool.reader() if isinstance(pool, ThreadReadPool) else None


@contextmanager
def driver_connection(engine: sa.Engine) -> Iterator[sqlite3.Connection]:
    """The thread's own connection, or one from the pool (as :meth:`DriverRead._run`,
    which does the same inline: a context manager per read costs a little more);
    also where the driver writes run (``imagegen.services.core._driver_write``)."""
    if (own := _thread_reader(engine)) is not None:
        try:
            yield own.driver
        finally:
            own.release()  # closed there if the transaction was left open
        return
    raw = engine.raw_connection()
    try:
        yield raw.driver_connection  # type: ignore[misc]
    finally:
        raw.close()


class Snapshot(Protocol):
    """Reads that see one state of the database: one read transaction."""

    def one(self, statement: sa.Select[Any], params: Mapping[str, Any]) -> Mapping[Any, Any] | None:
        """The first row of ``statement``, or ``None``."""

    def all(
        self, statement: sa.Select[Any], params: Mapping[str, Any]
    ) -> Sequence[Mapping[Any, Any]]:
        """Every row of ``statement``."""


class _DriverSnapshot:
    """Driver reads in the read transaction open on ``driver``."""

    def __init__(self, driver: sqlite3.Connection, reads: Mapping[sa.Select[Any], DriverRead]):
        self._driver = driver
        self._reads = reads

    def one(self, statement: sa.Select[Any], params: Mapping[str, Any]) -> Mapping[Any, Any] | None:
        return self._reads[statement].first(params, on=self._driver)

    def all(
        self, statement: sa.Select[Any], params: Mapping[str, Any]
    ) -> Sequence[Mapping[Any, Any]]:
        return self._reads[statement].all(params, on=self._driver)


class _ConnectionSnapshot:
    """Reads on a SQLAlchemy connection, in its transaction."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def one(self, statement: sa.Select[Any], params: Mapping[str, Any]) -> Mapping[Any, Any] | None:
        return self._conn.execute(statement, params).mappings().first()

    def all(
        self, statement: sa.Select[Any], params: Mapping[str, Any]
    ) -> Sequence[Mapping[Any, Any]]:
        return self._conn.execute(statement, params).mappings().all()


T = TypeVar("T")


class _Cache(Protocol):
    def get(self, key: Hashable, build: Callable[[], T]) -> T: ...


class OneStatementReads:
    """A service's reads of one statement each, each in a transaction of its own.

    On SQLite the statement runs on the driver (:class:`DriverRead`) unless its
    SQL depends on the parameters (an expanding ``IN``); otherwise, and on the
    servers, through ``reader``. An attribute of every Core service rather than
    methods of their base class on purpose: coverage evidence counts a
    service's own code and the methods it inherits, and this plumbing, shared
    by every service and used by some, is no more a service's code than
    :class:`DriverRead` or the upsert helpers are.
    """

    def __init__(self, engine: Joinable, reader: Joinable, cache: _Cache) -> None:
        self._engine = engine.engine
        self._reader = reader
        self._cache = cache
        self._on_driver = engine.dialect.name == "sqlite"
        self._check_file = file_check(self._engine)

    def one(self, statement: sa.Select[Any], params: Mapping[str, Any]) -> Mapping[Any, Any] | None:
        """The first row of ``statement``, or ``None``."""
        if (read := self.driver_read(statement)) is not None:
            return read.first(params)
        with self._reader.connect() as conn:
            return conn.execute(statement, params).mappings().first()

    def all(
        self, statement: sa.Select[Any], params: Mapping[str, Any]
    ) -> Sequence[Mapping[Any, Any]]:
        """Every row of ``statement``."""
        if (read := self.driver_read(statement)) is not None:
            return read.all(params)
        with self._reader.connect() as conn:
            return conn.execute(statement, params).mappings().all()

    @contextmanager
    def together(self, *statements: sa.Select[Any], reader: Joinable) -> Iterator[Snapshot]:
        """Reads of ``statements`` that must see one state, in one read transaction.

        On SQLite, when every one of them takes the driver path, they run on one
        driver connection between ``BEGIN`` and ``ROLLBACK``, the transaction a
        SQLAlchemy connection would open for them (after the same file check),
        without the execution layer; otherwise on a connection of ``reader``.
        """
        reads = {statement: self.driver_read(statement) for statement in statements}
        if not all(read is not None for read in reads.values()):
            with reader.connect() as conn:
                yield _ConnectionSnapshot(conn)
            return
        with driver_connection(self._engine) as driver:
            try:
                self._check_file()
                driver.execute("BEGIN DEFERRED")
            except sqlite3.Error as error:
                raise sa.exc.DBAPIError.instance(
                    "BEGIN DEFERRED", (), error, sqlite3.Error
                ) from error
            try:
                yield _DriverSnapshot(driver, reads)  # type: ignore[arg-type]
            finally:
                driver.rollback()  # a read transaction: nothing to keep

    def driver_read(self, statement: sa.Select[Any]) -> DriverRead | None:
        """The driver path for ``statement`` (None off SQLite, when its SQL varies, or
        inside a group commit: the read must see the group's writes, on its connection)."""
        if not self._on_driver or self._reader.joined() is not None:
            return None

        def build() -> DriverRead | None:
            try:
                return DriverRead(statement, self._engine)
            except ValueError:  # its SQL depends on the parameters
                return None

        return self._cache.get(("driver read", statement), build)
