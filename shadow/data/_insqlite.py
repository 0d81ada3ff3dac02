"""Two SQLite files compared inside SQLite: equal chunks cost no row in Python.

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
"""

from __future__ import annotations

import sqlite3
from typing import Any

import sqlalchemy as sa

from shadow.data._canonical import is_datetime
from shadow.data._read import Key
from shadow.data._rules import Exact, TableRules, Tolerance, normalize_datetime

__all__ = ["InSqlite", "attachable"]

_ALIAS = "shadow_verify_target"


def attachable(source: sa.Engine, target: sa.Engine) -> str | None:
    """The target's file path when both stores are SQLite files (else None)."""
    if source.dialect.name != "sqlite" or target.dialect.name != "sqlite":
        return None
    database = target.url.database
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
        self._width = len(keys)
        key_list = ", ".join(keys)
        key_tuple = keys[0] if len(keys) == 1 else f"({key_list})"
        marks = "?" if len(keys) == 1 else "(" + ", ".join("?" for _ in keys) + ")"
        self._size = size
        self._past = f"{key_tuple} > {marks}"
        self._upto = f"{key_tuple} <= {marks}"
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

    def _where(self, after: Key | None, last: Key | None) -> tuple[str, list[Any]]:
        terms, params = [], []
        for bound, term in ((after, self._past), (last, self._upto)):
            if bound is not None:
                terms.append(term)
                params += list(bound) if self._width > 1 else [bound]
        return ("WHERE " + " AND ".join(terms) if terms else ""), params

    def equal_chunk(self, after: Key | None) -> tuple[int, Key | None] | None:
        """``(rows, last key)`` when the chunk past ``after`` is equal on both sides, else None.

        The last key is None when the chunk reached the end of the source (and
        the target holds nothing past it either).
        """
        where, params = self._where(after, None)
        found = self._raw.execute(self._last.format(where=where), params).fetchone()
        last: Key | None = None
        if found is not None:
            last = found[0] if self._width == 1 else tuple(found)
        where, params = self._where(after, last)
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
