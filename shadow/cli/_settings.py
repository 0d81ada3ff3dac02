"""The options every ``shadow`` command shares, given once, before the command name.

``shadow --config shadow-work/shadow.toml gate --phase 1``: the root callback
(:func:`common_options`) reads them, each also from its environment variable,
into one :class:`CliSettings`; a command reads it with :func:`cli_settings`.

The files (the cutover, review and data commands use them):

* ``--config`` / ``SHADOW_CONFIG_FILE``: the runtime's TOML settings file the
  proxies re-read; promotion writes the modes there;
* ``--store`` / ``SHADOW_STORE_URL``: the divergence store (default: the
  config file's ``store_url``, else the runtime's default);
* ``--audit-log`` / ``SHADOW_AUDIT_LOG``: JSON lines of every change
  (default: ``shadow-audit.jsonl`` beside the config file);
* ``--plan`` / ``SHADOW_PHASE_PLAN`` and ``--policy`` / ``SHADOW_GATE_POLICY``
  (default: ``gate-policy.toml`` next to the config file, else built-in);
* ``--contracts`` / ``SHADOW_CONTRACTS``: ``module:attribute`` naming a mapping
  of service name to contract class.

The output: ``--quiet`` (no progress bars or notes, only the result) and
``--log-level`` (the least severe log line of the runtime that is written:
``shadow demo``'s log file, standard error for the other commands).
"""

from __future__ import annotations

import enum
import importlib.metadata
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from shadow.cutover.plan import PhasePlan
    from shadow.data import DataSchema

__all__ = ["AppDefaults", "CliSettings", "LogLevel", "cli_settings", "common_options"]

DEFAULT_CONFIG = Path("shadow.toml")
_FILES = "Cutover files (before the command)"
_OUTPUT = "Output"


class LogLevel(enum.StrEnum):
    """The least severe log line written."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def number(self) -> int:
        """The :mod:`logging` level."""
        return int(logging.getLevelNamesMapping()[self.name])


@dataclass(frozen=True)
class AppDefaults:
    """What an application's own ``shadow`` command knows without options.

    The generic commands need a phase plan and the declared methods per
    service; an application that ships its own command line (the reference
    app does) passes them to :func:`shadow.cli.build_app`, and ``--plan`` /
    ``--contracts`` still win. The callables are called only when a command
    needs them, so importing the contracts never slows ``--help``.
    """

    plan: PhasePlan | None = None
    declared_methods: Callable[[], Mapping[str, frozenset[str]]] | None = None
    data_schema: Callable[[], DataSchema] | None = None
    """The tables, comparison rules and service -> tables map ``shadow data`` uses."""


@dataclass(frozen=True)
class CliSettings:
    """What the options before the command said (defaults when a command runs alone)."""

    config: Path = DEFAULT_CONFIG
    store: str | None = None
    audit_log: Path | None = None
    plan: Path | None = None
    policy: Path | None = None
    contracts: str | None = None
    quiet: bool = False
    log_level: LogLevel | None = None
    """None: as the application configured logging (the stdlib default: warnings)."""
    defaults: AppDefaults = field(default_factory=AppDefaults)
    """The application's, given to :func:`shadow.cli.build_app`."""


def cli_settings(ctx: typer.Context) -> CliSettings:
    """The settings of the command line ``ctx`` belongs to."""
    found = ctx.find_root().obj
    return found if isinstance(found, CliSettings) else CliSettings()


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"shadow {importlib.metadata.version('shadow')}")
        raise typer.Exit()


def common_options(
    ctx: typer.Context,
    *,
    config: Annotated[
        Path,
        typer.Option(
            "--config",
            envvar="SHADOW_CONFIG_FILE",
            help="Runtime settings (modes) file.",
            rich_help_panel=_FILES,
        ),
    ] = DEFAULT_CONFIG,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            envvar="SHADOW_STORE_URL",
            help="Divergence store URL (default: the --config file's store_url).",
            rich_help_panel=_FILES,
        ),
    ] = None,
    audit_log: Annotated[
        Path | None,
        typer.Option(
            "--audit-log",
            envvar="SHADOW_AUDIT_LOG",
            help="Audit log (JSON lines; default: shadow-audit.jsonl beside --config).",
            rich_help_panel=_FILES,
        ),
    ] = None,
    plan: Annotated[
        Path | None,
        typer.Option(
            "--plan",
            envvar="SHADOW_PHASE_PLAN",
            help="Phase plan TOML file (default: the application's).",
            rich_help_panel=_FILES,
        ),
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option(
            "--policy",
            envvar="SHADOW_GATE_POLICY",
            help="Gate policy TOML file (default: gate-policy.toml beside --config).",
            rich_help_panel=_FILES,
        ),
    ] = None,
    contracts: Annotated[
        str | None,
        typer.Option(
            "--contracts",
            envvar="SHADOW_CONTRACTS",
            help="module:attribute of a mapping service -> contract class.",
            rich_help_panel=_FILES,
        ),
    ] = None,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet",
            "-q",
            help="No progress bars or notes: only the result.",
            rich_help_panel=_OUTPUT,
        ),
    ] = False,
    log_level: Annotated[
        LogLevel | None,
        typer.Option(
            "--log-level",
            envvar="SHADOW_LOG_LEVEL",
            case_sensitive=False,
            help="Least severe runtime log line written (demo: its log file; else stderr).",
            rich_help_panel=_OUTPUT,
        ),
    ] = None,
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
    del version  # handled by its eager callback
    # build_app puts the application's defaults in the context; they join the options.
    defaults = ctx.obj if isinstance(ctx.obj, AppDefaults) else AppDefaults()
    ctx.obj = CliSettings(
        config=config,
        store=store,
        audit_log=audit_log,
        plan=plan,
        policy=policy,
        contracts=contracts,
        quiet=quiet,
        log_level=log_level,
        defaults=defaults,
    )
    if log_level is not None:
        _log_to_stderr(log_level)


def _log_to_stderr(level: LogLevel) -> None:
    """The runtime's stdlib lines at ``level`` and above on stderr (a command that logs
    elsewhere, as ``shadow demo`` does to its file, configures that itself)."""
    logger = logging.getLogger("shadow")
    logger.setLevel(level.number)
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
