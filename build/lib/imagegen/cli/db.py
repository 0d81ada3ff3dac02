"""``shadow db``: build, check and compare the schemas of both layers.

Each command calls one function of :mod:`imagegen.db.admin` and prints its
result. Exit status: 0 success, 1 a finding (drift, a parity difference, a
refused adoption), 2 unusable input (raised as :class:`~shadow.ConfigError`
and reported by :func:`shadow.cli.run` as one line).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shadow._lazy import lazy_module

if TYPE_CHECKING:
    from imagegen.db import admin
else:
    admin = lazy_module("imagegen.db.admin")  # SQLAlchemy and Alembic load when a command runs

app = typer.Typer(
    help="Build, check and compare the legacy and SQLModel schemas.", no_args_is_help=True
)

PathArgument = Annotated[Path, typer.Argument(help="Path of the legacy SQLite database file.")]
UrlArgument = Annotated[
    str, typer.Argument(help="SQLAlchemy database URL, e.g. sqlite:///imagegen.db.")
]


def _report(problems: list[str], *, clean: str) -> None:
    if not problems:
        typer.echo(clean)
        return
    for problem in problems:
        typer.echo(problem)
    typer.echo(f"{len(problems)} difference(s)", err=True)
    raise typer.Exit(1)


@app.command("init-legacy")
def init_legacy(path: PathArgument) -> None:
    """Create or migrate a legacy database with the legacy migrator."""
    applied = admin.init_legacy(path)
    if applied:
        typer.echo(f"{path}: applied legacy migrations {', '.join(map(str, applied))}")
    else:
        typer.echo(f"{path}: already at the latest legacy version")


@app.command()
def upgrade(url: UrlArgument) -> None:
    """Upgrade a database to the head Alembic revision."""
    revision = admin.upgrade(url)
    typer.echo(f"upgraded to revision {revision}")


@app.command()
def check(url: UrlArgument) -> None:
    """Check a database for drift from the models; exit 1 listing the differences."""
    _report(admin.check(url), clean="no drift: the database matches the models at head")


@app.command()
def parity(legacy_path: PathArgument, url: UrlArgument) -> None:
    """Compare a legacy-built schema with an Alembic-built one; exit 1 on any difference."""
    _report(admin.parity(legacy_path, url), clean="schemas match")


@app.command()
def adopt(path: PathArgument) -> None:
    """Stamp a legacy database with the Alembic baseline once the drift gate passes."""
    result = admin.adopt(path)
    if not result.adopted:
        typer.echo(f"refused to adopt {path}; nothing was written:", err=True)
        for reason in result.reasons:
            typer.echo(f"  {reason}", err=True)
        raise typer.Exit(1)
    note = f" ({'; '.join(result.reasons)})" if result.reasons else ""
    typer.echo(f"adopted {path} at revision {result.revision}{note}")
