"""Differential tests: random call sequences agree on legacy and SQLModel boards and board_images.

Each sequence is generated from its seed (printed on a mismatch, so a failure
replays exactly) on a ``make_pair`` (legacy SQLite and SQLModel SQLite with
identical seed rows), each side with its own, identically seeded id source and
an identical clock. A few users (made through the users service) and images
(inserted with plain SQL, identical on both sides) exist throughout; boards are
emptied between sequences. Results are compared after reducing
database-generated timestamps to whether they are set; errors by type (and
rule). Lists whose order the contract leaves open are compared sorted.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from imagegen.db.legacy import LegacyDatabase
from imagegen.db.tables import metadata
from imagegen.services.contracts.board_images import NO_BOARD, BoardImagesService
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
from shadow import FixedClock, SequentialIds
from tests.differential import outcome

SEQUENCES = 200
STEPS = 25
TIMESTAMPS = {"created_at", "updated_at", "shared_at"}
NAMES = ("Apple", "apple", "banana", "a_b", "ab", "Zoë 🎨", "x" * 300, "", "y" * 301)
IMAGES = (
    ("g1.png", "general", False, "ann"),
    ("g2.png", "general", True, "bob"),
    ("m1.png", "mask", False, "ann"),
    ("c1.png", "control", False, "bob"),
    ("u1.png", "user", True, "ann"),
    ("o1.png", "other", False, "system"),
)
CATEGORIES = ("general", "mask", "control", "user", "other")


class Side:
    """One implementation of each service on one store."""

    def __init__(self, boards: BoardsService, links: BoardImagesService, clock: FixedClock):
        self.boards = boards
        self.links = links
        self.clock = clock


Call = Callable[[Side], Any]


def prepare(legacy_db: LegacyDatabase, engine: sa.Engine) -> list[str]:
    """Users and images that exist on both sides throughout; returns the user ids."""
    legacy_db.connection.execute("PRAGMA synchronous = OFF")  # test speed only

    @sa.event.listens_for(engine, "connect")
    def _no_fsync(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA synchronous = OFF")

    engine.dispose()
    cheap = PasswordHasher(cost=2)
    user_ids = []
    for users in (
        LegacyUsersService(legacy_db, ids=SequentialIds("u"), clock=FixedClock(), passwords=cheap),
        CoreUsersService(engine, ids=SequentialIds("u"), clock=FixedClock(), passwords=cheap),
    ):
        user_ids = [users.create(f"{name}@example.com", name, "pw").user_id for name in ("a", "b")]
    rows = [
        {
            "image_name": name,
            "image_origin": "internal",
            "image_category": category,
            "width": 8,
            "height": 8,
            "is_intermediate": intermediate,
            "user_id": owner,
        }
        for name, category, intermediate, owner in IMAGES
    ]
    with legacy_db.transaction() as cur:
        cur.executemany(
            "INSERT INTO images (image_name, image_origin, image_category, width, height,"
            " is_intermediate, user_id) VALUES (:image_name, :image_origin, :image_category,"
            " :width, :height, :is_intermediate, :user_id)",
            rows,
        )
    with engine.begin() as conn:
        conn.execute(metadata.tables["images"].insert(), rows)
    return user_ids


def empty_boards(legacy_db: LegacyDatabase, engine: sa.Engine) -> None:
    """Delete every board on both sides (cascading their links and shares)."""
    with legacy_db.transaction() as cur:
        cur.execute("DELETE FROM boards")
    with engine.begin() as conn:
        conn.execute(metadata.tables["boards"].delete())


def sides(legacy_db: LegacyDatabase, engine: sa.Engine, seed: int) -> tuple[Side, Side]:
    legacy_clock, orm_clock = FixedClock(), FixedClock()
    legacy_ids, orm_ids = SequentialIds(f"s{seed}"), SequentialIds(f"s{seed}")
    return (
        Side(
            LegacyBoardsService(legacy_db, ids=legacy_ids, clock=legacy_clock),
            LegacyBoardImagesService(legacy_db, ids=legacy_ids, clock=legacy_clock),
            legacy_clock,
        ),
        Side(
            CoreBoardsService(engine, ids=orm_ids, clock=orm_clock),
            CoreBoardImagesService(engine, ids=orm_ids, clock=orm_clock),
            orm_clock,
        ),
    )


def check(call: Call, legacy: Side, candidate: Side, history: list[str]) -> Any:
    """Run one call on both sides and assert equal outcomes; returns the outcome."""
    expected = outcome(call, legacy, timestamps=TIMESTAMPS)
    actual = outcome(call, candidate, timestamps=TIMESTAMPS)
    history.append(f"{len(history)}: {expected}")
    assert actual == expected, "\n".join(history)
    return expected


def random_changes(rng: random.Random) -> BoardChanges:
    fields: dict[str, Any] = {}
    if rng.random() < 0.4:
        fields["board_name"] = rng.choice(NAMES)
    if rng.random() < 0.3:
        fields["cover_image_name"] = rng.choice([None, "g1.png", "m1.png", "missing.png"])
    if rng.random() < 0.3:
        fields["archived"] = rng.random() < 0.5
    if rng.random() < 0.4:
        fields["board_visibility"] = rng.choice(list(BoardVisibility))
    return BoardChanges(**fields)


def random_board_call(rng: random.Random, boards: list[str], users: list[str]) -> Call:
    def board() -> str:
        return rng.choice(boards) if boards and rng.random() < 0.9 else "missing-board"

    owners = [*users, "stranger"]
    kind = rng.choices(
        ["save", "get", "update", "delete", "share", "unshare", "shares", "many", "all"],
        weights=[6, 2, 6, 1, 3, 1, 2, 5, 3],
    )[0]
    if kind == "save":
        name, owner = rng.choice(NAMES), rng.choice(owners)
        return lambda s: s.boards.save(name, owner)
    if kind == "get":
        bid = board()
        return lambda s: s.boards.get(bid)
    if kind == "update":
        bid, changes = board(), random_changes(rng)
        return lambda s: s.boards.update(bid, changes)
    if kind == "delete":
        bid = board()
        return lambda s: s.boards.delete(bid)
    if kind in ("share", "unshare"):
        bid, uid = board(), rng.choice([*users, "missing-user"])
        if kind == "share":
            can_edit = rng.random() < 0.5
            return lambda s: s.boards.share(bid, uid, can_edit)
        return lambda s: s.boards.unshare(bid, uid)
    if kind == "shares":
        bid = board()
        return lambda s: s.boards.list_shares(bid)
    viewer, is_admin = rng.choice(owners), rng.random() < 0.3
    order_by, direction = rng.choice(list(BoardOrder)), rng.choice(list(Direction))
    include_archived = rng.random() < 0.4
    if kind == "many":
        offset, limit = rng.choice([0, 0, 1, 3, 20]), rng.choice([0, 1, 2, 10])
        return lambda s: s.boards.get_many(
            viewer,
            is_admin,
            order_by,
            direction,
            offset=offset,
            limit=limit,
            include_archived=include_archived,
        )
    return lambda s: s.boards.get_all(
        viewer, is_admin, order_by, direction, include_archived=include_archived
    )


def random_link_call(rng: random.Random, boards: list[str]) -> Call:
    def board() -> str:
        roll = rng.random()
        if boards and roll < 0.75:
            return rng.choice(boards)
        return NO_BOARD if roll < 0.9 else "missing-board"

    def image() -> str:
        return rng.choice(IMAGES)[0] if rng.random() < 0.9 else "missing.png"

    kind = rng.choices(
        ["save", "delete", "add", "remove", "board_for", "names", "image_count", "asset_count"],
        weights=[2, 1, 6, 2, 2, 5, 2, 2],
    )[0]
    if kind == "save":
        name = rng.choice(NAMES[:6])
        return lambda s: s.boards.save(name, "ann")
    if kind == "delete":
        bid = board()
        return lambda s: s.boards.delete(bid)
    if kind == "add":
        bid, name = board(), image()
        return lambda s: s.links.add_image_to_board(bid, name)
    if kind == "remove":
        name = image()
        return lambda s: s.links.remove_image_from_board(name)
    if kind == "board_for":
        name = image()
        return lambda s: s.links.get_board_for_image(name)
    if kind == "names":
        bid = board()
        categories = rng.choice([None, [], rng.sample(CATEGORIES, rng.randint(1, 3))])
        intermediate = rng.choice([None, True, False])
        owner = rng.choice([None, "ann", "bob"])
        # The order of names is unspecified: compare them as a set.
        return lambda s: sorted(
            s.links.get_all_board_image_names_for_board(bid, categories, intermediate, owner)
        )
    bid = board()
    if kind == "image_count":
        return lambda s: s.links.get_image_count_for_board(bid)
    return lambda s: s.links.get_asset_count_for_board(bid)


def learn_board(result: Any, boards: list[str]) -> None:
    data = result[1] if result[0] == "ok" else None
    if isinstance(data, dict) and "board_name" in data and data["board_id"] not in boards:
        boards.append(data["board_id"])


@pytest.mark.slow
def test_random_board_sequences_agree(
    make_pair: Callable[[], tuple[LegacyDatabase, sa.Engine]],
) -> None:
    legacy_db, engine = make_pair()
    users = prepare(legacy_db, engine)
    for seed in range(SEQUENCES):
        rng = random.Random(seed)
        legacy, candidate = sides(legacy_db, engine, seed)
        boards: list[str] = []
        history = [f"seed {seed}"]
        for _ in range(STEPS):
            if rng.random() < 0.15:
                for side in (legacy, candidate):
                    side.clock.advance(rng.choice([1, 60]))
            call = random_board_call(rng, boards, users)
            learn_board(check(call, legacy, candidate, history), boards)
        empty_boards(legacy_db, engine)


@pytest.mark.slow
def test_random_board_image_sequences_agree(
    make_pair: Callable[[], tuple[LegacyDatabase, sa.Engine]],
) -> None:
    legacy_db, engine = make_pair()
    prepare(legacy_db, engine)
    for seed in range(SEQUENCES):
        rng = random.Random(seed)
        legacy, candidate = sides(legacy_db, engine, seed)
        boards: list[str] = []
        history = [f"seed {seed}"]
        for _ in range(STEPS):
            call = random_link_call(rng, boards)
            learn_board(check(call, legacy, candidate, history), boards)
        empty_boards(legacy_db, engine)
