"""Writing copied rows into a target store, per engine.

Three operations, each in the caller's transaction:

* :class:`InsertIfAbsent`: insert rows whose key is not there yet and never
  touch present ones (``ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL; on
  MariaDB an ``INSERT ... SELECT`` from a staging table ``WHERE NOT EXISTS``
  the key. Not ``ON DUPLICATE KEY UPDATE key = key``: that is an update of the
  present row, which fires its ``BEFORE UPDATE`` trigger and re-stamps
  ``updated_at`` on a row the mirror wrote newer. Not ``INSERT IGNORE``
  either: it turns a ``NOT NULL`` or type error into a warning and a changed
  value, where these skip only rows whose key is there);
* :func:`rewrite`: replace rows with given values exactly, as a delete and an
  insert with the target's triggers and foreign-key actions off for that
  transaction. An ``UPDATE`` would not do: the schema's triggers set
  ``updated_at`` (and the queue's timestamps) to *now* on every update, and
  deleting a parent with cascades on would take its children with it;
* :func:`sync_counter`: raise an autoincrement counter so the target's next
  generated id is at least the source's.

How triggers and foreign-key actions are switched off per engine: SQLite
``PRAGMA foreign_keys = OFF`` (outside the transaction; SQLite ignores it
inside one; its triggers here are ``UPDATE`` triggers, which a delete and an
insert do not fire), PostgreSQL ``SET LOCAL session_replication_role =
replica`` (needs a superuser or, from PostgreSQL 15, a role granted that
setting), MariaDB ``SET FOREIGN_KEY_CHECKS = 0`` (cascades do not run then;
its triggers here are ``BEFORE UPDATE`` ones).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from shadow.data._canonical import CANONICAL, PROBE, canonical
from shadow.data._read import Key, key_filter, raw

__all__ = [
    "InsertIfAbsent",
    "RowCopier",
    "next_counter",
    "rewrite",
    "rewriting",
    "sync_counter",
]


@contextmanager
def rewriting(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction on ``engine`` with triggers and foreign-key actions off (see above)."""
    dialect = engine.dialect.name
    with engine.connect() as connection:
        if dialect == "sqlite":
            connection.exec_driver_sql("PRAGMA foreign_keys = OFF")
            connection.commit()
        try:
            with connection.begin():
                if dialect == "postgresql":
                    connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
                elif dialect in ("mysql", "mariadb"):
                    connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0")
                yield connection
                if dialect in ("mysql", "mariadb"):
                    connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 1")
        finally:
            if dialect == "sqlite":
                connection.exec_driver_sql("PRAGMA foreign_keys = ON")
                connection.commit()
            elif dialect in ("mysql", "mariadb"):
                connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 1")


def rewrite(
    connection: sa.Connection,
    table: sa.Table,
    keys: Sequence[Key],
    rows: Sequence[Mapping[str, Any]],
) -> None:
    """Make the rows of ``keys`` exactly ``rows`` (in a :func:`rewriting` transaction)."""
    if not keys:
        return
    key_columns = tuple(table.primary_key.columns)
    connection.execute(
        sa.delete(table).where(key_filter(key_columns, keys, connection.dialect.name))
    )
    if rows:
        connection.execute(sa.insert(table), list(rows))


def _counter_column(table: sa.Table) -> sa.Column[Any] | None:
    column = table.autoincrement_column
    return column if column is not None else None


