"""The verifier's fast paths decide exactly as the rules do, on a generic schema (no imagegen).

Two fast paths stand before the row-by-row rules: timestamps read as one
canonical text by the database (:mod:`shadow.data._canonical`), and, for two
SQLite files, equal chunks found inside SQLite (:mod:`shadow.data._insqlite`).
Each may only say "equal" where the rules would; these tests plant values that
are the same instant in other shapes (equal) and values a microsecond apart,
shapes SQLite cannot rewrite, and text against a number (different), and check
that both paths name exactly the planted keys.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from shadow.data import DataSchema, verify
from shadow.data._canonical import canonical
from shadow.data._engines import open_engine
from tests.data.test_data_rules import RULES, _row, _store, metadata, things

SAME_INSTANT = {
    "a": "2026-08-19 01:13:04.123",
    "b": "2026-08-19T01:13:04.123000+00:00",
    "c": "2026-08-19T01:13:04.123Z",
    "d": "2026-08-19T03:13:04.123+02:00",  # not rewritten by SQL: the rules decide
    "e": "2026-08-19 01:13:04.12300",
}
DIFFERENT = {
    "p": "2026-08-19 01:13:04.123001",  # a microsecond later, same millisecond
    "q": "2026-08-19 01:13:04.1229",  # rounds to the same millisecond
    "r": "2026-08-19 01:13:05.123",  # a second later
    "s": "2026-08-19T03:13:04.124+02:00",
    "t": "not a time",
}


@pytest.fixture(params=["in sqlite", "python"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test runs with the in-SQLite comparison and without it (rows read into Python)."""
    if request.param == "python":
        monkeypatch.setattr("shadow.data._verify.attachable", lambda _source, _target: None)
    return str(request.param)


def _verify(tmp_path: Path, legacy: list[dict[str, Any]], modern: list[dict[str, Any]]) -> Any:
    source = _store(tmp_path / "s.db", legacy, raw=True)
    target = _store(tmp_path / "t.db", modern, raw=False)
    try:
        return verify(source, target, DataSchema(metadata, RULES).tables(), chunk_size=2).table(
            "things"
        )
    finally:
        source.dispose()
        target.dispose()


def test_both_paths_name_exactly_the_rows_that_differ(tmp_path: Path, path: str) -> None:
    """Other shapes of the same instant are equal; a microsecond, a rounding, a second, an
    offset time a millisecond off and an unparseable text each differ, in chunks of two."""
    planted = {**SAME_INSTANT, **DIFFERENT}
    legacy = [{**_row(key, size=3), "seen_at": text} for key, text in sorted(planted.items())]
    for row in legacy:
        row["stamped_at"] = row["stamped_at"].isoformat()
        row["active"] = 1
    result = _verify(tmp_path, legacy, [_row(key) for key in sorted(planted)])
    assert [(d.key, d.columns) for d in result.differing] == [
        (key, ("seen_at",)) for key in sorted(DIFFERENT)
    ], path
    assert result.source_rows == result.target_rows == len(planted)


def test_both_paths_see_missing_rows_and_a_number_against_text(tmp_path: Path, path: str) -> None:
    """A row on one side only is missing on the other, and an integer column holding a
    text on one side differs (SQLite's type affinity must not make '3x' and 3 alike)."""
    legacy = [
        {**_row(key), "stamped_at": "2026-08-19 01:13:04", "seen_at": "2026-08-19 01:13:04.123"}
        for key in ("a", "b", "c", "e")
    ]
    legacy[1]["size"] = "3x"
    result = _verify(tmp_path, legacy, [_row(key) for key in ("a", "b", "d", "e")])
    assert result.missing_on_target == ("c",)
    assert result.missing_on_source == ("d",)
    assert [(d.key, d.columns) for d in result.differing] == [("b", ("size",))]


def test_sqlite_reads_every_legacy_shape_as_one_text_and_leaves_the_rest(
    tmp_path: Path,
) -> None:
    """The canonical projection turns each rewritable shape into ``YYYY-MM-DD HH:MM:SS.ffffff``
    (the same text Python's own formatting gives the instant); other values come back
    unchanged, or as bytes when flagged for the slow path."""
    db = tmp_path / "shapes.db"
    db.touch()
    engine = open_engine(f"sqlite:///{db}", "test")
    metadata.create_all(engine)
    column = things.c.seen_at
    plain = canonical(column, engine.dialect)
    flagged = canonical(column, engine.dialect, flag_others=True)
    assert plain is not None and flagged is not None
    rewritten = [
        *(text for key, text in SAME_INSTANT.items() if key != "d"),
        "2026-08-19 01:13:04",
        "2026-08-19T01:13:04.5Z",
    ]
    untouched = [SAME_INSTANT["d"], "not a time", "2026-08-19 01:13:04.1234567"]
    with closing(sqlite3.connect(db)) as raw:
        raw.executemany(
            "INSERT INTO things (thing_id, seen_at) VALUES (?, ?)",
            [(str(i), text) for i, text in enumerate(rewritten + untouched)],
        )
        raw.commit()
    order = sa.cast(things.c.thing_id, sa.Integer)
    statement = sa.select(things.c.thing_id, plain, flagged).order_by(order)
    with engine.connect() as connection:
        rows = connection.execute(statement).all()
    engine.dispose()
    expected = ["2026-08-19 01:13:04.123000"] * 4 + [
        "2026-08-19 01:13:04.000000",
        "2026-08-19 01:13:04.500000",
    ]
    assert [row[1] for row in rows[: len(rewritten)]] == expected
    assert [row[2] for row in rows[: len(rewritten)]] == expected
    assert [row[1] for row in rows[len(rewritten) :]] == untouched
    assert [row[2] for row in rows[len(rewritten) :]] == [t.encode() for t in untouched]
