"""The cutover gate: may this phase take its next step, on this evidence?

:func:`evaluate_gate` checks every criterion of the phase's :class:`GatePolicy`
and returns a :class:`GateVerdict` listing each criterion with the evidence it
looked at. Nothing short-circuits: an operator sees every reason at once.

The criteria, in order:

``min_comparisons``
    every declared method of every service in the phase was compared at least
    N times (an uncalled method is an untested path, invisible otherwise);
``divergence_rate``
    the Wilson score upper bound (at ``confidence``) on the phase's pooled rate
    of *unexplained* divergences is at most ``max_divergence_rate``: with few
    comparisons the bound is wide, so zero divergences in 10 calls does not
    pass a 1% bar. Divergences of accepted (unexpired) and fixed groups are
    explained (a reviewer said why they are acceptable, or that their cause is
    fixed: the store reopens a fixed group seen again) and are left out of the
    rate, but still counted and shown;
``open_divergences``
    no divergence group of the phase is open (accepted and unexpired ones do
    not block, but are still listed);
``candidate_errors``
    the candidate's error rate (errors on the candidate side only) is at most
    ``max_candidate_error_rate``;
``latency``
    per method with at least ``min_latency_samples`` calls on both sides, the
    candidate is slower than ``max_p95_ratio`` x legacy at p95 beyond noise:
    a method fails only when the *lower* 95 % confidence bound of its
    candidate p95 over the *upper* bound of its legacy p95 is above the ratio,
    and the candidate p95 exceeds legacy's by more than ``min_p95_excess``
    (sub-millisecond calls on a loaded machine reach 10-15x from scheduling
    alone). A point ratio over the limit that is not beyond noise passes and
    is named in the summary as noise;
    per method, candidate p95 / legacy p95 is at most ``max_p95_ratio``;
``coverage``
    with ``min_coverage`` set, each service's candidate code was run by
    compared calls to at least that share of its lines and branches (measured
    by the runtime with ``coverage`` on; a service with no measurement fails);
    without it, the criterion passes and only shows what was measured;
``soak``
    at least ``min_soak`` since the first comparison;
``no_dirty``
    no service of the phase has a dropped write awaiting reconciliation, and
    no side was recorded unavailable (its factory could not be built, so
    writes reached one store only) since the stores were last aligned;
``data_verified``
    each service's tables verified equal at rest since its last write that
    was not mirrored cleanly (:mod:`shadow.cutover.data_gate`); judged only
    with ``require_data_verified``, else it passes and shows the state;
``previous_phase``
    the previous phase has already reached the step this phase would take.

Which criteria a step needs (:func:`required_criteria`) is one rule used by
the verdict, ``shadow gate``, ``shadow status``, ``shadow promote`` and the
readiness gauge alike: enabling shadow (``legacy -> shadow``) needs only
``previous_phase`` (shadowing changes nothing for callers, it is how evidence
is gathered); every later step needs all of them.

A step is judged on the evidence of the mode being left: ``shadow ->
reverse`` on calls mirrored in shadow mode, ``reverse -> sqlmodel`` on calls
mirrored in reverse mode (soak from the first comparison in that mode), when
the evidence records modes (the divergence store does).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import NormalDist
from typing import Any

from shadow._exceptions import ConfigError
from shadow._vocabulary import Mode
from shadow.cutover.data_gate import data_verified
from shadow.cutover.evidence import Evidence
from shadow.cutover.plan import PhasePlan
from shadow.cutover.policy import GatePolicy, format_duration

__all__ = [
    "Criterion",
    "GateVerdict",
    "evaluate_gate",
    "phase_step",
    "required_criteria",
    "wilson_upper_bound",
]

CRITERIA = (
    "min_comparisons",
    "divergence_rate",
    "open_divergences",
    "candidate_errors",
    "latency",
    "coverage",
    "soak",
    "no_dirty",
    "data_verified",
    "previous_phase",
)
"""Criterion names, in the order a verdict lists them."""


def wilson_upper_bound(failures: int, trials: int, confidence: float) -> float:
    """Upper end of the two-sided Wilson score interval for ``failures / trials``.

    No trials means no knowledge: the bound is 1.
    """
    if trials <= 0:
        return 1.0
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p = failures / trials
    z2 = z * z
    centre = p + z2 / (2 * trials)
    spread = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    return min(1.0, (centre + spread) / (1 + z2 / trials))


@dataclass(frozen=True, slots=True)
class Criterion:
    """One gate criterion: its verdict, a one-line summary and itemised evidence."""

    name: str
    passed: bool
    summary: str
    details: tuple[Mapping[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The criterion as plain JSON-able data."""
        return {
            "name": self.name,
            "passed": self.passed,
            "summary": self.summary,
            "details": [dict(item) for item in self.details],
        }