def next_counter(connection: sa.Connection, table: sa.Table) -> int | None:
    """The id the store would generate next for ``table`` (None: no counter).

    Ids of deleted rows count as used where the engine remembers them
    (``sqlite_sequence``, a PostgreSQL sequence, MariaDB's ``AUTO_INCREMENT``).
    """
    column = _counter_column(table)
    if column is None:
        return None
    dialect = connection.dialect.name
    highest = connection.execute(sa.select(sa.func.max(column))).scalar() or 0
    used = 0
    if dialect == "sqlite":
        exists = connection.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'"
        ).scalar()
        if exists:
            used = (
                connection.exec_driver_sql(
                    "SELECT seq FROM sqlite_sequence WHERE name = ?", (table.name,)
                ).scalar()
                or 0
            )
    elif dialect == "postgresql":
        sequence = connection.exec_driver_sql(
            "SELECT pg_get_serial_sequence(%s, %s)", (table.name, column.name)
        ).scalar()
        if sequence:
            row = connection.exec_driver_sql(f"SELECT last_value, is_called FROM {sequence}").one()
            used = row.last_value if row.is_called else row.last_value - 1
    elif dialect in ("mysql", "mariadb"):
        used = (
            connection.exec_driver_sql(
                "SELECT auto_increment - 1 FROM information_schema.tables"
                " WHERE table_schema = DATABASE() AND table_name = %s",
                (table.name,),
            ).scalar()
            or 0
        )
    return int(max(highest, used)) + 1


def sync_counter(target: sa.Engine, table: sa.Table, at_least: int) -> int | None:
    """Raise ``table``'s counter on ``target`` so its next id is at least ``at_least``.

    Never lowers it (a mirrored insert may already have used higher ids).
    Returns the target's next id afterwards, or None when the table has no counter.
    On MariaDB the change is DDL, which commits by itself, so it runs alone.
    """
    column = _counter_column(table)
    if column is None:
        return None
    with target.begin() as connection:
        current = next_counter(connection, table) or 1
        wanted = max(current, at_least)
        if wanted == current:
            return current
        dialect = connection.dialect.name
        if dialect == "sqlite":
            connection.exec_driver_sql("DELETE FROM sqlite_sequence WHERE name = ?", (table.name,))
            connection.exec_driver_sql(
                "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table.name, wanted - 1)
            )
        elif dialect == "postgresql":
            sequence = connection.exec_driver_sql(
                "SELECT pg_get_serial_sequence(%s, %s)", (table.name, column.name)
            ).scalar()
            if sequence:
                connection.exec_driver_sql("SELECT setval(%s, %s, false)", (sequence, wanted))
        elif dialect in ("mysql", "mariadb"):
            connection.exec_driver_sql(f"ALTER TABLE `{table.name}` AUTO_INCREMENT = {int(wanted)}")
    return wanted


Converter = Callable[[Any], Any]


def _compose(read: Converter | None, write: Converter | None) -> Converter | None:
    if read is None:
        return write
    if write is None:
        return read
    return lambda value: write(read(value))


def _same_instant(value: Any) -> bool:
    if not isinstance(value, datetime):
        return False
    if value.tzinfo is None:
        return value == PROBE.replace(tzinfo=None)
    return value == PROBE


@dataclass(frozen=True)
class _Column:
    """How one column's source value becomes a target parameter.

    ``kind``: ``"raw"`` (the driver's value is the parameter), ``"time"``
    (canonical text from :func:`~shadow.data._canonical.canonical` is the
    parameter; other values go through ``step``), ``"zero_one"`` (0/1 pass, any
    other value goes through ``step``) or ``"step"`` (every value does).
    """

    column: sa.Column[Any]
    selected: sa.ColumnElement[Any]
    kind: str
    step: Converter | None = None


def _plan_column(column: sa.Column[Any], source: sa.Dialect, target: sa.Dialect) -> _Column:
    read = column.type.dialect_impl(source).result_processor(source, None)
    write = column.type.dialect_impl(target).bind_processor(target)
    step = _compose(read, write)
    if step is None:
        return _Column(column, raw(column), "raw")
    # A timestamp: can the target take canonical text as it is? Asked of the
    # column type itself, with a probe instant, so a type storing another shape
    # keeps its own conversion.
    suffix = "+00:00" if target.name == "postgresql" else ""
    projected = canonical(column, source, suffix=suffix, flag_others=True)
    if projected is not None:
        text = PROBE.strftime(CANONICAL) + suffix
        try:
            written = step(text)
        except (TypeError, ValueError):
            written = None
        if written == text if target.name == "sqlite" else _same_instant(written):
            return _Column(column, projected, "time", step)
    boolean = isinstance(column.type, sa.Boolean) or isinstance(
        getattr(column.type, "impl", None), sa.Boolean
    )
    # PostgreSQL's COPY is given Python booleans, never 0/1.
    if boolean and target.name != "postgresql" and step(1) in (1, True) and step(0) in (0, False):
        return _Column(column, raw(column), "zero_one", step)
    return _Column(column, raw(column), "step", step)


