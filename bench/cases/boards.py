"""Boards and board_images cases for the service benchmark: the gallery's board list.

Data: 20 users owning 300 boards (a tenth public, a tenth archived, every
board shared with one other user) and 3,000 images, two thirds of them filed on
boards; built identically on both arms (boards through the services with
identically seeded ids, images with plain SQL). Hot methods: ``get`` by key, a
50-board page of ``get_many`` as a non-admin (the visibility filter with its
``shared_boards`` subquery, name order), the per-board image count, an insert
(``save``) and an update (``update``), plus the gallery's image-name list for a
board and the move of an image between boards.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import Case, open_pair
from imagegen.db.tables import metadata
from imagegen.services.contracts.board_images import BoardImagesService
from imagegen.services.contracts.boards import (
    BoardChanges,
    BoardOrder,
    BoardsService,
    BoardVisibility,
    Direction,
)
from imagegen.services.core.board_images import CoreBoardImagesService
from imagegen.services.core.boards import CoreBoardsService
from imagegen.services.core.users import CoreUsersService
from imagegen.services.legacy.board_images import LegacyBoardImagesService
from imagegen.services.legacy.boards import LegacyBoardsService
from imagegen.services.legacy.users import LegacyUsersService
from imagegen.services.passwords import PasswordHasher

__all__ = ["cases"]

USERS = 20
BOARDS = 300
IMAGES = 3000
_CATEGORIES = ("general", "general", "general", "mask", "control", "user")


def _images() -> list[dict[str, Any]]:
    return [
        {
            "image_name": f"image-{n:05d}.png",
            "image_origin": "internal",
            "image_category": _CATEGORIES[n % len(_CATEGORIES)],
            "width": 1024,
            "height": 1024,
            "is_intermediate": n % 7 == 0,
            "user_id": f"owner-{n % USERS}",
        }
        for n in range(IMAGES)
    ]


def _fill(boards: BoardsService, links: BoardImagesService, user_ids: list[str]) -> list[str]:
    board_ids = []
    for n in range(BOARDS):
        board = boards.save(f"Board {n:03d} {'ABCDEFGH'[n % 8]}", user_ids[n % USERS])
        board_ids.append(board.board_id)
        if n % 10 == 0:
            boards.update(board.board_id, BoardChanges(board_visibility=BoardVisibility.PUBLIC))
        if n % 10 == 5:
            boards.update(board.board_id, BoardChanges(archived=True))
        boards.share(board.board_id, user_ids[(n + 1) % USERS], can_edit=n % 2 == 0)
    for n in range(IMAGES):
        if n % 3:
            links.add_image_to_board(board_ids[n % BOARDS], f"image-{n:05d}.png")
    return board_ids


def _saver(boards: BoardsService, owner: str) -> Callable[[], object]:
    numbers = itertools.count()
    return lambda: boards.save(f"New board {next(numbers)}", owner)


def _renamer(boards: BoardsService, board_id: str) -> Callable[[], object]:
    changes = itertools.cycle([BoardChanges(board_name="Renamed A"), BoardChanges(board_name="B")])
    return lambda: boards.update(board_id, next(changes))


def _mover(links: BoardImagesService, board_ids: list[str]) -> Callable[[], object]:
    targets = itertools.cycle(board_ids[:2])
    return lambda: links.add_image_to_board(next(targets), "image-00001.png")


def cases(workdir: Path) -> list[Case]:
    """The boards and board_images hot methods on identical data per arm."""
    pair = open_pair(workdir, "boards")
    cheap = PasswordHasher(cost=2)
    images = _images()
    with pair.legacy_db.transaction() as cur:
        cur.executemany(
            "INSERT INTO images (image_name, image_origin, image_category, width, height,"
            " is_intermediate, user_id) VALUES (:image_name, :image_origin, :image_category,"
            " :width, :height, :is_intermediate, :user_id)",
            images,
        )
    with pair.engine.begin() as conn:
        conn.execute(metadata.tables["images"].insert(), images)

    arms = []
    for legacy_side in (True, False):
        ids, clock = pair.sources()
        if legacy_side:
            users: Any = LegacyUsersService(pair.legacy_db, ids=ids, clock=clock, passwords=cheap)
            boards: BoardsService = LegacyBoardsService(pair.legacy_db, ids=ids, clock=clock)
            links: BoardImagesService = LegacyBoardImagesService(
                pair.legacy_db, ids=ids, clock=clock
            )
        else:
            users = CoreUsersService(pair.engine, ids=ids, clock=clock, passwords=cheap)
            boards = CoreBoardsService(pair.engine, ids=ids, clock=clock)
            links = CoreBoardImagesService(pair.engine, ids=ids, clock=clock)
        user_ids = [users.create(f"u{n}@example.com", None, "pw").user_id for n in range(USERS)]
        arms.append((boards, links, user_ids, _fill(boards, links, user_ids)))

    (legacy, legacy_links, user_ids, board_ids), (orm, orm_links, _, orm_board_ids) = arms
    assert board_ids == orm_board_ids
    viewer, board = user_ids[3], board_ids[42]

    def page(boards: BoardsService) -> Callable[[], object]:
        return lambda: boards.get_many(
            viewer, False, BoardOrder.BOARD_NAME, Direction.ASC, offset=0, limit=50
        )

    return [
        Case("get by key", "boards", "get", lambda: legacy.get(board), lambda: orm.get(board)),
        Case("page of 50, non-admin", "boards", "get_many", page(legacy), page(orm)),
        Case("insert", "boards", "save", _saver(legacy, viewer), _saver(orm, viewer)),
        Case("update", "boards", "update", _renamer(legacy, board), _renamer(orm, board)),
        Case(
            "count",
            "board_images",
            "get_image_count_for_board",
            lambda: legacy_links.get_image_count_for_board(board),
            lambda: orm_links.get_image_count_for_board(board),
        ),
        Case(
            "names on a board",
            "board_images",
            "get_all_board_image_names_for_board",
            lambda: legacy_links.get_all_board_image_names_for_board(board),
            lambda: orm_links.get_all_board_image_names_for_board(board),
        ),
        Case(
            "move an image",
            "board_images",
            "add_image_to_board",
            _mover(legacy_links, board_ids),
            _mover(orm_links, board_ids),
        ),
    ]
