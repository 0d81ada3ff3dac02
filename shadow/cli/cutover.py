"""Cutover control commands: status, gate, promote, rollback, divergences, report.

Thin: each command builds a :class:`~shadow.cutover.control.CutoverSettings`
from its options and calls one function of :mod:`shadow.cutover`. Exit status:
0 done (gate passed), 1 refused (gate failed, promotion not allowed), 2 bad
input (malformed policy or plan, unknown phase or fingerprint, missing store).

The files, each also settable by environment variable:

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

Without ``--plan`` and ``--contracts``, the application's defaults apply
(:class:`AppDefaults`: the reference app's ``shadow`` command passes its own).
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from shadow._exceptions import ConfigError, StoreError
from shadow._lazy import lazy_module
from shadow._vocabulary import Mode
from shadow.cli.reproductions import export_command, group_provenance

if TYPE_CHECKING:
    from shadow.cutover import _format as formats
    from shadow.cutover import contracts as contract_specs
    from shadow.cutover import control, modes, next_steps, review
    from shadow.cutover import report as reports
    from shadow.cutover import stories as story_lists
    from shadow.cutover.criteria import GateVerdict
    from shadow.cutover.evidence import DivergenceGroup
    from shadow.cutover.plan import PhasePlan
    from shadow.data import DataSchema
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

__all__ = ["AppDefaults", "divergences", "register"]

ConfigOption = Annotated[
    Path,
    typer.Option("--config", envvar="SHADOW_CONFIG_FILE", help="Runtime settings (modes) file."),
]
StoreOption = Annotated[
    str | None,
    typer.Option("--store", envvar="SHADOW_STORE_URL", help="Divergence store URL."),
]
AuditOption = Annotated[
    Path | None,
    typer.Option(
        "--audit-log",
        envvar="SHADOW_AUDIT_LOG",
        help="Audit log (JSON lines; default: shadow-audit.jsonl beside --config).",
    ),
]
PlanOption = Annotated[
    Path | None,
    typer.Option("--plan", envvar="SHADOW_PHASE_PLAN", help="Phase plan TOML file."),
]
PolicyOption = Annotated[
    Path | None,
    typer.Option("--policy", envvar="SHADOW_GATE_POLICY", help="Gate policy TOML file."),
]
ContractsOption = Annotated[
    str | None,
    typer.Option(
        "--contracts",
        envvar="SHADOW_CONTRACTS",
        help="module:attribute of a mapping service -> contract class.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ActorOption = Annotated[
    str | None, typer.Option("--actor", envvar="SHADOW_ACTOR", help="Who (default: login name).")
]
DEFAULT_CONFIG = Path("shadow.toml")


@dataclass(frozen=True)
class AppDefaults:
    """What an application's own ``shadow`` command knows without options.

    The generic commands need a phase plan and the declared methods per
    service; an application that ships its own command line (the reference
    app does) passes them here, and ``--plan`` / ``--contracts`` still win.
    ``declared_methods`` is called only when a command needs it, so importing
    the contracts never slows ``--help``.
    """

    plan: PhasePlan | None = None
    declared_methods: Callable[[], Mapping[str, frozenset[str]]] | None = None
    data_schema: Callable[[], DataSchema] | None = None
    """The tables, comparison rules and service -> tables map ``shadow data`` uses."""


# Set once by :func:`register` when the app is built; read by the commands.
_defaults = AppDefaults()


def _contracts(spec: str | None) -> Mapping[str, frozenset[str]]:
    if spec is None:
        if _defaults.declared_methods is None:
            raise ConfigError("no contracts given (--contracts or SHADOW_CONTRACTS)")
        return _defaults.declared_methods()
    found = contract_specs.load_object(spec)
    if not isinstance(found, dict):
        raise ConfigError(f"{spec} is not a mapping of service name to contract")
    return contract_specs.declared_methods(found)


def _settings(
    *,
    config: Path,
    store: str | None,
    audit_log: Path | None,
    plan: Path | None,
    policy: Path | None,
    contracts: str | None,
) -> control.CutoverSettings:
    return control.CutoverSettings.from_files(
        config,
        declared_methods=_contracts(contracts),
        store=store,
        audit_log=audit_log,
        plan=plan,
        default_plan=_defaults.plan,
        policy=policy,
    )


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER", "unknown")


def _refused(message: str) -> NoReturn:
    typer.echo(f"shadow: refused: {message}", err=True)
    raise typer.Exit(1)


def _bad_store(error: StoreError) -> NoReturn:
    raise ConfigError(str(error)) from None


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


def gate(
    *,
    phase: Annotated[int, typer.Option("--phase", help="Phase number.")],
    service: Annotated[str | None, typer.Option("--service", help="Only this service.")] = None,
    as_json: JsonOption = False,
    config: ConfigOption = DEFAULT_CONFIG,
    store: StoreOption = None,
    audit_log: AuditOption = None,
    plan: PlanOption = None,
    policy: PolicyOption = None,
    contracts: ContractsOption = None,
) -> None:
    """Judge whether a phase may take its next step; exit 0 pass, 1 fail, 2 bad input."""
    settings = _settings(
        config=config,
        store=store,
        audit_log=audit_log,
        plan=plan,
        policy=policy,
        contracts=contracts,
    )
    try:
        verdict = control.gate(settings, phase, service=service)
    except StoreError as error:
        _bad_store(error)
    if as_json:
        typer.echo(json.dumps(verdict.to_dict(), indent=2))
    else:
        _print_verdict(verdict)
    if not verdict.passed:
        raise typer.Exit(1)


def status(
    *,
    as_json: JsonOption = False,
    config: ConfigOption = DEFAULT_CONFIG,
    store: StoreOption = None,
    audit_log: AuditOption = None,
    plan: PlanOption = None,
    policy: PolicyOption = None,
    contracts: ContractsOption = None,
) -> None:
    """Every service's phase, mode and whether its gate passes now."""
    settings = _settings(
        config=config,
        store=store,
        audit_log=audit_log,
        plan=plan,
        policy=policy,
        contracts=contracts,
    )
    try:
        rows = control.status(settings)
    except StoreError as error:
        _bad_store(error)
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
    *,
    phase: Annotated[int, typer.Option("--phase", help="Phase to move one step forward.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (goes to the audit log).")],
    service: Annotated[str | None, typer.Option("--service", help="Only this service.")] = None,
    actor: ActorOption = None,
    config: ConfigOption = DEFAULT_CONFIG,
    store: StoreOption = None,
    audit_log: AuditOption = None,
    plan: PlanOption = None,
    policy: PolicyOption = None,
    contracts: ContractsOption = None,
) -> None:
    """Move a phase (or one service) one step forward, if the gate passes."""
    settings = _settings(
        config=config,
        store=store,
        audit_log=audit_log,
        plan=plan,
        policy=policy,
        contracts=contracts,
    )
    try:
        moved = control.promote(
            settings, phase, service=service, actor=_actor(actor), reason=reason
        )
    except control.PromotionRefused as error:
        _refused(str(error))
    except StoreError as error:
        _bad_store(error)
    for name, (old, new) in moved.changes.items():
        typer.echo(f"{name}: {old.value} -> {new.value}")


