"""One upsert statement per dialect: insert a row, or replace its value columns.

SQLite and PostgreSQL spell it ``INSERT ... ON CONFLICT (key) DO UPDATE``,
MariaDB ``INSERT ... ON DUPLICATE KEY UPDATE``. Each backend's update trigger
fires on the update branch, so ``updated_at`` moves as on the legacy side.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite

__all__ = ["upsert"]


def upsert(table: sa.Table, keys: Sequence[str], values: Sequence[str], dialect: str) -> sa.Insert:
    """An insert of ``keys`` and ``values`` columns that replaces ``values`` on a key clash.

    Parameters are bound by column name when the statement is executed.
    """
    if dialect in ("mysql", "mariadb"):
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
