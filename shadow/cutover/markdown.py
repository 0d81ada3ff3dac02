"""The Markdown cutover report: the decision first, then the evidence behind it.

Same order and facts as the HTML report (:mod:`shadow.cutover.html`): may each
phase and service go and what blocks it; the open divergence groups with each
example's values side by side (as :func:`difflib.ndiff` lines), the methods
that diverged with their rates, and the commands to run next; then the gate's
criteria, the policy, latency, coverage, origins, dropped writes and data at
rest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from shadow.cutover._format import (
    COVERAGE_HEADER,
    DATA_HEADER,
    GROUP_HEADER,
    GROUP_ORIGIN_HEADER,
    METHOD_HEADER,
    NOT_JUDGED_NOTE,
    ORIGIN_HEADER,
    RATE_HEADER,
    coverage_row,
    data_rows,
    go_word,
    group_origin_rows,
    group_row,
    method_row,
    open_groups,
    origin_rows,
    origin_summary_lines,
    policy_rows,
    rate_row,
    relaxed_summary,
    step_text,
    verdict_word,
)
from shadow.cutover.sidebyside import ndiff_lines, pretty

__all__ = ["render_markdown"]


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows]
    return lines


def _blocked_by(item: Mapping[str, Any]) -> str:
    return "; ".join(f"{b['name']}: {b['summary']}" for b in item["blocking"]) or "-"


def _decision(report: Mapping[str, Any]) -> list[str]:
    lines = ["## Decision", ""]
    lines += _table(
        ["phase", "step", "may it go?", "blocked by"],
        [[str(p["phase"]), step_text(p), go_word(p), _blocked_by(p)] for p in report["decision"]],
    )
    lines += ["", "Each service judged alone:", ""]
    lines += _table(
        ["phase", "service", "step", "may it go?", "blocked by"],
        [
            [str(p["phase"]), s["service"], step_text(s), go_word(s), _blocked_by(s)]
            for p in report["decision"]
            for s in p["services"]
        ],
    )  # fmt: skip
    over = [row for row in report["method_rates"] if row["over_limit"]]
    if over:
        lines += ["", "Methods over their phase's limit on their own (whatever the pooled rate):"]
        lines += [
            f"- {r['service']}.{r['method']}: {rate_row(r)[3]} divergent and "
            f"{rate_row(r)[4]} candidate errors of {r['compared']} compared calls"
            for r in over
        ]
    return lines


def _example(number: int, example: Mapping[str, Any]) -> list[str]:
    differences = example.get("differences")
    if not isinstance(differences, list):  # not the runtime's shape: show it whole
        return [f"Example {number}:", "", "```json", *pretty(example), "```"]
    arguments = json.dumps(example.get("arguments", {}), sort_keys=True, default=str)
    lines = [
        f"Example {number}, seen {example.get('seen_at', '?')} "
        f"(mirror: {example.get('mirror') or '-'}), arguments `{arguments}`:"
    ]
    if example.get("error_types"):
        lines += ["", "Errors: " + ", ".join(example["error_types"])]
    for difference in differences:
        lines += [
            "",
            f"`{difference['path']}` ({difference['change']}; `-` authoritative, `+` mirror):",
            "",
            "```diff",
            *ndiff_lines(difference["change"], difference["authoritative"], difference["mirror"]),
            "```",
        ]
    return lines


def _open_groups(report: Mapping[str, Any]) -> list[str]:
    groups = open_groups(report)
    lines = [f"## Open divergence groups ({len(groups)})", ""]
    if report["method_rates"]:
        lines += ["Divergences and candidate errors per method (share of its compared calls):", ""]
        lines += _table(RATE_HEADER, [rate_row(row) for row in report["method_rates"]])
    if not groups:
        return [*lines, "", "No open divergence group."]
    for group in groups:
        origins = ", ".join(f"{k} {v}" for k, v in group["origins"].items() if v)
        lines += [
            "",
            f"### {group['service']}.{group['method']} `{group['fingerprint']}` "
            f"({group['state']}, seen {group['count']}x)",
            "",
            f"Paths: {', '.join(f'`{p}`' for p in group['paths']) or '-'}; "
            f"first seen {group['first_seen']}, last {group['last_seen']}; "
            f"origins: {origins or '-'}"
            + (f"; consequence of `{group['root']}`" if group["root"] else "")
            + ".",
        ]
        for number, example in enumerate(group["examples"], start=1):
            lines += ["", *_example(number, example)]
        lines += ["", "```sh", *group["commands"].values(), "```"]
    return lines


def _next_commands(report: Mapping[str, Any]) -> list[str]:
    lines = ["## Next commands", ""]
    if not report["next_commands"]:
        return [*lines, "Nothing to do: every phase is done."]
    lines += ["```sh"]
    for step in report["next_commands"]:
        lines += [f"# {step['why']}", step["command"]]
    return [*lines, "```"]


def render_markdown(report: Mapping[str, Any]) -> str:
    """The report as Markdown."""
    lines = [
        "# Shadow migration: cutover report",
        "",
        f"Generated {report['generated_at']}; first comparison "
        f"{report['first_comparison_at'] or 'never'}. Policy: {report['policy_source']}.",
    ]
    relaxed = relaxed_summary(report["phases"])
    if relaxed:
        lines += ["", f"**{relaxed}**"]
    lines += ["", *_decision(report), "", *_open_groups(report), "", *_next_commands(report)]
    lines += ["", "## Gate criteria per phase"]
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
    header, rows = policy_rows(report)
    lines += ["", "## Policy", "", *_table(header, rows)]
    lines += ["", "## Comparisons and latency per method", "", NOT_JUDGED_NOTE, ""]
    rows = [method_row(s["service"], m) for s in report["services"] for m in s["methods"]]
    lines += _table(METHOD_HEADER, rows)
    lines += ["", "## All divergence groups"]
    for service in report["services"]:
        if service["groups"]:
            lines += ["", f"### {service['service']}", ""]
            lines += _table(GROUP_HEADER, [group_row(g) for g in service["groups"]])
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
