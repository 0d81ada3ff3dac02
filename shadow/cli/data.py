"""``shadow data``: backfill, verify and repair the stores themselves.

Thin over :mod:`shadow.data`. ``SOURCE`` is the authoritative store and
``TARGET`` the other one, both SQLAlchemy URLs (``sqlite:///legacy.sqlite3``
reads the legacy file). The tables and their comparison rules come from the
application (:attr:`shadow.cli.AppDefaults.data_schema`) or from
``--schema module:attribute`` naming a :class:`~shadow.data.DataSchema` or a
SQLAlchemy ``MetaData``.

Exit status: ``verify`` 0 equal, 1 differences; ``repair`` 0 done (or a dry
run), 1 rows still differ after it; ``backfill`` 0 done; 2 bad input for all.
Verification results go to the divergence store (``shadow --store``, else
the ``--config`` file's ``store_url``) where the gate and the report read them,
and a verification that proves a dirty service's tables equal clears it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shadow._exceptions import ConfigError
from shadow.cli._group import new_app
from shadow.cli._settings import cli_settings

if TYPE_CHECKING:
    import sqlalchemy as sa

    from shadow.data import DataSchema, VerificationReport

__all__ = ["app"]

app = new_app(help="Data at rest: online backfill, row-level verification, targeted repair.")

SourceArgument = Annotated[str, typer.Argument(help="Authoritative store URL.")]
TargetArgument = Annotated[str, typer.Argument(help="The other store's URL.")]
TableOption = Annotated[
    list[str] | None, typer.Option("--table", help="Only this table (repeatable).")
]
SchemaOption = Annotated[
    str | None,
    typer.Option("--schema", envvar="SHADOW_DATA_SCHEMA", help="module:attribute of a DataSchema."),
]
ChunkOption = Annotated[int, typer.Option("--chunk-size", min=1, help="Rows per chunk.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ProgressOption = Annotated[
    bool, typer.Option("--progress/--no-progress", help="Progress bars on a terminal.")
]
ShownKeys = 20


def _schema(ctx: typer.Context, spec: str | None, tolerance: float | None) -> DataSchema:
    import sqlalchemy as sa  # noqa: PLC0415

    from shadow.cutover.contracts import load_object  # noqa: PLC0415 -- cheap --help
    from shadow.data import DataSchema  # noqa: PLC0415

    if spec is not None:
        found = load_object(spec)
        if isinstance(found, sa.MetaData):
            found = DataSchema(found)
        if not isinstance(found, DataSchema):
            raise ConfigError(f"{spec} is neither a DataSchema nor a MetaData")
        schema = found
    elif (provider := cli_settings(ctx).defaults.data_schema) is not None:
        schema = provider()
    else:
        raise ConfigError("no schema given (--schema module:attribute or SHADOW_DATA_SCHEMA)")
    return schema if tolerance is None else schema.with_tolerance(tolerance)


@contextmanager
def _engines(source: str, target: str) -> Iterator[tuple[sa.Engine, sa.Engine]]:
    from shadow.data._engines import open_engine  # noqa: PLC0415

    first = open_engine(source, "SOURCE")
    try:
        second = open_engine(target, "TARGET")
        try:
            yield first, second
        finally:
            second.dispose()
    finally:
        first.dispose()


def _store_url(ctx: typer.Context) -> str | None:
    files = cli_settings(ctx)
    if files.store is not None:
        return files.store
    from shadow.cutover.control import store_url_of  # noqa: PLC0415

    return store_url_of(files.config) if files.config.is_file() else None


@contextmanager
def _progress(
    ctx: typer.Context, enabled: bool
) -> Iterator[Callable[[str, int, int], None] | None]:
    """A rich progress bar per table on a terminal (not --quiet); nothing otherwise."""
    if not enabled or cli_settings(ctx).quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console  # noqa: PLC0415
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    tasks: dict[str, Any] = {}
    with Progress(
        TextColumn("{task.description:<20}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    ) as bar:

        def tell(table: str, done: int, total: int) -> None:
            if table not in tasks:
                tasks[table] = bar.add_task(table, total=total)
            bar.update(tasks[table], completed=done, total=max(total, done))

        yield tell


def _key_text(key: Any) -> str:
    return ", ".join(map(str, key)) if isinstance(key, tuple) else str(key)


def _print_verification(report: VerificationReport) -> None:
    for table in report.tables:
        if table.equal:
            typer.echo(f"{table.table}: equal ({table.compared} rows compared)")
            continue
        typer.echo(
            f"{table.table}: DIFFERENT ({table.compared} rows compared):"
            f" {table.missing_on_target_count} missing on target,"
            f" {table.missing_on_source_count} missing on source,"
            f" {table.differing_count} differing"
        )
        for label, listed in (
            ("missing on target", table.missing_on_target),
            ("missing on source", table.missing_on_source),
        ):
            for key in listed[:ShownKeys]:
                typer.echo(f"  {label}: {_key_text(key)}")
        for difference in table.differing[:ShownKeys]:
            typer.echo(
                f"  differing: {_key_text(difference.key)} ({', '.join(difference.columns)})"
            )
        if (
            max(len(table.missing_on_target), len(table.missing_on_source), len(table.differing))
            > ShownKeys
        ):
            typer.echo(f"  ... (first {ShownKeys} of each shown; --json lists them all)")
    typer.echo("verification: " + ("EQUAL" if report.equal else "DIFFERENT"))


@app.command()
def verify(
    ctx: typer.Context,
    source: SourceArgument,
    target: TargetArgument,
    table: TableOption = None,
    chunk_size: ChunkOption = 5000,
    settle: Annotated[
        float | None,
        typer.Option("--settle", min=0, help="Re-check differing keys after this many seconds."),
    ] = None,
    tolerance: Annotated[
        float | None,
        typer.Option("--tolerance", min=0, help="Seconds for every tolerated timestamp column."),
    ] = None,
    digests: Annotated[
        bool,
        typer.Option(
            "--digests",
            help="Decide a PostgreSQL or MariaDB table's chunks by hash digests computed"
            " there (no row sent when equal; slower than rows on a local server).",
        ),
    ] = False,
    schema: SchemaOption = None,
    as_json: JsonOption = False,
    progress: ProgressOption = True,
) -> None:
    """Compare SOURCE and TARGET row by row; list the keys that differ."""
    from shadow.data import record_verification  # noqa: PLC0415
    from shadow.data import verify as run_verify  # noqa: PLC0415

    chosen = _schema(ctx, schema, tolerance)
    tables = chosen.tables(table)
    store_url = _store_url(ctx)
    with (
        _engines(source, target) as (first, second),
        _progress(ctx, progress and not as_json) as tell,
    ):
        report = run_verify(
            first,
            second,
            tables,
            chunk_size=chunk_size,
            settle=settle,
            progress=tell,
            digests=digests,
        )
    cleared: list[str] = []
    if store_url is not None:
        cleared = record_verification(store_url, report, service_tables=chosen.service_tables)
    if as_json:
        typer.echo(
            json.dumps({**report.to_dict(), "cleared_dirty": cleared}, indent=2, default=str)
        )
    else:
        _print_verification(report)
        if store_url is None:
            typer.echo("(no divergence store: give shadow --store to record this verification)")
        for service in cleared:
            typer.echo(f"cleared dirty service: {service}")
    raise typer.Exit(0 if report.equal else 1)


@app.command()
def repair(
    ctx: typer.Context,
    source: SourceArgument,
    target: TargetArgument,
    table: TableOption = None,
    apply: Annotated[bool, typer.Option("--apply", help="Write (default: dry run).")] = False,
    chunk_size: ChunkOption = 1000,
    schema: SchemaOption = None,
    as_json: JsonOption = False,
) -> None:
    """Copy the authoritative rows for exactly the keys the last verification listed."""
    from shadow.data import record_verification, stored_verification  # noqa: PLC0415
    from shadow.data import repair as run_repair  # noqa: PLC0415

    chosen = _schema(ctx, schema, None)
    tables = chosen.tables(table)
    store_url = _store_url(ctx)
    if store_url is None:
        raise ConfigError("repair reads the keys of the last verification: give shadow --store")
    with _engines(source, target) as (first, second):
        listed = stored_verification(
            store_url,
            first.url.render_as_string(hide_password=True),
            second.url.render_as_string(hide_password=True),
            [rules.name for rules in tables],
        )
        if not listed.tables:
            raise ConfigError(
                "no verification of these stores in the store: run `shadow data verify` first"
            )
        report = run_repair(first, second, tables, listed, apply=apply, chunk_size=chunk_size)
    if apply:
        from shadow.data import VerificationReport  # noqa: PLC0415

        after = VerificationReport(
            listed.source,
            listed.target,
            tuple(t.after for t in report.tables if t.after is not None),
        )
        # Only keys were re-verified: recorded as checks of those keys, no service cleared.
        if after.tables:
            record_verification(store_url, after)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        for item in report.tables:
            verb = "repaired" if apply else "would repair"
            typer.echo(
                f"{item.table}: {verb} {len(item.insert)} missing, {len(item.update)} differing,"
                f" {len(item.delete)} extra"
                + (
                    ""
                    if item.fixed is None
                    else (" -> equal" if item.fixed else " -> STILL DIFFERENT")
                )
            )
            for key in item.insert[:ShownKeys]:
                typer.echo(f"  insert: {_key_text(key)}")
            for difference in item.update[:ShownKeys]:
                typer.echo(
                    f"  update: {_key_text(difference.key)} ({', '.join(difference.columns)})"
                )
            for key in item.delete[:ShownKeys]:
                typer.echo(f"  delete: {_key_text(key)}")
        if not report.tables:
            typer.echo("nothing to repair: the last verification found these tables equal")
        if not apply:
            typer.echo("dry run: nothing written (--apply to repair, then verify again)")
    raise typer.Exit(1 if report.fixed is False else 0)


@app.command()
def backfill(
    ctx: typer.Context,
    source: SourceArgument,
    target: TargetArgument,
    table: TableOption = None,
    checkpoint: Annotated[
        Path, typer.Option("--checkpoint", help="Resume file (kept until the copy is done).")
    ] = Path("shadow-backfill.json"),
    chunk_size: ChunkOption = 5000,
    max_rows_per_second: Annotated[
        float | None, typer.Option("--max-rows-per-second", min=1, help="Throttle.")
    ] = None,
    counters_only: Annotated[
        bool, typer.Option("--counters-only", help="Only raise the autoincrement counters.")
    ] = False,
    schema: SchemaOption = None,
    as_json: JsonOption = False,
    progress: ProgressOption = True,
) -> None:
    """Copy every table, parents first, in key chunks, never overwriting a row already there."""
    from shadow.data import backfill as run_backfill  # noqa: PLC0415
    from shadow.data import sync_counters  # noqa: PLC0415

    tables = _schema(ctx, schema, None).tables(table)
    with _engines(source, target) as (first, second):
        if counters_only:
            synced = sync_counters(first, second, tables)
            if as_json:
                typer.echo(json.dumps(synced))
            elif synced:
                for name, next_id in synced.items():
                    typer.echo(f"{name}: next id {next_id}")
            else:
                typer.echo("no table has an autoincrement counter to raise")
            return
        with _progress(ctx, progress and not as_json) as tell:
            report = run_backfill(
                first,
                second,
                tables,
                checkpoint=checkpoint,
                chunk_size=chunk_size,
                max_rows_per_second=max_rows_per_second,
                progress=tell,
            )
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        for item in report.tables:
            typer.echo(
                f"{item.table}: {item.copied} rows read, {item.inserted} inserted"
                + (" in this run (resumed: rows read count every run)" if item.resumed else "")
                + (f", {item.skipped} refused (verify will list them)" if item.skipped else "")
                + (f", next id {item.next_id}" if item.next_id is not None else "")
            )
        typer.echo(
            "backfill done; once the mirror has caught up: `shadow data verify`, then"
            " `shadow data repair --apply` for what it lists"
        )
