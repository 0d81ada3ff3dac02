"""Schema tools on databases another migrator built (issue 15, point 3).

Each test builds the kind of database the reference application's real
upstream migrator leaves behind: its own ``migrations`` history, defaults and
triggers spelled its way, indexes under other names, SQL that SQLAlchemy
cannot reflect. Bad input is one line and exit 2 with nothing written; a
finding is exit 1; equivalent spellings are no finding at all.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement

from imagegen.cli import main
from imagegen.db import migrate
from imagegen.db.legacy import ForeignDatabaseError, LegacyDatabase, open_legacy
from imagegen.db.legacy import migrate as migrate_legacy
from imagegen.db.legacy._chain import CHAIN
from imagegen.db.parity import parity
from shadow import ConfigError

Run = Callable[..., tuple[int, str, str]]

_MS_NOW = "STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW')"


@pytest.fixture
def shadow(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run ``shadow ARGS`` in-process; return (exit status, stdout, stderr)."""

    def run(*arguments: str) -> tuple[int, str, str]:
        capsys.readouterr()
        monkeypatch.setattr("sys.argv", ["shadow", *arguments])
        with pytest.raises(SystemExit) as exited:
            main()
        out, err = capsys.readouterr()
        code = exited.value.code
        return (code if isinstance(code, int) else 1 if code else 0), out, err

    return run


def _one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("shadow: error: ")
    assert "Traceback" not in err
    return lines[0]


def _snapshot(directory: Path) -> dict[str, str]:
    """Every file in ``directory`` with its digest: proves nothing was written or added."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.iterdir())
    }


def _execute(path: Path, script: str) -> None:
    connection = sqlite3.connect(path)
    try:
        connection.executescript(script)
    finally:
        connection.close()


def _rewrite_schema(path: Path, name: str, old: str, new: str) -> None:
    """Edit one object's stored SQL in place, as another migrator would have written it."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA writable_schema = ON")
        changed = connection.execute(
            "UPDATE sqlite_master SET sql = replace(sql, ?, ?) WHERE name = ?", (old, new, name)
        ).rowcount
        connection.commit()
    finally:
        connection.close()
    assert changed == 1


def _legacy(path: Path) -> Path:
    open_legacy(path).close()
    return path


def _alembic(path: Path) -> str:
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    return url


_UPSTREAM_V2 = """
CREATE TABLE migrations (
    version INTEGER PRIMARY KEY,
    migrated_at DATETIME NOT NULL DEFAULT (STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW'))
);
INSERT INTO migrations (version) VALUES (0), (1), (2);
CREATE TABLE images (image_name TEXT PRIMARY KEY, image_origin TEXT, created_at DATETIME);
CREATE TABLE workflows (workflow_id TEXT PRIMARY KEY, workflow TEXT);
CREATE TABLE model_config (id TEXT PRIMARY KEY, config TEXT);
"""
"""An upstream-like database at *its* version 2: a history shaped like ours, other tables."""


def _ours_at_version_2(path: Path) -> None:
    db = LegacyDatabase(path)
    try:
        migrate_legacy(db, {1: CHAIN[1], 2: CHAIN[2]})
    finally:
        db.close()


def _foreign_history_columns(path: Path) -> None:
    _execute(
        path,
        "CREATE TABLE migrations (id INTEGER PRIMARY KEY, name TEXT, applied_at TEXT);"
        "INSERT INTO migrations (name) VALUES ('0001_initial'), ('0002_boards');",
    )


def _history_with_a_gap(path: Path) -> None:
    _ours_at_version_2(path)
    _execute(path, "DELETE FROM migrations WHERE version = 1")


def _unknown_table_at_our_version(path: Path) -> None:
    _ours_at_version_2(path)
    _execute(path, "CREATE TABLE style_preset_images (id TEXT PRIMARY KEY)")


def _tables_without_history(path: Path) -> None:
    _execute(path, "CREATE TABLE workflows (workflow_id TEXT PRIMARY KEY)")


