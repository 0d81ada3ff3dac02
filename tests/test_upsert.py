"""One native upsert for the runtime's store and the reference services, on every backend.

On a key clash each named column becomes ``assign(stored, proposed)``: ``replace``
keeps the proposed value, ``add`` the sum; columns not named keep their stored
value, and a row without a clash is inserted as given.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from shadow._upsert import add, replace, upsert
from tests.runtime.test_runtime_store import BACKENDS

metadata = sa.MetaData()
things = sa.Table(
    "upsert_things",
    metadata,
    sa.Column("name", sa.String(20), primary_key=True),
    sa.Column("label", sa.String(20), nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("note", sa.String(20), nullable=False),
)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_clash_replaces_or_adds_the_named_columns_only(
    backend: str, empty_database: Callable[[str], str]
) -> None:
    """'a' clashes twice in one executemany (label replaced, count added, note kept);
    'b' does not clash and is inserted as given."""
    engine = sa.create_engine(empty_database(backend))
    try:
        metadata.create_all(engine)
        statement = upsert(things, ["name"], {"label": replace, "count": add}, engine.dialect.name)
        assert statement is not None
        with engine.begin() as connection:
            connection.execute(
                things.insert(), {"name": "a", "label": "x", "count": 1, "note": "n"}
            )
            connection.execute(
                statement,
                [
                    {"name": "a", "label": "y", "count": 2, "note": "other"},
                    {"name": "a", "label": "z", "count": 4, "note": "other"},
                    {"name": "b", "label": "w", "count": 8, "note": "m"},
                ],
            )
            rows = connection.execute(sa.select(things).order_by(things.c.name)).all()
        assert [tuple(row) for row in rows] == [("a", "z", 7, "n"), ("b", "w", 8, "m")]
    finally:
        engine.dispose()


def test_a_dialect_without_a_native_upsert_gets_none() -> None:
    """The caller falls back (the store's portable UPDATE-then-INSERT) instead of guessing."""
    assert upsert(things, ["name"], {"count": add}, "oracle") is None
