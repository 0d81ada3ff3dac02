"""Insert-or-replace and insert-if-new, one statement per dialect.

:func:`upsert` inserts a row or replaces its value columns, through the native
upsert the runtime's store also uses (:func:`shadow._upsert.upsert`). Each
backend's update trigger fires on the update branch, so ``updated_at`` moves
as on the legacy side.

:func:`insert_new` keeps an existing row untouched, as SQLite's ``INSERT OR
IGNORE``: ``ON CONFLICT (key) DO NOTHING`` on PostgreSQL, and on MariaDB a
plain insert whose duplicate-key error :func:`execute_insert_new` swallows --
``INSERT IGNORE`` would also swallow other errors, and ``ON DUPLICATE KEY
UPDATE`` would fire the ``updated_at`` trigger.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from shadow._upsert import replace
from shadow._upsert import upsert as shared_upsert

if TYPE_CHECKING:
    from imagegen.services.core._driver_write import WriteConnection

__all__ = ["execute_insert_new", "insert_new", "is_duplicate_key", "upsert"]

_MARIADB = ("mysql", "mariadb")
_MARIADB_DUPLICATE_KEY = 1062


def upsert(table: sa.Table, keys: Sequence[str], values: Sequence[str], dialect: str) -> sa.Insert:
    """An insert of ``keys`` and ``values`` columns that replaces ``values`` on a key clash.

    Parameters are bound by column name when the statement is executed.
    """
    statement = shared_upsert(table, keys, dict.fromkeys(values, replace), dialect)
    if statement is None:
        raise NotImplementedError(f"no upsert for {dialect}")  # the engine refuses others
    return statement


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
    conn: WriteConnection, statement: sa.Insert, params: Mapping[str, Any]
) -> None:
    """Run an :func:`insert_new` statement; an existing row is not an error."""
    try:
        conn.execute(statement, params)
    except sa.exc.IntegrityError as error:
        if not is_duplicate_key(error):
            raise
