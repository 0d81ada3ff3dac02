"""The ``shadow`` command line: a thin layer over the Python API.

Every command parses its arguments, calls one plain function that takes a
settings object or plain values, and prints the result. The options every
command shares (the cutover files, ``--quiet``, ``--log-level``) come once,
before the command name, into one :class:`CliSettings`
(:mod:`shadow.cli._settings`). Bad input (a missing file, a malformed URL, an
unreachable server, a bad option) is one line on stderr with exit status 2,
never a traceback: :class:`~shadow.cli._group.ShadowGroup` maps every usage
error and every :data:`~shadow.cli._group.BAD_INPUT` exception to that.

The generic commands (cutover control, review, data at rest) are built by
:func:`build_app`; an application adds its own and its defaults (the
reference app's ``shadow`` command, :mod:`imagegen.cli`, adds ``db``, ``demo``
and ``explore`` and its phase plan).
"""

from __future__ import annotations

import typer

from shadow.cli import cutover, data
from shadow.cli._group import new_app
from shadow.cli._settings import AppDefaults, CliSettings, LogLevel, cli_settings, common_options

__all__ = [
    "AppDefaults",
    "CliSettings",
    "LogLevel",
    "build_app",
    "cli_settings",
    "main",
    "new_app",
    "run",
]


def build_app(defaults: AppDefaults | None = None) -> typer.Typer:
    """The ``shadow`` app with the generic commands, following ``defaults``."""
    app = new_app(
        name="shadow",
        help=(
            "Dual-write shadow migration: run legacy and candidate side by side, compare, cut over."
        ),
        context_settings={"obj": defaults or AppDefaults()},  # common_options reads it
    )
    app.callback()(common_options)
    cutover.register(app)
    app.add_typer(data.app, name="data")
    return app


def main() -> None:
    """The generic command line (no application defaults: give --plan and --contracts)."""
    run(build_app())


def run(app: typer.Typer) -> None:
    """Console entry point: run ``app`` (errors become one line, see the module)."""
    app()