def rollback(
    *,
    reason: Annotated[str, typer.Option("--reason", help="Why (goes to the audit log).")],
    phase: Annotated[int | None, typer.Option("--phase", help="Every service of it.")] = None,
    service: Annotated[str | None, typer.Option("--service", help="One service.")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Allow sqlmodel -> reverse (legacy reconciled).")
    ] = False,
    actor: ActorOption = None,
    config: ConfigOption = DEFAULT_CONFIG,
    store: StoreOption = None,
    audit_log: AuditOption = None,
    plan: PlanOption = None,
    policy: PolicyOption = None,
    contracts: ContractsOption = None,
) -> None:
    """Move a service (or a phase) one step back; no gate needed."""
    settings = _settings(
        config=config,
        store=store,
        audit_log=audit_log,
        plan=plan,
        policy=policy,
        contracts=contracts,
    )
    try:
        moved = control.rollback(
            settings, phase=phase, service=service, actor=_actor(actor), reason=reason, force=force
        )
    except control.PromotionRefused as error:
        _refused(str(error))
    for name, (old, new) in moved.changes.items():
        typer.echo(f"{name}: {old.value} -> {new.value}")


def report(
    *,
    fmt: Annotated[str, typer.Option("--format", help="md, html or json.")] = "md",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File to write.")] = None,
    config: ConfigOption = DEFAULT_CONFIG,
    store: StoreOption = None,
    audit_log: AuditOption = None,
    plan: PlanOption = None,
    policy: PolicyOption = None,
    contracts: ContractsOption = None,
) -> None:
    """Write the cutover report: gate verdicts, comparisons, divergences, latency."""
    settings = _settings(
        config=config,
        store=store,
        audit_log=audit_log,
        plan=plan,
        policy=policy,
        contracts=contracts,
    )
    if fmt not in ("md", "html", "json"):
        raise ConfigError(f"unknown report format {fmt!r} (expected one of: md, html, json)")
    try:
        data = reports.build_report(
            plan=settings.phase_plan(),
            policies=settings.policies,
            evidence=settings.evidence(),
            modes=settings.modes(),
            declared_methods=settings.declared_methods,
            commands=next_steps.CommandOptions.of(
                config=config,
                store=store,
                audit_log=audit_log,
                plan=plan,
                policy=policy,
                contracts=contracts,
            ),
        )
    except StoreError as error:
        _bad_store(error)
    text = reports.render(data, fmt)
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot write {output}: {error.strerror}") from None
    typer.echo(f"wrote {output}", err=True)


