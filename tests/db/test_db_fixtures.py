"""The shared fixtures give every test a fresh, seeded store, whatever ran before."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from imagegen.db.engine import create_engine
from imagegen.db.legacy import LegacyDatabase
from imagegen.db.tables import AppSettingTable, SessionQueueTable, UserTable
from tests.conftest import Backend

queue = SessionQueueTable.__table__  # type: ignore[attr-defined]
users = UserTable.__table__  # type: ignore[attr-defined]
settings = AppSettingTable.__table__  # type: ignore[attr-defined]


def _state(backend: Backend) -> tuple[list[str], int, int]:
    """(user ids, app_settings rows, item_id of a newly enqueued item) on any backend."""
    if backend.legacy_db is not None:
        with backend.legacy_db.transaction() as cur:
            user_ids = [r[0] for r in cur.execute("SELECT user_id FROM users")]
            setting_rows = cur.execute("SELECT COUNT(*) FROM app_settings").fetchone()[0]
            cur.execute(
                "INSERT INTO session_queue (batch_id, queue_id, session_id, session)"
                " VALUES ('b', 'q', 'fresh', '{}')"
            )
            item_id = cur.lastrowid
        assert item_id is not None
        return user_ids, setting_rows, item_id
    assert backend.engine is not None
    with backend.engine.begin() as connection:
        user_ids = list(connection.execute(sa.select(users.c.user_id)).scalars())
        setting_rows = connection.exec_driver_sql("SELECT COUNT(*) FROM app_settings").scalar_one()
        connection.execute(
            queue.insert().values(batch_id="b", queue_id="q", session_id="fresh", session="{}")
        )
        item_id = connection.execute(sa.select(queue.c.item_id)).scalar_one()
    return user_ids, setting_rows, item_id


@pytest.mark.parametrize("run", [1, 2])
def test_each_test_starts_from_a_fresh_seeded_store(backend: Backend, run: int) -> None:
    """Run twice: the second run would see the first one's queue item if state leaked."""
    assert _state(backend) == (["system"], 1, 1)
    assert backend.ids.new_id() == "id-000001"
    assert backend.is_legacy is (backend.name == "legacy-sqlite")


def test_sqlite_engine_can_begin_immediate(sqlite_engine: sa.Engine) -> None:
    """A read-then-write transaction can take SQLite's write lock up front."""
    immediate = sqlite_engine.execution_options(sqlite_begin="IMMEDIATE")
    with immediate.begin() as holder:
        holder.exec_driver_sql("SELECT 1")
        other = create_engine(str(sqlite_engine.url), poolclass=sa.NullPool)
        # Fail at once instead of waiting out the 5 s busy timeout (runs after ours).
        sa.event.listen(other, "connect", lambda dbapi, _: dbapi.execute("PRAGMA busy_timeout = 0"))
        try:
            with (
                pytest.raises(sa.exc.OperationalError, match="locked"),
                other.execution_options(sqlite_begin="IMMEDIATE").begin(),
            ):
                pass
        finally:
            other.dispose()


def test_make_pair_seeds_both_sides_identically(
    make_pair: Callable[[], tuple[LegacyDatabase, sa.Engine]],
) -> None:
    """Same rows, read through the table types (timestamps as the same instants)."""
    legacy, engine = make_pair()
    reader = create_engine(f"sqlite:///{legacy.path}")
    try:
        sides = []
        for side in (reader, engine):
            with side.connect() as connection:
                sides.append(
                    {
                        table.name: sorted(map(tuple, connection.execute(sa.select(table))))
                        for table in (users, settings)
                    }
                )
    finally:
        reader.dispose()
    assert sides[0] == sides[1]
    assert len(sides[0]["users"]) == 1 and len(sides[0]["app_settings"]) == 1
