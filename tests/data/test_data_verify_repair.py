"""Verify finds planted differences in 100,000 rows on every backend; repair fixes exactly them.

The source is a legacy SQLite file (timestamps in its three text formats,
booleans as 0/1, JSON text); the target a SQLModel store on SQLite,
PostgreSQL or MariaDB, filled by the backfill. Then one row is deleted on the
target (missing), one added (extra) and one column changed (differing).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import sqlalchemy as sa

from imagegen.db.tables import ImageTable
from shadow.data import DataSchema, backfill, repair, verify, verify_keys
from tests.data.conftest import fill_images, image_name

images = ImageTable.__table__  # type: ignore[attr-defined]
ROWS = 100_000


def _digest_except(engine: sa.Engine, skip: set[str]) -> str:
    """A digest of every target image row except ``skip`` (to prove nothing else changed)."""
    digest = hashlib.sha256()
    with engine.connect() as connection:
        rows = connection.execute(sa.select(images).order_by(images.c.image_name)).all()
    for row in sorted(rows, key=lambda r: r.image_name):
        if row.image_name not in skip:
            digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


@pytest.mark.slow
def test_verify_names_planted_keys_and_repair_fixes_only_them(
    legacy_source: tuple[Path, sa.Engine], target: sa.Engine, schema: DataSchema
) -> None:
    """A missing, an extra and a changed row among 100,000 are found by key and column,
    a dry run changes nothing, and an applied repair fixes exactly those three rows."""
    path, source = legacy_source
    fill_images(path, ROWS)
    tables = schema.tables(["images"])
    backfill(source, target, tables, chunk_size=20_000)

    lost, changed, extra = image_name(4242), image_name(77_777), "zz-extra.png"
    with target.begin() as connection:
        connection.execute(images.delete().where(images.c.image_name == lost))
        connection.execute(images.update().where(images.c.image_name == changed).values(width=1))
        connection.execute(
            images.insert().values(
                image_name=extra,
                image_origin="internal",
                image_category="general",
                width=1,
                height=1,
            )
        )
    untouched = _digest_except(target, {lost, changed, extra})

    report = verify(source, target, tables, chunk_size=7_000)
    result = report.table("images")
    assert result.missing_on_target == (lost,)
    assert result.missing_on_source == (extra,)
    # The target's update trigger also refreshed updated_at: a real difference too.
    assert [(d.key, d.columns) for d in result.differing] == [(changed, ("width", "updated_at"))]
    assert result.compared == ROWS + 1
    assert "created_at" in result.declared, "tolerated columns are declared, never silent"

    dry = repair(source, target, tables, report)
    assert not dry.applied and dry.fixed is None
    assert not verify_keys(source, target, tables[0], [lost, changed, extra]).equal, "dry run wrote"

    done = repair(source, target, tables, report, apply=True)
    assert done.fixed is True
    assert sorted(done.table("images").keys) == sorted([lost, changed, extra])
    assert verify(source, target, tables).equal
    assert _digest_except(target, {lost, changed, extra}) == untouched