@dataclass(frozen=True, slots=True)
class GateVerdict:
    """The gate's answer for one phase (or some of its services)."""

    phase: int
    services: tuple[str, ...]
    current: Mode
    target: Mode | None
    policy: GatePolicy
    criteria: tuple[Criterion, ...] = field(default=())

    @property
    def required(self) -> tuple[str, ...]:
        """The criteria this step needs (:func:`required_criteria`)."""
        return required_criteria(self.target)

    @property
    def passed(self) -> bool:
        """True when the step may be taken: every criterion it requires passed."""
        return not self.blocking

    @property
    def failed(self) -> tuple[str, ...]:
        """Names of the criteria that failed (required or not)."""
        return tuple(criterion.name for criterion in self.criteria if not criterion.passed)

    @property
    def blocking(self) -> tuple[str, ...]:
        """Names of the failed criteria this step requires: why it may not be taken."""
        required = self.required
        return tuple(name for name in self.failed if name in required)

    def criterion(self, name: str) -> Criterion:
        """The criterion called ``name``."""
        for criterion in self.criteria:
            if criterion.name == name:
                return criterion
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """The verdict as plain JSON-able data."""
        return {
            "phase": self.phase,
            "services": list(self.services),
            "current": self.current.value,
            "target": self.target.value if self.target else None,
            "passed": self.passed,
            "failed": list(self.failed),
            "blocking": list(self.blocking),
            "required": list(self.required),
            "policy": self.policy.to_dict(),
            "criteria": [criterion.to_dict() for criterion in self.criteria],
        }


def required_criteria(target: Mode | None) -> tuple[str, ...]:
    """The criteria a step to ``target`` must pass.

    Enabling shadow needs only ``previous_phase``; every other step (and the
    no-step of a phase already at sqlmodel) needs all of them.
    """
    if target is Mode.SHADOW:
        return ("previous_phase",)
    return CRITERIA


def phase_step(services: Collection[str], modes: Mapping[str, Mode]) -> Mode:
    """The step a group of services has reached: the least advanced one's mode."""
    return min((modes.get(service, Mode.LEGACY) for service in services), key=lambda m: m.rank)


def evaluate_gate(
    phase: int,
    *,
    plan: PhasePlan,
    policy: GatePolicy,
    evidence: Evidence,
    modes: Mapping[str, Mode],
    declared_methods: Mapping[str, Collection[str]],
    services: Collection[str] | None = None,
) -> GateVerdict:
    """Judge whether ``phase`` (or only ``services`` of it) may take its next step.

    ``declared_methods`` maps each service to the methods its contract declares;
    the caller derives it from the contracts (:func:`shadow.contract_methods`).
    """
    phase_services = plan.services_of(phase)
    chosen = tuple(services) if services is not None else phase_services
    for service in chosen:
        if service not in phase_services:
            raise ConfigError(f"service {service!r} is not in phase {phase}")
        if service not in declared_methods:
            raise ConfigError(f"no declared methods known for service {service!r}")
    current = phase_step(chosen, modes)
    target = current.next()
    if current in (Mode.SHADOW, Mode.REVERSE):
        evidence = evidence.in_mode(current.value)
    criteria = (
        _min_comparisons(chosen, policy, evidence, declared_methods),
        _divergence_rate(chosen, policy, evidence, declared_methods),
        _open_divergences(chosen, evidence),
        _candidate_errors(chosen, policy, evidence, declared_methods),
        _latency(chosen, policy, evidence, declared_methods),
        _coverage(chosen, policy, evidence),
        _soak(chosen, policy, evidence),
        _no_dirty(chosen, evidence),
        Criterion(*data_verified(chosen, evidence, required=policy.require_data_verified)),
        _previous_phase(phase, target, plan, modes),
    )
    return GateVerdict(phase, chosen, current, target, policy, criteria)


