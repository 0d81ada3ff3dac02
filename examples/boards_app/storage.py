"""The storage interface both implementations subclass (the application's own ABC).

Like many asyncio applications part-way through going async, it mixes plain
methods with ``async def`` ones (``rename``, ``search``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

from boards_app.records import BoardRecord


class BoardRecordStorageBase(ABC):
    """Boards: created, renamed, deleted, listed."""

    @abstractmethod
    def save(self, board_name: str) -> BoardRecord:
        """Create a board (a new id; the database stamps its times)."""

    @abstractmethod
    def get(self, board_id: str) -> BoardRecord:
        """One board; BoardRecordNotFoundException when there is none."""

    @abstractmethod
    async def rename(self, board_id: str, board_name: str) -> BoardRecord:
        """Rename a board and return it."""

    @abstractmethod
    def delete(self, board_id: str) -> None:
        """Delete a board (nothing happens when there is none)."""

    @abstractmethod
    def get_all(self) -> list[BoardRecord]:
        """Every board, oldest first."""

    @abstractmethod
    async def search(self, text: str) -> list[BoardRecord]:
        """The boards whose name contains ``text`` (any case), oldest first."""

    @abstractmethod
    def get_ids(self) -> list[str]:
        """Every board id, newest first."""

    @abstractmethod
    def last_changed(self) -> datetime | None:
        """When any board last changed (None when there are none)."""