@pytest.mark.parametrize(
    ("build", "named"),
    [
        (lambda path: _execute(path, _UPSTREAM_V2), "unknown tables: model_config, workflows"),
        (_foreign_history_columns, "its migrations table has columns (applied_at, id, name)"),
        (_history_with_a_gap, "records versions 0, 2"),
        (_unknown_table_at_our_version, "unknown tables: style_preset_images"),
        (_tables_without_history, "no migrations table but has tables: workflows"),
    ],
    ids=["upstream-v2", "history-columns", "history-gap", "unknown-table", "no-history"],
)
def test_init_legacy_refuses_a_foreign_database_naming_what_is_unknown_and_writes_nothing(
    shadow: Run, tmp_path: Path, build: Callable[[Path], None], named: str
) -> None:
    """A history or schema this chain did not write: exit 2, one line, no byte changed."""
    path = tmp_path / "upstream.db"
    build(path)
    before = _snapshot(tmp_path)
    code, out, err = shadow("db", "init-legacy", str(path))
    line = _one_line_error(err)
    assert (code, out) == (2, "")
    assert "was not built by this legacy migrator" in line
    assert named in line
    assert "give it a new file" in line, "the message says what to do"
    assert _snapshot(tmp_path) == before, "no migration, no version row, no backup, no WAL"


def test_init_legacy_refuses_a_database_newer_than_the_chain_and_writes_nothing(
    shadow: Run, tmp_path: Path
) -> None:
    """A database at a later version of our chain: refused, not downgraded, untouched."""
    path = _legacy(tmp_path / "later.db")
    _execute(path, "INSERT INTO migrations (version) VALUES (5), (6)")
    before = _snapshot(tmp_path)
    code, _, err = shadow("db", "init-legacy", str(path))
    line = _one_line_error(err)
    assert code == 2
    assert "is at version 6, newer than this chain's latest (4)" in line
    assert _snapshot(tmp_path) == before


def test_open_legacy_refuses_a_foreign_database_before_touching_it(tmp_path: Path) -> None:
    """The runtime's opener judges an existing file read-only first (journal mode included)."""
    path = tmp_path / "upstream.db"
    _execute(path, _UPSTREAM_V2)
    before = _snapshot(tmp_path)
    with pytest.raises(ForeignDatabaseError, match="unknown tables: model_config, workflows"):
        open_legacy(path)
    assert _snapshot(tmp_path) == before


def test_our_own_older_database_is_still_migrated(shadow: Run, tmp_path: Path) -> None:
    """The provenance check does not refuse what is ours: version 2 goes on to the latest."""
    path = tmp_path / "ours.db"
    _ours_at_version_2(path)
    assert shadow("db", "init-legacy", str(path))[:2] == (
        0,
        f"{path}: applied legacy migrations 3, 4\n",
    )


def test_adopt_does_not_send_a_foreign_database_to_init_legacy(shadow: Run, tmp_path: Path) -> None:
    """Adopt refuses a foreign database saying why, without advice init-legacy would refuse."""
    path = tmp_path / "upstream.db"
    _execute(path, _UPSTREAM_V2)
    before = _snapshot(tmp_path)
    code, out, err = shadow("db", "adopt", str(path))
    assert (code, out) == (1, "")
    assert "not built by this legacy migrator" in err
    assert "unknown tables: model_config, workflows" in err
    assert "run `shadow db init-legacy" not in err
    assert shadow("db", "init-legacy", str(path))[0] == 2, "init-legacy indeed refuses it"
    assert _snapshot(tmp_path) == before


def test_adopt_does_not_send_a_newer_database_to_init_legacy(shadow: Run, tmp_path: Path) -> None:
    """A database past our chain's end: adopt says init-legacy cannot downgrade it."""
    path = _legacy(tmp_path / "later.db")
    _execute(path, "INSERT INTO migrations (version) VALUES (5)")
    code, _, err = shadow("db", "adopt", str(path))
    assert code == 1
    assert "legacy version is 5, newer than this chain's latest (4)" in err
    assert "init-legacy cannot downgrade" in err
    assert "run `shadow db init-legacy" not in err


