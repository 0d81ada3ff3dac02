"""Differential test of the images service: legacy and SQLModel give the same results.

A seeded generator plays 200 random call sequences (saves, updates, deletes,
board moves and every read with random filters) on a legacy and a SQLModel
SQLite store built by ``make_pair``, with identically seeded ids and clocks,
and requires equal results and equal errors call by call.

Database-generated timestamps are normalized at the source: after each save
the new row's ``created_at`` is set to the same value on both sides (one second
later than the previous save), so list order and ``created_at`` search are
deterministic and compared exactly; ``updated_at`` and the ``created_at`` that
``save`` returns (read before the rewrite) are dropped from the comparison.
Ties in ``created_at`` are covered by the contract suite instead.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from imagegen.db.legacy import LegacyDatabase
from imagegen.db.tables import ImageTable
from imagegen.services.contracts.images import (
    ImageCategory,
    ImageChanges,
    ImageOrigin,
    ImagesService,
    OrderDirection,
)
from imagegen.services.core.images import CoreImagesService
from imagegen.services.legacy.images import LegacyImagesService
from shadow import FixedClock, SequentialIds
from tests.differential import outcome

SEQUENCES = 200
CALLS = 20
T0 = datetime(2024, 5, 17, 10, 0, 0, tzinfo=UTC)
CUTOFF = datetime(2025, 1, 1, tzinfo=UTC)
NAMES = ["a.png", "A.png", "b.png", "c_1.png", "c%1.png", "画像.png", "d.png", "e.png"]
BOARDS = ["b1", "b2", "b3"]
USERS = ["alice", "bob", None]
TERMS = ["cat", "CAT", "%", "_", "a_b", "100%", "café", "猫", "2024-05-17", "10:00:0", "zzz"]
PROMPTS = ["a cat", "A CAT on a_b", "100% dog", "café 猫", "plain", "x" * 3000]


def unsynchronized(legacy_db: LegacyDatabase, engine: sa.Engine) -> None:
    """Skip fsync on both throwaway test stores: thousands of commits stay fast.

    Durability is not what this test checks; results are the same either way.
    """
    legacy_db.connection.execute("PRAGMA synchronous = OFF")
    sa.event.listen(
        engine,
        "connect",
        lambda dbapi_connection, _record: dbapi_connection.execute("PRAGMA synchronous = OFF"),
    )
    engine.dispose()


class Pair:
    """The two stores and services, and plain-SQL helpers applied to both."""

    def __init__(self, legacy_db: LegacyDatabase, engine: sa.Engine) -> None:
        self.legacy_db = legacy_db
        self.engine = engine
        unsynchronized(legacy_db, engine)
        self.legacy: ImagesService = LegacyImagesService(
            legacy_db, ids=SequentialIds("d"), clock=FixedClock()
        )
        self.orm: ImagesService = CoreImagesService(
            engine, ids=SequentialIds("d"), clock=FixedClock()
        )
        self.saves = 0

    def sql_both(self, sql: str, **params: Any) -> None:
        with self.legacy_db.transaction() as cur:
            cur.execute(sql, params)
        with self.engine.begin() as conn:
            conn.execute(sa.text(sql), params)

    def reset(self) -> None:
        self.sql_both("DELETE FROM boards")  # cascades board_images
        self.sql_both("DELETE FROM images")
        self.saves = 0

    def stamp_new_rows(self) -> None:
        """Give the rows saved just now the same created_at on both sides."""
        self.saves += 1
        when = T0 + timedelta(seconds=self.saves)
        legacy_text = when.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        with self.legacy_db.transaction() as cur:
            cur.execute(
                "UPDATE images SET created_at = ? WHERE created_at > ?",
                (legacy_text, CUTOFF.strftime("%Y-%m-%d")),
            )
        table: sa.Table = ImageTable.__table__  # type: ignore[attr-defined]
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(table).where(table.c.created_at > CUTOFF).values(created_at=when)
            )


def random_filters(rng: random.Random) -> dict[str, Any]:
    filters: dict[str, Any] = {}
    if rng.random() < 0.3:
        filters["image_origin"] = rng.choice(list(ImageOrigin))
    if rng.random() < 0.3:
        filters["categories"] = rng.sample(list(ImageCategory), rng.randint(0, 3))
    if rng.random() < 0.3:
        filters["is_intermediate"] = rng.random() < 0.5
    if rng.random() < 0.4:
        filters["board_id"] = rng.choice([*BOARDS, "none"])
    if rng.random() < 0.3:
        filters["search_term"] = rng.choice(TERMS)
    if rng.random() < 0.3:
        filters["user_id"] = rng.choice(["alice", "bob", "system"])
        filters["is_admin"] = rng.random() < 0.3
    filters["starred_first"] = rng.random() < 0.7
    filters["order_dir"] = rng.choice(list(OrderDirection))
    return filters


def random_call(rng: random.Random, pair: Pair) -> tuple[str, Callable[[ImagesService], Any]]:
    """A description and a call to make on both services (board moves apply to both stores)."""
    name = rng.choice(NAMES)
    kind = rng.choices(
        [
            "save",
            "update",
            "delete",
            "delete_many",
            "delete_intermediates",
            "board",
            "get",
            "get_metadata",
            "get_user_id",
            "count",
            "get_many",
            "names",
            "recent",
        ],
        weights=[8, 3, 1, 1, 0.3, 2, 2, 1, 1, 1, 4, 2, 1],
    )[0]
    if kind == "save":
        options: dict[str, Any] = {
            "has_workflow": rng.random() < 0.5,
            "is_intermediate": rng.random() < 0.3,
            "starred": rng.random() < 0.3,
            "session_id": rng.choice([None, "s1", "s2"]),
            "metadata": rng.choice([None, {"prompt": rng.choice(PROMPTS), "seed": 1}]),
            "user_id": rng.choice(USERS),
            "image_subfolder": rng.choice(["", "sub", "ü/ö"]),
        }
        origin = rng.choice(list(ImageOrigin))
        category = rng.choice(list(ImageCategory))
        size = rng.randint(1, 2048)
        return f"save({name}, {options})", lambda s: s.save(
            name, origin, category, size, size, **options
        )
    if kind == "update":
        changes = ImageChanges(
            image_category=rng.choice([None, *ImageCategory]),
            session_id=rng.choice([None, "s3"]),
            is_intermediate=rng.choice([None, True, False]),
            starred=rng.choice([None, True, False]),
        )
        return f"update({name}, {changes})", lambda s: s.update(name, changes)
    if kind == "delete":
        return f"delete({name})", lambda s: s.delete(name)
    if kind == "delete_many":
        names = rng.sample(NAMES, rng.randint(0, 3))
        return f"delete_many({names})", lambda s: s.delete_many(names)
    if kind == "delete_intermediates":
        return "delete_intermediates()", lambda s: s.delete_intermediates()
    if kind == "board":
        board = rng.choice(BOARDS)
        pair.sql_both(
            "INSERT OR IGNORE INTO boards (board_id, board_name) VALUES (:b, :b)", b=board
        )
        pair.sql_both(
            "INSERT OR REPLACE INTO board_images (board_id, image_name)"
            " SELECT :b, image_name FROM images WHERE image_name = :n",
            b=board,
            n=name,
        )
        return f"(moved {name} to {board}) get_image_names()", lambda s: s.get_image_names()
    if kind == "get":
        return f"get({name})", lambda s: s.get(name)
    if kind == "get_metadata":
        return f"get_metadata({name})", lambda s: s.get_metadata(name)
    if kind == "get_user_id":
        return f"get_user_id({name})", lambda s: s.get_user_id(name)
    if kind == "count":
        user = rng.choice(USERS)
        return f"get_intermediates_count({user})", lambda s: s.get_intermediates_count(user)
    if kind == "get_many":
        filters = random_filters(rng)
        offset, limit = rng.randint(0, 6), rng.randint(0, 5)
        return f"get_many({offset}, {limit}, {filters})", lambda s: s.get_many(
            offset, limit, **filters
        )
    if kind == "names":
        filters = random_filters(rng)
        return f"get_image_names({filters})", lambda s: s.get_image_names(**filters)
    board = rng.choice([*BOARDS, "none"])
    return f"get_most_recent_image_for_board({board})", (
        lambda s: s.get_most_recent_image_for_board(board)
    )


@pytest.mark.slow
def test_legacy_and_sqlmodel_images_agree_on_random_call_sequences(
    make_pair: Callable[[], tuple[LegacyDatabase, sa.Engine]],
) -> None:
    pair = Pair(*make_pair())
    for seed in range(SEQUENCES):
        pair.reset()
        rng = random.Random(seed)
        history: list[str] = []
        for _ in range(CALLS):
            description, call = random_call(rng, pair)
            history.append(description)
            saving = description.startswith("save(")
            drop = ("created_at", "updated_at") if saving else ("updated_at",)
            legacy = outcome(call, pair.legacy, drop=drop)
            orm = outcome(call, pair.orm, drop=drop)
            if saving:
                pair.stamp_new_rows()
            if legacy != orm:
                pytest.fail(
                    f"seed {seed}, call {len(history)}: {description}\n"
                    f"legacy: {legacy}\norm:    {orm}\nhistory: {history}"
                )