class RowCopier:
    """Turns chunks of raw source rows into target parameters, through each column's type.

    The same conversion SQLAlchemy applies when a typed row is read and
    inserted (a legacy text timestamp becomes a ``timestamptz``, 0/1 a
    boolean), without building a mapping per row, and column by column: a
    column that needs nothing costs nothing, timestamps arrive as canonical
    text the target takes as is (checked with a probe value against the column
    type), and a chunk where every column passes is sent as the driver read it.
    """

    def __init__(
        self, columns: Sequence[sa.Column[Any]], source: sa.Dialect, target: sa.Dialect
    ) -> None:
        self._plans = [_plan_column(column, source, target) for column in columns]
        self.selected = [plan.selected for plan in self._plans]
        self.kinds = [(plan.column, plan.kind) for plan in self._plans]
        """Each column with how it is copied (``raw``, ``time``, ``zero_one``, ``step``)."""

    def convert(self, rows: list[Any]) -> list[Any]:
        """Target parameters for ``rows`` (a list of tuples, key columns first)."""
        if all(plan.kind == "raw" for plan in self._plans) or not rows:
            return rows
        columns = list(zip(*rows, strict=True))
        changed = False
        for index, plan in enumerate(self._plans):
            values = columns[index]
            if plan.kind == "raw" or plan.step is None:
                continue
            kinds = set(map(type, values))
            if plan.kind == "time" and kinds <= {str, type(None)}:
                continue
            if plan.kind == "zero_one" and set(values) <= {0, 1, None}:
                continue
            step = plan.step
            columns[index] = tuple(
                None if v is None else step(v.decode() if isinstance(v, bytes) else v)
                for v in values
            )
            changed = True
        return list(zip(*columns, strict=True)) if changed else rows


