"""Copy rows between two stores of the schema: start a candidate as an exact copy.

:func:`copy_rows` reads every row of the given tables from a source engine and
replaces the target's rows with them, in foreign-key order, in one target
transaction. Values go through the table types, so legacy text timestamps in
any of their three formats arrive as proper timestamps on PostgreSQL and
MariaDB, and 0/1 integers as booleans. Generated columns are skipped (the
target computes them). The ``session_queue`` autoincrement counter is set so
the target hands out the same next ``item_id`` as the source.

The legacy file is readable as a source through ``create_engine("sqlite:///path")``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from imagegen.db.tables import SessionQueueTable, metadata

__all__ = ["copy_rows"]

_BATCH = 1000
_QUEUE = SessionQueueTable.__table__  # type: ignore[attr-defined]


def _resolve(tables: Iterable[str] | None) -> list[sa.Table]:
    if tables is None:
        return list(metadata.sorted_tables)
    wanted = set(tables)
    unknown = wanted - set(metadata.tables)
    if unknown:
        raise ValueError(f"unknown tables: {sorted(unknown)}")
    return [table for table in metadata.sorted_tables if table.name in wanted]


def _writable(table: sa.Table) -> list[sa.Column[Any]]:
    return [column for column in table.columns if column.computed is None]


def _batches(result: sa.CursorResult[Any]) -> Iterator[Sequence[sa.RowMapping]]:
    while batch := result.mappings().fetchmany(_BATCH):
        yield batch


def copy_rows(
    source: sa.Engine, target: sa.Engine, tables: Iterable[str] | None = None
) -> dict[str, int]:
    """Make ``tables`` (default: all 14) on ``target`` an exact copy of ``source``.

    The target's existing rows of those tables are deleted first (children
    before parents). Deleting a parent table's rows also cascades to child
    tables that are not copied, so copy a table together with its dependents.
    Returns the number of rows copied per table.
    """
    chosen = _resolve(tables)
    copied: dict[str, int] = {}
    with source.connect() as reader, target.begin() as writer:
        for table in reversed(chosen):
            writer.execute(table.delete())
        for table in chosen:
            columns = _writable(table)
            result = reader.execution_options(stream_results=True).execute(sa.select(*columns))
            count = 0
            for batch in _batches(result):
                writer.execute(table.insert(), [dict(row) for row in batch])
                count += len(batch)
            copied[table.name] = count
        if _QUEUE in chosen:
            _set_next_item_id(writer, _next_item_id(reader))
    return copied


def _next_item_id(connection: sa.Connection) -> int:
    """The item_id the source would assign next (counting deleted rows' ids as used)."""
    dialect = connection.dialect.name
    highest = connection.execute(sa.select(sa.func.max(_QUEUE.c.item_id))).scalar() or 0
    used = 0
    if dialect == "sqlite":
        used = (
            connection.exec_driver_sql(
                "SELECT seq FROM sqlite_sequence WHERE name = 'session_queue'"
            ).scalar()
            or 0
        )
    elif dialect == "postgresql":
        row = connection.exec_driver_sql(
            "SELECT last_value, is_called FROM session_queue_item_id_seq"
        ).one()
        used = row.last_value if row.is_called else row.last_value - 1
    else:
        used = (
            connection.exec_driver_sql(
                "SELECT auto_increment - 1 FROM information_schema.tables"
                " WHERE table_schema = DATABASE() AND table_name = 'session_queue'"
            ).scalar()
            or 0
        )
    return max(highest, used) + 1


def _set_next_item_id(connection: sa.Connection, next_id: int) -> None:
    dialect = connection.dialect.name
    if dialect == "sqlite":
        connection.exec_driver_sql("DELETE FROM sqlite_sequence WHERE name = 'session_queue'")
        connection.exec_driver_sql(
            "INSERT INTO sqlite_sequence (name, seq) VALUES ('session_queue', ?)", (next_id - 1,)
        )
    elif dialect == "postgresql":
        connection.exec_driver_sql(
            "SELECT setval('session_queue_item_id_seq', %s, false)", (next_id,)
        )
    else:
        # MariaDB: DDL commits implicitly, so the copy is committed just before this;
        # the counter cannot be set in the same transaction there.
        connection.exec_driver_sql(f"ALTER TABLE session_queue AUTO_INCREMENT = {int(next_id)}")
