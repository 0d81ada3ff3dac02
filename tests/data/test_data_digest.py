"""Chunk digests on PostgreSQL and MariaDB: equal data reads no server row, bisection finds
exactly the planted differences, and a digest mismatch alone never counts as a difference.

The source is a SQLite file written in the legacy shapes (text timestamps in
three formats, 0/1, JSON text), the target a server table of the same
definition; the rows each server returns are counted by a cursor event (rows
of a statement reading the compared columns), not timed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from shadow.data import Json, TableRules
from shadow.data._digest import digestible
from shadow.data._verify import verify_table

ROWS = 3000
FORMATS = (
    "2026-08-19 01:13:{s:02d}.123",
    "2026-08-19 01:13:{s:02d}",
    "2026-08-19T01:13:{s:02d}.123000+00:00",
)


def _table() -> tuple[sa.MetaData, sa.Table]:
    metadata = sa.MetaData()
    table = sa.Table(
        "digest_probe",
        metadata,
        sa.Column("item_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(60)),
        sa.Column(
            "seen_at",
            sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb"),
        ),
        sa.Column("active", sa.Boolean),
        sa.Column("doc", sa.Text),
        sa.Column("size", sa.Integer),
    )
    return metadata, table


def _row(i: int) -> dict[str, Any]:
    return {
        "item_id": i,
        "name": "" if i % 7 == 0 else (None if i % 11 == 0 else f"Item {i}"),
        "seen_at": FORMATS[i % 3].format(s=i % 60),
        "active": i % 2,
        "doc": json.dumps({"b": i, "a": [1, 2]}) if i % 3 else None,
        "size": i * 3,
    }


@pytest.fixture(
    params=[
        pytest.param("postgres_engine", marks=pytest.mark.postgres),
        pytest.param("mariadb_engine", marks=pytest.mark.mariadb),
    ]
)
def stores(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[sa.Engine, sa.Engine, sa.Table]]:
    """(SQLite source, server target, table): both filled with the same ``ROWS`` rows."""
    server: sa.Engine = request.getfixturevalue(request.param)
    metadata, table = _table()
    metadata.drop_all(server)
    metadata.create_all(server)
    source = sa.create_engine(f"sqlite:///{tmp_path / 'source.db'}")
    # The legacy side keeps its texts: created without SQLAlchemy's types.
    with source.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE digest_probe (item_id INTEGER PRIMARY KEY, name TEXT, seen_at TEXT,"
            " active INTEGER, doc TEXT, size INTEGER)"
        )
        connection.exec_driver_sql(
            "INSERT INTO digest_probe VALUES (?, ?, ?, ?, ?, ?)",
            [tuple(_row(i).values()) for i in range(ROWS)],
        )
    typed = TableRules(table, {"doc": Json()})
    with server.begin() as connection:
        values = []
        for i in range(ROWS):
            row = _row(i)
            row["seen_at"] = typed.rule(table.c.seen_at).normalize(row["seen_at"])
            row["active"] = bool(row["active"])
            values.append(row)
        connection.execute(table.insert(), values)
    try:
        yield source, server, table
    finally:
        source.dispose()
        metadata.drop_all(server)


def _verify(source: sa.Engine, target: sa.Engine, table: sa.Table) -> tuple[Any, int]:
    """The verification, and how many compared rows the server sent."""
    width = len(table.columns)
    fetched = 0

    def count(_conn: Any, cursor: Any, *_args: Any) -> None:
        nonlocal fetched
        if cursor.description is not None and len(cursor.description) == width:
            fetched += max(cursor.rowcount, 0)

    sa.event.listen(target, "after_cursor_execute", count)
    try:
        rules = TableRules(table, {"doc": Json()})
        assert digestible(rules, (source, target))
        result = verify_table(source, target, rules, chunk_size=500, digests=True)
    finally:
        sa.event.remove(target, "after_cursor_execute", count)
    return result, fetched


def test_equal_tables_send_no_row(stores: tuple[sa.Engine, sa.Engine, sa.Table]) -> None:
    source, target, table = stores
    result, fetched = _verify(source, target, table)
    assert result.equal and result.source_rows == ROWS == result.target_rows
    assert fetched == 0


def test_bisection_names_planted_differences(
    stores: tuple[sa.Engine, sa.Engine, sa.Table],
) -> None:
    source, target, table = stores
    with target.begin() as connection:
        connection.execute(table.delete().where(table.c.item_id == 1234))
        connection.execute(table.insert().values(item_id=ROWS + 5, name="extra"))
        connection.execute(table.insert().values(item_id=-1, name="extra too"))
        connection.execute(table.update().where(table.c.item_id == 2001).values(size=7))
        connection.execute(table.update().where(table.c.item_id == 42).values(name=None))
    result, fetched = _verify(source, target, table)
    assert result.missing_on_target == (1234,)
    assert result.missing_on_source == (-1, ROWS + 5)
    assert [(d.key, d.columns) for d in result.differing] == [(42, ("name",)), (2001, ("size",))]
    assert 0 < fetched <= 5 * 256  # only the bisected leaves, not the table


def test_rules_decide_where_only_the_digest_differs(
    stores: tuple[sa.Engine, sa.Engine, sa.Table],
) -> None:
    """JSON in another key order and spacing: the digests differ, the rules say equal."""
    source, target, table = stores
    with target.begin() as connection:
        connection.execute(
            table.update().where(table.c.item_id == 100).values(doc='{"a":[1,2],"b":100}')
        )
    result, fetched = _verify(source, target, table)
    assert result.equal
    assert fetched > 0
