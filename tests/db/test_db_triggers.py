"""Triggers store the same values on every backend: updated_at, started_at, completed_at."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from imagegen.db.engine import create_engine
from imagegen.db.legacy import open_legacy
from imagegen.db.tables import (
    BoardImageTable,
    BoardTable,
    ClientStateTable,
    ImageTable,
    SessionQueueTable,
)

boards = BoardTable.__table__  # type: ignore[attr-defined]
images = ImageTable.__table__  # type: ignore[attr-defined]
board_images = BoardImageTable.__table__  # type: ignore[attr-defined]
client_state = ClientStateTable.__table__  # type: ignore[attr-defined]
queue = SessionQueueTable.__table__  # type: ignore[attr-defined]

LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.fixture(
    params=[
        "legacy",
        "sqlite_engine",
        pytest.param("postgres_engine", marks=pytest.mark.postgres),
        pytest.param("mariadb_engine", marks=pytest.mark.mariadb),
    ]
)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """Each schema: the legacy chain's (read through an engine) and Alembic's on 3 backends."""
    if request.param == "legacy":
        open_legacy(tmp_path / "legacy.db").close()
        legacy = create_engine(f"sqlite:///{tmp_path / 'legacy.db'}")
        yield legacy
        legacy.dispose()
    else:
        yield request.getfixturevalue(request.param)


def _image(connection: sa.Connection, name: str) -> None:
    connection.execute(
        images.insert().values(
            image_name=name,
            image_origin="internal",
            image_category="general",
            width=8,
            height=8,
            created_at=LONG_AGO,
            updated_at=LONG_AGO,
        )
    )


def _one(engine: sa.Engine, statement: sa.Select[datetime | None]) -> datetime | None:
    with engine.connect() as connection:
        return connection.execute(statement).scalar_one()


def test_update_refreshes_updated_at_to_now_at_millisecond_precision(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        _image(connection, "a.png")
    with engine.begin() as connection:
        connection.execute(images.update().values(starred=True))
    refreshed = _one(engine, sa.select(images.c.updated_at))
    assert refreshed is not None and refreshed > LONG_AGO
    assert refreshed.microsecond % 1000 == 0, "milliseconds, like STRFTIME('%f')"
    assert _one(engine, sa.select(images.c.created_at)) == LONG_AGO


def test_boards_and_client_state_refresh_at_second_precision(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            boards.insert().values(board_id="b", board_name="B", updated_at=LONG_AGO)
        )
        connection.execute(
            client_state.insert().values(user_id="system", key="k", value="1", updated_at=LONG_AGO)
        )
    with engine.begin() as connection:
        connection.execute(boards.update().values(board_name="C"))
        connection.execute(client_state.update().values(value="2"))
    for column in (boards.c.updated_at, client_state.c.updated_at):
        refreshed = _one(engine, sa.select(column))
        assert refreshed is not None and refreshed > LONG_AGO
        assert refreshed.microsecond == 0, f"{column} refreshes like CURRENT_TIMESTAMP"


def test_moving_an_image_to_another_board_does_not_refresh_board_images(
    engine: sa.Engine,
) -> None:
    with engine.begin() as connection:
        _image(connection, "a.png")
        connection.execute(boards.insert().values([{"board_id": b, "board_name": b} for b in "xy"]))
        connection.execute(
            board_images.insert().values(board_id="x", image_name="a.png", updated_at=LONG_AGO)
        )
    with engine.begin() as connection:
        connection.execute(board_images.update().values(board_id="y"))
    assert _one(engine, sa.select(board_images.c.updated_at)) == LONG_AGO
    with engine.begin() as connection:
        connection.execute(board_images.update().values(deleted_at=LONG_AGO))
    refreshed = _one(engine, sa.select(board_images.c.updated_at))
    assert refreshed is not None and refreshed > LONG_AGO, "same board: refreshed"


def _enqueue(connection: sa.Connection) -> None:
    connection.execute(
        queue.insert().values(batch_id="b", queue_id="default", session_id="s1", session="{}")
    )


def test_queue_status_in_progress_sets_started_at_and_terminal_sets_completed_at(
    engine: sa.Engine,
) -> None:
    with engine.begin() as connection:
        _enqueue(connection)
    with engine.begin() as connection:
        connection.execute(queue.update().values(priority=5))
    assert _one(engine, sa.select(queue.c.started_at)) is None, "no status change: no start"
    with engine.begin() as connection:
        connection.execute(queue.update().values(status="in_progress"))
    started = _one(engine, sa.select(queue.c.started_at))
    assert started is not None
    assert _one(engine, sa.select(queue.c.completed_at)) is None
    with engine.begin() as connection:
        connection.execute(queue.update().values(status="failed", error_type="E"))
    completed = _one(engine, sa.select(queue.c.completed_at))
    assert completed is not None and completed >= started
    assert _one(engine, sa.select(queue.c.started_at)) == started


@pytest.mark.parametrize("status", ["completed", "failed", "canceled"])
def test_every_terminal_status_sets_completed_at(engine: sa.Engine, status: str) -> None:
    with engine.begin() as connection:
        _enqueue(connection)
    with engine.begin() as connection:
        connection.execute(queue.update().values(status=status))
    assert _one(engine, sa.select(queue.c.completed_at)) is not None
    assert _one(engine, sa.select(queue.c.started_at)) is None
