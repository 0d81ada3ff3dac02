"""Schema parity: the legacy chain's schema equals Alembic's, and a difference is named."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from imagegen.db import migrate
from imagegen.db.engine import create_engine
from imagegen.db.legacy import open_legacy
from imagegen.db.parity import parity
from shadow import ConfigError


def _legacy(path: Path) -> Path:
    open_legacy(path).close()
    return path


def _alembic(url: str) -> str:
    engine = create_engine(url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    return url


def _rewrite_table_sql(path: Path, table: str, old: str, new: str) -> None:
    """Change a column's declared type in place, as a hand edit of the schema would."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA writable_schema = ON")
        changed = connection.execute(
            "UPDATE sqlite_master SET sql = replace(sql, ?, ?) WHERE type = 'table' AND name = ?",
            (old, new, table),
        ).rowcount
        connection.commit()
    finally:
        connection.close()
    assert changed == 1


@pytest.mark.parametrize(
    "backend",
    [
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ],
)
def test_legacy_schema_matches_alembic_schema_on_every_backend(
    tmp_path: Path, empty_database: Callable[[str], str], backend: str
) -> None:
    assert parity(_legacy(tmp_path / "legacy.db"), _alembic(empty_database(backend))) == []


def test_a_changed_column_type_in_the_legacy_schema_is_named(
    tmp_path: Path, empty_database: Callable[[str], str]
) -> None:
    legacy = _legacy(tmp_path / "legacy.db")
    _rewrite_table_sql(legacy, "boards", "board_name TEXT NOT NULL", "board_name INTEGER NOT NULL")
    problems = parity(legacy, _alembic(empty_database("sqlite")))
    assert problems == ["column boards.board_name: type differs: legacy 'integer', Alembic 'text'"]


def test_a_changed_column_type_in_the_alembic_schema_is_named(
    tmp_path: Path, empty_database: Callable[[str], str]
) -> None:
    url = _alembic(empty_database("sqlite"))
    _rewrite_table_sql(
        Path(url.removeprefix("sqlite:///")),
        "users",
        "last_login_at DATETIME",
        "last_login_at TEXT",
    )
    problems = parity(_legacy(tmp_path / "legacy.db"), url)
    assert problems == [
        "column users.last_login_at: type differs: legacy 'datetime', Alembic 'text'"
    ]


def test_missing_index_default_fk_action_and_trigger_are_each_reported(
    tmp_path: Path, empty_database: Callable[[str], str]
) -> None:
    legacy = _legacy(tmp_path / "legacy.db")
    _rewrite_table_sql(legacy, "client_state", "ON DELETE CASCADE", "ON DELETE SET NULL")
    _rewrite_table_sql(
        legacy,
        "images",
        "image_subfolder TEXT NOT NULL DEFAULT ''",
        "image_subfolder TEXT NOT NULL DEFAULT 'x'",
    )
    connection = sqlite3.connect(legacy)
    connection.execute("DROP INDEX ix_models_base")
    connection.execute("DROP TRIGGER tg_users_updated_at")
    connection.commit()
    connection.close()
    problems = parity(legacy, _alembic(empty_database("sqlite")))
    assert len(problems) == 4, problems
    assert problems[0].startswith("table client_state: foreign keys differ")
    assert "SET NULL" in problems[0]
    assert problems[1].startswith("column images.image_subfolder: default differs")
    assert problems[2].startswith("table models: indexes differ")
    assert problems[3].startswith("table users: triggers differ")


def test_a_different_trigger_body_is_reported_on_sqlite(
    tmp_path: Path, empty_database: Callable[[str], str]
) -> None:
    legacy = _legacy(tmp_path / "legacy.db")
    connection = sqlite3.connect(legacy)
    connection.executescript(
        "DROP TRIGGER tg_models_updated_at;"
        "CREATE TRIGGER tg_models_updated_at AFTER UPDATE ON models FOR EACH ROW BEGIN"
        " UPDATE models SET updated_at = CURRENT_TIMESTAMP WHERE id = OLD.id; END;"
    )
    connection.close()
    assert parity(legacy, _alembic(empty_database("sqlite"))) == [
        "trigger tg_models_updated_at on models: SQL differs"
    ]


def test_missing_or_non_database_legacy_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such SQLite database file"):
        parity(tmp_path / "missing.db", "sqlite://")
    text = tmp_path / "notes.txt"
    text.write_text("not a database, but long enough to have a header of sorts\n" * 10)
    with pytest.raises(ConfigError, match="not a usable SQLite database"):
        parity(text, "sqlite://")
