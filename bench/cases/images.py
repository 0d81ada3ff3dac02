"""Images cases for the service benchmark: gallery browsing and generation writes.

Data: 3,000 images (three users, every seventh starred, every fifth an
intermediate, four categories, a small prompt as metadata) saved through both
implementations, and eight boards holding two thirds of them (board rows are
written with plain SQL: boards are another service). Hot methods: ``get`` by
name, a 50-row ``get_many`` page of one board's general images (starred first),
the board's ``get_image_names`` list, ``get_intermediates_count``, an insert
(``save`` of a new intermediate) and an update (star / unstar one image).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

from bench.harness import BenchPair, Case, open_pair
from imagegen.services.contracts.images import (
    ImageCategory,
    ImageChanges,
    ImageOrigin,
    ImagesService,
)
from imagegen.services.core.images import CoreImagesService
from imagegen.services.legacy.images import LegacyImagesService

__all__ = ["cases"]

IMAGES = 3000
BOARDS = 8
USERS = ("alice", "bob", "carol")
CATEGORIES = (ImageCategory.GENERAL, ImageCategory.GENERAL, ImageCategory.MASK, ImageCategory.USER)


def _name(n: int) -> str:
    return f"image-{n:05d}.png"


def _save(service: ImagesService, n: int) -> object:
    return service.save(
        _name(n),
        ImageOrigin.INTERNAL,
        CATEGORIES[n % len(CATEGORIES)],
        1024,
        768,
        has_workflow=n % 2 == 0,
        is_intermediate=n % 5 == 0,
        starred=n % 7 == 0,
        session_id=f"session-{n // 10}",
        node_id="node-1",
        metadata={"prompt": f"a photo of subject {n}", "seed": n, "steps": 30},
        user_id=USERS[n % len(USERS)],
    )


def _add_boards(pair: BenchPair) -> None:
    """Eight boards; image n goes on board n % 12 when that is below eight."""
    boards = [(f"board-{b}", f"Board {b}") for b in range(BOARDS)]
    members = [(f"board-{n % 12}", _name(n)) for n in range(IMAGES) if n % 12 < BOARDS]
    board_sql = "INSERT INTO boards (board_id, board_name) VALUES (?, ?)"
    member_sql = "INSERT INTO board_images (board_id, image_name) VALUES (?, ?)"
    with pair.legacy_db.transaction() as cursor:
        cursor.executemany(board_sql, boards)
        cursor.executemany(member_sql, members)
    with pair.engine.begin() as conn:
        conn.exec_driver_sql(board_sql, boards)
        conn.exec_driver_sql(member_sql, members)


def _page(service: ImagesService) -> Callable[[], object]:
    return lambda: service.get_many(
        50,
        50,
        board_id="board-1",
        categories=[ImageCategory.GENERAL],
        is_intermediate=False,
        user_id="alice",
        is_admin=True,
    )


def _saver(service: ImagesService) -> Callable[[], object]:
    numbers = itertools.count(IMAGES)
    return lambda: _save(service, next(numbers))


def _starrer(service: ImagesService) -> Callable[[], object]:
    changes = itertools.cycle([ImageChanges(starred=True), ImageChanges(starred=False)])
    return lambda: service.update(_name(1500), next(changes))


def cases(workdir: Path) -> list[Case]:
    """The images hot methods on identical galleries per arm."""
    pair = open_pair(workdir, "images")
    legacy_ids, legacy_clock = pair.sources()
    orm_ids, orm_clock = pair.sources()
    legacy = LegacyImagesService(pair.legacy_db, ids=legacy_ids, clock=legacy_clock)
    orm = CoreImagesService(pair.engine, ids=orm_ids, clock=orm_clock)
    for service in (legacy, orm):
        for n in range(IMAGES):
            _save(service, n)
    _add_boards(pair)
    legacy_page, orm_page = _page(legacy)(), _page(orm)()
    assert len(legacy_page.items) == len(orm_page.items) == 50  # type: ignore[attr-defined]
    # At least: a seeded store (bench.seeding) holds intermediates of its own.
    assert legacy.get_intermediates_count() == orm.get_intermediates_count() >= IMAGES // 5
    return [
        Case(
            "by name",
            "images",
            "get",
            lambda: legacy.get(_name(1234)),
            lambda: orm.get(_name(1234)),
        ),
        Case("page of 50, board+filters", "images", "get_many", _page(legacy), _page(orm)),
        Case(
            "one board's names",
            "images",
            "get_image_names",
            lambda: legacy.get_image_names(board_id="board-3"),
            lambda: orm.get_image_names(board_id="board-3"),
        ),
        Case(
            "intermediates of a user",
            "images",
            "get_intermediates_count",
            lambda: legacy.get_intermediates_count("bob"),
            lambda: orm.get_intermediates_count("bob"),
        ),
        Case("new intermediate", "images", "save", _saver(legacy), _saver(orm)),
        Case("star / unstar", "images", "update", _starrer(legacy), _starrer(orm)),
    ]
