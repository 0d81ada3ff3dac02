"""Timestamps read in one text shape, written by the database itself.

Two stores keep the same instant in different shapes: a legacy SQLite file as
``2026-08-19 01:13:04.123``, ``2026-08-19 01:13:04`` or
``2026-08-19T01:13:04.123000+00:00``, a SQLModel one as
``2026-08-19 01:13:04.123000``, PostgreSQL as ``timestamptz``, MariaDB as
``DATETIME(6)``. Parsing each value in Python costs more than reading the
row, so verify and backfill ask the database for :data:`CANONICAL` text
instead (``YYYY-MM-DD HH:MM:SS.ffffff``, UTC): then equal rows are equal
tuples straight from the driver, and a chunk compares with one list
comparison.

The SQL only rewrites what it fully understands. On SQLite that is text of
the shapes above (a ``T`` or a space, a fraction of up to six digits or none,
an offset of ``+00:00`` or ``Z`` or none); any other value (another offset,
a number, a malformed text) comes back unchanged, or flagged (:func:`canonical`
with ``flag_others``), for the slow path in Python. A canonical text is the
same instant as the value it came from, and two values that come back
canonical and equal are the same instant: comparing canonical texts never
hides a difference. (One exception, on SQLite: a text with an impossible
date such as month 13 is rewritten by its shape; Python would leave it
unparsed. Both sides must hold the same impossible date for it to matter.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

__all__ = ["CANONICAL", "PROBE", "canonical", "canonical_sql", "is_datetime"]

CANONICAL = "%Y-%m-%d %H:%M:%S.%f"
"""The shape every timestamp is read in (``datetime.strftime`` notation), UTC."""

PROBE = datetime(2001, 2, 3, 4, 5, 6, 789012, tzinfo=UTC)
"""An instant with every field distinct, to check what a column type does with one."""

_SQLITE_HEAD = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][ T][0-9][0-9]:[0-9][0-9]:[0-9][0-9]"


def is_datetime(column: sa.Column[Any]) -> bool:
    """True when ``column``'s type is a ``DateTime`` (or a ``TypeDecorator`` over one)."""
    column_type = column.type
    impl = getattr(column_type, "impl", None)
    return (
        isinstance(column_type, sa.DateTime)
        or isinstance(impl, sa.DateTime)
        or (isinstance(impl, type) and issubclass(impl, sa.DateTime))
    )


def _dialect_impl(column: sa.Column[Any], dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
    column_type = column.type
    if isinstance(column_type, sa.TypeDecorator):
        return column_type.load_dialect_impl(dialect)
    return column_type.dialect_impl(dialect)


def _sqlite(name: str, suffix: str, flag_others: bool) -> str:
    """A ``CASE`` on the text's length, then one ``GLOB`` per shape of that length.

    Shapes: fraction digits 0-6, offset none, ``+00:00`` or ``Z``. The length
    is computed once, so a value costs one ``length``, one or two ``GLOB`` and
    the ``substr`` that build the result.
    """
    other = f"CAST({name} AS BLOB)" if flag_others else name
    head = f"substr({name}, 1, 10) || ' ' || substr({name}, 12, 8)"
    by_length: dict[int, list[str]] = {}
    for zone in ("", "+00:00", "Z"):
        for digits in range(7):
            tail = ("." + "[0-9]" * digits if digits else "") + zone
            fraction = (
                f"substr({name}, 20, {digits + 1}) || '{'0' * (6 - digits)}'"
                if digits
                else "'.000000'"
            )
            length = 19 + (digits + 1 if digits else 0) + len(zone)
            by_length.setdefault(length, []).append(
                f"WHEN {name} GLOB '{_SQLITE_HEAD}{tail}' THEN {head} || {fraction} || '{suffix}'"
            )
    lengths = " ".join(
        f"WHEN {length} THEN CASE {' '.join(whens)} ELSE {other} END"
        for length, whens in sorted(by_length.items(), key=lambda item: -len(item[1]))
    )
    return (
        f"CASE WHEN typeof({name}) = 'text' THEN CASE length({name}) {lengths} ELSE {other} END"
        f" ELSE {name} END"
    )


def canonical_sql(
    column: sa.Column[Any], dialect: sa.Dialect, *, suffix: str = "", flag_others: bool = False
) -> str | None:
    """The SQL text of :func:`canonical` (the column named bare, unqualified)."""
    if not is_datetime(column):
        return None
    name = dialect.identifier_preparer.quote(column.name)
    impl = _dialect_impl(column, dialect)
    sql: str | None = None
    if dialect.name == "sqlite":
        sql = _sqlite(name, suffix, flag_others)
    elif dialect.name == "postgresql" and isinstance(impl, sa.DateTime):
        instant = f"{name} AT TIME ZONE 'UTC'" if impl.timezone else name
        sql = f"to_char({instant}, 'YYYY-MM-DD HH24:MI:SS.US')"
        sql = f"({sql} || '{suffix}')" if suffix else sql
    elif (
        dialect.name in ("mysql", "mariadb")
        and isinstance(impl, sa.DateTime)
        and not isinstance(impl, sa.TIMESTAMP)
    ):
        sql = f"DATE_FORMAT({name}, '%Y-%m-%d %H:%i:%s.%f')"
        sql = f"CONCAT({sql}, '{suffix}')" if suffix else sql
    return sql


def canonical(
    column: sa.Column[Any], dialect: sa.Dialect, *, suffix: str = "", flag_others: bool = False
) -> sa.ColumnElement[Any] | None:
    """``column`` read as :data:`CANONICAL` text (plus ``suffix``) on ``dialect``.

    None when the column is no timestamp or its storage is one this module
    does not rewrite (a MariaDB ``TIMESTAMP``, another engine). With
    ``flag_others``, SQLite texts it cannot rewrite come back as ``bytes``
    (so a copy sees at once which values need the column type's own
    conversion); otherwise unchanged. Values that are not text (NULL, a
    number) always come back unchanged.
    """
    sql = canonical_sql(column, dialect, suffix=suffix, flag_others=flag_others)
    return None if sql is None else sa.literal_column(sql).label(column.name)
