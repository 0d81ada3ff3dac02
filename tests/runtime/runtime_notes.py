"""An async contract with a sync method in it, for the runtime's async tests.

``Notes`` is what an asyncio application's storage looks like: ``async def``
methods, plus one plain ``def`` (a mixed contract). Legacy is raw SQL over
``aiosqlite`` (a connection per call, as such code often is); the candidate is
SQLAlchemy's asyncio extension over the ``aiosqlite`` driver for the async
methods and a sync engine for the sync one. Both draw ids and times from the
injected sources, so the tape makes the two stores hold the same rows. The
factory is importable (``tests.runtime.runtime_notes:build``) for the process
worker.
"""

from __future__ import annotations

import asyncio
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import aiosqlite
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from shadow import Clock, IdSource, Order, read, write


class NoteMissingError(Exception):
    """No note has that id (raised by both implementations alike)."""


class Note(BaseModel):
    """One stored note."""

    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    written_at: datetime


class Notes(ABC):
    """The contract: async methods and one sync method."""

    @write()
    @abstractmethod
    async def add(self, title: str) -> Note: ...

    @write()
    @abstractmethod
    async def rename(self, note_id: str, title: str) -> Note: ...

    @read()
    @abstractmethod
    async def get(self, note_id: str) -> Note: ...

    @read(order=Order.UNORDERED, key="id")
    @abstractmethod
    async def list_all(self) -> list[Note]: ...

    @read()
    @abstractmethod
    def count(self) -> int: ...


_SCHEMA = "CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY, title TEXT, written_at TEXT)"


def _note(row: Any) -> Note:
    return Note(id=row[0], title=row[1], written_at=datetime.fromisoformat(row[2]))


class AiosqliteNotes(Notes):
    """Legacy: raw SQL through aiosqlite, one connection per call."""

    def __init__(self, path: str, *, ids: IdSource, clock: Clock) -> None:
        self._path = path
        self._ids = ids
        self._clock = clock

    async def add(self, title: str) -> Note:
        note = Note(id=self._ids.new_id(), title=title, written_at=self._clock.now())
        async with aiosqlite.connect(self._path) as db:
            await db.execute(
                "INSERT INTO notes VALUES (?, ?, ?)",
                (note.id, note.title, note.written_at.isoformat()),
            )
            await db.commit()
        return note

    async def rename(self, note_id: str, title: str) -> Note:
        async with aiosqlite.connect(self._path) as db:
            cursor = await db.execute("UPDATE notes SET title = ? WHERE id = ?", (title, note_id))
            await db.commit()
            if cursor.rowcount == 0:
                raise NoteMissingError(note_id)
        return await self.get(note_id)

    async def get(self, note_id: str) -> Note:
        async with (
            aiosqlite.connect(self._path) as db,
            db.execute("SELECT * FROM notes WHERE id = ?", (note_id,)) as cursor,
        ):
            row = await cursor.fetchone()
        if row is None:
            raise NoteMissingError(note_id)
        return _note(row)

    async def list_all(self) -> list[Note]:
        async with aiosqlite.connect(self._path) as db, db.execute("SELECT * FROM notes") as cursor:
            return [_note(row) for row in await cursor.fetchall()]

    def count(self) -> int:
        with sqlite3.connect(self._path) as db:
            (total,) = db.execute("SELECT COUNT(*) FROM notes").fetchone()
        return int(total)


_notes = sa.Table(
    "notes",
    sa.MetaData(),
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("title", sa.Text),
    sa.Column("written_at", sa.Text),
)


_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


class AsyncSqlAlchemyNotes(Notes):
    """Candidate: SQLAlchemy asyncio at ``url``; ``fault`` plants a bug or a hang."""

    def __init__(
        self,
        url: str,
        *,
        ids: IdSource,
        clock: Clock,
        fault: str | None = None,
        pooled: bool = False,
        closed_log: str | None = None,
    ) -> None:
        sync_url = sa.make_url(url)
        async_url = sync_url.set(drivername=_ASYNC_DRIVERS[sync_url.get_backend_name()])
        # NullPool by default: a connection per use, so no driver thread outlives a test;
        # ``pooled`` keeps connections open on the loop until ``aclose`` disposes of them.
        self._engine: AsyncEngine = (
            create_async_engine(async_url)
            if pooled
            else create_async_engine(async_url, poolclass=NullPool)
        )
        self._closed_log = closed_log
        self._sync = sa.create_engine(sync_url, poolclass=NullPool)
        _notes.metadata.create_all(self._sync)
        self._ids = ids
        self._clock = clock
        self._fault = fault

    async def aclose(self) -> None:
        """Dispose of both engines (the async pool on the loop that opened it)."""
        await self._engine.dispose()
        self._sync.dispose()
        if self._closed_log is not None:
            with open(self._closed_log, "a") as log:
                log.write("closed\n")

    async def add(self, title: str) -> Note:
        if self._fault == "hang":
            await asyncio.sleep(30)
        note = Note(id=self._ids.new_id(), title=title, written_at=self._clock.now())
        async with self._engine.begin() as connection:
            await connection.execute(
                _notes.insert().values(
                    id=note.id, title=note.title, written_at=note.written_at.isoformat()
                )
            )
        return note

    async def rename(self, note_id: str, title: str) -> Note:
        stored = title.upper() if self._fault == "shout" else title
        async with self._engine.begin() as connection:
            done = await connection.execute(
                _notes.update().where(_notes.c.id == note_id).values(title=stored)
            )
            if done.rowcount == 0:
                raise NoteMissingError(note_id)
        return await self.get(note_id)

    async def get(self, note_id: str) -> Note:
        async with self._engine.connect() as connection:
            row = (await connection.execute(_notes.select().where(_notes.c.id == note_id))).first()
        if row is None:
            raise NoteMissingError(note_id)
        return _note(row)

    async def list_all(self) -> list[Note]:
        async with self._engine.connect() as connection:
            return [_note(row) for row in await connection.execute(_notes.select())]

    def count(self) -> int:
        with self._sync.connect() as connection:
            return int(
                connection.execute(sa.select(sa.func.count()).select_from(_notes)).scalar_one()
            )


def build(
    *, ids: IdSource, clock: Clock, path: str, kind: str, url: str = "", **options: Any
) -> Mapping[str, Any]:
    """One side's ``notes`` service: ``kind`` is ``legacy`` (SQLite at ``path``) or
    ``candidate`` (at ``url``, SQLite at ``path`` by default)."""
    if kind == "legacy":
        with sqlite3.connect(path) as db:
            db.execute(_SCHEMA)
        return {"notes": AiosqliteNotes(path, ids=ids, clock=clock)}
    candidate = AsyncSqlAlchemyNotes(url or f"sqlite:///{path}", ids=ids, clock=clock, **options)
    return {"notes": candidate}


def rows(url: str) -> list[tuple[str, str, str]]:
    """Every stored note of one side's database (a SQLAlchemy URL), by id."""
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            found = connection.execute(sa.select(_notes.c.id, _notes.c.title, _notes.c.written_at))
            return sorted((row.id, row.title, row.written_at) for row in found)
    finally:
        engine.dispose()
