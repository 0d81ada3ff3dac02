"""SQL expressions that give the legacy SQLite answer on PostgreSQL and MariaDB too.

The legacy layer defines the behaviour: SQLite compares and orders text by code
point (``BINARY``), and its ``lower()`` folds ASCII letters only. PostgreSQL
and MariaDB differ by default: a database collation may order ``"a_b"`` before
``"ab"``, MariaDB's ``utf8mb4_general_ci`` compares case- and accent-
insensitively, and both fold non-ASCII letters in ``lower()``. Each helper
here renders the SQLite meaning for the engine's dialect, chosen once when a
service builds its statements.
"""

from __future__ import annotations

import string
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

__all__ = ["ascii_lower", "code_point_order", "like", "storable_text", "timestamp_text"]

_MARIADB = ("mysql", "mariadb")
_BINARY_COLLATION = {"postgresql": "C", "mysql": "utf8mb4_bin", "mariadb": "utf8mb4_bin"}


def ascii_lower(expr: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """``expr`` with ASCII letters lower-cased and every other character kept."""
    if dialect == "postgresql":
        upper: ColumnElement[str] = sa.literal_column(f"'{string.ascii_uppercase}'")
        lower: ColumnElement[str] = sa.literal_column(f"'{string.ascii_lowercase}'")
        return sa.func.translate(expr, upper, lower)
    if dialect in _MARIADB:
        # MariaDB has no TRANSLATE; its REPLACE matches case-sensitively.
        folded = expr
        for upper_char in string.ascii_uppercase:
            folded = sa.func.replace(
                folded,
                sa.literal_column(f"'{upper_char}'"),
                sa.literal_column(f"'{upper_char.lower()}'"),
            )
        return folded
    return sa.func.lower(expr)


def code_point_order(expr: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """``expr`` under the collation that compares and orders by code point."""
    collation = _BINARY_COLLATION.get(dialect)
    return expr if collation is None else sa.collate(expr, collation)


def like(expr: ColumnElement[Any], pattern: Any, escape: str, dialect: str) -> ColumnElement[bool]:
    """A case- and accent-sensitive ``LIKE`` (MariaDB's default collation is neither)."""
    return code_point_order(expr, dialect).like(pattern, escape=escape)


def timestamp_text(expr: ColumnElement[Any], dialect: str) -> ColumnElement[str]:
    """A timestamp as SQLite's default text, ``YYYY-MM-DD HH:MM:SS.fff`` in UTC."""
    if dialect == "postgresql":
        utc = sa.func.timezone(sa.literal("UTC"), expr)
        return sa.func.to_char(utc, sa.literal("YYYY-MM-DD HH24:MI:SS.MS"), type_=sa.Text)
    if dialect in _MARIADB:
        # MariaDB stores UTC (the engine sets the session time zone); %f is microseconds.
        formatted = sa.func.date_format(expr, sa.literal("%Y-%m-%d %H:%i:%s.%f"))
        return sa.func.left(formatted, 23, type_=sa.Text)
    # Rows copied or written through SQLAlchemy hold microseconds or an ISO 'T'/offset
    # form; STRFTIME renders any of them as the schema default's millisecond text.
    return sa.func.strftime(sa.literal("%Y-%m-%d %H:%M:%f"), expr, type_=sa.Text)


def storable_text(value: str, dialect: str) -> bool:
    """False when no text column of ``dialect`` can hold ``value``, so no row has it.

    PostgreSQL text cannot contain NUL, and psycopg refuses to send such a
    parameter (``DataError``); SQLite and MariaDB store it and simply find no
    row with it. A lookup by such a key must answer "no such row" on every
    backend, as the legacy layer does, rather than raise a driver error.
    """
    return dialect != "postgresql" or "\x00" not in value
