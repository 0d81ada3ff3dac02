"""Formatting shared by the Markdown and HTML reports: numbers, verdicts, table rows.

Both renderers build their tables from these functions, so the two formats
cannot drift apart in what a cell says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shadow._vocabulary import Outcome

__all__ = [
    "COVERAGE_HEADER",
    "DATA_HEADER",
    "GROUP_HEADER",
    "GROUP_ORIGIN_HEADER",
    "METHOD_HEADER",
    "NOT_JUDGED_NOTE",
    "ORIGIN_HEADER",
    "RATE_HEADER",
    "coverage_row",
    "data_rows",
    "format_lines",
    "format_rate",
    "format_ratio",
    "format_seconds",
    "go_word",
    "group_origin_rows",
    "group_row",
    "method_row",
    "open_groups",
    "origin_rows",
    "origin_summary_lines",
    "policy_rows",
    "rate_row",
    "relaxed_summary",
    "step_text",
    "verdict_word",
]


def format_seconds(value: float | None) -> str:
    """A latency for people: microseconds or milliseconds, three significant figures."""
    if value is None:
        return "-"
    if value < 0.001:
        return f"{value * 1e6:.3g} us"
    if value < 1:
        return f"{value * 1e3:.3g} ms"
    return f"{value:.3g} s"


def format_ratio(value: float | None) -> str:
    """A candidate/legacy ratio for people."""
    return "-" if value is None else f"{value:.2f}x"


def verdict_word(passed: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if passed else "FAIL"


def format_rate(part: int, rate: float | None) -> str:
    """``38/207 (18.4%)``-style cell: a count and its share of the compared calls."""
    return str(part) if rate is None else f"{part} ({rate:.1%})"


NOT_JUDGED_NOTE = (
    "Latency figures in parentheses come from fewer samples than the policy's "
    "min_latency_samples: shown, not judged."
)


def method_row(service: str, method: Mapping[str, Any]) -> list[str]:
    """One row of the per-method table (shared by the Markdown and HTML renderers).

    Latency from too few samples is put in parentheses and its ratio reads
    "not judged": one call's duration is not a p95.
    """
    legacy, candidate = method["legacy"] or {}, method["candidate"] or {}
    judged = method["latency_judged"]

    def latency(value: float | None) -> str:
        text = format_seconds(value)
        return text if judged or value is None else f"({text})"

    samples = method["samples"]
    fewest = min(samples.values())
    ratio = (
        format_ratio(method["p95_ratio"])
        if judged or method["p95_ratio"] is None
        else f"not judged ({fewest} sample{'s' if fewest != 1 else ''})"
    )
    return [
        service,
        method["method"],
        *(str(method["outcomes"][outcome]) for outcome in Outcome),
        f"{samples['legacy']}/{samples['candidate']}",
        *(latency(legacy.get(q)) for q in ("p50", "p95", "p99")),
        *(latency(candidate.get(q)) for q in ("p50", "p95", "p99")),
        ratio,
    ]


METHOD_HEADER = [
    "service",
    "method",
    *Outcome,
    "latency samples",
    "legacy p50",
    "legacy p95",
    "legacy p99",
    "candidate p50",
    "candidate p95",
    "candidate p99",
    "p95 ratio",
]

GROUP_HEADER = [
    "fingerprint",
    "method",
    "count",
    "state",
    "note",
    "expires",
    "paths",
    "errors",
    "consequence of",
]


def group_row(group: Mapping[str, Any]) -> list[str]:
    """One row of a divergence-group table."""
    return [
        group["fingerprint"],
        group["method"],
        str(group["count"]),
        group["state"],
        group["note"] or "-",
        group["expires_at"] or "-",
        ", ".join(group["paths"]) or "-",
        ", ".join(group["error_types"]) or "-",
        group.get("root") or "-",
    ]


def format_lines(lines: Sequence[int]) -> str:
    """``1-3, 7, 9-10``: line numbers as ranges."""
    ordered = sorted(lines)
    ranges: list[str] = []
    index = 0
    while index < len(ordered):
        start = end = ordered[index]
        while index + 1 < len(ordered) and ordered[index + 1] == end + 1:
            index += 1
            end = ordered[index]
        ranges.append(str(start) if start == end else f"{start}-{end}")
        index += 1
    return ", ".join(ranges)


COVERAGE_HEADER = ["service", "share run", "lines run", "branches run", "lines never run"]


def coverage_row(service: str, coverage: Mapping[str, Any]) -> list[str]:
    """One row of the candidate-coverage table."""
    never = "; ".join(f"{path}: {lines}" for path, lines in coverage["missing"].items())
    return [
        service,
        f"{coverage['share']:.1%}",
        f"{coverage['lines_hit']}/{coverage['lines']}",
        f"{coverage['branches_hit']}/{coverage['branches']}",
        never or "none",
    ]


DATA_HEADER = [
    "table",
    "verified at",
    "result",
    "compared",
    "missing on target",
    "missing on source",
    "differing",
]


def data_rows(report: Mapping[str, Any]) -> list[list[str]]:
    """The last verification at rest of each table, as table rows (Markdown and HTML)."""
    return [
        [
            c["table"],
            c["verified_at"],
            "equal" if c["equal"] else "DIFFERENT",
            str(c["compared"]),
            str(c["missing_on_target"]),
            str(c["missing_on_source"]),
            str(c["differing"]),
        ]
        for c in report.get("data", [])
    ]


ORIGIN_HEADER = ["origin", "service", "method", *Outcome]

GROUP_ORIGIN_HEADER = ["origin", "fingerprint", "service", "method", "divergences"]


def origin_summary_lines(summary: Mapping[str, Mapping[str, int]]) -> list[str]:
    """One sentence per origin: what it compared and found."""
    return [
        f"{origin}: {counts['compared']} calls compared, {counts['divergences']} divergences, "
        f"{counts['groups']} divergence groups."
        for origin, counts in summary.items()
    ] or ["No comparisons."]


def origin_rows(services: list[Mapping[str, Any]]) -> list[list[str]]:
    """Per method and origin that made any call: its calls by outcome."""
    return [
        [origin, service["service"], method["method"], *(str(outcomes[o]) for o in Outcome)]
        for service in services
        for method in service["methods"]
        for origin, outcomes in method["origins"].items()
        if any(outcomes.values())
    ]


def group_origin_rows(services: list[Mapping[str, Any]]) -> list[list[str]]:
    """Per divergence group and origin that saw it: how many of its divergences."""
    return [
        [origin, group["fingerprint"], service["service"], group["method"], str(count)]
        for service in services
        for group in service["groups"]
        for origin, count in group["origins"].items()
        if count
    ]


RATE_HEADER = ["service", "method", "compared", "divergences", "candidate errors", "over limit"]


def rate_row(row: Mapping[str, Any]) -> list[str]:
    """One method of the divergences-per-method table."""
    return [
        row["service"],
        row["method"],
        str(row["compared"]),
        format_rate(row["divergences"], row["divergence_rate"]),
        format_rate(row["candidate_errors"], row["candidate_error_rate"]),
        "OVER" if row["over_limit"] else "-",
    ]


def step_text(item: Mapping[str, Any]) -> str:
    """``shadow -> reverse``, or ``sqlmodel (done)``."""
    return (
        f"{item['current']} -> {item['target']}" if item["target"] else f"{item['current']} (done)"
    )


def go_word(item: Mapping[str, Any]) -> str:
    """GO, NO-GO or DONE for a phase or service of the decision."""
    if item["done"]:
        return "DONE"
    return "GO" if item["may_go"] else "NO-GO"


def policy_rows(report: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The policy table: one row per threshold, one column per phase, then the default.

    A value looser than the built-in default is marked ``(relaxed)``.
    """
    phases, defaults = report["phases"], report["policy_defaults"]
    header = ["threshold", *(f"phase {phase['phase']}" for phase in phases), "built-in default"]
    rows = []
    for name, default in defaults.items():
        cells = [name]
        for phase in phases:
            relaxed = {item["name"] for item in phase["relaxed"]}
            value = phase["policy"][name]
            cells.append(f"{value} (relaxed)" if name in relaxed else str(value))
        rows.append([*cells, str(default)])
    return header, rows


def relaxed_summary(phases: Sequence[Mapping[str, Any]]) -> str | None:
    """One sentence naming the thresholds looser than the built-in defaults, or None."""
    found: dict[str, Mapping[str, Any]] = {}
    for phase in phases:
        for item in phase["relaxed"]:
            found.setdefault(item["name"], item)
    if not found:
        return None
    listed = ", ".join(
        f"{name} {item['value']} (default {item['default']})" for name, item in found.items()
    )
    return (
        f"RELAXED POLICY: looser than the built-in production defaults on {listed}. "
        "Its verdicts are not production evidence (the demo's policy is such a one)."
    )


def open_groups(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The groups blocking the gate, in the report's review order (most seen story first)."""
    by_fingerprint = {g["fingerprint"]: g for s in report["services"] for g in s["groups"]}
    return [by_fingerprint[fingerprint] for fingerprint in report["review_order"]]
