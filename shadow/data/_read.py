"""Reading a table in primary-key order, the same order on every engine.

Verification merges two key-ordered streams, so both must be sorted the way
Python compares the keys: text by code point, integers by value. SQLite's
default ``BINARY`` collation already is. On PostgreSQL and MariaDB it depends
on the key column's collation (:func:`sorts_by_code_point`, asked of the
catalog): ``C``, ``POSIX`` and ``C.UTF-8`` (PostgreSQL) and ``*_nopad_bin``
(MariaDB) sort by code point, ``en_US`` or ``utf8mb4_general_ci``
(case-insensitive, accents folded) do not. MariaDB's ``utf8mb4_bin`` does
not either: it pads with spaces, so ``'a\t'`` sorts before ``'a'``. A
stream that still comes back out of order is refused (:class:`KeyOrderError`)
rather than reported as missing rows.

Verify and backfill read through :class:`ChunkReader`, which picks one of two
plans per table:

* the key sorts by code point (or the caller takes the engine's own order, as
  the backfill does: it needs each row once, in any order the key's index
  gives): keyset pagination, one ``SELECT ... WHERE key > :after ORDER BY key
  LIMIT n`` per chunk, which walks the primary-key index;
* it does not: one ``SELECT ... ORDER BY key COLLATE <binary>`` read through a
  server-side cursor. The engine sorts the table once; a keyset query with
  the ``COLLATE`` cannot use the index (its collation is the column's), so it
  would sort the rest of the table for every chunk: quadratic in the table
  (measured in docs/benchmarks.md). The cursor holds the read transaction (a
  snapshot on PostgreSQL) for the whole table.

Either way memory holds one chunk, not the table, and rows come back as the
driver's plain tuples.
"""

from __future__ import annotations

import bisect
import itertools
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from shadow._exceptions import ShadowError
from shadow.data._rules import TableRules

__all__ = [
    "ChunkReader",
    "Key",
    "KeyOrderError",
    "key_filter",
    "key_getter",
    "raw",
    "rows_for_keys",
    "sort_key",
    "sorts_by_code_point",
]

Key = Any
"""A primary-key value: a scalar for a one-column key, a tuple for a composite one."""

_BINARY_COLLATION = {
    "postgresql": "C",
    "mysql": "utf8mb4_nopad_bin",
    "mariadb": "utf8mb4_nopad_bin",
}


class KeyOrderError(ShadowError):
    """An engine returned keys out of code-point order: the merge cannot be trusted."""


def _is_text(column: sa.Column[Any]) -> bool:
    column_type = column.type
    return isinstance(column_type, sa.String) or isinstance(
        getattr(column_type, "impl", None), sa.String
    )


def sort_key(column: sa.Column[Any], dialect: str) -> sa.ColumnElement[Any]:
    """``column`` under ``dialect``'s binary collation (code-point order, exact equality)."""
    collation = _BINARY_COLLATION.get(dialect)
    if collation is None or not _is_text(column):
        return column
    return column.collate(collation)


# libc (or PostgreSQL 17's builtin provider) locales that sort by code point.
_CODE_POINT_LOCALES = frozenset({"c", "posix", "c.utf8", "c.utf-8"})
_CODE_POINT_PROVIDERS = frozenset({"c", "b"})

# The column's collation, and the database's (for a column on the default
# one). As JSON so that a column one PostgreSQL version lacks (datlocprovider
# from 15, colllocale from 17) reads as absent instead of failing the query.
_POSTGRES_COLLATION = """
SELECT to_jsonb(c), to_jsonb(d) - 'datacl'
FROM pg_attribute a
JOIN pg_collation c ON c.oid = a.attcollation
CROSS JOIN pg_database d
WHERE a.attrelid = to_regclass(%s) AND a.attname = %s AND d.datname = current_database()
"""

_MARIADB_COLLATION = (
    "SELECT collation_name FROM information_schema.columns"
    " WHERE table_schema = COALESCE(%s, DATABASE()) AND table_name = %s AND column_name = %s"
)


def _postgres_code_point(column: Mapping[str, Any], database: Mapping[str, Any]) -> bool:
    if column.get("collprovider") == "d":  # the database's default collation
        provider = database.get("datlocprovider") or "c"
        locale = database.get("datcollate") if provider == "c" else database.get("datlocale")
    else:
        provider = column.get("collprovider")
        locale = column.get("collcollate") if provider == "c" else column.get("colllocale")
    return provider in _CODE_POINT_PROVIDERS and str(locale).lower() in _CODE_POINT_LOCALES


