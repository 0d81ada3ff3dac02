"""The ``shadow`` command line: a thin layer over the Python API.

Every command parses its arguments, calls one plain function that takes a
settings object or plain values, and prints the result. Bad input (a missing
file, a malformed URL, an unreachable server, a bad option) is reported as one
line on stderr with exit status 2, never a traceback: :func:`main` turns every
:class:`~shadow.ConfigError` into that.

The generic commands (cutover control) are built by :func:`build_app`; an
application adds its own and its defaults (the reference app's ``shadow``
command, :mod:`imagegen.cli`, adds ``db`` and ``demo`` and its phase plan).
"""

from __future__ import annotations

import importlib.metadata
import sys
from typing import Annotated

import typer

from shadow._exceptions import ConfigError
from shadow.cli import cutover, data
from shadow.cli.cutover import AppDefaults

__all__ = ["AppDefaults", "build_app", "main", "run"]


def build_app(defaults: AppDefaults | None = None) -> typer.Typer:
    """The ``shadow`` app with the generic commands, following ``defaults``."""
    app = typer.Typer(
        name="shadow",
        help=(
            "Dual-write shadow migration: run legacy and candidate side by side, compare, cut over."
        ),
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_options)
    cutover.register(app, defaults)
    data.register_defaults(defaults.data_schema if defaults else None)
    app.add_typer(data.app, name="data")
    return app


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"shadow {importlib.metadata.version('shadow')}")
        raise typer.Exit()


def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Dual-write shadow migration: run legacy and candidate side by side, compare, cut over."""


def main() -> None:
    """The generic command line (no application defaults: give --plan and --contracts)."""
    run(build_app())


def run(app: typer.Typer) -> None:
    """Console entry point: run the app, turning bad input into one line and exit 2.

    Typer already reports usage errors (unknown option, missing argument) that
    way; this adds the same for :class:`ConfigError` raised by the API.
    """
    try:
        app()
    except ConfigError as error:
        typer.echo(f"shadow: error: {error}", err=True)
        sys.exit(2)
