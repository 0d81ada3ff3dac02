"""``shadow db``: build, check and compare the schemas of both layers.

Each command calls one function of :mod:`imagegen.db.admin` and prints its
result. Exit status: 0 success, 1 a finding (drift, a parity difference, a
refused adoption), 2 unusable input (raised as :class:`~shadow.ConfigError`
and reported by :mod:`shadow.cli` as one line).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shadow._lazy import lazy_module
from shadow.cli import new_app

if TYPE_CHECKING:
    from imagegen.db import admin, populate
else:
    admin = lazy_module("imagegen.db.admin")  # SQLAlchemy and Alembic load when a command runs
    populate = lazy_module("imagegen.db.populate")

app = new_app(help="Build, check and compare the legacy and SQLModel schemas.")

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


@app.command()
def seed(
    url: UrlArgument,
    images: Annotated[int, typer.Option(min=0, help="Images (every second one on a board).")] = (
        1_000_000
    ),
    boards: Annotated[int, typer.Option(min=0, help="Boards.")] = 10_000,
    queue_items: Annotated[int, typer.Option(min=0, help="Finished session queue items.")] = (
        100_000
    ),
    users: Annotated[int, typer.Option(min=0, help="Users, owning the rest in turn.")] = 1_000,
    legacy: Annotated[
        bool, typer.Option("--legacy", help="URL is a legacy SQLite file (sqlite:///PATH).")
    ] = False,
) -> None:
    """Fill a fresh store with a production-scale reference data set, for the benchmarks."""
    from rich.progress import (  # noqa: PLC0415 -- rich loads when the command runs
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    scale = populate.Scale(users=users, boards=boards, images=images, queue_items=queue_items)
    columns = (
        TextColumn("seeding"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} rows/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, disable=not sys.stdout.isatty()) as bar:
        task = bar.add_task("rows", total=scale.rows, rate="-")
        started = time.perf_counter()

        def advance(done: int, _total: int) -> None:
            rate = done / max(time.perf_counter() - started, 1e-9)
            bar.update(task, completed=done, rate=f"{rate:,.0f}")

        result = populate.seed(url, scale, legacy=legacy, progress=advance)
    counts = ", ".join(f"{count:,} {table}" for table, count in result.rows.items())
    typer.echo(
        f"seeded {result.total:,} rows in {result.seconds:.1f} s "
        f"({result.rows_per_second:,.0f} rows/s): {counts}"
    )