divergences = typer.Typer(help="Review divergence groups.", no_args_is_help=True)


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
    *,
    service: Annotated[str | None, typer.Option("--service", help="Only this service.")] = None,
    state: Annotated[
        str | None, typer.Option("--state", help="open, accepted, expired or fixed.")
    ] = None,
    as_json: JsonOption = False,
    config: ConfigOption = DEFAULT_CONFIG,
    store: StoreOption = None,
    audit_log: AuditOption = None,
) -> None:
    """Divergence groups, most frequent first; each root's consequences indented under it."""
    settings = _review_settings(config, store, audit_log)
    try:
        groups = review.list_groups(settings, service=service, state=state)
    except StoreError as error:
        _bad_store(error)
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
    fingerprint: Annotated[str, typer.Argument(help="The group's fingerprint.")],
    as_json: JsonOption = False,
    config: ConfigOption = DEFAULT_CONFIG,
    store: StoreOption = None,
    audit_log: AuditOption = None,
) -> None:
    """One group with its redacted examples."""
    settings = _review_settings(config, store, audit_log)
    try:
        group = review.show(settings, fingerprint)
        data = _group_dict(group, settings)
        if settings.store is not None:
            data.update(group_provenance(settings.store, fingerprint, data["count"]))
        data["consequences"] = [
            other.fingerprint
            for other in review.list_groups(settings, service=group.service)
            if other.root == fingerprint
        ]
    except StoreError as error:
        _bad_store(error)
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
    *,
    fingerprint: Annotated[str, typer.Argument(help="The group's fingerprint.")],
    note: Annotated[str, typer.Option("--note", help="Why it is acceptable.")],
    expires: Annotated[str, typer.Option("--expires", help="YYYY-MM-DD or ISO datetime (UTC).")],
    actor: ActorOption = None,
    config: ConfigOption = DEFAULT_CONFIG,
    store: StoreOption = None,
    audit_log: AuditOption = None,
) -> None:
    """Accept a group until a date: it stops blocking the gate until then."""
    settings = _review_settings(config, store, audit_log)
    try:
        group = review.accept(
            settings,
            fingerprint,
            note=note,
            expires=review.parse_expiry(expires),
            actor=_actor(actor),
        )
    except StoreError as error:
        _bad_store(error)
    expiry = group.expires_at.isoformat() if group.expires_at else "-"
    typer.echo(f"{fingerprint}: accepted until {expiry}")


@divergences.command("reopen")
def reopen_command(
    fingerprint: Annotated[str, typer.Argument(help="The group's fingerprint.")],
    actor: ActorOption = None,
    config: ConfigOption = DEFAULT_CONFIG,
    store: StoreOption = None,
    audit_log: AuditOption = None,
) -> None:
    """Put a group back to open: it blocks the gate again."""
    settings = _review_settings(config, store, audit_log)
    try:
        review.reopen(settings, fingerprint, actor=_actor(actor))
    except StoreError as error:
        _bad_store(error)
    typer.echo(f"{fingerprint}: open")


@divergences.command("fixed")
def fixed_command(
    *,
    fingerprint: Annotated[str, typer.Argument(help="The group's fingerprint.")],
    note: Annotated[str, typer.Option("--note", help="The fix (commit, ticket).")],
    actor: ActorOption = None,
    config: ConfigOption = DEFAULT_CONFIG,
    store: StoreOption = None,
    audit_log: AuditOption = None,
) -> None:
    """Mark a group fixed: it stops blocking, and reopens if it is seen again."""
    settings = _review_settings(config, store, audit_log)
    try:
        review.mark_fixed(settings, fingerprint, note=note, actor=_actor(actor))
    except StoreError as error:
        _bad_store(error)
    typer.echo(f"{fingerprint}: fixed")


divergences.command("export")(export_command)


def _review_settings(
    config: Path, store: str | None, audit_log: Path | None
) -> control.CutoverSettings:
    # Review needs no contracts: only the store and the audit log.
    return control.CutoverSettings.from_files(
        config, declared_methods={}, store=store, audit_log=audit_log
    )


def register(app: typer.Typer, defaults: AppDefaults | None = None) -> None:
    """Add the cutover commands to the ``shadow`` app, with an application's defaults."""
    global _defaults  # noqa: PLW0603 -- one app per process, built once at start-up
    _defaults = defaults or AppDefaults()
    for command in (status, gate, promote, rollback, report):
        app.command(command.__name__)(command)
    app.add_typer(divergences, name="divergences")