def _pairs(
    services: Collection[str], declared: Mapping[str, Collection[str]]
) -> list[tuple[str, str]]:
    return [(service, method) for service in services for method in sorted(declared[service])]


def _min_comparisons(
    services: Collection[str],
    policy: GatePolicy,
    evidence: Evidence,
    declared: Mapping[str, Collection[str]],
) -> Criterion:
    details = []
    short = []
    for service, method in _pairs(services, declared):
        compared = evidence.method(service, method).compared
        ok = compared >= policy.min_comparisons
        details.append({"service": service, "method": method, "compared": compared, "ok": ok})
        if not ok:
            short.append(f"{service}.{method} ({compared})")
    if short:
        summary = (
            f"{len(short)} of {len(details)} methods compared fewer than "
            f"{policy.min_comparisons} times: " + ", ".join(short[:5])
        )
        if len(short) > 5:
            summary += f", ... ({len(short) - 5} more)"
    else:
        fewest = min(
            (evidence.method(s, m).compared for s, m in _pairs(services, declared)), default=0
        )
        summary = (
            f"all {len(details)} declared methods compared at least "
            f"{policy.min_comparisons} times (fewest: {fewest})"
        )
    return Criterion("min_comparisons", not short, summary, tuple(details))


def _divergence_rate(
    services: Collection[str],
    policy: GatePolicy,
    evidence: Evidence,
    declared: Mapping[str, Collection[str]],
) -> Criterion:
    details = []
    total_unexplained = total_accepted = total_compared = 0
    now = evidence.collected_at
    for service in services:
        methods = [evidence.method(service, method) for method in sorted(declared[service])]
        divergences = sum(item.count("divergence") for item in methods)
        compared = sum(item.compared for item in methods)
        accepted = sum(
            group.count
            for group in evidence.groups_of({service})
            if group.outcome == "divergence" and not group.blocks(now)
        )
        # Group counts may include calls made while the service was dirty, which the
        # evidence counts leave out: never explain away more than was counted.
        accepted = min(accepted, divergences)
        total_unexplained += divergences - accepted
        total_accepted += accepted
        total_compared += compared
        details.append(
            {
                "service": service,
                "divergences": divergences,
                "accepted": accepted,
                "compared": compared,
            }
        )
    bound = wilson_upper_bound(total_unexplained, total_compared, policy.confidence)
    ok = bound <= policy.max_divergence_rate
    summary = (
        f"{total_unexplained} unexplained divergences ({total_accepted} more accepted) in "
        f"{total_compared} comparisons; {policy.confidence:.0%} upper bound {bound:.4%} "
        f"{'<=' if ok else '>'} {policy.max_divergence_rate:.4%}"
    )
    return Criterion("divergence_rate", ok, summary, tuple(details))


def _open_divergences(services: Collection[str], evidence: Evidence) -> Criterion:
    now = evidence.collected_at
    groups = evidence.groups_of(set(services))
    blocking = [group for group in groups if group.blocks(now)]
    details = tuple(
        {
            "fingerprint": group.fingerprint,
            "service": group.service,
            "method": group.method,
            "count": group.count,
            "state": group.review_state(now),
            "blocks": group.blocks(now),
        }
        for group in groups
    )
    if blocking:
        names = ", ".join(f"{g.service}.{g.method} {g.fingerprint}" for g in blocking[:5])
        summary = f"{len(blocking)} divergence group(s) open or expired: {names}"
    else:
        summary = f"no open divergence groups ({len(groups)} reviewed and not blocking)"
    return Criterion("open_divergences", not blocking, summary, details)