def test_adopt_advice_for_our_older_database_works_when_followed(
    shadow: Run, tmp_path: Path
) -> None:
    """Our version 2: adopt advises init-legacy, and after it adopt succeeds."""
    path = tmp_path / "ours.db"
    _ours_at_version_2(path)
    code, _, err = shadow("db", "adopt", str(path))
    assert code == 1 and f"run `shadow db init-legacy {path}` first" in err
    assert shadow("db", "init-legacy", str(path))[0] == 0
    assert shadow("db", "adopt", str(path))[0] == 0


def test_check_describes_a_default_of_a_custom_construct_instead_of_crashing(
    shadow: Run, tmp_path: Path
) -> None:
    """A default that differs is shown in the database's dialect (UtcNow has no generic SQL)."""
    path = _legacy(tmp_path / "upstream.db")
    _rewrite_schema(
        path,
        "boards",
        f"created_at DATETIME NOT NULL DEFAULT ({_MS_NOW}),\n            updated_at",
        "created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,\n            updated_at",
    )
    code, out, err = shadow("db", "check", f"sqlite:///{path}")
    assert code == 1 and "Traceback" not in err
    assert (
        "modify_default: boards.created_at: database has '(CURRENT_TIMESTAMP)', "
        f'models have "{_MS_NOW}"'
    ) in out.splitlines()


def test_check_treats_defaults_differing_only_in_spelling_as_no_drift(
    shadow: Run, tmp_path: Path
) -> None:
    """``strftime(..., 'now')`` as another migrator writes it is the models' default."""
    path = _legacy(tmp_path / "upstream.db")
    _rewrite_schema(
        path,
        "images",
        f"created_at DATETIME NOT NULL DEFAULT ({_MS_NOW})",
        "created_at DATETIME NOT NULL DEFAULT ( strftime('%Y-%m-%d %H:%M:%f','now') )",
    )
    assert shadow("db", "adopt", str(path))[0] == 0
    assert shadow("db", "check", f"sqlite:///{path}")[:2] == (
        0,
        "no drift: the database matches the models at head\n",
    )


class _LocalNow(ColumnElement[Any]):
    """A custom "now", compiled for SQLite only, as ``UtcNow``-like constructs are."""

    inherit_cache = True
    type = sa.DateTime()
    _traverse_internals = []  # noqa: RUF012

    def __init__(self, zone: str = "localtime") -> None:
        self.zone = zone


@compiles(_LocalNow, "sqlite")
def _local_now_sqlite(element: _LocalNow, compiler: SQLCompiler, **kw: Any) -> str:
    return f"datetime('now', '{element.zone}')"


class _PostgresOnlyNow(ColumnElement[Any]):
    """A construct with no SQLite compilation at all: it cannot be rendered there."""

    inherit_cache = True
    type = sa.DateTime()
    _traverse_internals = []  # noqa: RUF012


@compiles(_PostgresOnlyNow, "postgresql")
def _postgres_only_now(element: _PostgresOnlyNow, compiler: SQLCompiler, **kw: Any) -> str:
    return "clock_timestamp()"


def _table_with_default(default: ColumnElement[Any]) -> sa.MetaData:
    metadata = sa.MetaData()
    sa.Table(
        "events",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime, nullable=False, server_default=default),
    )
    return metadata


def _events_database(path: Path) -> sa.Engine:
    _execute(
        path,
        "CREATE TABLE events (id INTEGER NOT NULL PRIMARY KEY,"
        " at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP)",
    )
    return sa.create_engine(f"sqlite:///{path}")


def test_a_custom_default_construct_is_described_in_the_dialect_it_compiles_for(
    tmp_path: Path,
) -> None:
    """``schema_differences`` renders a custom construct for the database, never ``str()``."""
    engine = _events_database(tmp_path / "events.db")
    try:
        problems = migrate.schema_differences(engine, _table_with_default(_LocalNow()))
    finally:
        engine.dispose()
    assert problems == [
        "modify_default: events.at: database has '(CURRENT_TIMESTAMP)', "
        "models have \"datetime('now', 'localtime')\""
    ]


