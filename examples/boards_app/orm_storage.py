"""The port: SQLAlchemy's ORM over the same tables (the candidate), its asyncio extension
(aiosqlite driver) for the async methods."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import NullPool

from boards_app.records import BoardRecord, BoardRecordNotFoundException, uuid_string
from boards_app.storage import BoardRecordStorageBase

_NOW = sa.text("(STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW'))")


class _Base(DeclarativeBase):
    pass


class BoardRow(_Base):
    __tablename__ = "boards"

    board_id: Mapped[str] = mapped_column(sa.Text, primary_key=True, default=uuid_string)
    board_name: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, server_default=_NOW)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime, server_default=_NOW)


class OrmBoardRecordStorage(BoardRecordStorageBase):
    """One engine, one async engine on the same database; a session per call."""

    def __init__(self, url: str) -> None:
        self._engine = sa.create_engine(url)
        _Base.metadata.create_all(self._engine)
        # NullPool: a connection per call, so none outlives the event loop that opened it.
        async_url = self._engine.url.set(drivername="sqlite+aiosqlite")
        self._async_engine = create_async_engine(async_url, poolclass=NullPool)

    def _session(self) -> Session:
        return Session(self._engine, expire_on_commit=False)

    def _async_session(self) -> AsyncSession:
        return AsyncSession(self._async_engine, expire_on_commit=False)

    def _row(self, session: Session, board_id: str) -> BoardRow:
        row = session.get(BoardRow, board_id)
        if row is None:
            raise BoardRecordNotFoundException(board_id)
        return row

    def save(self, board_name: str) -> BoardRecord:
        with self._session() as session:
            row = BoardRow(board_name=board_name)
            session.add(row)
            session.commit()
            session.refresh(row)
            return _record(row)

    def get(self, board_id: str) -> BoardRecord:
        with self._session() as session:
            return _record(self._row(session, board_id))

    async def rename(self, board_id: str, board_name: str) -> BoardRecord:
        async with self._async_session() as session:
            row = await session.get(BoardRow, board_id)
            if row is None:
                raise BoardRecordNotFoundException(board_id)
            row.board_name = board_name
            row.updated_at = sa.func.strftime("%Y-%m-%d %H:%M:%f", "now")
            await session.commit()
            await session.refresh(row)
            return _record(row)

    def delete(self, board_id: str) -> None:
        with self._session() as session:
            session.execute(sa.delete(BoardRow).where(BoardRow.board_id == board_id))
            session.commit()

    def get_all(self) -> list[BoardRecord]:
        with self._session() as session:
            rows = session.scalars(sa.select(BoardRow).order_by(BoardRow.created_at))
            return [_record(row) for row in rows]

    async def search(self, text: str) -> list[BoardRecord]:
        async with self._async_session() as session:
            rows = await session.scalars(
                sa.select(BoardRow)
                .where(BoardRow.board_name.ilike(f"%{text}%"))
                .order_by(BoardRow.created_at)
            )
            return [_record(row) for row in rows]

    def get_ids(self) -> list[str]:
        with self._session() as session:
            return list(
                session.scalars(sa.select(BoardRow.board_id).order_by(BoardRow.created_at.desc()))
            )

    def last_changed(self) -> datetime | None:
        with self._session() as session:
            return session.scalar(sa.select(sa.func.max(BoardRow.updated_at)))


def _record(row: BoardRow) -> BoardRecord:
    return BoardRecord(
        board_id=row.board_id,
        board_name=row.board_name,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
