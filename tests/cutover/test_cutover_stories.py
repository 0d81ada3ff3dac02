"""One bug, one story: roots first, their consequences under them, in reports and lists."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from shadow.cutover.evidence import DivergenceGroup
from shadow.cutover.plan import Mode
from shadow.cutover.policy import PolicySet
from shadow.cutover.report import build_report, render_markdown
from shadow.cutover.stories import stories
from tests.cutover.cutover_factories import DECLARED, NOW, PLAN, evidence, group


def _linked(fingerprint: str, root: str | None, *, minutes: int, count: int = 1) -> DivergenceGroup:
    return dataclasses.replace(
        group(fingerprint=fingerprint, count=count),
        root=root,
        first_seen=NOW - timedelta(minutes=minutes),
    )


def test_stories_put_each_root_first_with_its_consequences_earliest_first() -> None:
    """Roots keep the list's order; consequences follow their root by first_seen."""
    root = _linked("root", None, minutes=50, count=1)
    late = _linked("late", "root", minutes=10, count=9)
    early = _linked("early", "root", minutes=40, count=5)
    alone = _linked("alone", None, minutes=30, count=7)
    arranged = stories([late, alone, early, root])  # most frequent first, as listed
    assert [[g.fingerprint for g in story.groups] for story in arranged] == [
        ["alone"],
        ["root", "early", "late"],
    ]


def test_a_consequence_whose_root_is_filtered_out_is_still_shown() -> None:
    """Listing one state or service never hides a group: an orphan stands alone."""
    orphan = _linked("orphan", "reviewed-root", minutes=5)
    assert [story.root.fingerprint for story in stories([orphan])] == ["orphan"]


def test_reports_list_the_root_first_and_name_it_for_each_consequence() -> None:
    """JSON and Markdown carry the link; the gate still counts every open group."""
    groups = (
        _linked("fp-child", "fp-root", minutes=10, count=12),
        _linked("fp-root", None, minutes=50, count=1),
    )
    report = build_report(
        plan=PLAN,
        policies=PolicySet(),
        evidence=evidence(groups=groups),
        modes={s: Mode.SHADOW for s in PLAN.services},
        declared_methods=DECLARED,
    )
    [service] = [s for s in report["services"] if s["groups"]]
    assert [(g["fingerprint"], g["root"]) for g in service["groups"]] == [
        ("fp-root", None),
        ("fp-child", "fp-root"),
    ]
    markdown = render_markdown(report)
    assert "| consequence of |" in markdown
    root_row = next(line for line in markdown.splitlines() if line.startswith("| fp-root "))
    child_row = next(line for line in markdown.splitlines() if line.startswith("| fp-child "))
    assert markdown.index(root_row) < markdown.index(child_row)
    assert child_row.rstrip().endswith("| fp-root |")
    open_groups = next(
        c
        for phase in report["phases"]
        for c in phase["criteria"]
        if c["name"] == "open_divergences"
    )
    assert open_groups["summary"].startswith("2 divergence group(s) open")
