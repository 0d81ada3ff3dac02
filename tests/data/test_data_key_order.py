"""Key order on the servers: the key's index where its collation sorts by code point.

Verification merges two streams in code-point order. A key column whose
collation already sorts that way (PostgreSQL ``C``, ``POSIX``, ``C.UTF-8``;
MariaDB ``*_nopad_bin``) is read in keyset chunks that walk the primary-key
index (EXPLAIN shows no sort); any other (an ICU locale, MariaDB's
case-insensitive default, ``utf8mb4_bin`` which pads with spaces) is read
through one ``ORDER BY ... COLLATE <binary>`` on a server-side cursor. Either
way the rows must come in Python's order, also when the reader restarts a
chunk from a key inside the previous one (as verification does where the
sides differ), and a verification against SQLite must find exactly the
planted difference.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from shadow.data import DataSchema, verify
from shadow.data._read import ChunkReader, raw, sorts_by_code_point
from shadow.data._rules import TableRules

# Distinct under every collation here (the digits differ), yet ordered
# differently by case-insensitive, accent-folding and padding collations:
# 'B' < 'a' < 'f' < 'é' by code point, 'a\t' < 'a' with space padding.
PREFIXES = ("a", "B", "é", "_", "-", "Z", "f", "a\t")
ROWS = 3000

COLLATIONS = [  # (backend, key column collation, sorts by code point)
    ("postgresql", "C", True),
    ("postgresql", "POSIX", True),
    ("postgresql", "C.utf8", True),
    ("postgresql", "en-x-icu", False),
    ("mariadb", "utf8mb4_nopad_bin", True),
    ("mariadb", "utf8mb4_bin", False),
    ("mariadb", "utf8mb4_general_ci", False),
]


def _cases(*, code_point_only: bool = False) -> list[Any]:
    marks = {"postgresql": pytest.mark.postgres, "mariadb": pytest.mark.mariadb}
    return [
        pytest.param(case, marks=marks[case[0]], id=f"{case[0]}-{case[1]}")
        for case in COLLATIONS
        if case[2] or not code_point_only
    ]


CASES = _cases()


def _keys(count: int) -> list[str]:
    return [f"{PREFIXES[i % len(PREFIXES)]}{i:05d}" for i in range(count)]


def _probe(collation: str | None) -> tuple[sa.MetaData, sa.Table]:
    metadata = sa.MetaData()
    table = sa.Table(
        "key_order_probe",
        metadata,
        sa.Column("name", sa.String(40, collation=collation), primary_key=True),
        sa.Column("value", sa.Integer, nullable=False),
    )
    return metadata, table


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[tuple[sa.Engine, str, bool]]:
    """(engine, collation, sorts by code point) with the probe table dropped afterwards."""
    backend, collation, code_point = request.param
    fixture = {"postgresql": "postgres_engine", "mariadb": "mariadb_engine"}[backend]
    engine: sa.Engine = request.getfixturevalue(fixture)
    metadata, _ = _probe(collation)
    metadata.drop_all(engine)
    yield engine, collation, code_point
    metadata.drop_all(engine)


def _filled(engine: sa.Engine, collation: str, count: int) -> sa.Table:
    metadata, table = _probe(collation)
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            table.insert(), [{"name": k, "value": i} for i, k in enumerate(_keys(count))]
        )
    return table


def _read_all(reader: ChunkReader, size: int, seed: int) -> list[Any]:
    """Every row once, restarting half the chunks from a key inside the previous one."""
    rows: list[Any] = []
    after = None
    shuffle = random.Random(seed)
    while True:
        chunk = reader.chunk(after)
        fresh = [row for row in chunk if after is None or row[0] > after]
        if len(chunk) < size:
            rows += fresh
            return rows
        cut = chunk[-1] if shuffle.random() < 0.5 else chunk[size // 2]
        rows += [row for row in fresh if row[0] <= cut[0]]
        after = cut[0]


@pytest.mark.parametrize("server", CASES, indirect=True)
def test_chunks_come_in_code_point_order_on_the_right_plan(
    server: tuple[sa.Engine, str, bool],
) -> None:
    """The plan follows the collation, and either plan reads every row in Python's order."""
    engine, collation, code_point = server
    table = _filled(engine, collation, ROWS)
    rules = TableRules(table)
    with engine.connect() as connection:
        assert sorts_by_code_point(connection, table.c.name) is code_point
        reader = ChunkReader(connection, rules, [raw(c) for c in rules.compared], size=97)
        try:
            assert reader.keyset is code_point
            names = [row[0] for row in _read_all(reader, 97, seed=len(collation))]
        finally:
            reader.close()
    assert names == sorted(_keys(ROWS))


def _explain(reader: ChunkReader) -> tuple[str, Any]:
    sql, params = reader.query("a01000")
    return "EXPLAIN " + sql, params


@pytest.mark.parametrize("server", _cases(code_point_only=True), indirect=True)
def test_keyset_chunks_walk_the_primary_key_index(server: tuple[sa.Engine, str, bool]) -> None:
    """EXPLAIN of a chunk past a key: an index range on the key, no sort of the table."""
    engine, collation, _ = server
    table = _filled(engine, collation, 20_000)
    with engine.connect() as connection:
        dialect = connection.dialect.name
        reader = ChunkReader(connection, TableRules(table), [raw(c) for c in table.c], size=500)
        reader.close()
        if dialect == "postgresql":
            connection.exec_driver_sql("ANALYZE key_order_probe")
            plan = "\n".join(connection.exec_driver_sql(*_explain(reader)).scalars())
            assert "Index" in plan and "key_order_probe_pkey" in plan, plan
            assert "Sort" not in plan, plan
        else:
            row = connection.exec_driver_sql(*_explain(reader)).mappings().one()
            assert row["key"] == "PRIMARY" and row["type"] == "range", dict(row)
            assert "filesort" not in (row["Extra"] or ""), dict(row)


@pytest.mark.parametrize("server", CASES, indirect=True)
def test_verify_against_sqlite_finds_exactly_the_planted_rows(
    server: tuple[sa.Engine, str, bool], tmp_path: Path
) -> None:
    """A SQLite copy with one row changed, one removed and one added differs by those keys."""
    engine, collation, _ = server
    _filled(engine, collation, ROWS)
    metadata, table = _probe(None)  # SQLite has none of these collations
    sqlite = sa.create_engine(f"sqlite:///{tmp_path / 'copy.db'}")
    keys = _keys(ROWS)
    changed, removed, added = keys[1001], keys[2002], "B" + "\t"
    try:
        metadata.create_all(sqlite)
        with sqlite.begin() as connection:
            connection.execute(
                table.insert(),
                [
                    {"name": k, "value": -1 if k == changed else i}
                    for i, k in enumerate(keys)
                    if k != removed
                ]
                + [{"name": added, "value": 0}],
            )
        result = verify(sqlite, engine, DataSchema(metadata).tables(), chunk_size=64).table(
            "key_order_probe"
        )
    finally:
        sqlite.dispose()
    assert [d.key for d in result.differing] == [changed]
    assert result.missing_on_target == (added,)
    assert result.missing_on_source == (removed,)
    assert result.source_rows == ROWS