def test_a_default_construct_that_cannot_render_for_the_backend_is_a_config_error(
    tmp_path: Path,
) -> None:
    """No SQLite spelling at all: one ConfigError naming the construct, not a traceback."""
    engine = _events_database(tmp_path / "events.db")
    try:
        with pytest.raises(ConfigError, match=r"cannot be rendered for sqlite.*_PostgresOnlyNow"):
            migrate.schema_differences(engine, _table_with_default(_PostgresOnlyNow()))
    finally:
        engine.dispose()


def test_parity_ignores_trigger_sql_differing_only_in_case_and_whitespace(
    tmp_path: Path,
) -> None:
    """``old.image_name`` on other lines is the same trigger as ``OLD.image_name``."""
    legacy = _legacy(tmp_path / "legacy.db")
    _execute(
        legacy,
        "DROP TRIGGER tg_images_updated_at;"
        "create trigger TG_IMAGES_UPDATED_AT\n  after update\n  on images for each row\n"
        "begin\n    update images set updated_at = strftime('%Y-%m-%d %H:%M:%f','NOW')\n"
        "        where image_name=old.image_name;\nend;",
    )
    assert parity(legacy, _alembic(tmp_path / "orm.db")) == []


def test_parity_still_reports_trigger_sql_differing_in_a_string_literal(
    tmp_path: Path,
) -> None:
    """Case inside a literal is a value: ``'IN_PROGRESS'`` is not ``'in_progress'``."""
    legacy = _legacy(tmp_path / "legacy.db")
    _rewrite_schema(legacy, "tg_session_queue_started_at", "'in_progress'", "'IN_PROGRESS'")
    assert parity(legacy, _alembic(tmp_path / "orm.db")) == [
        "trigger tg_session_queue_started_at on session_queue: SQL differs"
    ]


def test_parity_compares_indexes_by_definition_not_by_name(tmp_path: Path) -> None:
    """A renamed index matches; a changed definition is named by its columns."""
    legacy = _legacy(tmp_path / "legacy.db")
    _execute(
        legacy,
        "DROP INDEX ix_models_base; CREATE INDEX idx_models_base ON models (base);"
        "DROP INDEX ix_users_is_admin; CREATE INDEX ix_users_is_admin ON users (is_admin, email);",
    )
    assert parity(legacy, _alembic(tmp_path / "orm.db")) == [
        "table users: indexes differ: only in the legacy schema: (is_admin, email);"
        " only in the Alembic schema: (is_admin)"
    ]


def test_parity_reads_an_expression_index_without_a_warning_and_compares_it(
    tmp_path: Path,
) -> None:
    """SQLAlchemy skips SQLite expression indexes with an SAWarning; parity reads their SQL.

    Warnings are errors in this test suite, so a leaked SAWarning fails here.
    """
    legacy = _legacy(tmp_path / "legacy.db")
    orm = _alembic(tmp_path / "orm.db")
    _execute(legacy, "CREATE INDEX ix_users_lower_email ON users (LOWER(email), is_active)")
    assert parity(legacy, orm) == [
        "table users: indexes differ: only in the legacy schema: (lower ( email ), is_active)"
    ]
    _execute(
        Path(orm.removeprefix("sqlite:///")),
        'CREATE INDEX users_by_email ON users (lower("email"),\n is_active)',
    )
    assert parity(legacy, orm) == []


def test_parity_accepts_a_type_spelled_with_arguments_sqlite_ignores(tmp_path: Path) -> None:
    """``INTEGER(11)`` makes SQLAlchemy warn it dropped the argument; the class is compared."""
    legacy = _legacy(tmp_path / "legacy.db")
    _rewrite_schema(legacy, "images", "width INTEGER NOT NULL", "width INTEGER(11) NOT NULL")
    assert parity(legacy, _alembic(tmp_path / "orm.db")) == []
