"""Insert a row, or on a key clash set some of its columns: one native statement per dialect.

SQLite and PostgreSQL spell it ``INSERT ... ON CONFLICT (key) DO UPDATE SET``,
MariaDB ``INSERT ... ON DUPLICATE KEY UPDATE``. What a column becomes on a
clash is given as a function of its stored value and the value the insert
proposed (``excluded`` / ``inserted``): the proposed one to replace it, their
sum to add to it. Used by the runtime's divergence store (counters added to)
and by the reference application's SQLModel services (values replaced).

On every backend the clash is an update of the present row, so its ``UPDATE``
triggers fire: right for an upsert, wrong for a copy that must leave present
rows alone (that is :class:`shadow.data._write.InsertIfAbsent`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite

__all__ = ["Assign", "add", "replace", "upsert"]

Assign = Callable[[sa.ColumnElement[Any], sa.ColumnElement[Any]], sa.ColumnElement[Any]]
"""``assign(stored, proposed)``: a column's new value on a key clash."""


def upsert(
    table: sa.Table, keys: Sequence[str], on_clash: Mapping[str, Assign], dialect: str
) -> sa.Insert | None:
    """An insert into ``table`` that, where a row with the same ``keys`` exists, sets
    each column of ``on_clash`` to ``assign(stored, proposed)`` instead.

    Parameters are bound when the statement is executed (one row or many).
    None for a dialect without a native form (the caller falls back).
    """
    statement: Any
    if dialect in ("mysql", "mariadb"):
        statement = mysql.insert(table)
        proposed = statement.inserted
    elif dialect == "postgresql":
        statement = postgresql.insert(table)
        proposed = statement.excluded
    elif dialect == "sqlite":
        statement = sqlite.insert(table)
        proposed = statement.excluded
    else:
        return None
    values = {name: assign(table.c[name], proposed[name]) for name, assign in on_clash.items()}
    if dialect in ("mysql", "mariadb"):
        return statement.on_duplicate_key_update(values)  # type: ignore[no-any-return]
    return statement.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=list(keys), set_=values
    )


def replace(
    _stored: sa.ColumnElement[Any], proposed: sa.ColumnElement[Any]
) -> sa.ColumnElement[Any]:
    """The proposed value replaces the stored one."""
    return proposed


def add(stored: sa.ColumnElement[Any], proposed: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """The proposed value is added to the stored one."""
    return stored + proposed
