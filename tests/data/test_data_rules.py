"""The comparison rules: what counts as equal at rest, on a generic schema (no imagegen).

Two SQLite stores of a small table: the source holds values the way a raw
``sqlite3`` layer writes them (text timestamps in several formats, 0/1), the
target the way SQLAlchemy does; the rules decide what differs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from shadow import ConfigError
from shadow.data import DataSchema, Excluded, Json, Tolerance, verify
from shadow.data._engines import open_engine

metadata = sa.MetaData()
things = sa.Table(
    "things",
    metadata,
    sa.Column("thing_id", sa.Text, primary_key=True),
    sa.Column("seen_at", sa.DateTime(timezone=True)),
    sa.Column("stamped_at", sa.DateTime(timezone=True)),
    sa.Column("active", sa.Boolean),
    sa.Column("doc", sa.Text),
    sa.Column("secret", sa.Text),
    sa.Column("size", sa.Integer),
)
RULES = {
    "things": {
        "stamped_at": Tolerance(2, "set by the database"),
        "doc": Json(),
        "secret": Excluded("salted independently on each side"),
    }
}


def _store(path: Path, rows: list[dict[str, Any]], *, raw: bool) -> sa.Engine:
    path.touch()
    engine = open_engine(f"sqlite:///{path}", "test")
    metadata.create_all(engine)
    with engine.begin() as connection:
        if raw:  # as the legacy layer writes: driver values, no type processing
            columns = ", ".join(rows[0])
            marks = ", ".join(f":{name}" for name in rows[0])
            connection.execute(sa.text(f"INSERT INTO things ({columns}) VALUES ({marks})"), rows)
        else:
            connection.execute(things.insert(), rows)
    return engine


def _row(thing_id: str, **changes: Any) -> dict[str, Any]:
    row = {
        "thing_id": thing_id,
        "seen_at": datetime(2026, 8, 19, 1, 13, 4, 123000, tzinfo=UTC),
        "stamped_at": datetime(2026, 8, 19, 1, 13, 4, tzinfo=UTC),
        "active": True,
        "doc": '{"a": 1, "b": [1, 2]}',
        "secret": "salt-1",
        "size": 3,
    }
    return {**row, **changes}


def _compare(tmp_path: Path, legacy: list[dict[str, Any]], modern: list[dict[str, Any]]) -> Any:
    source = _store(tmp_path / "s.db", legacy, raw=True)
    target = _store(tmp_path / "t.db", modern, raw=False)
    try:
        return verify(source, target, DataSchema(metadata, RULES).tables()).table("things")
    finally:
        source.dispose()
        target.dispose()


def test_legacy_formats_booleans_json_tolerance_and_exclusions_compare_equal(
    tmp_path: Path,
) -> None:
    """The three legacy timestamp texts, 0/1, reordered JSON, a database timestamp a second
    apart and a differently salted secret all count as equal, and the declared treatments are
    listed with the result."""
    legacy = [
        {
            **_row("a"),
            "seen_at": "2026-08-19 01:13:04.123",
            "stamped_at": "2026-08-19 01:13:05",
            "active": 1,
            "doc": '{"b":[1,2],"a":1}',
            "secret": "salt-2",
        },
        {
            **_row("b"),
            "seen_at": "2026-08-19T01:13:04.123000+00:00",
            "stamped_at": "2026-08-19 01:13:04",
            "active": 1,
            "doc": '{"a": 1, "b": [1, 2]}',
        },
        {
            **_row("c"),
            "seen_at": "2026-08-19T03:13:04.123+02:00",
            "stamped_at": "2026-08-19 01:13:04.000",
            "active": 1,
            "doc": '{"a": 1, "b": [1, 2]}',
        },
    ]
    result = _compare(tmp_path, legacy, [_row("a"), _row("b"), _row("c")])
    assert result.equal, result.to_dict()
    assert result.declared == {
        "stamped_at": "within 2s (set by the database)",
        "secret": "excluded: salted independently on each side",
    }


def test_real_differences_are_named_by_key_and_column(tmp_path: Path) -> None:
    """A timestamp beyond the tolerance, an exact timestamp a millisecond off, a boolean,
    a JSON value and an integer are each reported, with only the differing columns."""
    legacy = [
        {**_row("a"), "stamped_at": "2026-08-19 01:13:09", "active": 1},
        {**_row("b"), "seen_at": "2026-08-19 01:13:04.124", "active": 0},
        {**_row("c"), "doc": '{"a": 2, "b": [1, 2]}', "size": 4},
    ]
    legacy = [
        {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
        for row in legacy
    ]
    result = _compare(tmp_path, legacy, [_row("a"), _row("b"), _row("c")])
    assert [(d.key, d.columns) for d in result.differing] == [
        ("a", ("stamped_at",)),
        ("b", ("seen_at", "active")),
        ("c", ("doc", "size")),
    ]


def test_rules_for_unknown_tables_or_columns_are_refused() -> None:
    """A typo in a rule must not leave a column compared in a way nobody meant."""
    with pytest.raises(ValueError, match="unknown"):
        DataSchema(metadata, {"thingz": {}})
    with pytest.raises(ValueError, match="unknown columns"):
        DataSchema(metadata, {"things": {"sizee": Json()}}).tables()
    with pytest.raises(ConfigError, match="unknown table"):
        DataSchema(metadata).tables(["nope"])
