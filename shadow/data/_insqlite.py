"""Two SQLite files compared and copied inside SQLite: equal chunks cost no row in Python.

Reading a row into Python costs more than comparing it (about 0.3 us per
value to build the objects, against a fraction of that for SQLite to read
it, measured), so when source and target are both SQLite files the verifier
attaches the target to the source connection and asks SQLite, per chunk of
keys, how many rows each side holds and how many source rows have no equal
twin on the target. A chunk where the counts match and no row differs is
equal, and nothing crossed into Python; any other chunk is read and merged in
Python through the table's rules (:mod:`shadow.data._verify`).

"Equal" in SQL is never looser than the rules: a value equals another if it
is the same value of the same kind (``+a IS +b COLLATE BINARY``: no type
affinity, no case folding), or, for a timestamp compared as an instant, if
both are texts SQLite reads as the same millisecond (``julianday``, which
rounds to milliseconds) with the same fraction of a second (so microseconds
count too). Cheaper forms were measured and refused: taking the fraction
digits apart with ``rtrim``/``substr`` cost three times the ``julianday``. Anything the rules would
still call equal (JSON key order, a tolerance) falls to the Python path,
which decides.

:class:`CopyInSqlite` is the backfill's counterpart: with the source attached
to the target's connection, a chunk is one ``INSERT ... SELECT ... ON
CONFLICT DO NOTHING``, timestamps rewritten to the target type's own text in
the ``SELECT`` (:mod:`shadow.data._canonical`). Only a chunk holding a value
SQL cannot rewrite (a timestamp in another shape, a boolean other than 0/1)
goes through Python and the column type instead. Measured on the benchmark's
table: the ``executemany`` of rows built in Python cost about twice the copy
itself.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import sqlalchemy as sa

from shadow.data._canonical import canonical_sql, is_datetime
from shadow.data._read import Key
from shadow.data._rules import Exact, TableRules, Tolerance, normalize_datetime

__all__ = ["CopyInSqlite", "InSqlite", "attachable", "sqlite_file"]

_ALIAS = "shadow_verify_target"


def attachable(source: sa.Engine, target: sa.Engine) -> str | None:
    """The target's file path when both stores are SQLite files (else None)."""
    return sqlite_file(target) if source.dialect.name == "sqlite" else None


def sqlite_file(engine: sa.Engine) -> str | None:
    """The path of ``engine``'s SQLite file (None: not SQLite, in memory, a URI)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


def _fraction(value: str) -> str:
    # The fraction of a second as a number: ``.123``, ``.123000`` and
    # ``.123000+00:00`` all read 0.123 (CAST takes the numeric prefix). Without
    # a fraction it reads an offset's hours or 0, never a value in (0, 1), so
    # two values match only with equal fractions or both whole seconds.
    return f"CAST(substr({value}, 20, 7) AS REAL)"


def _same(rules: TableRules, column: sa.Column[Any], quote: Any) -> str:
    name = quote(column.name)
    left, right = f"s.{name}", f"t.{name}"
    exact = f"+{left} IS +{right} COLLATE BINARY"
    rule = rules.rule(column)
    instant = isinstance(rule, Tolerance) or (
        isinstance(rule, Exact) and rule.normalizer is normalize_datetime
    )
    if not (is_datetime(column) and instant):
        return exact
    return (
        f"({exact} OR (typeof({left}) = 'text' AND typeof({right}) = 'text'"
        f" AND julianday({left}) = julianday({right})"
        f" AND {_fraction(left)} = {_fraction(right)}))"
    )


class _KeyRanges:
    """``WHERE`` clauses over a table's key: past one key, up to another."""

    def __init__(self, keys: list[str]) -> None:
        self.width = len(keys)
        self.names = ", ".join(keys)
        key_tuple = keys[0] if len(keys) == 1 else f"({self.names})"
        marks = "?" if len(keys) == 1 else "(" + ", ".join("?" for _ in keys) + ")"
        self._past = f"{key_tuple} > {marks}"
        self._upto = f"{key_tuple} <= {marks}"

    def where(self, after: Key | None, last: Key | None) -> tuple[str, list[Any]]:
        terms, params = [], []
        for bound, term in ((after, self._past), (last, self._upto)):
            if bound is not None:
                terms.append(term)
                params += list(bound) if self.width > 1 else [bound]
        return "WHERE " + (" AND ".join(terms) if terms else "1"), params

    def key(self, row: Any) -> Key:
        return row[0] if self.width == 1 else tuple(row)


