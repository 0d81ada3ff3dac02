"""Cutover control commands: status, gate, promote, rollback, divergences, report.

Thin: each command builds a :class:`~shadow.cutover.control.CutoverSettings`
from the files given before the command (:class:`~shadow.cli.CliSettings`)
and calls one function of :mod:`shadow.cutover`. Exit status: 0 done (gate
passed), 1 refused (gate failed, promotion not allowed), 2 bad input
(malformed policy or plan, unknown phase or fingerprint, missing store; one
line, see :mod:`shadow.cli._group`).

Without ``--plan`` and ``--contracts``, the application's defaults apply
(:class:`~shadow.cli.AppDefaults`: the reference app's ``shadow`` command passes its own).
"""

from __future__ import annotations

import enum
import getpass
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shadow._exceptions import ConfigError
from shadow._lazy import lazy_module
from shadow._vocabulary import Mode
from shadow.cli._group import new_app
from shadow.cli._settings import AppDefaults, cli_settings
from shadow.cli.reproductions import export_command, group_provenance

if TYPE_CHECKING:
    from shadow.cutover import _format as formats
    from shadow.cutover import contracts as contract_specs
    from shadow.cutover import control, modes, next_steps, review
    from shadow.cutover import report as reports
    from shadow.cutover import stories as story_lists
    from shadow.cutover.criteria import GateVerdict
    from shadow.cutover.evidence import DivergenceGroup
else:
    # Loaded when a command runs: `shadow --help` needs none of the runtime.
    contract_specs = lazy_module("shadow.cutover.contracts")
    formats = lazy_module("shadow.cutover._format")
    control = lazy_module("shadow.cutover.control")
    modes = lazy_module("shadow.cutover.modes")
    next_steps = lazy_module("shadow.cutover.next_steps")
    reports = lazy_module("shadow.cutover.report")
    review = lazy_module("shadow.cutover.review")
    story_lists = lazy_module("shadow.cutover.stories")

__all__ = ["GroupState", "ReportFormat", "divergences", "register"]


class ReportFormat(enum.StrEnum):
    """What ``shadow report --format`` writes."""

    MD = "md"
    HTML = "html"
    JSON = "json"


class GroupState(enum.StrEnum):
    """A divergence group's review state as shown (``accepted`` past its expiry is ``expired``)."""

    OPEN = "open"
    ACCEPTED = "accepted"
    EXPIRED = "expired"
    FIXED = "fixed"


JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ActorOption = Annotated[
    str | None, typer.Option("--actor", envvar="SHADOW_ACTOR", help="Who (default: login name).")
]
ServiceOption = Annotated[str | None, typer.Option("--service", help="Only this service.")]
FingerprintArgument = Annotated[str, typer.Argument(help="The group's fingerprint.")]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why (goes to the audit log).")]


def _contracts(spec: str | None, defaults: AppDefaults) -> Mapping[str, frozenset[str]]:
    if spec is None:
        if defaults.declared_methods is None:
            raise ConfigError("no contracts given (--contracts or SHADOW_CONTRACTS)")
        return defaults.declared_methods()
    found = contract_specs.load_object(spec)
    if not isinstance(found, dict):
        raise ConfigError(f"{spec} is not a mapping of service name to contract")
    return contract_specs.declared_methods(found)


def _settings(ctx: typer.Context) -> control.CutoverSettings:
    """The cutover settings from the files given before the command."""
    files = cli_settings(ctx)
    return control.CutoverSettings.from_files(
        files.config,
        declared_methods=_contracts(files.contracts, files.defaults),
        store=files.store,
        audit_log=files.audit_log,
        plan=files.plan,
        default_plan=files.defaults.plan,
        policy=files.policy,
    )


def _review_settings(ctx: typer.Context) -> control.CutoverSettings:
    # Review needs no contracts: only the store and the audit log.
    files = cli_settings(ctx)
    return control.CutoverSettings.from_files(
        files.config, declared_methods={}, store=files.store, audit_log=files.audit_log
    )


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER", "unknown")


def _print_verdict(verdict: GateVerdict) -> None:
    target = verdict.target.value if verdict.target else "none (done)"
    word = "PASS" if verdict.passed else "FAIL"
    typer.echo(
        f"gate phase {verdict.phase} ({', '.join(verdict.services)}): {word}"
        f" [{verdict.current.value} -> {target}]: "
        + _readiness(verdict.passed, verdict.target, verdict.blocking)
    )
    for criterion in verdict.criteria:
        if criterion.passed:
            mark = "PASS"
        elif criterion.name in verdict.required:
            mark = "FAIL"
        else:
            mark = "info"  # failed, but this step does not require it
        typer.echo(f"  {mark}  {criterion.name}: {criterion.summary}")
    if verdict.target is Mode.SHADOW:
        typer.echo(
            "note: enabling shadow needs only previous_phase (shadowing is how evidence is "
            "gathered); the other criteria judge leaving shadow later"
        )


