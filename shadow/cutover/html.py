"""The HTML cutover report: one self-contained file, charts drawn as inline SVG.

No script, no stylesheet or font from the network: the file opens the same on
an air-gapped laptop as in CI's headless Chromium. Every value is escaped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from shadow._vocabulary import Outcome
from shadow.cutover._format import (
    COVERAGE_HEADER,
    DATA_HEADER,
    GROUP_HEADER,
    GROUP_ORIGIN_HEADER,
    METHOD_HEADER,
    ORIGIN_HEADER,
    coverage_row,
    data_rows,
    format_seconds,
    group_origin_rows,
    group_row,
    method_row,
    origin_rows,
    origin_summary_lines,
    verdict_word,
)

__all__ = ["render_html"]

OUTCOME_COLOURS = {
    "match": "#3b8f4e",
    "divergence": "#c8372d",
    "raced": "#d9a21b",
    "candidate_error": "#7b3fa0",
    "skipped": "#9aa5b1",
    "dropped": "#1f2933",
}
SIDE_COLOURS = {"legacy": "#4a6fa5", "candidate": "#e07b39"}

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem; color: #1f2933; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #d2d6dc; }
table { border-collapse: collapse; margin: .6rem 0; font-size: 12px; }
th, td { border: 1px solid #d2d6dc; padding: 2px 6px; text-align: left; vertical-align: top; }
th { background: #f0f2f5; }
.verdict { display: inline-block; padding: 2px 10px; border-radius: 4px; color: #fff;
           font-weight: 700; }
.PASS { background: #3b8f4e; } .FAIL { background: #c8372d; }
pre { background: #f7f8fa; padding: .5rem; overflow-x: auto; font-size: 12px; }
svg text { font: 11px system-ui, sans-serif; fill: #1f2933; }
.legend span { display: inline-block; margin-right: 1rem; }
.legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
"""


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], **attrs: str) -> str:
    attributes = "".join(f' {k.replace("_", "-")}="{escape(v)}"' for k, v in attrs.items())
    head = "".join(f"<th>{escape(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table{attributes}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _legend(colours: Mapping[str, str]) -> str:
    items = "".join(
        f'<span><i style="background:{colour}"></i>{escape(name)}</span>'
        for name, colour in colours.items()
    )
    return f'<p class="legend">{items}</p>'


def outcome_chart(services: Sequence[Mapping[str, Any]]) -> str:
    """Stacked horizontal bars: each service's calls split by outcome (share of its calls)."""
    label_width, bar_width, row = 150, 520, 22
    height = row * len(services) + 10
    parts = [
        f'<svg class="chart" id="outcomes-chart" role="img" width="{label_width + bar_width + 90}"'
        f' height="{height}" viewBox="0 0 {label_width + bar_width + 90} {height}"'
        ' xmlns="http://www.w3.org/2000/svg"><title>Comparisons by outcome per service</title>'
    ]
    for index, service in enumerate(services):
        y = 5 + index * row
        totals = {o: sum(m["outcomes"][o] for m in service["methods"]) for o in Outcome}
        calls = sum(totals.values())
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 14}" text-anchor="end">'
            f"{escape(service['service'])}</text>"
        )
        x = float(label_width)
        for outcome in Outcome:
            if not calls or not totals[outcome]:
                continue
            width = bar_width * totals[outcome] / calls
            parts.append(
                f'<rect x="{x:.2f}" y="{y}" width="{width:.2f}" height="{row - 6}" '
                f'fill="{OUTCOME_COLOURS[outcome]}" data-outcome="{outcome}">'
                f"<title>{escape(service['service'])} {outcome}: {totals[outcome]}</title></rect>"
            )
            x += width
        parts.append(f'<text x="{label_width + bar_width + 6}" y="{y + 14}">{calls} calls</text>')
    parts.append("</svg>")
    return "".join(parts)