def sorts_by_code_point(connection: sa.Connection, column: sa.Column[Any]) -> bool:
    """Whether ``column``'s own order (and so its index's) on this store is code-point order.

    Asked of the catalog: PostgreSQL's collation of the column (or the
    database's, for the default one), MariaDB's ``collation_name``.
    Non-text columns sort by value everywhere; SQLite's default ``BINARY``
    is code-point order.
    """
    dialect = connection.dialect.name
    if not _is_text(column) or dialect == "sqlite":
        return True
    table = column.table
    assert isinstance(table, sa.Table)  # a key column belongs to its table
    if dialect == "postgresql":
        name = connection.dialect.identifier_preparer.format_table(table)
        row = connection.exec_driver_sql(_POSTGRES_COLLATION, (name, column.name)).first()
        return row is not None and _postgres_code_point(row[0], row[1])
    if dialect in ("mysql", "mariadb"):
        collation = connection.exec_driver_sql(
            _MARIADB_COLLATION, (table.schema, table.name, column.name)
        ).scalar()
        return isinstance(collation, str) and collation.endswith("_nopad_bin")
    return False


def key_getter(width: int, offset: int = 0) -> Callable[[Sequence[Any]], Key]:
    """Extract the key (the first ``width`` values from ``offset``) from a row."""
    if width == 1:
        return operator.itemgetter(offset)
    return operator.itemgetter(*range(offset, offset + width))


def raw(column: sa.Column[Any]) -> sa.ColumnElement[Any]:
    """``column`` read without its type's result processing (the driver's own value)."""
    return sa.type_coerce(column, sa.types.NullType()).label(column.name)


def key_filter(
    keys: Sequence[sa.Column[Any]], chunk: Sequence[Key], dialect: str
) -> sa.ColumnElement[bool]:
    """``keys IN chunk``, matching exactly even where the collation folds case.

    The plain ``IN`` lets the engine use the key's index; the second, binary
    one makes ``'abc'`` stop matching ``'ABC'`` on MariaDB, so a repair never
    touches a row it was not given.
    """
    if len(keys) == 1:
        values = list(chunk)
        plain = keys[0].in_(values)
        exact = sort_key(keys[0], dialect)
        return plain if exact is keys[0] else sa.and_(plain, exact.in_(values))
    tuples = [tuple(key) for key in chunk]
    plain = sa.tuple_(*keys).in_(tuples)
    exacts = [sort_key(c, dialect) for c in keys]
    if all(e is c for e, c in zip(exacts, keys, strict=True)):
        return plain
    return sa.and_(plain, sa.tuple_(*exacts).in_(tuples))


def rows_for_keys(
    connection: sa.Connection,
    rules: TableRules,
    columns: Sequence[sa.Column[Any]],
    keys: Sequence[Key],
    *,
    typed: bool = False,
) -> dict[Key, Sequence[Any]]:
    """The rows of ``keys`` that exist, by key (one query)."""
    if not keys:
        return {}
    statement = sa.select(*(c if typed else raw(c) for c in columns)).where(
        key_filter(rules.key, keys, connection.dialect.name)
    )
    get_key = key_getter(len(rules.key))
    return {get_key(row): row for row in connection.execute(statement)}


class _Compiled:
    """A statement compiled once for one dialect, run on the driver's cursor."""

    def __init__(self, statement: sa.Select[Any], dialect: sa.Dialect) -> None:
        self._compiled = statement.compile(dialect=dialect)
        self.sql = self._compiled.string

    def params(self, values: dict[str, Any]) -> Any:
        bound = self._compiled.construct_params(values)
        if self._compiled.positional:
            return tuple(bound[name] for name in self._compiled.positiontup or ())
        return bound


