"""Cutover operations: status, gate, promote and roll back, over one settings object.

These are the plain functions the ``shadow`` CLI calls. Each takes a
:class:`CutoverSettings` naming the files involved (modes file, audit log,
divergence store, plan, policies) and the declared methods per service, which
the caller derives from the contracts.

Promotion rules:

* a step goes ``legacy -> shadow -> reverse -> sqlmodel``, for a whole phase or
  for one service of it; only the services at the phase's current (least
  advanced) step move;
* ``legacy -> shadow`` needs only the previous phase to be in shadow already:
  shadowing changes nothing for callers, and it is how evidence is gathered;
* every later step needs the full gate to pass, judged on the evidence of the
  mode being left (see :mod:`shadow.cutover.criteria`);
* a rollback moves each chosen service one step back and needs no gate:
  ``reverse -> shadow`` and ``shadow -> legacy`` are always allowed;
  ``sqlmodel -> reverse`` needs ``force``, because legacy stopped being written
  at ``sqlmodel`` and is stale until reconciled.

Every change is written to the modes file first and then recorded in the audit
log with who, when, why and the gate verdict. Before anything is written, the
reason must be non-empty, the audit log's directory must exist, and the new
modes file must be one the runtime accepts (else :class:`ConfigError`, exit 2).

``status``, ``gate`` and ``promote`` give one judgement: a phase's verdict
(:attr:`GateVerdict.passed`, the criteria its next step requires), shown the
same way by each.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shadow._exceptions import ConfigError, ShadowError
from shadow._sources import Clock, SystemClock
from shadow._vocabulary import Mode
from shadow.cutover.criteria import GateVerdict, evaluate_gate, phase_step
from shadow.cutover.evidence import CoverageEvidence, Evidence
from shadow.cutover.modes import (
    append_audit,
    check_audit_log,
    locked,
    read_modes,
    write_modes,
)
from shadow.cutover.plan import PhasePlan, load_plan, read_toml
from shadow.cutover.policy import PolicySet, load_policies
from shadow.cutover.store import StoreNotFound, load_evidence

__all__ = [
    "CutoverSettings",
    "PromotionRefused",
    "ServiceStatus",
    "Transition",
    "gate",
    "promote",
    "rollback",
    "status",
]


DEFAULT_STORE_URL = "sqlite:///shadow-store.db"
"""The runtime's default ``store_url``."""
DEFAULT_AUDIT_LOG = "shadow-audit.jsonl"


def store_url_of(config: Path) -> str | None:
    """The ``store_url`` a runtime settings file names, if it exists and names one."""
    if not config.is_file():
        return None
    data = read_toml(config, "config")
    wrapped = data.get("shadow")
    if isinstance(wrapped, dict) and len(data) == 1:
        data = wrapped
    url = data.get("store_url")
    return url if isinstance(url, str) else None


class PromotionRefused(ShadowError):
    """A promotion or rollback was refused: the gate failed or the step is not allowed."""


