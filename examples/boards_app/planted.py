"""The candidate with one planted bug: rename (an async method) stores the name stripped."""

from __future__ import annotations

from typing import Any

from boards_app.orm_storage import OrmBoardRecordStorage
from boards_app.records import BoardRecord
from boards_app.storage import BoardRecordStorageBase


class StrippingBoardRecordStorage(OrmBoardRecordStorage):
    async def rename(self, board_id: str, board_name: str) -> BoardRecord:
        return await super().rename(board_id, board_name.strip())


def candidate(*, ids: Any, clock: Any, path: str, orm: bool) -> dict[str, BoardRecordStorageBase]:
    """The shadowing module's ``side`` factory for the port, with the planted bug."""
    return {"boards": StrippingBoardRecordStorage(f"sqlite:///{path}")}
