"""Reference stores at production scale, for the benchmarks: ``shadow db seed``.

:func:`seed` fills a store (a legacy SQLite file, or a SQLModel store at any
URL) with users, boards, images on boards and finished queue items, the way
a long-used installation holds them, so that the benchmarks can measure how
the services' costs grow with the data (issue 14: at least 1,000,000 images,
10,000 boards, 100,000 queue items and 1,000 users).

The rows are deterministic (row ``i`` is the same in every run) and written
through the schema's table types, in batches of :data:`BATCH` rows per
``executemany`` and one transaction per batch. What they hold:

* users ``seed-user-NNNNNN``, active, not admins, a placeholder password hash
  that matches no password;
* boards ``seed-board-NNNNNN`` owned by the users in turn;
* images ``seed-NNNNNNNN.png`` owned by the users in turn, every second one
  on a board (the boards in turn), one in ten an intermediate, one in seven
  starred, the five categories in turn, one second apart from 2026-01-01;
* queue items of the ``default`` queue, all finished (completed, failed or
  canceled: a pending one would be picked up by the demo's queue workers),
  ten per batch, with a small session.

Seeding a store that already holds seeded rows is refused (their keys would
collide): seed a fresh file or database.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from imagegen.db.engine import connectable, create_schema, parse_url
from imagegen.db.tables import (
    BoardImageTable,
    BoardTable,
    ImageTable,
    SessionQueueTable,
    UserTable,
)
from shadow._exceptions import ConfigError

__all__ = ["BATCH", "PRODUCTION", "Scale", "SeedResult", "seed"]

BATCH = 10_000
"""Rows per ``executemany`` and per transaction."""

_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
_CATEGORIES = ("general", "mask", "control", "user", "other")
_FINISHED = ("completed",) * 8 + ("failed", "canceled")
_PLACEHOLDER_HASH = "seeded-user:no-password-matches-this"  # not a hash of anything

Progress = Callable[[int, int], None]
"""``progress(rows_done, rows_total)``, told after every batch."""


@dataclass(frozen=True)
class Scale:
    """How many rows of each kind to seed."""

    users: int = 1_000
    boards: int = 10_000
    images: int = 1_000_000
    queue_items: int = 100_000

    def __post_init__(self) -> None:
        counts = (self.users, self.boards, self.images, self.queue_items)
        if any(count < 0 for count in counts):
            raise ConfigError("seed sizes must not be negative")
        if self.users == 0 and any(counts[1:]):
            raise ConfigError("boards, images and queue items need at least one user to own them")

    @property
    def board_images(self) -> int:
        """Images placed on a board: every second one, when there are boards."""
        return (self.images + 1) // 2 if self.boards else 0

    @property
    def rows(self) -> int:
        return self.users + self.boards + self.images + self.board_images + self.queue_items


PRODUCTION = Scale()
"""The production scale of issue 14."""


@dataclass(frozen=True)
class SeedResult:
    """What :func:`seed` wrote and how fast."""

    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    @property
    def rows_per_second(self) -> float:
        return self.total / self.seconds if self.seconds else 0.0


def seed(
    url: str, scale: Scale = PRODUCTION, *, legacy: bool = False, progress: Progress | None = None
) -> SeedResult:
    """Fill the store at ``url`` with ``scale``'s rows; return the counts and the time taken.

    With ``legacy``, ``url`` names a legacy SQLite file (``sqlite:///path``),
    created or migrated by the legacy migrator first; otherwise the store is
    brought to the SQLModel schema's head (created when empty).
    """
    _build_schema(url, legacy=legacy)
    written: dict[str, int] = {}
    done = 0
    started = time.perf_counter()
    with connectable(url) as engine:
        _refuse_seeded(engine)
        for table, rows in _tables(scale):
            count = 0
            for batch in _batches(rows):
                with engine.begin() as connection:
                    connection.execute(table.insert(), batch)
                count += len(batch)
                done += len(batch)
                if progress is not None:
                    progress(done, scale.rows)
            written[table.name] = count
    return SeedResult(written, time.perf_counter() - started)


def _build_schema(url: str, *, legacy: bool) -> None:
    if not legacy:
        with connectable(url, must_exist=False) as engine:
            create_schema(engine)
        return
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        raise ConfigError("a legacy store is a SQLite file: give sqlite:///PATH")
    from imagegen.db.admin import init_legacy  # noqa: PLC0415 -- the legacy migrator

    init_legacy(parsed.database)


def _refuse_seeded(engine: sa.Engine) -> None:
    users = UserTable.__table__  # type: ignore[attr-defined]
    with engine.connect() as connection:
        found = connection.execute(
            sa.select(users.c.user_id).where(users.c.user_id == _user(0))
        ).first()
    if found is not None:
        raise ConfigError("the store already holds seeded rows: seed a fresh database")


def _batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _user(number: int) -> str:
    return f"seed-user-{number:06d}"


def _board(number: int) -> str:
    return f"seed-board-{number:06d}"


def _image(number: int) -> str:
    return f"seed-{number:08d}.png"


def _tables(scale: Scale) -> Iterator[tuple[sa.Table, Iterator[dict[str, Any]]]]:
    """Each table with its rows, parents before children."""
    yield UserTable.__table__, _users(scale)  # type: ignore[attr-defined]
    yield BoardTable.__table__, _boards(scale)  # type: ignore[attr-defined]
    yield ImageTable.__table__, _images(scale)  # type: ignore[attr-defined]
    yield BoardImageTable.__table__, _board_images(scale)  # type: ignore[attr-defined]
    yield SessionQueueTable.__table__, _queue_items(scale)  # type: ignore[attr-defined]


def _at(seconds: int) -> datetime:
    return _EPOCH + timedelta(seconds=seconds)


def _users(scale: Scale) -> Iterator[dict[str, Any]]:
    for i in range(scale.users):
        yield {
            "user_id": _user(i),
            "email": f"{_user(i)}@example.invalid",
            "display_name": f"Seeded user {i}",
            "password_hash": _PLACEHOLDER_HASH,
            "is_admin": False,
            "is_active": True,
            "created_at": _at(i),
            "updated_at": _at(i),
        }


def _boards(scale: Scale) -> Iterator[dict[str, Any]]:
    for i in range(scale.boards):
        yield {
            "board_id": _board(i),
            "board_name": f"Board {i}",
            "user_id": _user(i % scale.users),
            "created_at": _at(i),
            "updated_at": _at(i),
        }


def _images(scale: Scale) -> Iterator[dict[str, Any]]:
    for i in range(scale.images):
        yield {
            "image_name": _image(i),
            "image_origin": "internal",
            "image_category": _CATEGORIES[i % len(_CATEGORIES)],
            "width": 512,
            "height": 768,
            "session_id": None,
            "node_id": None,
            "metadata": f'{{"seed": {i}, "steps": 30}}',
            "is_intermediate": i % 10 == 0,
            "starred": i % 7 == 0,
            "has_workflow": False,
            "user_id": _user(i % scale.users),
            "created_at": _at(i),
            "updated_at": _at(i),
        }


def _board_images(scale: Scale) -> Iterator[dict[str, Any]]:
    if not scale.boards:
        return
    for i in range(0, scale.images, 2):
        yield {
            "board_id": _board((i // 2) % scale.boards),
            "image_name": _image(i),
            "created_at": _at(i),
            "updated_at": _at(i),
        }


def _queue_items(scale: Scale) -> Iterator[dict[str, Any]]:
    for i in range(scale.queue_items):
        status = _FINISHED[i % len(_FINISHED)]
        session_id = f"seed-session-{i:07d}"
        session = {"id": session_id, "graph": {"nodes": {"noise": {"seed": i}}}, "results": {}}
        yield {
            "batch_id": f"seed-batch-{i // 10:06d}",
            "queue_id": "default",
            "session_id": session_id,
            "field_values": None,
            "session": json.dumps(session),
            "status": status,
            "priority": 0,
            "error_type": "OutOfMemory" if status == "failed" else None,
            "error_message": "CUDA out of memory" if status == "failed" else None,
            "error_traceback": None,
            "workflow": None,
            "origin": "canvas",
            "destination": "gallery",
            "user_id": _user(i % scale.users),
            "created_at": _at(i),
            "updated_at": _at(i + 60),
            "started_at": _at(i + 1),
            "completed_at": _at(i + 60),
        }
