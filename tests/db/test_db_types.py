"""UtcDateTime reads every legacy text format as the same aware instant."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from imagegen.db.tables import UserTable
from imagegen.db.types import parse_utc, to_sqlite_text

users = UserTable.__table__  # type: ignore[attr-defined]

INSTANT = datetime(2026, 8, 19, 1, 13, 4, 123000, tzinfo=UTC)
LEGACY_FORMATS = [
    "2026-08-19 01:13:04.123",  # STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW') defaults
    "2026-08-19T01:13:04.123000+00:00",  # Python isoformat() written by legacy services
    "2026-08-19T03:13:04.123+02:00",  # the same instant written with an offset
]


@pytest.mark.parametrize("stored", LEGACY_FORMATS)
def test_sqlite_engine_reads_each_legacy_format_as_the_same_instant(
    sqlite_engine: sa.Engine, stored: str
) -> None:
    with sqlite_engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO users (user_id, email, password_hash, last_login_at)"
            " VALUES ('u1', 'u1@x', 'h', ?)",
            (stored,),
        )
    with sqlite_engine.connect() as connection:
        read = connection.execute(
            sa.select(users.c.last_login_at).where(users.c.user_id == "u1")
        ).scalar_one()
    assert read == INSTANT
    assert read.tzinfo is not None and read.utcoffset() is not None
    assert read.utcoffset().total_seconds() == 0


def test_current_timestamp_format_reads_as_whole_second_utc() -> None:
    assert parse_utc("2026-08-19 01:13:04") == INSTANT.replace(microsecond=0)


def test_sqlite_text_sorts_like_the_schema_defaults() -> None:
    written = to_sqlite_text(INSTANT)
    assert written == "2026-08-19 01:13:04.123000"
    assert "2026-08-19 01:13:04.122" < written < "2026-08-19 01:13:04.124"


def test_engine_writes_microsecond_text_on_sqlite(sqlite_engine: sa.Engine) -> None:
    with sqlite_engine.begin() as connection:
        connection.execute(
            users.insert().values(
                user_id="u1", email="u1@x", password_hash="h", last_login_at=INSTANT
            )
        )
        stored = connection.exec_driver_sql(
            "SELECT last_login_at FROM users WHERE user_id = 'u1'"
        ).scalar_one()
    assert stored == "2026-08-19 01:13:04.123000"
