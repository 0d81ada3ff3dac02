"""Reports: JSON, Markdown and HTML carry the same facts; the HTML renders in Chromium."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest

from shadow import ConfigError
from shadow._vocabulary import Mode, Outcome, ReviewStatus
from shadow.cutover.evidence import MethodEvidence
from shadow.cutover.policy import PolicySet
from shadow.cutover.report import (
    build_report,
    format_ratio,
    format_seconds,
    render,
    render_markdown,
)
from shadow.cutover.sidebyside import pretty
from tests.cutover.cutover_factories import DECLARED, NOW, PLAN, evidence, group, healthy_methods

MODES = {s: Mode.SHADOW for s in PLAN.services} | {"queue": Mode.LEGACY}


def sample_report() -> dict[str, Any]:
    methods = (
        *healthy_methods(),
        MethodEvidence("state", "undeclared_extra", {"match": 3, "skipped": 2}),
    )
    methods = tuple(
        MethodEvidence(
            m.service,
            m.method,
            {"match": 400, "divergence": 4, "raced": 3, "candidate_error": 1, "skipped": 9},
            m.legacy,
            m.candidate,
        )
        if (m.service, m.method) == ("settings", "get")
        else m
        for m in methods
    )
    groups = (
        group(count=4),
        group(
            "state",
            "get_by_key",
            fingerprint="fp-state",
            status=ReviewStatus.ACCEPTED,
            note="trailing | pipe",
            expires_at=NOW + timedelta(days=3),
        ),
    )
    found = evidence(methods=methods, groups=groups, dirty=frozenset({"users"}), drops={"users": 2})
    return build_report(
        plan=PLAN, policies=PolicySet(), evidence=found, modes=MODES, declared_methods=DECLARED
    )


def markdown_tables(text: str) -> list[list[list[str]]]:
    """Every table in a Markdown text, as rows of cells (header included, rule dropped)."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            if not re.fullmatch(r"\|(---\|)+", line):
                cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
                current.append([cell.strip().replace("\\|", "|") for cell in cells])
        elif current:
            tables.append(current)
            current = []
    return tables


def test_markdown_carries_every_fact_of_the_json_report() -> None:
    report = sample_report()
    markdown = render_markdown(report)
    tables = markdown_tables(markdown)
    # Gate: one criteria table per phase, same verdicts and evidence lines.
    criteria_tables = [t[1:] for t in tables if t[0] == ["criterion", "verdict", "evidence"]]
    assert len(criteria_tables) == len(report["phases"])
    for phase, table in zip(report["phases"], criteria_tables, strict=True):
        expected = [
            [c["name"], "PASS" if c["passed"] else "FAIL", c["summary"]] for c in phase["criteria"]
        ]
        assert table == expected
        assert f"### Phase {phase['phase']}: {'PASS' if phase['passed'] else 'FAIL'}" in markdown
    # Methods: every method of every service with its outcome counts and latency figures
    # (all judged here: 1000 samples a side, or none).
    [methods] = [t for t in tables if t[0][:3] == ["service", "method", "match"]]
    by_key = {(row[0], row[1]): row[2:] for row in methods[1:]}
    expected_rows = {
        (s["service"], m["method"]): [
            *(str(m["outcomes"][o]) for o in Outcome),
            f"{m['samples']['legacy']}/{m['samples']['candidate']}",
            *(format_seconds((m["legacy"] or {}).get(q)) for q in ("p50", "p95", "p99")),
            *(format_seconds((m["candidate"] or {}).get(q)) for q in ("p50", "p95", "p99")),
            format_ratio(m["p95_ratio"]),
        ]
        for s in report["services"]
        for m in s["methods"]
    }
    assert by_key == expected_rows
    # Groups: fingerprint, count, review state, note, expiry; examples verbatim.
    group_rows = [row for t in tables if t[0][0] == "fingerprint" for row in t[1:]]
    for service in report["services"]:
        for g in service["groups"]:
            assert [g["fingerprint"], g["method"], str(g["count"]), g["state"]] in [
                row[:4] for row in group_rows
            ]
            assert [g["note"] or "-", g["expires_at"] or "-"] in [row[4:6] for row in group_rows]
            if g["blocks_gate"]:  # open groups' examples, pretty-printed (not in runtime shape)
                for example in g["examples"]:
                    assert "\n".join(pretty(example)) in markdown
    assert "Dirty: users (2 drops)." in markdown


def test_report_lists_undeclared_methods_seen_and_declared_methods_never_seen() -> None:
    report = sample_report()
    state = next(s for s in report["services"] if s["service"] == "state")
    extra = next(m for m in state["methods"] if m["method"] == "undeclared_extra")
    assert extra["declared"] is False and extra["outcomes"]["skipped"] == 2
    queue = next(s for s in report["services"] if s["service"] == "queue")
    assert queue["methods"] and all(m["compared"] == 500 for m in queue["methods"])


def test_report_shows_review_states_and_the_failing_phase() -> None:
    report = sample_report()
    phase1 = report["phases"][0]
    assert phase1["passed"] is False and "open_divergences" in phase1["failed"]
    states = {g["fingerprint"]: g["state"] for s in report["services"] for g in s["groups"]}
    assert states == {"fp-settings-get": "open", "fp-state": "accepted"}


def test_json_rendering_round_trips() -> None:
    report = sample_report()
    assert json.loads(render(report, "json")) == report


def test_unknown_format_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown report format 'pdf'"):
        render(sample_report(), "pdf")


def test_html_is_self_contained_and_escapes_values() -> None:
    html = render(sample_report(), "html")
    assert "<script" not in html and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    assert "https://" not in html
    assert "trailing | pipe" in html and "<svg" in html
    assert 'id="phase-1-verdict">FAIL<' in html