def _candidate_errors(
    services: Collection[str],
    policy: GatePolicy,
    evidence: Evidence,
    declared: Mapping[str, Collection[str]],
) -> Criterion:
    errors = compared = 0
    details = []
    for service, method in _pairs(services, declared):
        item = evidence.method(service, method)
        errors += item.count("candidate_error")
        compared += item.compared
        if item.count("candidate_error"):
            details.append(
                {"service": service, "method": method, "errors": item.count("candidate_error")}
            )
    rate = errors / compared if compared else 1.0
    ok = compared > 0 and rate <= policy.max_candidate_error_rate
    summary = (
        f"{errors} candidate errors in {compared} comparisons: rate {rate:.4%} "
        f"{'<=' if ok else '>'} {policy.max_candidate_error_rate:.4%}"
    )
    return Criterion("candidate_errors", ok, summary, tuple(details))


def _latency(
    services: Collection[str],
    policy: GatePolicy,
    evidence: Evidence,
    declared: Mapping[str, Collection[str]],
) -> Criterion:
    details = []
    bad = []
    noise = []
    unjudged = []
    ratios: list[float] = []
    for service, method in _pairs(services, declared):
        item = evidence.method(service, method)
        samples = min(
            item.legacy.count if item.legacy else 0, item.candidate.count if item.candidate else 0
        )
        ratio: float | None = None
        ratio_low: float | None = None
        noisy = False
        if item.legacy is None or item.candidate is None or samples < policy.min_latency_samples:
            # Too few calls for a p95: not judged, unless traffic compared the method
            # often enough and a side recorded no latency (the evidence itself is
            # missing). Exploration's comparisons carry no latency by design.
            judged = False
            ok = evidence.compared_by_traffic(service, method) < policy.min_latency_samples
            if ok:
                unjudged.append(f"{service}.{method} ({samples})")
        else:
            legacy, candidate = item.legacy, item.candidate
            ratio = _ratio(candidate.p95, legacy.p95)
            ratio_low = _ratio(candidate.p95_lower, legacy.p95_upper)
            excess = candidate.p95 - legacy.p95
            over = ratio > policy.max_p95_ratio
            beyond_noise = (
                ratio_low > policy.max_p95_ratio and excess > policy.min_p95_excess.total_seconds()
            )
            judged, ok = True, not (over and beyond_noise)
            noisy = over and not beyond_noise
            ratios.append(ratio)
            if noisy:
                noise.append(f"{service}.{method} ({ratio:.2f}x, +{excess * 1000:.2f} ms)")
        details.append(
            {
                "service": service,
                "method": method,
                "legacy_p95": item.legacy.p95 if item.legacy else None,
                "candidate_p95": item.candidate.p95 if item.candidate else None,
                "samples": samples,
                "ratio": ratio,
                "ratio_lower_bound": ratio_low,
                "judged": judged,
                "noise": noisy,
                "ok": ok,
            }
        )
        if not ok:
            shown = "no latency samples" if ratio is None else f"{ratio:.2f}x"
            bad.append(f"{service}.{method} ({shown})")
    if bad:
        summary = f"{len(bad)} methods over {policy.max_p95_ratio:g}x legacy p95: " + ", ".join(
            bad[:5]
        )
        if len(bad) > 5:
            summary += f", ... ({len(bad) - 5} more)"
    elif ratios:
        worst = max(ratios)
        summary = (
            f"every judged method within {policy.max_p95_ratio:g}x legacy p95 "
            f"beyond noise (worst point ratio {worst:.2f}x)"
        )
    else:
        summary = "no method had enough samples to judge its p95"
    if noise:
        summary += (
            f"; {len(noise)} over {policy.max_p95_ratio:g}x only within noise (95% bounds "
            f"overlap the limit or excess <= {format_duration(policy.min_p95_excess)}): "
            + ", ".join(noise[:3])
            + (", ..." if len(noise) > 3 else "")
        )
    if unjudged:
        summary += (
            f"; {len(unjudged)} not judged (< {policy.min_latency_samples} samples): "
            + ", ".join(unjudged[:3])
            + (", ..." if len(unjudged) > 3 else "")
        )
    return Criterion("latency", not bad, summary, tuple(details))