def latency_chart(service: Mapping[str, Any]) -> str:
    """Grouped horizontal bars: p95 latency of each method on each side."""
    methods = [m for m in service["methods"] if m["legacy"] or m["candidate"]]
    if not methods:
        return "<p>No latency samples.</p>"
    largest = max(
        (m[side]["p95"] for m in methods for side in ("legacy", "candidate") if m[side]),
        default=0.0,
    )
    label_width, bar_width, bar, gap = 190, 440, 8, 8
    height = len(methods) * (2 * bar + gap) + 10
    width = label_width + bar_width + 90
    name = escape(service["service"])
    parts = [
        f'<svg class="chart" id="latency-{name}" role="img" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>p95 latency per method of {name}</title>"
    ]
    for index, method in enumerate(methods):
        y = 5 + index * (2 * bar + gap)
        parts.append(
            f'<text x="{label_width - 6}" y="{y + bar + 4}" text-anchor="end">'
            f"{escape(method['method'])}</text>"
        )
        for offset, side in enumerate(("legacy", "candidate")):
            summary = method[side]
            if not summary:
                continue
            length = bar_width * summary["p95"] / largest if largest > 0 else 0.0
            top = y + offset * bar
            parts.append(
                f'<rect x="{label_width}" y="{top}" width="{max(length, 1):.2f}" height="{bar - 1}"'
                f' fill="{SIDE_COLOURS[side]}" data-side="{side}"><title>{escape(method["method"])}'
                f" {side} p95 {format_seconds(summary['p95'])}</title></rect>"
                f'<text x="{label_width + max(length, 1) + 4:.2f}" y="{top + bar - 1}">'
                f"{format_seconds(summary['p95'])}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _phase(phase: Mapping[str, Any]) -> str:
    word = verdict_word(phase["passed"])
    target = phase["target"] or "none (done)"
    rows = [[c["name"], verdict_word(c["passed"]), c["summary"]] for c in phase["criteria"]]
    return (
        f'<section class="phase" id="phase-{phase["phase"]}">'
        f"<h3>Phase {phase['phase']}: "
        f'<span class="verdict {word}" id="phase-{phase["phase"]}-verdict">{word}</span></h3>'
        f"<p>Services: {escape(', '.join(phase['services']))}. "
        f"Step: {escape(phase['current'])} &rarr; {escape(target)}.</p>"
        + _table(["criterion", "verdict", "evidence"], rows)
        + "</section>"
    )


def _groups(service: Mapping[str, Any]) -> str:
    if not service["groups"]:
        return ""
    html = f"<h3>{escape(service['service'])}</h3>" + _table(
        GROUP_HEADER, [group_row(g) for g in service["groups"]]
    )
    for group in service["groups"]:
        examples = "\n".join(json.dumps(e, sort_keys=True) for e in group["examples"])
        html += (
            f"<p>Examples of <code>{escape(group['fingerprint'])}</code> (redacted):</p>"
            f"<pre>{escape(examples)}</pre>"
        )
    return html


def render_html(report: Mapping[str, Any]) -> str:
    """The report as one self-contained HTML document."""
    services = report["services"]
    methods = [method_row(s["service"], m) for s in services for m in s["methods"]]
    groups = "".join(_groups(s) for s in services) or "<p>No divergence groups.</p>"
    dirty = [f"{s['service']} ({s['drops']} drops)" for s in services if s["dirty"]]
    measured = [coverage_row(s["service"], s["coverage"]) for s in services if s.get("coverage")]
    coverage = (
        _table(COVERAGE_HEADER, measured, id="coverage")
        if measured
        else "<p>Not measured (the runtime's <code>coverage</code> setting is off).</p>"
    )
    latency = "".join(
        f"<h3>{escape(s['service'])}</h3>{latency_chart(s)}" for s in services if s["methods"]
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>Shadow migration: cutover report</title>"
        f"<style>{_STYLE}</style></head><body>"
        "<h1>Shadow migration: cutover report</h1>"
        f"<p>Generated {escape(report['generated_at'])}; first comparison "
        f"{escape(report['first_comparison_at'] or 'never')}.</p>"
        "<h2>Gate verdict per phase</h2>"
        + "".join(_phase(phase) for phase in report["phases"])
        + "<h2>Comparisons by outcome</h2>"
        + _legend(OUTCOME_COLOURS)
        + outcome_chart(services)
        + "<h2>p95 latency per method, legacy and candidate</h2>"
        + _legend(SIDE_COLOURS)
        + latency
        + "<h2>Comparisons and latency per method</h2>"
        + _table(METHOD_HEADER, methods, id="methods")
        + "<h2>Divergence groups</h2>"
        + groups
        + "<h2>Candidate code run by compared calls</h2>"
        + coverage
        + "<h2>Evidence by origin</h2>"
        + "".join(f"<p>{escape(line)}</p>" for line in origin_summary_lines(report["origins"]))
        + _table(ORIGIN_HEADER, origin_rows(services), id="origins")
        + _table(GROUP_ORIGIN_HEADER, group_origin_rows(services), id="group-origins")
        + f"<h2>Dropped writes</h2><p>Dirty: {escape(', '.join(dirty) or 'none')}.</p>"
        + "<h2>Data at rest (last verification per table)</h2>"
        + (
            _table(DATA_HEADER, data_rows(report), id="data")
            if report.get("data")
            else "<p>Never verified (<code>shadow data verify</code>).</p>"
        )
        + "</body></html>\n"
    )
