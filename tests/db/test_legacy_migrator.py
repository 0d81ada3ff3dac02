"""The legacy connection and migrator: chain, bookkeeping, backup, transactions."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from imagegen.db.legacy import (
    LATEST_VERSION,
    LegacyDatabase,
    MigrationChainError,
    current_version,
    migrate,
    open_legacy,
    validate_chain,
)
from imagegen.db.legacy._chain import CHAIN

TABLES = {
    "app_settings",
    "board_images",
    "boards",
    "client_state",
    "images",
    "model_relationships",
    "models",
    "session_queue",
    "shared_boards",
    "style_presets",
    "user_invitations",
    "user_sessions",
    "users",
    "workflow_library",
}


def _tables(connection: sqlite3.Connection) -> set[str]:
    rows = connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    return {row[0] for row in rows}


def test_chain_builds_exactly_the_fourteen_tables_plus_bookkeeping(
    legacy_db: LegacyDatabase,
) -> None:
    assert _tables(legacy_db.connection) == TABLES | {"migrations"}
    versions = [row[0] for row in legacy_db.connection.execute("SELECT version FROM migrations")]
    assert versions == list(range(LATEST_VERSION + 1))
    assert current_version(legacy_db.connection) == LATEST_VERSION == 4


def test_seed_rows_are_the_system_user_and_a_random_hex_jwt_secret(tmp_path: Path) -> None:
    secrets = []
    for name in ("a.db", "b.db"):
        db = open_legacy(tmp_path / name)
        user = db.connection.execute("SELECT * FROM users").fetchall()
        assert [
            (r["user_id"], r["is_admin"], r["is_active"], r["password_hash"]) for r in user
        ] == [("system", 0, 1, "")]
        (secret,) = db.connection.execute(
            "SELECT value FROM app_settings WHERE key = 'jwt_secret'"
        ).fetchone()
        assert re.fullmatch(r"[0-9a-f]{64}", secret)
        secrets.append(secret)
        db.close()
    assert secrets[0] != secrets[1], "each database draws its own secret"


def test_migrating_again_applies_nothing(legacy_db: LegacyDatabase) -> None:
    assert migrate(legacy_db) == []


def test_backup_is_taken_before_the_first_pending_migration(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    db = LegacyDatabase(path)
    assert migrate(db, {1: CHAIN[1]}) == [1]
    db.connection.execute(
        "INSERT INTO style_presets (id, name, preset_data) VALUES ('p', 'n', '{}')"
    )
    assert migrate(db) == [2, 3, 4]
    db.close()
    backup = sqlite3.connect(tmp_path / "app.db.backup-v1")
    try:
        assert current_version(backup) == 1
        assert backup.execute("SELECT id FROM style_presets").fetchall() == [("p",)]
        assert "users" not in _tables(backup), "the backup holds the state before migrating"
    finally:
        backup.close()


def test_in_memory_database_migrates_without_a_backup(tmp_path: Path) -> None:
    db = open_legacy(":memory:")
    try:
        assert _tables(db.connection) == TABLES | {"migrations"}
    finally:
        db.close()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("chain", "message"),
    [
        ({1: CHAIN[1], 3: CHAIN[3]}, "gap"),
        ({2: CHAIN[2]}, "gap"),
        ({1: CHAIN[1], 2: CHAIN[1]}, "duplicate"),
    ],
)
def test_broken_chains_are_refused(chain: dict[int, object], message: str) -> None:
    with pytest.raises(MigrationChainError, match=message):
        validate_chain(chain)  # type: ignore[arg-type]


def test_broken_chain_is_refused_before_touching_the_database(tmp_path: Path) -> None:
    db = LegacyDatabase(tmp_path / "x.db")
    try:
        with pytest.raises(MigrationChainError):
            migrate(db, {1: CHAIN[1], 3: CHAIN[3]})
        assert _tables(db.connection) == set()
    finally:
        db.close()


def test_a_database_newer_than_the_chain_is_refused(legacy_db: LegacyDatabase) -> None:
    with pytest.raises(MigrationChainError, match="newer"):
        migrate(legacy_db, {1: CHAIN[1]})


def test_a_failing_migration_rolls_back_and_keeps_the_previous_version(tmp_path: Path) -> None:
    def broken(cursor: sqlite3.Cursor) -> None:
        cursor.execute("CREATE TABLE half_done (x INTEGER)")
        cursor.execute("THIS IS NOT SQL")

    db = LegacyDatabase(tmp_path / "x.db")
    try:
        with pytest.raises(sqlite3.OperationalError):
            migrate(db, {1: CHAIN[1], 2: broken})
        assert current_version(db.connection) == 1
        assert "half_done" not in _tables(db.connection)
    finally:
        db.close()


def test_connection_pragmas(legacy_db: LegacyDatabase) -> None:
    connection = legacy_db.connection
    assert connection.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert connection.execute("PRAGMA busy_timeout").fetchone()[0] == 5000


def test_transaction_commits_on_success_and_rolls_back_on_error(
    legacy_db: LegacyDatabase,
) -> None:
    with legacy_db.transaction() as cursor:
        cursor.execute("INSERT INTO app_settings (key, value) VALUES ('kept', '1')")
    with pytest.raises(RuntimeError), legacy_db.transaction() as cursor:
        cursor.execute("INSERT INTO app_settings (key, value) VALUES ('lost', '1')")
        raise RuntimeError("boom")
    keys = {r[0] for r in legacy_db.connection.execute("SELECT key FROM app_settings")}
    assert keys == {"jwt_secret", "kept"}


def test_nested_transaction_joins_the_outer_one(legacy_db: LegacyDatabase) -> None:
    with pytest.raises(RuntimeError), legacy_db.transaction() as outer:
        outer.execute("INSERT INTO app_settings (key, value) VALUES ('outer', '1')")
        with legacy_db.transaction() as inner:
            inner.execute("INSERT INTO app_settings (key, value) VALUES ('inner', '1')")
        raise RuntimeError("the outer transaction fails after the inner one finished")
    keys = {r[0] for r in legacy_db.connection.execute("SELECT key FROM app_settings")}
    assert keys == {"jwt_secret"}, "the inner block did not commit on its own"


def test_foreign_key_cascade_works_on_the_legacy_connection(legacy_db: LegacyDatabase) -> None:
    with legacy_db.transaction() as cursor:
        cursor.execute(
            "INSERT INTO users (user_id, email, password_hash) VALUES ('u1', 'u1@x', 'h')"
        )
        cursor.execute(
            "INSERT INTO user_sessions (session_id, user_id, token_hash, expires_at)"
            " VALUES ('s1', 'u1', 't', '2030-01-01T00:00:00+00:00')"
        )
    with legacy_db.transaction() as cursor:
        cursor.execute("DELETE FROM users WHERE user_id = 'u1'")
    assert legacy_db.connection.execute("SELECT COUNT(*) FROM user_sessions").fetchone()[0] == 0