@dataclass(frozen=True)
class CutoverSettings:
    """Where cutover control reads and writes, and what it knows of the services.

    ``declared_methods`` maps every planned service to the method names its
    contract declares; ``plan`` is the application's phase plan (review of
    divergence groups needs neither, so both may be empty there).
    ``evidence_source`` reads the evidence; by default it is the divergence
    store at ``store`` (see :mod:`shadow.cutover.store`).
    """

    modes_file: Path
    audit_log: Path
    declared_methods: Mapping[str, Collection[str]]
    store: str | None = None
    plan: PhasePlan | None = None
    policies: PolicySet = field(default_factory=PolicySet)
    clock: Clock = field(default_factory=SystemClock)
    evidence_source: Callable[[CutoverSettings], Evidence] | None = None

    @classmethod
    def from_files(
        cls,
        config: Path,
        *,
        declared_methods: Mapping[str, Collection[str]],
        store: str | None = None,
        audit_log: Path | None = None,
        plan: Path | None = None,
        default_plan: PhasePlan | None = None,
        policy: Path | None = None,
    ) -> CutoverSettings:
        """Settings around a runtime settings file, the way the CLI resolves them.

        The store defaults to the file's ``store_url`` (else the runtime's
        default), the audit log to ``shadow-audit.jsonl`` beside the file, the
        policy to ``gate-policy.toml`` beside it (else the built-in defaults),
        the plan to ``default_plan`` (the application's built-in one).
        """
        phase_plan = load_plan(plan) if plan is not None else default_plan
        policies = load_policies(policy, settings_file=config)
        if phase_plan is not None:
            policies.check_phases(phase_plan.numbers)
        return cls(
            modes_file=config,
            audit_log=audit_log or config.parent / DEFAULT_AUDIT_LOG,
            declared_methods=declared_methods,
            store=store or store_url_of(config) or DEFAULT_STORE_URL,
            plan=phase_plan,
            policies=policies,
        )

    def evidence(self) -> Evidence:
        """Read the current evidence (from the store unless a source was given)."""
        if self.evidence_source is not None:
            return self.evidence_source(self)
        if self.store is None:
            raise ConfigError("no divergence store given (--store or SHADOW_STORE_URL)")
        return load_evidence(self.store, clock=self.clock)

    def phase_plan(self) -> PhasePlan:
        """The phase plan; :class:`ConfigError` when none was given."""
        if self.plan is None:
            raise ConfigError("no phase plan given (--plan or SHADOW_PHASE_PLAN)")
        return self.plan

    def modes(self) -> dict[str, Mode]:
        """Every planned service's current mode, from the modes file."""
        return read_modes(self.modes_file, self.phase_plan())


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    """One line of ``shadow status``.

    ``ready`` and ``blocking`` are the verdict of the service's phase (what
    ``shadow gate --phase N`` answers and ``shadow promote --phase N`` acts
    on); ``target`` is the step the phase would take, None when it is done.
    """

    service: str
    phase: int
    mode: Mode
    ready: bool
    blocking: tuple[str, ...]
    target: Mode | None = None
    coverage: CoverageEvidence | None = None
    """How much of the candidate's code compared calls ran (when measured)."""

    def to_dict(self) -> dict[str, Any]:
        """As plain data."""
        return {
            "service": self.service,
            "phase": self.phase,
            "mode": self.mode.value,
            "target": None if self.target is None else self.target.value,
            "ready": self.ready,
            "blocking": list(self.blocking),
            "coverage": None
            if self.coverage is None
            else {
                "share": self.coverage.share,
                "missing": {path: list(lines) for path, lines in self.coverage.missing.items()},
            },
        }


@dataclass(frozen=True, slots=True)
class Transition:
    """What a promotion or rollback changed: service -> (from, to)."""

    action: str
    changes: Mapping[str, tuple[Mode, Mode]]
    verdict: GateVerdict | None = None

    def to_dict(self) -> dict[str, Any]:
        """As plain data (the audit log entry's body)."""
        return {
            "action": self.action,
            "changes": {s: [a.value, b.value] for s, (a, b) in self.changes.items()},
            "gate": None if self.verdict is None else self.verdict.to_dict(),
        }


def gate(
    settings: CutoverSettings,
    phase: int,
    *,
    service: str | None = None,
    evidence: Evidence | None = None,
) -> GateVerdict:
    """Evaluate the gate of ``phase`` (or of one service of it) on the store's evidence."""
    _chosen(settings, phase, service)  # unknown phase or service: bad input before any I/O
    return evaluate_gate(
        phase,
        plan=settings.phase_plan(),
        policy=settings.policies.for_phase(phase),
        evidence=settings.evidence() if evidence is None else evidence,
        modes=settings.modes(),
        declared_methods=settings.declared_methods,
        services=None if service is None else [service],
    )


def _evidence_or_none(settings: CutoverSettings) -> Evidence:
    """The store's evidence; no evidence at all when the store does not exist yet."""
    try:
        return settings.evidence()
    except StoreNotFound:
        return Evidence(collected_at=settings.clock.now())


def status(settings: CutoverSettings) -> list[ServiceStatus]:
    """Every service with its phase, mode and whether its phase may take its next step.

    The judgement is the phase's gate verdict, the one ``gate --phase`` prints
    and ``promote --phase`` acts on (a service's own verdict, ``gate
    --service``, could differ: a pooled rate, a phase mate's soak). A store
    that does not exist is bad input (:class:`StoreNotFound`), as for ``gate``.
    """
    evidence = settings.evidence()
    modes = settings.modes()
    rows = []
    for phase in settings.phase_plan().numbers:
        verdict = gate(settings, phase, evidence=evidence)
        for service in settings.phase_plan().services_of(phase):
            rows.append(
                ServiceStatus(
                    service,
                    phase,
                    modes[service],
                    verdict.passed,
                    verdict.blocking,
                    verdict.target,
                    evidence.coverage.get(service),
                )
            )
    return rows


