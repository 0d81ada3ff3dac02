"""Fixtures for the data-at-rest tests: a legacy source file and a target per backend.

``target`` runs a test on the three candidate backends (SQLModel schema on
SQLite, PostgreSQL, MariaDB; each emptied and seeded by the shared fixtures).
``legacy_source`` is a legacy-migrated SQLite file whose ``images`` table can
be filled in bulk (``executemany``) with timestamps in the legacy layer's
three text formats.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
import sqlalchemy as sa

from imagegen.cutover import reference_data_schema
from imagegen.db.engine import create_engine
from imagegen.db.legacy import open_legacy
from shadow.data import DataSchema

FORMATS = (
    "2026-08-19 01:13:{s:02d}.123",  # the STRFTIME default
    "2026-08-19 01:13:{s:02d}",  # CURRENT_TIMESTAMP
    "2026-08-19T01:13:{s:02d}.123000+00:00",  # Python isoformat()
)


@pytest.fixture(
    params=[
        "sqlite",
        # Marked, so the fast loop (-m "not postgres and not mariadb") leaves them out.
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def target(request: pytest.FixtureRequest) -> sa.Engine:
    """A seeded, empty-of-content candidate store on each backend."""
    fixture = {
        "sqlite": "sqlite_engine",
        "postgresql": "postgres_engine",
        "mariadb": "mariadb_engine",
    }
    engine: sa.Engine = request.getfixturevalue(fixture[request.param])
    return engine


@pytest.fixture
def schema() -> DataSchema:
    """The reference app's data schema."""
    return reference_data_schema()


@pytest.fixture
def legacy_source(tmp_path: Path) -> Iterator[tuple[Path, sa.Engine]]:
    """A migrated legacy file (seed rows only) and an engine reading it."""
    path = tmp_path / "legacy.sqlite3"
    open_legacy(path).close()
    engine = create_engine(f"sqlite:///{path}")
    try:
        yield path, engine
    finally:
        engine.dispose()


def image_name(index: int) -> str:
    """The name of the index-th bulk image (sortable, mixed case to catch collations)."""
    return f"{'Img' if index % 2 else 'img'}-{index:07d}.png"


def fill_images(path: Path, count: int, *, start: int = 0) -> None:
    """Insert ``count`` images into the legacy file with executemany."""
    rows = [
        (
            image_name(i),
            "internal",
            "general",
            512,
            768,
            '{"b": 1, "a": [1, 2]}' if i % 3 else None,
            i % 2,
            FORMATS[i % 3].format(s=i % 60),
            FORMATS[(i + 1) % 3].format(s=i % 60),
        )
        for i in range(start, start + count)
    ]
    with closing(sqlite3.connect(path)) as connection:
        connection.executemany(
            "INSERT INTO images (image_name, image_origin, image_category, width, height,"
            " metadata, starred, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        connection.commit()
