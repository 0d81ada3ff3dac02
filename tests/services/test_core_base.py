"""The Core services' base (imagegen.services.core._base): statements, read policy, records."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from imagegen.db.tables import metadata
from imagegen.services.contracts.boards import BoardShare
from imagegen.services.core._base import StatementCache, flag, record
from imagegen.services.core.app_settings import CoreAppSettingsService
from imagegen.services.core.boards import CoreBoardsService
from shadow import FixedClock, SequentialIds


def test_the_statement_cache_builds_each_key_once_and_forgets_the_least_recent() -> None:
    """A key's builder runs on first use only; past the bound the least recently used goes."""
    built: list[str] = []

    def builder(key: str) -> Callable[[], object]:
        def build() -> object:
            built.append(key)
            return object()

        return build

    cache = StatementCache(size=2)
    first = cache.get("a", builder("a"))
    assert cache.get("a", builder("a")) is first
    cache.get("b", builder("b"))
    cache.get("a", builder("a"))  # "a" is now the most recent
    cache.get("c", builder("c"))  # evicts "b", the least recent
    assert len(cache) == 2
    assert cache.get("a", builder("a")) is first
    cache.get("b", builder("b"))
    assert built == ["a", "b", "c", "b"]


def test_sqlite_reads_leave_the_engines_own_transaction_handling_in_place(
    sqlite_engine: sa.Engine,
) -> None:
    """Reads on SQLite are not switched to autocommit: a pooled connection keeps the driver in
    the autocommit mode imagegen.db.engine sets (SQLAlchemy's AUTOCOMMIT would reset it to
    the driver's implicit transactions when the connection goes back to the pool)."""
    settings = CoreAppSettingsService(sqlite_engine, ids=SequentialIds(), clock=FixedClock())
    settings.set("theme", "dark")
    for _ in range(3):
        assert settings.get("theme") == "dark"
    with sqlite_engine.connect() as conn:
        assert conn.connection.driver_connection.isolation_level is None  # type: ignore[union-attr]


def test_a_null_flag_reads_as_false_and_rows_validate_into_the_contract_record(
    sqlite_engine: sa.Engine,
) -> None:
    """``flag`` turns a NULL boolean into False, as the legacy layer's bool(None) did, and
    ``record`` validates a row into the contract's type (0/1 to bool, overrides applied)."""
    boards = CoreBoardsService(sqlite_engine, ids=SequentialIds(), clock=FixedClock())
    board = boards.save("Board", "system")
    boards.share(board.board_id, "system", can_edit=True)
    table, shares = metadata.tables["boards"], metadata.tables["shared_boards"]
    with sqlite_engine.begin() as conn:
        conn.execute(table.update().values(archived=None))
        archived = conn.execute(sa.select(flag(table.c.archived))).scalar_one()
        share_row = conn.execute(
            sa.select(shares.c.board_id, shares.c.user_id, shares.c.can_edit, shares.c.shared_at)
        ).one()
    assert archived is False
    assert boards.get(board.board_id).archived is False
    (listed,) = boards.list_shares(board.board_id)
    assert record(BoardShare, share_row) == listed
    assert record(BoardShare, share_row, can_edit=0).can_edit is False
