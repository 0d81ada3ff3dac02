"""Cutover reports: one set of facts rendered as JSON, Markdown or HTML.

:func:`build_report` gathers the facts (per phase the gate verdict with its
evidence; per service and method the comparisons by outcome, latency per side
and their ratio; the divergence groups with redacted examples and review
state; which of it came from traffic and which from exploration) into plain
data. The renderers only format that data, so the three formats carry the
same facts; the Markdown one is tested against the JSON one. Examples come
from the store already redacted: sensitive values never get here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from typing import Any

from shadow._exceptions import ConfigError
from shadow._vocabulary import LatencySummary, Mode, Outcome
from shadow.cutover._format import (
    COVERAGE_HEADER,
    DATA_HEADER,
    GROUP_HEADER,
    GROUP_ORIGIN_HEADER,
    METHOD_HEADER,
    ORIGIN_HEADER,
    coverage_row,
    data_rows,
    format_lines,
    format_ratio,
    format_seconds,
    group_origin_rows,
    group_row,
    method_row,
    origin_rows,
    origin_summary_lines,
    verdict_word,
)
from shadow.cutover.criteria import GateVerdict, evaluate_gate
from shadow.cutover.evidence import CoverageEvidence, DataCheck, DivergenceGroup, Evidence
from shadow.cutover.html import render_html
from shadow.cutover.origins import group_origins, method_origins, origin_summary
from shadow.cutover.plan import PhasePlan
from shadow.cutover.policy import PolicySet
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


def _group(group: DivergenceGroup, evidence: Evidence) -> dict[str, Any]:
    return {
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
) -> dict[str, Any]:
    """Every fact a report shows, as JSON-able data."""
    verdicts: list[GateVerdict] = [
        evaluate_gate(
            phase,
            plan=plan,
            policy=policies.for_phase(phase),
            evidence=evidence,
            modes=modes,
            declared_methods=declared_methods,
        )
        for phase in plan.numbers
    ]
    services = []
    for phase in plan.numbers:
        for service in plan.services_of(phase):
            seen = {item.method for item in evidence.methods if item.service == service}
            methods = []
            for name in sorted(set(declared_methods[service]) | seen):
                item = evidence.method(service, name)
                methods.append(
                    {
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
                        _group(g, evidence) for g in _in_story_order(evidence.groups_of({service}))
                    ],
                    "coverage": _coverage(evidence.coverage.get(service)),
                }
            )
    return {
        "data": [_check(check) for check in evidence.data_checks],
        "generated_at": evidence.collected_at.isoformat(),
        "first_comparison_at": (
            evidence.first_comparison_at.isoformat() if evidence.first_comparison_at else None
        ),
        "phases": [verdict.to_dict() for verdict in verdicts],
        "services": services,
        "origins": origin_summary(services),
    }


def render_json(report: Mapping[str, Any]) -> str:
    """The report as indented JSON."""
    return json.dumps(report, indent=2, sort_keys=True) + "\n"


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows]
    return lines


def render_markdown(report: Mapping[str, Any]) -> str:
    """The report as Markdown."""
    lines = [
        "# Shadow migration: cutover report",
        "",
        f"Generated {report['generated_at']}; first comparison "
        f"{report['first_comparison_at'] or 'never'}.",
        "",
        "## Gate verdict per phase",
    ]
    for phase in report["phases"]:
        target = phase["target"] or "none (done)"
        lines += [
            "",
            f"### Phase {phase['phase']}: {verdict_word(phase['passed'])}",
            "",
            f"Services: {', '.join(phase['services'])}. Step: {phase['current']} -> {target}.",
            "",
            *_table(
                ["criterion", "verdict", "evidence"],
                [[c["name"], verdict_word(c["passed"]), c["summary"]] for c in phase["criteria"]],
            ),
        ]
    lines += ["", "## Comparisons and latency per method", ""]
    rows = [method_row(s["service"], m) for s in report["services"] for m in s["methods"]]
    lines += _table(METHOD_HEADER, rows)
    lines += ["", "## Divergence groups"]
    for service in report["services"]:
        if not service["groups"]:
            continue
        lines += ["", f"### {service['service']}", ""]
        lines += _table(GROUP_HEADER, [group_row(g) for g in service["groups"]])
        for group in service["groups"]:
            lines += ["", f"Examples of `{group['fingerprint']}` (redacted):", "", "```json"]
            lines += [json.dumps(example, sort_keys=True) for example in group["examples"]]
            lines += ["```"]
    if not any(service["groups"] for service in report["services"]):
        lines += ["", "No divergence groups."]
    lines += ["", "## Candidate code run by compared calls", ""]
    measured = [
        coverage_row(s["service"], s["coverage"]) for s in report["services"] if s["coverage"]
    ]
    if measured:
        lines += _table(COVERAGE_HEADER, measured)
    else:
        lines += ["Not measured (the runtime's `coverage` setting is off)."]
    lines += ["", "## Evidence by origin", "", *origin_summary_lines(report["origins"]), ""]
    lines += _table(ORIGIN_HEADER, origin_rows(report["services"]))
    group_origin_table = group_origin_rows(report["services"])
    if group_origin_table:
        lines += ["", *_table(GROUP_ORIGIN_HEADER, group_origin_table)]
    dirty = [f"{s['service']} ({s['drops']} drops)" for s in report["services"] if s["dirty"]]
    lines += ["", "## Dropped writes", "", "Dirty: " + (", ".join(dirty) or "none") + "."]
    lines += ["", "## Data at rest (last verification per table)", ""]
    rows = data_rows(report)
    lines += _table(DATA_HEADER, rows) if rows else ["Never verified (`shadow data verify`)."]
    return "\n".join(lines) + "\n"


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
