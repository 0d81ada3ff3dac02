"""The HTML cutover report: one self-contained page, rendered by Jinja2 templates.

The page reads top-down the way a reviewer decides: may each phase and each
service go, and if not which criterion blocks it (linked to its evidence);
then the open divergence groups, each example's authoritative and mirror
values side by side with what differs highlighted, the methods that diverged
with their rates, and the commands to run next; the gate's criteria, the
policy, latency, coverage and the rest after.

The templates live in ``shadow/cutover/templates`` (package data) and are
rendered with autoescaping on: every value from the store is escaped. This
module only prepares what the templates draw (chart geometry, side-by-side
lines, table rows). No script, no stylesheet or font from the network: the
file opens the same on an air-gapped laptop as in CI's headless Chromium, and
it prints (a print stylesheet drops colours' backgrounds and keeps tables
whole).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import jinja2

from shadow._vocabulary import Outcome
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
    format_seconds,
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
from shadow.cutover.sidebyside import pretty, side_by_side

__all__ = ["latency_chart", "outcome_chart", "render_html"]

OUTCOME_COLOURS = {
    "match": "#3b8f4e",
    "divergence": "#c8372d",
    "raced": "#d9a21b",
    "candidate_error": "#7b3fa0",
    "skipped": "#9aa5b1",
    "dropped": "#1f2933",
}
SIDE_COLOURS = {"legacy": "#4a6fa5", "candidate": "#e07b39"}


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("shadow.cutover", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def outcome_chart(services: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Stacked horizontal bars: each service's calls split by outcome (share of its calls)."""
    label_width, bar_width, row = 150, 520, 22
    rows = []
    for index, service in enumerate(services):
        totals = {o: sum(m["outcomes"][o] for m in service["methods"]) for o in Outcome}
        calls = sum(totals.values())
        x = float(label_width)
        bars = []
        for outcome in Outcome:
            if calls and totals[outcome]:
                width = bar_width * totals[outcome] / calls
                bars.append(
                    {
                        "x": round(x, 2),
                        "width": round(width, 2),
                        "outcome": str(outcome),
                        "colour": OUTCOME_COLOURS[outcome],
                        "count": totals[outcome],
                    }
                )
                x += width
        rows.append(
            {"y": 5 + index * row, "service": service["service"], "calls": calls, "bars": bars}
        )
    return {
        "label_width": label_width,
        "bar_width": bar_width,
        "bar_height": row - 6,
        "width": label_width + bar_width + 90,
        "height": row * len(services) + 10,
        "rows": rows,
    }


def latency_chart(service: Mapping[str, Any]) -> dict[str, Any] | None:
    """Grouped horizontal bars: p95 of each method on each side, judged methods only.

    A method with too few samples has no p95 worth a bar (``latency_judged``);
    the template says how many were left out. None when nothing is left.
    """
    methods = [m for m in service["methods"] if m["latency_judged"]]
    if not methods:
        return None
    largest = max(m[side]["p95"] for m in methods for side in ("legacy", "candidate"))
    label_width, bar_width, bar, gap = 190, 440, 8, 8
    rows = []
    for index, method in enumerate(methods):
        y = 5 + index * (2 * bar + gap)
        bars = []
        for offset, side in enumerate(("legacy", "candidate")):
            p95 = method[side]["p95"]
            length = max(bar_width * p95 / largest if largest > 0 else 0.0, 1.0)
            bars.append(
                {
                    "side": side,
                    "colour": SIDE_COLOURS[side],
                    "y": y + offset * bar,
                    "length": round(length, 2),
                    "text": format_seconds(p95),
                }
            )
        rows.append({"method": method["method"], "y": y, "bars": bars})
    return {
        "label_width": label_width,
        "bar": bar,
        "width": label_width + bar_width + 90,
        "height": len(methods) * (2 * bar + gap) + 10,
        "rows": rows,
    }


def _example(example: Mapping[str, Any]) -> dict[str, Any]:
    differences = example.get("differences")
    if not isinstance(differences, list):  # not the runtime's shape: shown whole
        return {"whole": "\n".join(pretty(example))}
    return {
        "whole": None,
        "seen_at": example.get("seen_at", "?"),
        "mirror": example.get("mirror") or "-",
        "arguments": "\n".join(pretty(example.get("arguments", {}))),
        "error_types": example.get("error_types") or [],
        "differences": [
            {
                "path": item["path"],
                "change": item["change"],
                "sides": side_by_side(item["change"], item["authoritative"], item["mirror"]),
            }
            for item in differences
        ],
    }


def _open_groups(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {**group, "shown_examples": [_example(example) for example in group["examples"]]}
        for group in open_groups(report)
    ]


def render_html(report: Mapping[str, Any]) -> str:
    """The report as one self-contained HTML document."""
    services = report["services"]
    policy_header, policy_table = policy_rows(report)
    latency = [
        {
            "service": s["service"],
            "chart": latency_chart(s),
            "unjudged": sum(1 for m in s["methods"] if not m["latency_judged"]),
        }
        for s in services
        if s["methods"]
    ]
    template = _environment().get_template("report.html.j2")
    return template.render(
        report=report,
        relaxed=relaxed_summary(report["phases"]),
        decision=report["decision"],
        go_word=go_word,
        step_text=step_text,
        verdict_word=verdict_word,
        rates=[{**row, "cells": rate_row(row)} for row in report["method_rates"]],
        rate_header=RATE_HEADER,
        open_groups=_open_groups(report),
        next_commands=report["next_commands"],
        policy_header=policy_header,
        policy_rows=policy_table,
        outcome_colours=OUTCOME_COLOURS,
        side_colours=SIDE_COLOURS,
        outcomes=outcome_chart(services),
        latency=latency,
        method_header=METHOD_HEADER,
        methods=[
            {"judged": m["latency_judged"], "cells": method_row(s["service"], m)}
            for s in services
            for m in s["methods"]
        ],
        not_judged_note=NOT_JUDGED_NOTE,
        group_header=GROUP_HEADER,
        group_tables=[
            {"service": s["service"], "rows": [group_row(g) for g in s["groups"]]}
            for s in services
            if s["groups"]
        ],
        coverage_header=COVERAGE_HEADER,
        coverage_rows=[
            coverage_row(s["service"], s["coverage"]) for s in services if s["coverage"]
        ],
        origin_lines=origin_summary_lines(report["origins"]),
        origin_header=ORIGIN_HEADER,
        origin_rows=origin_rows(services),
        group_origin_header=GROUP_ORIGIN_HEADER,
        group_origin_rows=group_origin_rows(services),
        dirty=[f"{s['service']} ({s['drops']} drops)" for s in services if s["dirty"]],
        data_header=DATA_HEADER,
        data_rows=data_rows(report),
    )
