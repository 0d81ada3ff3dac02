"""Insert-or-replace and insert-if-new, one statement per dialect.

:func:`upsert` inserts a row or replaces its value columns: SQLite and
PostgreSQL spell it ``INSERT ... ON CONFLICT (key) DO UPDATE``, MariaDB
``INSERT ... ON DUPLICATE KEY UPDATE``. Each backend's update trigger fires on
the update branch, so ``updated_at`` moves as on the legacy side.

:func:`insert_new` keeps an existing row untouched, as SQLite's ``INSERT OR
IGNORE``: ``ON CONFLICT (key) DO NOTHING`` on PostgreSQL, and on MariaDB a
plain insert whose duplicate-key error :func:`execute_insert_new` swallows --
``INSERT IGNORE`` would also swallow other errors, and ``ON DUPLICATE KEY
UPDATE`` would fire the ``updated_at`` trigger.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite

__all__ = ["execute_insert_new", "insert_new", "is_duplicate_key", "upsert"]

_MARIADB = ("mysql", "mariadb")
_MARIADB_DUPLICATE_KEY = 1062


def upsert(table: sa.Table, keys: Sequence[str], values: Sequence[str], dialect: str) -> sa.Insert:
    """An insert of ``keys`` and ``values`` columns that replaces ``values`` on a key clash.

    Parameters are bound by column name when the statement is executed.
    """
    if dialect in _MARIADB:
        my_insert = mysql.insert(table)
        statement: sa.Insert = my_insert.on_duplicate_key_update(
            {name: my_insert.inserted[name] for name in values}
        )
        return statement
    if dialect == "postgresql":
        pg_insert = postgresql.insert(table)
        return pg_insert.on_conflict_do_update(
            index_elements=list(keys), set_={name: pg_insert.excluded[name] for name in values}
        )
    lite_insert = sqlite.insert(table)
    return lite_insert.on_conflict_do_update(
        index_elements=list(keys), set_={name: lite_insert.excluded[name] for name in values}
    )


def insert_new(table: sa.Table, keys: Sequence[str], dialect: str) -> sa.Insert:
    """An insert that leaves a row with the same ``keys`` as it is (run it with
    :func:`execute_insert_new`)."""
    if dialect == "sqlite":
        return sa.insert(table).prefix_with("OR IGNORE")
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=list(keys))
    return sa.insert(table)


def is_duplicate_key(error: sa.exc.IntegrityError) -> bool:
    """True when ``error`` is MariaDB's duplicate-key error (1062)."""
    args: tuple[Any, ...] = getattr(error.orig, "args", ())
    return bool(args) and args[0] == _MARIADB_DUPLICATE_KEY


def execute_insert_new(
    conn: sa.Connection, statement: sa.Insert, params: Mapping[str, Any]
) -> None:
    """Run an :func:`insert_new` statement; an existing row is not an error."""
    try:
        conn.execute(statement, params)
    except sa.exc.IntegrityError as error:
        if not is_duplicate_key(error):
            raise