class InSqlite:
    """Per-chunk equality of one table, source file against the attached target file."""

    def __init__(self, source: sa.Engine, rules: TableRules, path: str, *, size: int) -> None:
        # A connection of its own, outside any SQLAlchemy transaction: SQLite
        # refuses ATTACH inside one.
        self._pooled = source.raw_connection()
        self._raw: sqlite3.Connection = self._pooled.driver_connection  # type: ignore[assignment]
        self._raw.execute(f"ATTACH DATABASE ? AS {_ALIAS}", (path,))
        quote = source.dialect.identifier_preparer.quote
        table = quote(rules.table.name)
        keys = [quote(c.name) for c in rules.key]
        self._ranges = _KeyRanges(keys)
        key_list = self._ranges.names
        self._last = f"SELECT {key_list} FROM main.{table} {{where}} ORDER BY {key_list}"
        self._last += f" LIMIT 1 OFFSET {size - 1}"
        joined = " AND ".join(f"t.{k} = s.{k}" for k in keys)
        same = " AND ".join(
            [f"+t.{k} IS +s.{k} COLLATE BINARY" for k in keys]
            + [_same(rules, c, quote) for c in rules.compared[len(keys) :]]
        )
        self._source = (
            f"SELECT count(*), total(t.{keys[0]} IS NULL OR NOT ({same}))"
            f" FROM (SELECT * FROM main.{table} {{where}}) AS s"
            f" LEFT JOIN {_ALIAS}.{table} AS t ON {joined}"
        )
        self._target = f"SELECT count(*) FROM {_ALIAS}.{table} {{where}}"

    def equal_chunk(self, after: Key | None) -> tuple[int, Key | None] | None:
        """``(rows, last key)`` when the chunk past ``after`` is equal on both sides, else None.

        The last key is None when the chunk reached the end of the source (and
        the target holds nothing past it either).
        """
        where, params = self._ranges.where(after, None)
        found = self._raw.execute(self._last.format(where=where), params).fetchone()
        last = None if found is None else self._ranges.key(found)
        where, params = self._ranges.where(after, last)
        rows, bad = self._raw.execute(self._source.format(where=where), params).fetchone()
        if bad:
            return None
        (theirs,) = self._raw.execute(self._target.format(where=where), params).fetchone()
        if theirs != rows:
            return None
        return rows, last

    def close(self) -> None:
        """Detach the target and give the connection back."""
        try:
            self._raw.execute(f"DETACH DATABASE {_ALIAS}")
        finally:
            self._pooled.close()


class _NeedsPython(Exception):
    """A chunk held a value SQL could not convert: rolled back, copied through Python."""


class CopyInSqlite:
    """Insert-if-absent of one table's chunks, source file attached to the target connection.

    ``kinds`` are the backfill's per-column plans
    (:attr:`shadow.data._write.RowCopier.kinds`); a column planned ``step``
    (its type converts every value) makes the table unsuited, see
    :meth:`suited`.
    """

    def __init__(
        self,
        writer: sa.Connection,
        rules: TableRules,
        kinds: list[tuple[sa.Column[Any], str]],
        source_path: str,
        *,
        size: int,
    ) -> None:
        self._writer = writer
        self._raw: sqlite3.Connection = writer.connection.driver_connection  # type: ignore[assignment]
        self._raw.execute(f"ATTACH DATABASE ? AS {_ALIAS}", (source_path,))
        quote = writer.dialect.identifier_preparer.quote
        table = quote(rules.table.name)
        self._ranges = _KeyRanges([quote(c.name) for c in rules.key])
        keys = self._ranges.names
        source = f"{_ALIAS}.{table}"
        selected, unconverted = [], []
        for column, kind in kinds:
            name = quote(column.name)
            if kind == "time":
                # Texts SQL cannot rewrite arrive as BLOBs, which the check below finds.
                selected.append(canonical_sql(column, writer.dialect, flag_others=True) or name)
                unconverted.append(f"typeof({name}) = 'blob'")
            else:
                selected.append(name)
            if kind == "zero_one":
                unconverted.append(f"{name} NOT IN (0, 1)")
        names = ", ".join(quote(column.name) for column, _ in kinds)
        self._last = (
            f"SELECT {keys} FROM {source} {{where}} ORDER BY {keys} LIMIT 1 OFFSET {size - 1}"
        )
        self._end = f"SELECT {keys} FROM {source} {{where}} ORDER BY {keys} DESC LIMIT 1"
        self._count = f"SELECT count(*) FROM {source} {{where}}"
        self._insert = (
            f"INSERT INTO main.{table} ({names}) SELECT {', '.join(selected)} FROM {source}"
            f" {{where}} ORDER BY {keys} ON CONFLICT DO NOTHING"
        )
        # Checked on the target after the insert, before the commit: cheaper
        # than asking the source first (which would rewrite every timestamp twice).
        self._unconverted = (
            f"SELECT 1 FROM main.{table} {{where}} AND ({' OR '.join(unconverted)}) LIMIT 1"
            if unconverted
            else None
        )

    @staticmethod
    def suited(kinds: list[tuple[sa.Column[Any], str]]) -> bool:
        """True when SQL can copy every column (none needs its type's conversion per value)."""
        return all(kind in ("raw", "time", "zero_one") for _, kind in kinds)

    def copy_chunk(self, after: Key | None) -> tuple[int, Key, int] | None:
        """Copy the chunk past ``after``: ``(rows, last key, inserted)``; ``(0, None, 0)`` at
        the end; None when a value in it needs Python (the chunk was rolled back)."""
        where, params = self._ranges.where(after, None)
        found = self._raw.execute(self._last.format(where=where), params).fetchone()
        if found is None:
            found = self._raw.execute(self._end.format(where=where), params).fetchone()
            if found is None:
                return 0, None, 0
        last = self._ranges.key(found)
        where, params = self._ranges.where(after, last)
        values = tuple(params)
        try:
            with self._writer.begin():
                (rows,) = self._writer.exec_driver_sql(
                    self._count.format(where=where), values
                ).one()
                inserted = self._writer.exec_driver_sql(
                    self._insert.format(where=where), values
                ).rowcount
                check = self._unconverted
                if (
                    check
                    and self._writer.exec_driver_sql(check.format(where=where), values).first()
                ):
                    raise _NeedsPython
        except _NeedsPython:
            return None
        return int(rows), last, max(int(inserted), 0)

    def close(self) -> None:
        """Detach the source."""
        self._raw.execute(f"DETACH DATABASE {_ALIAS}")
