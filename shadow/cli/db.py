"""``shadow db``: build, check and compare the schemas of both layers."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Build, check and compare the legacy and SQLModel schemas.", no_args_is_help=True
)