class InsertIfAbsent:
    """Insert-if-absent of driver-level rows (positional, in ``columns`` order) into ``table``.

    Per engine, the fastest form that fires no update trigger:

    * SQLite: one ``executemany`` of ``INSERT ... ON CONFLICT DO NOTHING``
      (in-process, nothing to gain from staging);
    * PostgreSQL: ``COPY`` into a temporary staging table, then one ``INSERT
      ... SELECT ... ON CONFLICT DO NOTHING``. psycopg's ``executemany``
      sends one statement per row, several times slower (measured: 20,000
      rows in 1.8 s against 0.27 s by ``COPY`` on a loaded machine);
    * MariaDB: one locking read of which of the chunk's keys the target has
      (``SELECT key ... WHERE key IN (...) LOCK IN SHARE MODE``), then one
      ``executemany`` of a plain ``INSERT ... VALUES`` of the others straight
      into the table (pymysql folds it into multi-row statements). Measured
      against the former staging table and ``INSERT ... SELECT ... WHERE NOT
      EXISTS``: that wrote every row twice and scanned the staging table once
      more (see docs/benchmarks.md). Under InnoDB's default isolation the
      share locks cover the keys found and the gaps where the absent ones
      go, so a concurrent insert of such a key waits for the chunk's commit
      rather than slipping in between; under ``READ COMMITTED`` it may, and
      the chunk then fails on the duplicate key like any constraint (the
      caller copies it row by row). Keys are matched in Python, exactly: a
      key the target holds only under its collation's equality (another
      case) is not taken as present, and its insert fails as a duplicate
      the same way. Never ``INSERT IGNORE``: it would turn every other error
      (a bad value, a foreign key) into a warning.

    :meth:`execute` returns how many rows were inserted. The PostgreSQL
    staging table (``shadow_stage_<table>``) belongs to the connection's
    session and goes with it.
    """

    def __init__(
        self, table: sa.Table, columns: Sequence[sa.Column[Any]], dialect: sa.Dialect
    ) -> None:
        self._dialect = dialect.name
        quote = dialect.identifier_preparer.quote
        names = ", ".join(quote(c.name) for c in columns)
        target = quote(table.name)
        stage = quote(f"shadow_stage_{table.name}")
        marker = "?" if dialect.paramstyle in ("qmark", "numeric") else "%s"
        values = "(" + ", ".join(marker for _ in columns) + ")"
        self._steps: tuple[str, ...] = ()
        if self._dialect == "sqlite":
            self._fill = f"INSERT INTO {target} ({names}) VALUES {values} ON CONFLICT DO NOTHING"
            return
        if self._dialect == "postgresql":
            create = f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} AS SELECT {names} FROM {target}"
            self._steps = (create + " WITH NO DATA", f"TRUNCATE {stage}")
            self._fill = f"COPY {stage} ({names}) FROM STDIN"
            self._insert = (
                f"INSERT INTO {target} ({names}) SELECT {names} FROM {stage} ON CONFLICT DO NOTHING"
            )
            return
        if self._dialect not in ("mysql", "mariadb"):
            raise NotImplementedError(f"no insert-if-absent for {dialect.name}")  # see open_engine
        keys = [c.name for c in table.primary_key.columns]
        positions = [[c.name for c in columns].index(name) for name in keys]
        self._key_of: Callable[[Sequence[Any]], Any] = (
            (lambda row: row[positions[0]])
            if len(positions) == 1
            else (lambda row: tuple(row[i] for i in positions))
        )
        self._single = len(keys) == 1
        self._key_list = ", ".join(quote(name) for name in keys)
        self._key_marker = "%s" if len(keys) == 1 else "(" + ", ".join("%s" for _ in keys) + ")"
        self._target = target
        self._fill = f"INSERT INTO {target} ({names}) VALUES {values}"

    def _absent(self, connection: sa.Connection, rows: Sequence[Sequence[Any]]) -> list[Any]:
        """The ``rows`` whose key the MariaDB target lacks, with those keys share-locked."""
        wanted = [self._key_of(row) for row in rows]
        single = self._single
        markers = ", ".join(self._key_marker for _ in wanted)
        where = self._key_list if single else f"({self._key_list})"
        flat = wanted if single else [value for key in wanted for value in key]
        found = connection.exec_driver_sql(
            f"SELECT {self._key_list} FROM {self._target} WHERE {where} IN ({markers})"
            " LOCK IN SHARE MODE",
            tuple(flat),
        ).all()
        present = {row[0] for row in found} if single else {tuple(row) for row in found}
        return [row for row, key in zip(rows, wanted, strict=True) if key not in present]

    def execute(self, connection: sa.Connection, rows: Sequence[Sequence[Any]]) -> int:
        """Insert the ``rows`` whose key is absent, in the caller's transaction; how many."""
        if not rows:
            return 0
        if self._dialect == "sqlite":
            return max(int(connection.exec_driver_sql(self._fill, list(rows)).rowcount), 0)
        if self._dialect in ("mysql", "mariadb"):
            absent = self._absent(connection, rows)
            if not absent:
                return 0
            return max(int(connection.exec_driver_sql(self._fill, absent).rowcount), 0)
        for step in self._steps:  # PostgreSQL
            connection.exec_driver_sql(step)
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(self._fill) as copy:
            for row in rows:
                copy.write_row(row)
        return max(int(connection.exec_driver_sql(self._insert).rowcount), 0)
