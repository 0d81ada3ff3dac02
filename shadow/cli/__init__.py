"""The ``shadow`` command line: a thin layer over the Python API.

Every command parses its arguments, calls one plain function that takes a
settings object or plain values, and prints the result. Bad input (a missing
file, a malformed URL, an unreachable server, a bad option) is reported as one
line on stderr with exit status 2, never a traceback: :func:`main` turns every
:class:`~shadow.ConfigError` into that.

Sub-commands live one group per module (``db``, ``demo``, cutover control) so
each layer's commands sit next to each other and nowhere else.
"""

from __future__ import annotations

import sys

import typer

from shadow._exceptions import ConfigError
from shadow.cli import cutover, db, demo

__all__ = ["app", "main"]

app = typer.Typer(
    name="shadow",
    help="Dual-write shadow migration: run legacy and candidate side by side, compare, cut over.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db.app, name="db")
app.command()(demo.demo)
cutover.register(app)


def main() -> None:
    """Console entry point: run the app, turning bad input into one line and exit 2.

    Typer already reports usage errors (unknown option, missing argument) that
    way; this adds the same for :class:`ConfigError` raised by the API.
    """
    try:
        app()
    except ConfigError as error:
        typer.echo(f"shadow: error: {error}", err=True)
        sys.exit(2)
