"""The engine factory and the schema it builds, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from imagegen.db.engine import SERVER_POOL_SIZE, create_engine
from imagegen.db.tables import (
    BoardImageTable,
    BoardTable,
    ImageTable,
    UserSessionTable,
    UserTable,
    metadata,
)
from shadow import ConfigError

users = UserTable.__table__  # type: ignore[attr-defined]
sessions = UserSessionTable.__table__  # type: ignore[attr-defined]
boards = BoardTable.__table__  # type: ignore[attr-defined]
images = ImageTable.__table__  # type: ignore[attr-defined]
board_images = BoardImageTable.__table__  # type: ignore[attr-defined]


@pytest.fixture(
    params=[
        "sqlite_engine",
        pytest.param("postgres_engine", marks=pytest.mark.postgres),
        pytest.param("mariadb_engine", marks=pytest.mark.mariadb),
    ]
)
def engine(request: pytest.FixtureRequest) -> Iterator[sa.Engine]:
    """A fresh SQLModel-layer database on each server backend."""
    yield request.getfixturevalue(request.param)


@pytest.mark.parametrize(
    "url", ["not a url", "nosuchdb://x/y", "postgresql+nosuchdriver://h/d", "sqlite:/x:y://"]
)
def test_malformed_or_unsupported_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError):
        create_engine(url)


@pytest.mark.parametrize(
    "url", ["postgresql+psycopg://u@127.0.0.1/db", "mysql+pymysql://u@127.0.0.1/db"]
)
def test_server_engines_keep_enough_connections_for_the_demo_threads(url: str) -> None:
    # No connection is made: the pool is configured when the engine is created.
    default = create_engine(url)
    chosen = create_engine(url, pool_size=3)
    unpooled = create_engine(url, poolclass=sa.NullPool)
    try:
        assert isinstance(default.pool, sa.QueuePool)
        assert default.pool.size() == SERVER_POOL_SIZE
        assert isinstance(chosen.pool, sa.QueuePool)
        assert chosen.pool.size() == 3
        assert isinstance(unpooled.pool, sa.NullPool)
    finally:
        for engine in (default, chosen, unpooled):
            engine.dispose()


def test_schema_has_the_fourteen_tables(engine: sa.Engine) -> None:
    names = set(sa.inspect(engine).get_table_names())
    assert set(metadata.tables) <= names
    assert len(metadata.tables) == 14


def test_foreign_key_cascade_works_on_every_engine(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        connection.execute(users.insert().values(user_id="u1", email="u1@x", password_hash="h"))
        connection.execute(
            sessions.insert().values(
                session_id="s1",
                user_id="u1",
                token_hash="t",
                expires_at=datetime(2030, 1, 1, tzinfo=UTC),
            )
        )
    with engine.begin() as connection:
        connection.execute(users.delete().where(users.c.user_id == "u1"))
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(sessions)).scalar() == 0


def test_foreign_key_is_enforced_on_every_engine(engine: sa.Engine) -> None:
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
        connection.execute(
            sessions.insert().values(
                session_id="s1", user_id="nobody", token_hash="t", expires_at=datetime.now(UTC)
            )
        )


def test_aware_datetimes_round_trip_as_the_same_utc_instant(engine: sa.Engine) -> None:
    written = datetime(2026, 8, 19, 3, 13, 4, 123456, tzinfo=timezone(timedelta(hours=2)))
    with engine.begin() as connection:
        connection.execute(
            users.insert().values(
                user_id="u1", email="u1@x", password_hash="h", last_login_at=written
            )
        )
    with engine.connect() as connection:
        read = connection.execute(
            sa.select(users.c.last_login_at).where(users.c.user_id == "u1")
        ).scalar_one()
    assert read == written
    assert read.utcoffset() == timedelta(0)


def test_naive_datetime_is_refused(engine: sa.Engine) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive"), engine.begin() as connection:
        connection.execute(
            users.insert().values(
                user_id="u1", email="u1@x", password_hash="h", last_login_at=datetime(2026, 1, 1)
            )
        )


def test_defaults_fill_timestamps_and_flags(engine: sa.Engine) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    with engine.begin() as connection:
        connection.execute(boards.insert().values(board_id="b1", board_name="B"))
    with engine.connect() as connection:
        row = connection.execute(sa.select(boards)).mappings().one()
    assert row["created_at"] >= before and row["updated_at"] >= before
    assert row["updated_at"].microsecond == 0, "boards.updated_at has second precision"
    assert row["is_public"] is False and row["archived"] is False
    assert (row["user_id"], row["board_visibility"]) == ("system", "private")


@pytest.mark.parametrize(("query", "expected"), [("", 2), ("?synchronous=NORMAL", 1)])
def test_a_sqlite_url_sets_the_files_durability_on_every_connection(
    tmp_path: Path, query: str, expected: int
) -> None:
    """``?synchronous=`` in a SQLite URL is the PRAGMA on every pooled connection (SQLite's
    FULL, 2, without it); the engine's own URL no longer carries it."""
    engine = create_engine(f"sqlite:///{tmp_path / 'store.db'}{query}")
    try:
        with engine.connect() as first, engine.connect() as second:
            for connection in (first, second):
                assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == expected
        assert "synchronous" not in engine.url.query
    finally:
        engine.dispose()


def test_an_unknown_sqlite_durability_is_a_config_error(tmp_path: Path) -> None:
    """A misspelt ``synchronous`` value fails when the engine is made, naming the choices."""
    with pytest.raises(ConfigError, match="OFF, NORMAL, FULL, EXTRA"):
        create_engine(f"sqlite:///{tmp_path / 'store.db'}?synchronous=FAST")
