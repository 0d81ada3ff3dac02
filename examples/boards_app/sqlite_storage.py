"""The implementation the application runs on today: raw sqlite3 (aiosqlite when async)."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime

import aiosqlite

from boards_app.records import BoardRecord, BoardRecordNotFoundException
from boards_app.storage import BoardRecordStorageBase

_NOW = "(STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW'))"
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS boards (
    board_id TEXT PRIMARY KEY,
    board_name TEXT NOT NULL,
    created_at DATETIME NOT NULL DEFAULT {_NOW},
    updated_at DATETIME NOT NULL DEFAULT {_NOW}
)
"""
_BY_ID = "SELECT * FROM boards WHERE board_id = ?"


class SqliteBoardRecordStorage(BoardRecordStorageBase):
    """One connection behind one lock; an aiosqlite connection per call of an async method."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(SCHEMA)
        self._lock = threading.Lock()

    def _one(self, board_id: str) -> BoardRecord:
        row = self._db.execute(_BY_ID, (board_id,)).fetchone()
        if row is None:
            raise BoardRecordNotFoundException(board_id)
        return _record(row)

    def save(self, board_name: str) -> BoardRecord:
        board_id = BoardRecord(board_name=board_name, created_at=_EPOCH, updated_at=_EPOCH).board_id
        with self._lock:
            self._db.execute(
                "INSERT INTO boards (board_id, board_name) VALUES (?, ?)", (board_id, board_name)
            )
            return self._one(board_id)

    def get(self, board_id: str) -> BoardRecord:
        with self._lock:
            return self._one(board_id)

    async def rename(self, board_id: str, board_name: str) -> BoardRecord:
        async with aiosqlite.connect(self._path, isolation_level=None) as db:
            db.row_factory = sqlite3.Row
            await db.execute(
                f"UPDATE boards SET board_name = ?, updated_at = {_NOW} WHERE board_id = ?",
                (board_name, board_id),
            )
            async with db.execute(_BY_ID, (board_id,)) as cursor:
                row = await cursor.fetchone()
        if row is None:
            raise BoardRecordNotFoundException(board_id)
        return _record(row)

    def delete(self, board_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM boards WHERE board_id = ?", (board_id,))

    def get_all(self) -> list[BoardRecord]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM boards ORDER BY created_at").fetchall()
        return [_record(row) for row in rows]

    async def search(self, text: str) -> list[BoardRecord]:
        async with aiosqlite.connect(self._path) as db:
            db.row_factory = sqlite3.Row
            found = await db.execute_fetchall(
                "SELECT * FROM boards WHERE board_name LIKE '%' || ? || '%' ORDER BY created_at",
                (text,),
            )
        return [_record(row) for row in found]

    def get_ids(self) -> list[str]:
        with self._lock:
            rows = self._db.execute("SELECT board_id FROM boards ORDER BY created_at DESC")
            return [row["board_id"] for row in rows]

    def last_changed(self) -> datetime | None:
        with self._lock:
            (stamp,) = self._db.execute("SELECT MAX(updated_at) FROM boards").fetchone()
        return None if stamp is None else datetime.fromisoformat(stamp)


_EPOCH = datetime(1970, 1, 1)


def _record(row: sqlite3.Row) -> BoardRecord:
    return BoardRecord(
        board_id=row["board_id"],
        board_name=row["board_name"],
        created_at=datetime.fromisoformat(row["created_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
    )