def _chosen(settings: CutoverSettings, phase: int, service: str | None) -> tuple[str, ...]:
    services = settings.phase_plan().services_of(phase)
    if service is None:
        return services
    if service not in services:
        raise ConfigError(f"service {service!r} is not in phase {phase}")
    return (service,)


def promote(
    settings: CutoverSettings,
    phase: int,
    *,
    actor: str,
    reason: str,
    service: str | None = None,
) -> Transition:
    """Move ``phase`` (or one service of it) one step forward if the gate allows.

    Raises :class:`PromotionRefused` naming the failed criteria otherwise;
    nothing is written then.
    """
    chosen = _chosen(settings, phase, service)
    _check_change(settings, reason)
    with locked(settings.modes_file):
        return _promote_locked(settings, phase, chosen, service, actor=actor, reason=reason)


def _promote_locked(
    settings: CutoverSettings,
    phase: int,
    chosen: tuple[str, ...],
    service: str | None,
    *,
    actor: str,
    reason: str,
) -> Transition:
    modes = settings.modes()
    evidence: Evidence | None = None
    if phase_step(chosen, modes) is Mode.LEGACY:
        # Enabling shadow needs no evidence, and before the first shadow run there
        # is no store yet: judge the step on what exists, or on none.
        evidence = _evidence_or_none(settings)
    verdict = gate(settings, phase, service=service, evidence=evidence)
    if verdict.target is None:
        raise PromotionRefused(f"{', '.join(chosen)}: already at sqlmodel, nothing to promote")
    blocking = verdict.blocking
    if blocking:
        reasons = "; ".join(f"{n}: {verdict.criterion(n).summary}" for n in blocking)
        raise PromotionRefused(
            f"phase {phase} may not move to {verdict.target.value}: {reasons}",
            failed=tuple(blocking),
        )
    changes = {
        name: (verdict.current, verdict.target) for name in chosen if modes[name] == verdict.current
    }
    return _apply(settings, "promote", changes, actor=actor, reason=reason, verdict=verdict)


def rollback(
    settings: CutoverSettings,
    *,
    actor: str,
    reason: str,
    phase: int | None = None,
    service: str | None = None,
    force: bool = False,
) -> Transition:
    """Move a service (or every service of a phase) one step back.

    ``sqlmodel -> reverse`` is refused unless ``force``: legacy was not written
    while the service was at ``sqlmodel``.
    """
    if service is not None:
        chosen: tuple[str, ...] = (service,)
        settings.phase_plan().phase_of(service)  # refuses an unknown service
    elif phase is not None:
        chosen = settings.phase_plan().services_of(phase)
    else:
        raise ConfigError("name a --phase or a --service to roll back")
    _check_change(settings, reason)
    with locked(settings.modes_file):
        return _rollback_locked(settings, chosen, actor=actor, reason=reason, force=force)


def _rollback_locked(
    settings: CutoverSettings, chosen: tuple[str, ...], *, actor: str, reason: str, force: bool
) -> Transition:
    modes = settings.modes()
    changes: dict[str, tuple[Mode, Mode]] = {}
    for name in chosen:
        previous = modes[name].previous()
        if previous is None:
            continue
        if modes[name] is Mode.SQLMODEL and not force:
            raise PromotionRefused(
                f"{name} is at sqlmodel: legacy has not been written since, so rolling back "
                "to reverse needs the legacy store reconciled first (then pass --force)"
            )
        changes[name] = (modes[name], previous)
    if not changes:
        raise PromotionRefused(f"{', '.join(chosen)}: already at legacy, nothing to roll back")
    return _apply(settings, "rollback", changes, actor=actor, reason=reason, verdict=None)


def _check_change(settings: CutoverSettings, reason: str) -> None:
    """Refuse a change that could not be recorded, before anything is read or written."""
    if not reason.strip():
        raise ConfigError("a reason is required (--reason TEXT): it goes to the audit log")
    check_audit_log(settings.audit_log)


def _apply(
    settings: CutoverSettings,
    action: str,
    changes: Mapping[str, tuple[Mode, Mode]],
    *,
    actor: str,
    reason: str,
    verdict: GateVerdict | None,
) -> Transition:
    _check_change(settings, reason)
    transition = Transition(action, dict(changes), verdict)
    write_modes(settings.modes_file, {name: new for name, (_, new) in changes.items()})
    body = transition.to_dict()
    body.pop("action")
    append_audit(
        settings.audit_log,
        at=settings.clock.now(),
        actor=actor,
        action=action,
        reason=reason,
        **body,
    )
    return transition
