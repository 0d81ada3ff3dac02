"""How every ``shadow`` command behaves: one-line errors with exit 2, flags shown as flags.

:func:`new_app` builds each Typer app of the command line (the root and each
group of commands) with :class:`ShadowGroup`, which does two things once for
all of them:

* **errors**: a usage error (unknown option, bad choice, missing argument) and
  the project's bad-input exceptions (:data:`BAD_INPUT`) are one line on
  stderr and exit 2, never a traceback or a framed panel; a refused promotion
  is one line and exit 1. Anything else is a bug and keeps its traceback.
* **help**: Typer (0.29) prints ``<bool>`` beside a flag as if it took a
  value; a flag is shown bare (``--json``), which is how it is used.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import Any

import typer
from typer.core import TyperGroup

from shadow._exceptions import ConfigError, ContractError, ShadowError, StoreError

__all__ = ["BAD_INPUT", "ShadowGroup", "new_app"]

BAD_INPUT: tuple[type[ShadowError], ...] = (ConfigError, ContractError, StoreError)
"""Exceptions that mean the input is unusable: one line and exit 2."""

_SQLALCHEMY_LINK = "(Background on this error at:"
EXIT_BAD_INPUT = 2
EXIT_REFUSED = 1


def new_app(**settings: Any) -> typer.Typer:
    """A Typer app (the root or a group of commands) that behaves as this module says."""
    settings.setdefault("no_args_is_help", True)
    context = {"help_option_names": ["-h", "--help"], **settings.pop("context_settings", {})}
    return typer.Typer(
        cls=ShadowGroup, pretty_exceptions_enable=False, context_settings=context, **settings
    )


class ShadowGroup(TyperGroup):
    """A Typer group with the error handling and help of this module."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        given = (args, prog_name, complete_var)
        if not standalone_mode:
            return super().main(*given, False, windows_expand_args, **extra)
        try:
            status = super().main(*given, False, windows_expand_args, **extra)
        except typer.TyperException as error:  # click's usage and file errors
            sys.exit(_usage_error(error))
        except typer.Abort:
            typer.echo("shadow: aborted", err=True)
            sys.exit(1)
        except ShadowError as error:
            code = _exit_status(error)
            if code is None:
                raise  # not bad input: a bug, whose traceback must show
            word = "refused" if code == EXIT_REFUSED else "error"
            typer.echo(f"shadow: {word}: {_one_line(str(error))}", err=True)
            sys.exit(code)
        sys.exit(status if isinstance(status, int) else 0)

    def get_params(self, ctx: Any) -> list[Any]:
        return _bare_flags(super().get_params(ctx))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None and not isinstance(command, TyperGroup):
            _bare_flags(command.get_params(ctx))  # includes its help option, built once
        return command


def _exit_status(error: ShadowError) -> int | None:
    # Imported only when a command failed: `shadow --help` loads none of the cutover code.
    from shadow.cutover.control import PromotionRefused  # noqa: PLC0415

    if isinstance(error, PromotionRefused):
        return EXIT_REFUSED
    if isinstance(error, BAD_INPUT):
        return EXIT_BAD_INPUT
    return None


def _usage_error(error: typer.TyperException) -> int:
    """Print a usage error as one line; return its exit status."""
    ctx = getattr(error, "ctx", None)
    if type(error).__name__ == "NoArgsIsHelpError":
        return error.exit_code  # the help was printed already
    where = ctx.command_path if ctx is not None else "shadow"
    message = _one_line(error.format_message())
    option = getattr(error, "option_name", None)
    if ctx is not None and ctx.parent is not None and option in _root_options(ctx):
        message += f" ({option} is an option of shadow itself: put it before the command)"
    hint = f" (see '{where} -h')" if ctx is not None else ""
    typer.echo(f"{where}: error: {message}{hint}", err=True)
    return error.exit_code


def _one_line(message: str) -> str:
    """``message`` on one line, without the link SQLAlchemy appends to its errors."""
    lines = (line.strip() for line in message.splitlines())
    return " ".join(line for line in lines if line and not line.startswith(_SQLALCHEMY_LINK))


def _root_options(ctx: Any) -> set[str]:
    root = ctx.find_root()
    return {name for param in root.command.get_params(root) for name in param.opts}


def _bare_flags(params: Iterable[Any]) -> list[Any]:
    """The params, each flag given an empty metavar so help prints no ``<bool>`` beside it."""
    listed = list(params)
    for param in listed:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return listed