def _readiness(ready: bool, target: Mode | None, blocking: tuple[str, ...]) -> str:
    """One verdict, worded the same by status and gate."""
    if target is None:
        return "done (sqlmodel)"
    if ready:
        return f"ready -> {target.value}"
    return f"blocked -> {target.value}: " + ", ".join(blocking)


def _print_changes(moved: control.Transition) -> None:
    for name, (old, new) in moved.changes.items():
        typer.echo(f"{name}: {old.value} -> {new.value}")


def gate(
    ctx: typer.Context,
    *,
    phase: Annotated[int, typer.Option("--phase", help="Phase number.")],
    service: ServiceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Judge whether a phase may take its next step; exit 0 pass, 1 fail, 2 bad input."""
    verdict = control.gate(_settings(ctx), phase, service=service)
    if as_json:
        typer.echo(json.dumps(verdict.to_dict(), indent=2))
    else:
        _print_verdict(verdict)
    if not verdict.passed:
        raise typer.Exit(1)


def status(ctx: typer.Context, *, as_json: JsonOption = False) -> None:
    """Every service's phase, mode and whether its gate passes now."""
    settings = _settings(ctx)
    rows = control.status(settings)
    if as_json:
        typer.echo(json.dumps([row.to_dict() for row in rows], indent=2))
        return
    if modes.kill_switch_on(settings.modes_file):
        typer.echo("KILL SWITCH ON: every service not in sqlmodel runs legacy-only")
    for side, cause in sorted(settings.evidence().unavailable_mirrors.items()):
        typer.echo(f"MIRROR UNAVAILABLE: the {side} side could not be built: {cause}")
    typer.echo(f"{'phase':<6}{'service':<22}{'mode':<10}{'coverage':<10}readiness (of the phase)")
    for row in rows:
        readiness = _readiness(row.ready, row.target, row.blocking)
        share = "-" if row.coverage is None else f"{row.coverage.share:.0%}"
        typer.echo(f"{row.phase:<6}{row.service:<22}{row.mode.value:<10}{share:<10}{readiness}")
    never = [row for row in rows if row.coverage is not None and row.coverage.missing]
    for row in never:
        assert row.coverage is not None
        where = "; ".join(
            f"{path}: {formats.format_lines(lines)}" for path, lines in row.coverage.missing.items()
        )
        typer.echo(f"never run by a compared call, {row.service}: {where}")


def promote(
    ctx: typer.Context,
    *,
    phase: Annotated[int, typer.Option("--phase", help="Phase to move one step forward.")],
    reason: ReasonOption,
    service: ServiceOption = None,
    actor: ActorOption = None,
) -> None:
    """Move a phase (or one service) one step forward, if the gate passes."""
    moved = control.promote(
        _settings(ctx), phase, service=service, actor=_actor(actor), reason=reason
    )
    _print_changes(moved)


def rollback(
    ctx: typer.Context,
    *,
    reason: ReasonOption,
    phase: Annotated[int | None, typer.Option("--phase", help="Every service of it.")] = None,
    service: Annotated[str | None, typer.Option("--service", help="One service.")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Allow sqlmodel -> reverse (legacy reconciled).")
    ] = False,
    actor: ActorOption = None,
) -> None:
    """Move a service (or a phase) one step back; no gate needed."""
    moved = control.rollback(
        _settings(ctx),
        phase=phase,
        service=service,
        actor=_actor(actor),
        reason=reason,
        force=force,
    )
    _print_changes(moved)


def report(
    ctx: typer.Context,
    *,
    fmt: Annotated[
        ReportFormat, typer.Option("--format", help="What to write.", case_sensitive=False)
    ] = ReportFormat.MD,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File to write.")] = None,
) -> None:
    """Write the cutover report: gate verdicts, comparisons, divergences, latency."""
    settings = _settings(ctx)
    files = cli_settings(ctx)
    data = reports.build_report(
        plan=settings.phase_plan(),
        policies=settings.policies,
        evidence=settings.evidence(),
        modes=settings.modes(),
        declared_methods=settings.declared_methods,
        commands=next_steps.CommandOptions.of(
            config=files.config,
            store=files.store,
            audit_log=files.audit_log,
            plan=files.plan,
            policy=files.policy,
            contracts=files.contracts,
        ),
    )
    text = reports.render(data, fmt.value)
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot write {output}: {error.strerror}") from None
    if not cli_settings(ctx).quiet:
        typer.echo(f"wrote {output}", err=True)


divergences = new_app(help="Review divergence groups.")


def _group_dict(group: DivergenceGroup, settings: control.CutoverSettings) -> dict[str, Any]:
    now = settings.clock.now()
    return {
        "fingerprint": group.fingerprint,
        "service": group.service,
        "method": group.method,
        "paths": list(group.paths),
        "error_types": list(group.error_types),
        "count": group.count,
        "first_seen": group.first_seen.isoformat(),
        "last_seen": group.last_seen.isoformat(),
        "state": group.review_state(now),
        "blocks_gate": group.blocks(now),
        "note": group.note,
        "expires_at": group.expires_at.isoformat() if group.expires_at else None,
        "examples": [dict(example) for example in group.examples],
        "root": group.root,
    }


@divergences.command("list")
def list_command(
    ctx: typer.Context,
    *,
    service: ServiceOption = None,
    state: Annotated[
        GroupState | None, typer.Option("--state", help="Only groups in this state.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Divergence groups, most frequent first; each root's consequences indented under it."""
    settings = _review_settings(ctx)
    groups = review.list_groups(
        settings, service=service, state=state.value if state is not None else None
    )
    ordered = [
        (group, depth)
        for story in story_lists.stories(groups)
        for depth, group in enumerate(story.groups)
    ]
    if as_json:
        typer.echo(json.dumps([_group_dict(g, settings) for g, _ in ordered], indent=2))
        return
    if not groups:
        typer.echo("no divergence groups")
    for group, depth in ordered:
        data = _group_dict(group, settings)
        marker = "  ↳ " if depth else ""  # a consequence of the root listed above it
        typer.echo(
            f"{marker}{group.fingerprint}  {group.service}.{group.method}  x{group.count}  "
            f"{data['state']}  last {data['last_seen']}  {', '.join(group.paths) or '-'}"
        )


@divergences.command("show")
def show_command(
    ctx: typer.Context, fingerprint: FingerprintArgument, as_json: JsonOption = False
) -> None:
    """One group with its redacted examples."""
    settings = _review_settings(ctx)
    group = review.show(settings, fingerprint)
    data = _group_dict(group, settings)
    if settings.store is not None:
        data.update(group_provenance(settings.store, fingerprint, data["count"]))
    data["consequences"] = [
        other.fingerprint
        for other in review.list_groups(settings, service=group.service)
        if other.root == fingerprint
    ]
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    for key, value in data.items():
        if key not in ("examples", "reproduction"):
            typer.echo(f"{key}: {value}")
    for number, example in enumerate(data["examples"], start=1):
        typer.echo(f"example {number}: {json.dumps(example, sort_keys=True, indent=2)}")
    reproduction = data.get("reproduction")
    if reproduction is not None:
        typer.echo(
            f"reproduction ({len(reproduction['steps'])} step(s), shrunk by exploration; "
            f"`shadow divergences export {fingerprint} -o FILE` writes it as a test): "
            + json.dumps(reproduction["steps"], sort_keys=True, indent=2)
        )


@divergences.command("accept")
def accept_command(
    ctx: typer.Context,
    *,
    fingerprint: FingerprintArgument,
    note: Annotated[str, typer.Option("--note", help="Why it is acceptable.")],
    expires: Annotated[str, typer.Option("--expires", help="YYYY-MM-DD or ISO datetime (UTC).")],
    actor: ActorOption = None,
) -> None:
    """Accept a group until a date: it stops blocking the gate until then."""
    group = review.accept(
        _review_settings(ctx),
        fingerprint,
        note=note,
        expires=review.parse_expiry(expires),
        actor=_actor(actor),
    )
    expiry = group.expires_at.isoformat() if group.expires_at else "-"
    typer.echo(f"{fingerprint}: accepted until {expiry}")


@divergences.command("reopen")
def reopen_command(
    ctx: typer.Context, fingerprint: FingerprintArgument, actor: ActorOption = None
) -> None:
    """Put a group back to open: it blocks the gate again."""
    review.reopen(_review_settings(ctx), fingerprint, actor=_actor(actor))
    typer.echo(f"{fingerprint}: open")


@divergences.command("fixed")
def fixed_command(
    ctx: typer.Context,
    *,
    fingerprint: FingerprintArgument,
    note: Annotated[str, typer.Option("--note", help="The fix (commit, ticket).")],
    actor: ActorOption = None,
) -> None:
    """Mark a group fixed: it stops blocking, and reopens if it is seen again."""
    review.mark_fixed(_review_settings(ctx), fingerprint, note=note, actor=_actor(actor))
    typer.echo(f"{fingerprint}: fixed")


divergences.command("export")(export_command)


def register(app: typer.Typer) -> None:
    """Add the cutover and review commands to the ``shadow`` app."""
    for command in (status, gate, promote, rollback, report):
        app.command(command.__name__)(command)
    app.add_typer(divergences, name="divergences")
