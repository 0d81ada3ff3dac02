"""``shadow db`` commands through the real entry point: output and exit status.

Exit 0 on success, 1 on a finding (drift, parity difference, refused adoption),
2 with one line on stderr for unusable input, never a traceback.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from imagegen.cli import main
from imagegen.db import migrate
from imagegen.db.legacy import LegacyDatabase
from imagegen.db.legacy import migrate as migrate_legacy
from imagegen.db.legacy._chain import CHAIN

Run = Callable[..., tuple[int, str, str]]


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


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_init_legacy_creates_then_reports_up_to_date(shadow: Run, tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    assert shadow("db", "init-legacy", str(path)) == (
        0,
        f"{path}: applied legacy migrations 1, 2, 3, 4\n",
        "",
    )
    assert shadow("db", "init-legacy", str(path))[:2] == (
        0,
        f"{path}: already at the latest legacy version\n",
    )


def test_init_legacy_bad_input_exits_2_with_one_line(shadow: Run, tmp_path: Path) -> None:
    code, _, err = shadow("db", "init-legacy", str(tmp_path / "no" / "such" / "dir.db"))
    assert code == 2 and "directory does not exist" in _one_line_error(err)
    text = tmp_path / "notes.txt"
    text.write_text("this is not a database\n" * 20)
    code, _, err = shadow("db", "init-legacy", str(text))
    assert code == 2 and "not a usable SQLite database" in _one_line_error(err)
    code, _, err = shadow("db", "init-legacy")
    assert code == 2 and "Missing argument" in err


def test_upgrade_then_check_is_clean(shadow: Run, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'orm.db'}"
    assert shadow("db", "upgrade", url)[:2] == (
        0,
        f"upgraded to revision {migrate.head_revision()}\n",
    )
    assert shadow("db", "check", url)[:2] == (
        0,
        "no drift: the database matches the models at head\n",
    )


def test_check_lists_drift_and_exits_1(shadow: Run, tmp_path: Path) -> None:
    path = tmp_path / "orm.db"
    shadow("db", "upgrade", f"sqlite:///{path}")
    connection = sqlite3.connect(path)
    connection.execute("DROP INDEX ix_users_is_admin")
    connection.close()
    code, out, err = shadow("db", "check", f"sqlite:///{path}")
    assert (code, out) == (1, "add_index: users.ix_users_is_admin (is_admin)\n")
    assert err == "1 difference(s)\n"


@pytest.mark.parametrize(
    ("command", "url", "message"),
    [
        ("check", "not a url", "malformed database URL"),
        ("upgrade", "oracle://scott@host/db", "unsupported database 'oracle'"),
        ("check", "sqlite:///{tmp}/missing.db", "no such SQLite database file"),
        ("upgrade", "postgresql+psycopg://postgres@127.0.0.1:1/x", "cannot connect to"),
        ("check", "mysql+pymysql://root:hunter2@127.0.0.1:1/x", "cannot connect to"),
    ],
)
def test_upgrade_and_check_bad_input_exits_2_with_one_line(
    shadow: Run, tmp_path: Path, command: str, url: str, message: str
) -> None:
    code, _, err = shadow("db", command, url.format(tmp=tmp_path))
    line = _one_line_error(err)
    assert code == 2 and message in line
    assert "hunter2" not in line, "passwords are masked in messages"


def test_parity_match_difference_and_bad_input(shadow: Run, tmp_path: Path) -> None:
    legacy, orm = tmp_path / "legacy.db", tmp_path / "orm.db"
    shadow("db", "init-legacy", str(legacy))
    shadow("db", "upgrade", f"sqlite:///{orm}")
    assert shadow("db", "parity", str(legacy), f"sqlite:///{orm}")[:2] == (0, "schemas match\n")

    connection = sqlite3.connect(orm)
    connection.execute("PRAGMA writable_schema = ON")
    connection.execute(
        "UPDATE sqlite_master SET sql = replace(sql, 'width INTEGER', 'width TEXT')"
        " WHERE name = 'images'"
    )
    connection.commit()
    connection.close()
    code, out, _ = shadow("db", "parity", str(legacy), f"sqlite:///{orm}")
    assert (code, out) == (
        1,
        "column images.width: type differs: legacy 'integer', Alembic 'text'\n",
    )

    code, _, err = shadow("db", "parity", str(tmp_path / "missing.db"), f"sqlite:///{orm}")
    assert code == 2 and "no such SQLite database file" in _one_line_error(err)


def test_adopt_stamps_a_current_legacy_database(shadow: Run, tmp_path: Path) -> None:
    legacy = tmp_path / "legacy.db"
    shadow("db", "init-legacy", str(legacy))
    code, out, _ = shadow("db", "adopt", str(legacy))
    assert (code, out) == (0, f"adopted {legacy} at revision {migrate.head_revision()}\n")
    assert shadow("db", "check", f"sqlite:///{legacy}")[0] == 0, "stamped and without drift"
    assert "already stamped at head" in shadow("db", "adopt", str(legacy))[1]


def test_adopt_refuses_an_old_legacy_version_and_writes_nothing(
    shadow: Run, tmp_path: Path
) -> None:
    legacy = tmp_path / "legacy.db"
    db = LegacyDatabase(legacy)
    migrate_legacy(db, {1: CHAIN[1], 2: CHAIN[2]})
    db.close()
    before = _digest(legacy)
    code, out, err = shadow("db", "adopt", str(legacy))
    assert (code, out) == (1, "")
    assert "legacy version is 2, adopt needs version 4" in err
    assert "nothing was written" in err
    assert _digest(legacy) == before


def test_adopt_refuses_a_drifted_schema_and_writes_nothing(shadow: Run, tmp_path: Path) -> None:
    legacy = tmp_path / "legacy.db"
    shadow("db", "init-legacy", str(legacy))
    connection = sqlite3.connect(legacy)
    connection.execute("DROP INDEX ix_boards_is_public")
    connection.close()
    before = _digest(legacy)
    code, _, err = shadow("db", "adopt", str(legacy))
    assert code == 1
    assert "ix_boards_is_public" in err
    assert _digest(legacy) == before
    connection = sqlite3.connect(legacy)
    tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
    connection.close()
    assert "alembic_version" not in tables


def test_adopt_bad_input_exits_2_with_one_line(shadow: Run, tmp_path: Path) -> None:
    code, _, err = shadow("db", "adopt", str(tmp_path / "missing.db"))
    assert code == 2 and "no such SQLite database file" in _one_line_error(err)
