"""Evidence by origin: ``shadow report`` splits traffic from exploration; the gate knows it.

The divergence store counts every comparison in its totals and, apart, what
exploration made (shadow_origin_counts, shadow_group_origins); the report
splits each method's outcomes and each group's divergences by origin, sums
them per origin, and shows the same facts in JSON, Markdown and HTML. The
latency criterion expects latency samples only where traffic compared calls.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from shadow._sources import FixedClock
from shadow._vocabulary import Mode
from shadow.cutover.criteria import evaluate_gate
from shadow.cutover.evidence import MethodEvidence
from shadow.cutover.policy import PolicySet
from shadow.cutover.report import build_report, render
from shadow.cutover.store import load_evidence
from shadow.runtime import DivergenceStore
from shadow.runtime._provenance import EXPLORATION, record_origin
from shadow.runtime._store import StoreBatch
from tests.cutover.cutover_factories import DECLARED, PLAN, evidence, healthy_methods

AT = datetime(2026, 11, 1, 12, tzinfo=UTC)


def _batch(matches: int, divergences: int) -> StoreBatch:
    batch = StoreBatch()
    for _ in range(matches):
        batch.add_outcome("settings", "get", "match", evidence=True, at=AT)
    for _ in range(divergences):
        batch.add_outcome("settings", "get", "divergence", evidence=True, at=AT)
        batch.add_divergence(
            "fp-explored",
            service="settings",
            method="get",
            outcome="divergence",
            paths=("root['value']",),
            error_types=(),
            at=AT,
            example={"args": ["k"], "seen_at": AT.isoformat()},
        )
    return batch


def _report(tmp_path: Path) -> dict[str, Any]:
    """A store with 10 matches from traffic, 5 matches and 2 divergences from exploration."""
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    store = DivergenceStore(url)
    try:
        store.record(_batch(10, 0))  # traffic: recorded, no origin row
        explored = _batch(5, 2)
        store.record(explored)
        record_origin(store, explored, EXPLORATION)
    finally:
        store.close()
    found = load_evidence(url, clock=FixedClock(AT + timedelta(hours=1)))
    modes = {service: Mode.SHADOW for service in PLAN.services}
    return build_report(
        plan=PLAN, policies=PolicySet(), evidence=found, modes=modes, declared_methods=DECLARED
    )


def test_report_splits_a_methods_comparisons_and_a_groups_divergences_by_origin(
    tmp_path: Path,
) -> None:
    """Traffic's share is the total minus exploration's, per outcome and per group."""
    report = _report(tmp_path)
    [settings] = [s for s in report["services"] if s["service"] == "settings"]
    [get] = [m for m in settings["methods"] if m["method"] == "get"]
    assert get["origins"]["traffic"]["match"] == 10
    assert get["origins"]["traffic"]["divergence"] == 0
    assert get["origins"]["exploration"]["match"] == 5
    assert get["origins"]["exploration"]["divergence"] == 2
    [group] = settings["groups"]
    assert group["origins"] == {"traffic": 0, "exploration": 2}
    assert report["origins"]["traffic"] == {"compared": 10, "divergences": 0, "groups": 0}
    assert report["origins"]["exploration"] == {"compared": 7, "divergences": 2, "groups": 1}


def test_markdown_and_html_show_the_origin_of_comparisons_and_groups(tmp_path: Path) -> None:
    """Both formats carry the per-origin summary, method rows and group rows."""
    report = _report(tmp_path)
    markdown = render(report, "md")
    assert "## Evidence by origin" in markdown
    assert "exploration: 7 calls compared, 2 divergences, 1 divergence groups." in markdown
    assert "traffic: 10 calls compared, 0 divergences, 0 divergence groups." in markdown
    assert re.search(r"^\| traffic \| settings \| get \| 10 \| 0 \|", markdown, re.M)
    assert re.search(r"^\| exploration \| settings \| get \| 5 \| 2 \|", markdown, re.M)
    assert "| exploration | fp-explored | settings | get | 2 |" in markdown
    assert "| traffic | fp-explored |" not in markdown  # traffic never saw this group
    html = render(report, "html")
    assert "<h2>Evidence by origin</h2>" in html
    assert "exploration: 7 calls compared, 2 divergences, 1 divergence groups." in html
    assert re.search(r"<td>exploration</td><td>fp-explored</td>", html)


def test_a_store_without_exploration_reports_everything_as_traffic(tmp_path: Path) -> None:
    """No origin rows: all comparisons and groups are traffic's, no exploration origin listed."""
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    store = DivergenceStore(url)
    try:
        store.record(_batch(3, 1))
    finally:
        store.close()
    found = load_evidence(url, clock=FixedClock(AT + timedelta(hours=1)))
    report = build_report(
        plan=PLAN,
        policies=PolicySet(),
        evidence=found,
        modes={service: Mode.SHADOW for service in PLAN.services},
        declared_methods=DECLARED,
    )
    assert report["origins"] == {"traffic": {"compared": 4, "divergences": 1, "groups": 1}}
    [settings] = [s for s in report["services"] if s["service"] == "settings"]
    assert settings["groups"][0]["origins"] == {"traffic": 1}


def _latency_passes(origin_counts: dict[tuple[str, str, str, str], int]) -> bool:
    """The phase-1 latency criterion when settings.get has 400 matches and no latency samples."""
    methods = tuple(
        MethodEvidence(m.service, m.method, {"match": 400})
        if (m.service, m.method) == ("settings", "get")
        else m
        for m in healthy_methods()
    )
    found = replace(evidence(methods=methods), origin_counts=origin_counts)
    verdict = evaluate_gate(
        1,
        plan=PLAN,
        policy=PolicySet().for_phase(1),
        evidence=found,
        modes={service: Mode.SHADOW for service in PLAN.services},
        declared_methods=DECLARED,
    )
    [latency] = [c for c in verdict.criteria if c.name == "latency"]
    return latency.passed


def test_comparisons_made_by_exploration_do_not_call_for_latency_samples() -> None:
    """Exploration records no latency: only traffic's comparisons make missing samples a failure."""
    assert not _latency_passes({}), "400 traffic comparisons and no latency: evidence missing"
    assert _latency_passes({("settings", "get", "match", EXPLORATION): 400})
