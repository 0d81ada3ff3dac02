"""The gallery's per-board reads start from the board, on both SQLite stores.

At production scale (1,000,000 images, docs/benchmarks.md) a board's image
count and name list took 0.5 s when SQLite's planner, which has no table
statistics, drove them from ``ix_images_image_category`` whenever one category
was asked for: every image of that category read to find a board's fifty. The
index ``board_images (board_id, image_name)`` (legacy migration 4, Alembic
0002) makes the board the way in. These tests capture the SQL each service
runs and ask SQLite for its plan, so a query shape or an index change that
brings the category scan back fails here, not in a benchmark.

The session queue's status counts read its ``(status, queue_id)`` index alone
(they read every item's row, each holding its session JSON: 755 ms a poll at
100,000 items) and its pages come in the order of the ``(priority DESC,
item_id)`` index (every item of the top priority was sorted first: 1,966 ms
a page).

Deleting an image sets the covers naming it to NULL (``ON DELETE SET NULL``);
without an index on ``boards.cover_image_name`` every deleted image scanned
every board (``delete_intermediates`` was quadratic): both schemas have it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from imagegen.db.engine import create_engine
from imagegen.db.legacy import LegacyDatabase
from imagegen.db.populate import Scale, seed
from imagegen.services.contracts.images import ImageCategory
from imagegen.services.core.board_images import CoreBoardImagesService
from imagegen.services.core.images import CoreImagesService
from imagegen.services.core.session_queue import CoreSessionQueueService
from imagegen.services.legacy.board_images import LegacyBoardImagesService
from imagegen.services.legacy.images import LegacyImagesService
from imagegen.services.legacy.session_queue import LegacySessionQueueService
from shadow import SequentialIds, SystemClock

SCALE = Scale(users=2, boards=4, images=200, queue_items=40)
BOARD = "seed-board-000001"

Reads = Callable[[Any, Any], None]


def _board_reads(images: Any, links: Any) -> None:
    """The calls a gallery makes per board: counts, the board's names, one category's names."""
    links.get_image_count_for_board(BOARD)
    links.get_asset_count_for_board(BOARD)
    links.get_all_board_image_names_for_board(BOARD, categories=["general"])
    images.get_image_names(
        board_id=BOARD, categories=[ImageCategory.GENERAL], is_intermediate=False
    )
    images.get_most_recent_image_for_board(BOARD)


def _plan(connection: sqlite3.Connection, sql: str, params: Any = ()) -> list[str]:
    return [row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}", params)]


def _tracer(explainer: sqlite3.Connection, plans: list[list[str]]) -> Callable[[str], None]:
    """A driver trace callback adding the plan of every SELECT to ``plans``."""

    def traced(sql: str) -> None:  # the statement with its parameters spelled in
        if sql.lstrip().upper().startswith("SELECT"):
            plans.append(_plan(explainer, sql))

    return traced


Statements = Iterator[tuple[list[Any], list[list[str]]]]


@contextmanager
def _legacy_statements(path: Path, *services: type) -> Statements:
    """Legacy ``services`` on ``path``, and the plan of each SELECT they run, as they run."""
    db = LegacyDatabase(path)
    plans: list[list[str]] = []
    explainer = sqlite3.connect(path)
    ids, clock = SequentialIds(), SystemClock()
    try:
        db.connection.set_trace_callback(_tracer(explainer, plans))
        yield [service(db, ids=ids, clock=clock) for service in services], plans
    finally:
        explainer.close()
        db.close()


@contextmanager
def _core_statements(url: str, *services: type) -> Statements:
    """SQLModel ``services`` on ``url``, and the plan of every SELECT they run.

    Traced on the driver's connections, as on the legacy side: some reads run on
    the driver directly (``DriverRead``) and never reach SQLAlchemy's events.
    """
    engine = create_engine(url)
    plans: list[list[str]] = []
    explainer = sqlite3.connect(engine.url.database or "")
    traced = _tracer(explainer, plans)

    def connected(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(traced)

    sa.event.listen(engine.pool, "connect", connected)
    ids, clock = SequentialIds(), SystemClock()
    try:
        yield [service(engine, ids=ids, clock=clock) for service in services], plans
    finally:
        explainer.close()
        engine.dispose()


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    directory = tmp_path_factory.mktemp("plans")
    legacy, candidate = directory / "legacy.sqlite3", directory / "candidate.sqlite3"
    seed(f"sqlite:///{legacy}", SCALE, legacy=True)
    seed(f"sqlite:///{candidate}", SCALE)
    return legacy, f"sqlite:///{candidate}"


@pytest.mark.parametrize("side", ["legacy", "sqlmodel"])
def test_per_board_reads_start_from_the_board_not_from_a_category(
    stores: tuple[Path, str], side: str
) -> None:
    legacy, candidate = stores
    opened = (
        _legacy_statements(legacy, LegacyImagesService, LegacyBoardImagesService)
        if side == "legacy"
        else _core_statements(candidate, CoreImagesService, CoreBoardImagesService)
    )
    with opened as ((images, links), plans):
        _board_reads(images, links)
    assert len(plans) >= 5
    for plan in plans:
        first = plan[0]
        assert "board_images" in first and "(board_id=?)" in first, plan
        assert not any("ix_images_image_category" in step for step in plan), plan


@pytest.mark.parametrize("side", ["legacy", "sqlmodel"])
def test_queue_counts_read_the_index_alone_and_pages_come_in_index_order(
    stores: tuple[Path, str], side: str
) -> None:
    legacy, candidate = stores
    opened = (
        _legacy_statements(legacy, LegacySessionQueueService)
        if side == "legacy"
        else _core_statements(candidate, CoreSessionQueueService)
    )
    with opened as ((queue,), plans):
        queue.get_queue_status("default")
        status = list(plans)
        plans.clear()
        queue.list_queue_items("default", limit=20, priority=0)
        pages = list(plans)
    counts, _current_item = status
    assert counts == ["SCAN session_queue USING COVERING INDEX ix_session_queue_status_queue_id"]
    assert pages, "list_queue_items ran no SELECT"
    for plan in pages:
        assert any("ix_session_queue_priority_desc_item_id" in step for step in plan), plan
        assert not any("TEMP B-TREE" in step for step in plan), plan


@pytest.mark.parametrize("side", ["legacy", "sqlmodel"])
def test_deleting_an_image_finds_the_boards_it_covers_by_index(
    stores: tuple[Path, str], side: str
) -> None:
    legacy, candidate = stores
    path = legacy if side == "legacy" else Path(candidate.removeprefix("sqlite:///"))
    with closing(sqlite3.connect(path)) as connection:
        # The look-up SQLite's ON DELETE SET NULL makes for every deleted image.
        plan = _plan(connection, "SELECT 1 FROM boards WHERE cover_image_name = ?", ("x",))
    assert plan == [
        "SEARCH boards USING COVERING INDEX ix_boards_cover_image_name (cover_image_name=?)"
    ]