class ChunkReader:
    """One table in key-ordered chunks of ``size`` rows, as the driver's plain tuples.

    :meth:`chunk` gives the next ``size`` rows past a key. ``selected`` are
    the columns or expressions read, key columns first. With ``code_point``
    (verification) the rows come in code-point key order, checked: a chunk
    whose keys do not rise is refused (:class:`KeyOrderError`). Without it
    (backfill) they come in the key index's own order, unchecked. The plan
    (keyset chunks or one streamed sort) is in the module docstring; no
    SQLAlchemy ``Row`` is built per row (a third of the cost of reading a row
    that way, measured).
    """

    def __init__(
        self,
        connection: sa.Connection,
        rules: TableRules,
        selected: Sequence[sa.ColumnElement[Any]],
        *,
        size: int,
        code_point: bool = True,
    ) -> None:
        dialect = connection.dialect
        keys = rules.key
        native = not code_point or all(sorts_by_code_point(connection, c) for c in keys)
        order = list(keys) if native else [sort_key(c, dialect.name) for c in keys]
        base = sa.select(*selected).select_from(rules.table).order_by(*order)
        marks = [sa.bindparam(f"after_{i}", type_=sa.types.NullType()) for i in range(len(keys))]
        past = order[0] > marks[0] if len(keys) == 1 else sa.tuple_(*order) > sa.tuple_(*marks)
        if native:
            base = base.limit(size)
        self._first = _Compiled(base, dialect)
        self._next = _Compiled(base.where(past), dialect)
        self._stream = None if native else _Stream(connection, self, rules.name)
        if native:
            self._cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        self.keyset = native
        """True: one query per chunk in the key's own order; False: one sorted, streamed query."""
        self._size = size
        self._width = len(keys)
        self._get_key = key_getter(self._width)
        self._check = code_point
        self._last: Key | None = None
        self._name = rules.name
        self._dialect = dialect.name

    def chunk(self, after: Key | None) -> list[Any]:
        """The next ``size`` rows (fewer at the end) past ``after`` (None: from the start).

        On a streamed read ``after`` never goes back: it is at least the
        previous call's and at most the last key returned so far.
        """
        if self._stream is not None:
            rows, fresh = self._stream.chunk(after, self._size, self._get_key)
        else:
            rows = fresh = self._keyset_chunk(after)
        if self._check and fresh:
            keys = list(map(self._get_key, fresh))
            previous = self._last if self._stream is not None else after
            if (previous is not None and not previous < keys[0]) or sorted(keys) != keys:
                raise KeyOrderError(
                    f"{self._name}: {self._dialect} returned keys out of order; its collation"
                    " does not sort like code points"
                )
            self._last = keys[-1]
        return rows

    def query(self, after: Key | None) -> tuple[str, Any]:
        """The driver-level SQL and parameters that read past ``after`` (None: from the start)."""
        compiled = self._first if after is None else self._next
        values = () if after is None else after if self._width > 1 else (after,)
        return compiled.sql, compiled.params({f"after_{i}": v for i, v in enumerate(values)})

    def _keyset_chunk(self, after: Key | None) -> list[Any]:
        self._cursor.execute(*self.query(after))
        rows = self._cursor.fetchall()
        return rows if isinstance(rows, list) else list(rows)

    def close(self) -> None:
        """Release the driver's cursor."""
        if self._stream is not None:
            self._stream.close()
        else:
            self._cursor.close()


class _Stream:
    """One ``ORDER BY`` query read through a server-side cursor, handed out in chunks.

    Opened at the first :meth:`chunk` (past its ``after``, for a resumed
    read). Rows fetched but not yet passed (the caller may restart a chunk
    from a key inside the last one, as verification does where the sides
    differ) are kept and handed out again: at most one chunk.
    """

    def __init__(self, connection: sa.Connection, reader: ChunkReader, name: str) -> None:
        self._connection = connection
        self._reader = reader
        self._cursor: Any = None
        self._kept: list[Any] = []
        self._after: Key | None = None
        self._ended = False
        self._name = name

    def _open(self, after: Key | None) -> None:
        self._cursor = _server_side_cursor(self._connection)
        self._cursor.execute(*self._reader.query(after))

    def chunk(
        self, after: Key | None, size: int, get_key: Callable[[Sequence[Any]], Key]
    ) -> tuple[list[Any], list[Any]]:
        """(the next ``size`` rows past ``after``, those of them fetched by this call)."""
        if self._cursor is None:
            self._open(after)
        kept = self._kept
        if after is not None:
            behind = self._after is not None and after < self._after
            ahead = kept and after > get_key(kept[-1]) and not self._ended
            if behind or ahead:
                raise AssertionError(f"{self._name}: a streamed read went back or skipped rows")
            self._after = after
            del kept[: bisect.bisect_right(kept, after, key=get_key)]
        fresh: list[Any] = []
        if not self._ended and len(kept) < size:
            wanted = size - len(kept)
            fresh = list(self._cursor.fetchmany(wanted))
            self._ended = len(fresh) < wanted
            kept.extend(fresh)
        return list(kept), fresh

    def close(self) -> None:
        if self._cursor is not None:
            self._cursor.close()


_cursor_names = itertools.count()


def _server_side_cursor(connection: sa.Connection) -> Any:
    """A driver cursor that fetches from the server as it is read, not all rows at once.

    The driver's own (SQLAlchemy's ``stream_results`` reads a first row ahead
    into its ``Result``, which would go missing from the driver's cursor).
    """
    driver: Any = connection.connection.driver_connection
    dialect = connection.dialect
    if dialect.name == "postgresql":
        return driver.cursor(name=f"shadow_chunks_{next(_cursor_names)}")
    if dialect.driver == "mariadbconnector":
        return driver.cursor(buffered=False)
    # pymysql and mysqlclient: an unbuffered cursor class in the DBAPI module.
    return driver.cursor(dialect.loaded_dbapi.cursors.SSCursor)
