"""The wheel is the product: built, installed (not editable) and run from elsewhere.

An editable install finds ``migrations/`` and every module through the
repository itself; only a real wheel shows what a user gets. The fresh venv
reuses this environment's third-party packages through a ``.pth`` line (paths
from a ``.pth`` file are not site directories, so this environment's editable
finder does not come along), and installs the wheel with ``--no-index``:
nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "shadow", "imagegen", "migrations")
"""What a source distribution holds; the wheel is built from a copy of it, so setuptools'
``build/`` directory never lands in the working tree."""

pytestmark = pytest.mark.slow


def _build_wheel(into: Path) -> Path:
    """Build the project's wheel from a copy of its sources; return the wheel's path."""
    source = into / "source"
    source.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, source / name)
    _run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
        "--wheel-dir", into / "dist", source,
        cwd=into,
    )  # fmt: skip
    (wheel,) = (into / "dist").glob("shadow-*.whl")
    return wheel


def _run(*command: str | Path, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        check=check,
        timeout=600,
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the project's wheel installed; returns its bin directory."""
    base = tmp_path_factory.mktemp("wheel")
    wheel = _build_wheel(base)
    _run(sys.executable, "-m", "venv", base / "venv", cwd=base)
    purelib = Path(
        sysconfig.get_path(
            "purelib", vars={"base": str(base / "venv"), "platbase": str(base / "venv")}
        )
    )
    (purelib / "project-deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    python = base / "venv" / "bin" / "python"
    _run(python, "-m", "pip", "install", "--no-deps", "--no-index", wheel, cwd=base)
    return python.parent


def test_the_wheel_ships_both_packages_and_the_migrations(tmp_path: Path) -> None:
    """Every package and Alembic's scripts are in the wheel, not just on disk here."""
    names = set(zipfile.ZipFile(_build_wheel(tmp_path)).namelist())
    assert "shadow/runtime/_proxy.py" in names
    assert "imagegen/services/core/users.py" in names
    assert "imagegen/migrations/env.py" in names
    assert "imagegen/migrations/script.py.mako" in names
    assert any(name.startswith("imagegen/migrations/versions/0001_") for name in names)
    assert "shadow/py.typed" in names
    assert {
        "shadow/cutover/templates/report.html.j2",
        "shadow/cutover/templates/report.css",
    } <= names
    assert not any(name.startswith(("tests/", "bench/")) for name in names)
    # Every module of both packages: a package missing from pyproject's list is caught here.
    sources = {
        path.relative_to(ROOT).as_posix()
        for package in ("shadow", "imagegen")
        for path in (ROOT / package).rglob("*.py")
    }
    assert sources - names == set()


def test_db_upgrade_from_another_directory_uses_the_shipped_migrations(
    installed: Path, tmp_path: Path
) -> None:
    """``shadow db upgrade`` on a fresh SQLite file works from a wheel install."""
    done = _run(
        installed / "shadow", "db", "upgrade", f"sqlite:///{tmp_path / 'new.db'}", cwd=tmp_path
    )
    assert (tmp_path / "new.db").stat().st_size > 0, done.stdout + done.stderr
    where = _run(
        installed / "python", "-c", "import imagegen.db.migrate as m; print(m.MIGRATIONS_DIR)",
        cwd=tmp_path,
    )  # fmt: skip
    assert Path(where.stdout.strip()).is_relative_to(installed.parent), where.stdout
    checked = _run(
        installed / "shadow", "db", "check", f"sqlite:///{tmp_path / 'new.db'}", cwd=tmp_path
    )
    assert checked.returncode == 0


def test_the_demo_runs_from_a_wheel_install(installed: Path, tmp_path: Path) -> None:
    """``shadow demo --ops 200`` from the installed wheel ends clean, nothing from the repo."""
    done = _run(
        installed / "shadow", "demo", "--ops", "200", "--workdir", tmp_path / "work", "--json",
        cwd=tmp_path,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert summary["divergences"] == 0
    # The HTML report's templates are package data: they must load from the wheel.
    report = tmp_path / "report.html"
    written = _run(
        installed / "shadow", "--config", tmp_path / "work" / "shadow.toml",
        "report", "--format", "html", "-o", report,
        cwd=tmp_path,
        check=False,
    )  # fmt: skip
    assert written.returncode == 0, written.stderr[-2000:]
    assert 'id="decision"' in report.read_text()
    origin = _run(installed / "python", "-c", "import shadow; print(shadow.__file__)", cwd=tmp_path)
    assert Path(origin.stdout.strip()).is_relative_to(installed.parent)
