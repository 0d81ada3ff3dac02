"""The application around the storage: what it does at start-up and what its users do.

Its user sessions run on an event loop, awaiting the storage's async methods and
calling its plain ones directly, as an asyncio web application's handlers do.
"""

from __future__ import annotations

import contextlib
import random

from boards_app.records import BoardRecordNotFoundException
from boards_app.storage import BoardRecordStorageBase

DEFAULT_BOARD = "Uncategorized"


def start_up(boards: BoardRecordStorageBase) -> None:
    """At start-up the application makes sure its default board exists."""
    if not any(board.board_name == DEFAULT_BOARD for board in boards.get_all()):
        boards.save(DEFAULT_BOARD)


async def user_session(boards: BoardRecordStorageBase, rng: random.Random, steps: int) -> None:
    """What users do: create, rename, list, search, look up (maybe a board that is gone), delete."""
    for _ in range(steps):
        known = boards.get_ids()
        action = rng.choice(
            ["save", "save", "rename", "get", "get_all", "search", "delete", "last"]
        )
        if action == "save" or not known:
            boards.save(
                rng.choice(["Portraits", "Landscapes", "Sketches"]) + f" {rng.randint(1, 99)}"
            )
        elif action == "rename":
            await boards.rename(
                rng.choice(known), rng.choice(["Favourites ", "Drafts", " Archive"])
            )
        elif action == "get":
            with contextlib.suppress(BoardRecordNotFoundException):  # a board deleted meanwhile
                boards.get(rng.choice([*known, "no-such-board"]))
        elif action == "get_all":
            boards.get_all()
        elif action == "search":
            await boards.search(rng.choice(["portraits", "SKETCHES", "archive", " 4"]))
        elif action == "delete":
            boards.delete(rng.choice(known))
        else:
            boards.last_changed()