def _ratio(candidate: float, legacy: float) -> float:
    if legacy > 0:
        return candidate / legacy
    return 1.0 if candidate <= 0 else math.inf


def _coverage(services: Collection[str], policy: GatePolicy, evidence: Evidence) -> Criterion:
    details = []
    short = []
    for service in services:
        measured = evidence.coverage.get(service)
        share = measured.share if measured is not None else None
        ok = policy.min_coverage is None or (share is not None and share >= policy.min_coverage)
        details.append({"service": service, "share": share, "ok": ok})
        if not ok:
            short.append(f"{service} ({'not measured' if share is None else f'{share:.0%}'})")
    shares = [item["share"] for item in details if item["share"] is not None]
    lowest = f"lowest {min(shares):.0%}" if shares else "none measured"
    if policy.min_coverage is None:
        summary = f"not required (no min_coverage); {lowest}"
    elif short:
        summary = (
            f"{len(short)} of {len(details)} services below {policy.min_coverage:.0%} of their "
            "candidate code run by compared calls: " + ", ".join(short[:5])
        )
        if len(short) > 5:
            summary += f", ... ({len(short) - 5} more)"
    else:
        summary = f"every service's candidate code run to >= {policy.min_coverage:.0%} ({lowest})"
    return Criterion("coverage", not short, summary, tuple(details))


def _soak(services: Collection[str], policy: GatePolicy, evidence: Evidence) -> Criterion:
    if evidence.first_comparisons:
        starts = [evidence.first_comparisons.get(service) for service in services]
        never = [s for s, start in zip(services, starts, strict=True) if start is None]
        if never:
            return Criterion("soak", False, "never compared: " + ", ".join(never))
        first: datetime | None = max(start for start in starts if start is not None)
    else:
        first = evidence.first_comparison_at
    if first is None:
        return Criterion("soak", False, "no comparison recorded yet")
    soaked = evidence.collected_at - first
    ok = soaked >= policy.min_soak
    summary = (
        f"soaking for {format_duration_short(soaked)} since {first.isoformat()} "
        f"({'>=' if ok else '<'} {format_duration(policy.min_soak)})"
    )
    return Criterion("soak", ok, summary, ({"first_comparison_at": first.isoformat()},))


def format_duration_short(value: timedelta) -> str:
    """A duration rounded to whole seconds, for people."""
    seconds = int(value.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{seconds:02d}s" if hours else f"{minutes}m{seconds:02d}s"


def _no_dirty(services: Collection[str], evidence: Evidence) -> Criterion:
    dirty = [service for service in services if service in evidence.dirty]
    details = tuple(
        {"service": s, "dirty": s in evidence.dirty, "drops": evidence.drops.get(s, 0)}
        for s in services
    )
    unavailable = evidence.unavailable_mirrors
    if unavailable:
        summary = "; ".join(
            f"the {side} side could not be built ({error}): not mirrored, align the stores"
            " after fixing its factory"
            for side, error in sorted(unavailable.items())
        )
    elif dirty:
        summary = "unreconciled dropped writes: " + ", ".join(
            f"{s} ({evidence.drops.get(s, 0)} drops)" for s in dirty
        )
    else:
        summary = "no service has unreconciled dropped writes"
    return Criterion("no_dirty", not dirty and not unavailable, summary, details)


def _previous_phase(
    phase: int, target: Mode | None, plan: PhasePlan, modes: Mapping[str, Mode]
) -> Criterion:
    if target is None:
        return Criterion("previous_phase", True, "already at sqlmodel: no step left")
    earlier = [number for number in plan.numbers if number < phase]
    if not earlier:
        return Criterion("previous_phase", True, f"phase {phase} is the first phase")
    previous = max(earlier)
    reached = phase_step(plan.services_of(previous), modes)
    ok = reached.rank >= target.rank
    summary = (
        f"phase {previous} is at {reached.value}; this step needs it at {target.value} or later"
    )
    details = tuple(
        {"service": s, "mode": modes.get(s, Mode.LEGACY).value} for s in plan.services_of(previous)
    )
    return Criterion("previous_phase", ok, summary, details)
