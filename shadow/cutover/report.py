"""Cutover reports: one set of facts rendered as JSON, Markdown or HTML.

:func:`build_report` gathers the facts into plain data: first what the
reviewer must decide (per phase and per service alone: may it go, and which
criteria block it, :mod:`shadow.cutover.decision`), the methods that diverged
with their rates, the commands to run next (:mod:`shadow.cutover.next_steps`);
then per phase the gate verdict with its evidence and policy (thresholds
looser than the built-in defaults flagged as relaxed); per service and method
the comparisons by outcome, latency per side and their ratio (marked not
judged below the policy's ``min_latency_samples``); the divergence groups with
redacted examples and review state; which of it came from traffic and which
from exploration. The renderers (:mod:`shadow.cutover.markdown`,
:mod:`shadow.cutover.html`) only format that data, so the three formats carry
the same facts; the Markdown one is tested against the JSON one. Examples come
from the store already redacted: sensitive values never get here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from typing import Any

from shadow._exceptions import ConfigError
from shadow._vocabulary import LatencySummary, Mode, Outcome
from shadow.cutover._format import format_lines, format_ratio, format_seconds
from shadow.cutover.criteria import GateVerdict, evaluate_gate
from shadow.cutover.decision import decision, method_rates, review_order
from shadow.cutover.evidence import CoverageEvidence, DataCheck, DivergenceGroup, Evidence
from shadow.cutover.html import render_html
from shadow.cutover.markdown import render_markdown
from shadow.cutover.next_steps import CommandOptions, group_commands, next_commands
from shadow.cutover.origins import group_origins, method_origins, origin_summary
from shadow.cutover.plan import PhasePlan
from shadow.cutover.policy import GatePolicy, PolicySet, relaxed_values
from shadow.cutover.stories import stories

__all__ = [
    "FORMATS",
    "build_report",
    "format_ratio",
    "format_seconds",
    "render",
    "render_json",
    "render_markdown",
]


def _latency(summary: LatencySummary | None) -> dict[str, Any] | None:
    if summary is None:
        return None
    return {"count": summary.count, "p50": summary.p50, "p95": summary.p95, "p99": summary.p99}


def _ratio(legacy: LatencySummary | None, candidate: LatencySummary | None) -> float | None:
    if legacy is None or candidate is None or legacy.p95 <= 0:
        return None
    return candidate.p95 / legacy.p95


def _group(group: DivergenceGroup, evidence: Evidence, commands: CommandOptions) -> dict[str, Any]:
    return {
        "service": group.service,
        "commands": group_commands(group.fingerprint, now=evidence.collected_at, options=commands),
        "fingerprint": group.fingerprint,
        "method": group.method,
        "paths": list(group.paths),
        "error_types": list(group.error_types),
        "count": group.count,
        "first_seen": group.first_seen.isoformat(),
        "last_seen": group.last_seen.isoformat(),
        "state": group.review_state(evidence.collected_at),
        "blocks_gate": group.blocks(evidence.collected_at),
        "note": group.note,
        "expires_at": group.expires_at.isoformat() if group.expires_at else None,
        "examples": [dict(example) for example in group.examples],
        "root": group.root,
        "origins": group_origins(group=group, evidence=evidence),
    }


def _in_story_order(groups: tuple[DivergenceGroup, ...]) -> list[DivergenceGroup]:
    """Each root group followed by its consequences (``shadow.cutover.stories``)."""
    return [group for story in stories(groups) for group in story.groups]


def _coverage(measured: CoverageEvidence | None) -> dict[str, Any] | None:
    if measured is None:
        return None
    return {
        "share": measured.share,
        "lines": measured.lines,
        "lines_hit": measured.lines_hit,
        "branches": measured.branches,
        "branches_hit": measured.branches_hit,
        "missing": {path: format_lines(lines) for path, lines in measured.missing.items()},
    }


def _check(check: DataCheck) -> dict[str, Any]:
    return {
        "table": check.table,
        "verified_at": check.verified_at.isoformat(),
        "equal": check.equal,
        "compared": check.compared,
        "missing_on_target": check.missing_on_target,
        "missing_on_source": check.missing_on_source,
        "differing": check.differing,
    }


def _verified_at(evidence: Evidence, service: str) -> str | None:
    verified = evidence.data_verified.get(service)
    if verified is None or not verified.equal:
        return None
    return verified.verified_at.isoformat()


def build_report(
    *,
    plan: PhasePlan,
    policies: PolicySet,
    evidence: Evidence,
    modes: Mapping[str, Mode],
    declared_methods: Mapping[str, Collection[str]],
    commands: CommandOptions | None = None,
) -> dict[str, Any]:
    """Every fact a report shows, as JSON-able data.

    ``commands`` holds the options the suggested next commands need to act on
    the same files (the CLI passes the ones it was given).
    """
    commands = commands or CommandOptions()

    def judge(phase: int, services: Collection[str] | None = None) -> GateVerdict:
        return evaluate_gate(
            phase,
            plan=plan,
            policy=policies.for_phase(phase),
            evidence=evidence,
            modes=modes,
            declared_methods=declared_methods,
            services=services,
        )

    verdicts = [judge(phase) for phase in plan.numbers]
    alone = {
        service: judge(phase, [service])
        for phase in plan.numbers
        for service in plan.services_of(phase)
    }
    services: list[dict[str, Any]] = []
    for phase in plan.numbers:
        policy = policies.for_phase(phase)
        for service in plan.services_of(phase):
            seen = {item.method for item in evidence.methods if item.service == service}
            methods = []
            for name in sorted(set(declared_methods[service]) | seen):
                item = evidence.method(service, name)
                samples = {
                    side: summary.count if summary else 0
                    for side, summary in (("legacy", item.legacy), ("candidate", item.candidate))
                }
                methods.append(
                    {
                        "samples": samples,
                        # Too few samples for a p95: shown, but marked "not judged".
                        "latency_judged": min(samples.values()) >= policy.min_latency_samples,
                        "method": name,
                        "declared": name in declared_methods[service],
                        "outcomes": {outcome: item.total(outcome) for outcome in Outcome},
                        "compared": item.compared,
                        "legacy": _latency(item.legacy),
                        "candidate": _latency(item.candidate),
                        "p95_ratio": _ratio(item.legacy, item.candidate),
                        "origins": method_origins(evidence, service, name),
                    }
                )
            services.append(
                {
                    "service": service,
                    "phase": phase,
                    "mode": modes.get(service, Mode.LEGACY).value,
                    "dirty": service in evidence.dirty,
                    "data_verified_at": _verified_at(evidence, service),
                    "drops": evidence.drops.get(service, 0),
                    "methods": methods,
                    "groups": [
                        _group(g, evidence, commands)
                        for g in _in_story_order(evidence.groups_of({service}))
                    ],
                    "coverage": _coverage(evidence.coverage.get(service)),
                }
            )
    decided = decision(verdicts, alone)
    to_review = review_order([group for service in services for group in service["groups"]])
    phases = [
        {**verdict.to_dict(), "relaxed": relaxed_values(verdict.policy)} for verdict in verdicts
    ]
    return {
        "decision": decided,
        "method_rates": method_rates(services, policies),
        "review_order": [group["fingerprint"] for group in to_review],
        "next_commands": next_commands(decided, to_review, commands),
        "policy_source": policies.source,
        "policy_defaults": GatePolicy().to_dict(),
        "data": [_check(check) for check in evidence.data_checks],
        "generated_at": evidence.collected_at.isoformat(),
        "first_comparison_at": (
            evidence.first_comparison_at.isoformat() if evidence.first_comparison_at else None
        ),
        "phases": phases,
        "services": services,
        "origins": origin_summary(services),
    }


def render_json(report: Mapping[str, Any]) -> str:
    """The report as indented JSON."""
    return json.dumps(report, indent=2, sort_keys=True) + "\n"


FORMATS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "json": render_json,
    "md": render_markdown,
    "html": render_html,
}
"""Renderer by ``--format`` name."""


def render(report: Mapping[str, Any], fmt: str) -> str:
    """Render ``report`` in format ``fmt`` (json, md or html)."""
    renderer = FORMATS.get(fmt)
    if renderer is None:
        raise ConfigError(f"unknown report format {fmt!r} (expected one of: json, md, html)")
    return renderer(report)
