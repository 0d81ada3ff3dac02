"""The report for a decision: may each phase and service go, what diverged, what to run next."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from shadow._vocabulary import LatencySummary, Mode
from shadow.cutover.decision import review_order
from shadow.cutover.evidence import DivergenceGroup, MethodEvidence
from shadow.cutover.next_steps import CommandOptions
from shadow.cutover.policy import GatePolicy, PolicySet
from shadow.cutover.report import build_report, render
from tests.cutover.cutover_factories import (
    DECLARED,
    FAST,
    NOW,
    PLAN,
    SLOWER,
    evidence,
    healthy_methods,
)

MODES = {s: Mode.SHADOW for s in PLAN.services} | {"queue": Mode.LEGACY}
FINGERPRINT = "fp-settings-get"
SCRIPT = "<script>alert(1)</script>"

EXAMPLE = {
    "seen_at": NOW.isoformat(),
    "outcome": "divergence",
    "mirror": "candidate",
    "write": False,
    "arguments": {"key": "theme"},
    "error_types": [],
    "differences": [
        {
            "path": "root['value']",
            "change": "values_changed",
            "authoritative": {"colour": "dark", "sizes": [1, 2], "label": SCRIPT},
            "mirror": {"colour": "DARK", "sizes": [1, 2, 3], "label": SCRIPT},
        }
    ],
}

RELAXED = PolicySet(GatePolicy(max_divergence_rate=0.05, min_soak=timedelta(0)))


def one_sample(seconds: float) -> LatencySummary:
    return LatencySummary(count=1, p50=seconds, p95=seconds, p99=seconds)


def decision_report(
    policies: PolicySet = RELAXED, commands: CommandOptions | None = None
) -> dict[str, Any]:
    """settings.get diverged in 38 of 207 calls (an open group); the pooled rate of phase 1
    passes under a 5% limit; users.create has one latency sample a side, 152x apart."""
    planted = {
        ("settings", "get"): MethodEvidence(
            "settings", "get", {"match": 169, "divergence": 38}, FAST, SLOWER
        ),
        ("users", "create"): MethodEvidence(
            "users", "create", {"match": 500}, one_sample(0.0001), one_sample(0.0152)
        ),
    }
    methods = [planted.get((item.service, item.method), item) for item in healthy_methods()]
    group = DivergenceGroup(
        fingerprint=FINGERPRINT,
        service="settings",
        method="get",
        paths=("root['value']",),
        error_types=(),
        count=38,
        first_seen=NOW - timedelta(hours=1),
        last_seen=NOW - timedelta(minutes=5),
        examples=(EXAMPLE,),
    )
    return build_report(
        plan=PLAN,
        policies=policies,
        evidence=evidence(methods=tuple(methods), groups=(group,)),
        modes=MODES,
        declared_methods=DECLARED,
        commands=commands,
    )


def _headings(text: str, pattern: str) -> list[str]:
    return re.findall(pattern, text, re.M)


def test_the_decision_comes_first_then_divergences_and_commands_then_latency_and_coverage() -> None:
    report = decision_report()
    markdown = render(report, "md")
    sections = _headings(markdown, r"^## (.+)$")
    assert sections[:3] == ["Decision", "Open divergence groups (1)", "Next commands"]
    assert sections.index("Comparisons and latency per method") > 3
    assert sections.index("Candidate code run by compared calls") > 3
    html = render(report, "html")
    order = [html.index(f'<section id="{name}"') for name in ("decision", "divergences", "next")]
    assert order == sorted(order)
    assert html.index('id="latency"') > order[-1] and html.index('id="coverage"') > order[-1]


def test_each_phase_and_each_service_says_whether_it_may_go_and_what_blocks_it() -> None:
    decided = {phase["phase"]: phase for phase in decision_report()["decision"]}
    phase1 = decided[1]
    assert phase1["may_go"] is False
    assert [item["name"] for item in phase1["blocking"]] == ["open_divergences"]
    assert phase1["blocking"][0]["anchor"] == f"group-{FINGERPRINT}"  # the group itself
    alone = {service["service"]: service for service in phase1["services"]}
    assert alone["state"]["may_go"] is True and alone["state"]["blocking"] == []
    assert alone["settings"]["may_go"] is False
    # Judged alone, settings' own rate (38 of 707) fails too: the decision says so.
    assert {item["name"] for item in alone["settings"]["blocking"]} == {
        "divergence_rate",
        "open_divergences",
    }
    assert decided[3]["current"] == "legacy" and decided[3]["target"] == "shadow"


def test_every_link_of_the_html_report_lands_on_an_element_of_it() -> None:
    html = render(decision_report(), "html")
    targets = set(re.findall(r'href="#([^"]+)"', html))
    ids = set(re.findall(r'id="([^"]+)"', html))
    assert targets and targets <= ids, targets - ids
    decision = html[html.index('<section id="decision"') : html.index('<section id="divergences"')]
    assert f'href="#group-{FINGERPRINT}"' in decision
    assert f'<article class="group" id="group-{FINGERPRINT}">' in html


def test_a_method_over_the_limit_is_visible_though_the_pooled_rate_passes() -> None:
    report = decision_report()
    rate = next(c for c in report["phases"][0]["criteria"] if c["name"] == "divergence_rate")
    assert rate["passed"] is True  # 38 of 1707 pooled: the phase's rate passes
    [row] = report["method_rates"]
    assert (row["service"], row["method"], row["divergences"], row["compared"]) == (
        "settings",
        "get",
        38,
        207,
    )
    assert row["over_limit"] is True
    markdown = render(report, "md")
    decision = markdown[: markdown.index("## Open divergence groups")]
    assert (
        "- settings.get: 38 (18.4%) divergent and 0 (0.0%) candidate errors of 207 compared calls"
        in decision
    )
    assert "| settings | get | 207 | 38 (18.4%) | 0 (0.0%) | OVER |" in markdown
    html = render(report, "html")
    decision_html = html[: html.index('<section id="divergences"')]
    assert "settings.get</a> 38 (18.4%) of 207" in decision_html


def test_open_group_examples_show_both_values_side_by_side_with_the_differences_marked() -> None:
    report = decision_report()
    html = render(report, "html")
    group = html[html.index(f'id="group-{FINGERPRINT}"') :]
    assert '<mark class="del">dark</mark>' in group and '<mark class="ins">DARK</mark>' in group
    assert '<span class="line">    2<mark class="ins">,</mark></span>' in group
    assert '<mark class="ins">    3</mark>' in group
    assert '<span class="line filler">' in group  # the line only the mirror has
    # Values are escaped (autoescape): a script in a stored value is text, not markup.
    assert SCRIPT not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    markdown = render(report, "md")
    assert "```diff" in markdown
    assert '-   "colour": "dark",' in markdown and '+   "colour": "DARK",' in markdown
    assert json.dumps(EXAMPLE, sort_keys=True) not in markdown  # not one cut-off line


def test_next_commands_are_exact_and_act_on_the_files_of_the_report(tmp_path: Path) -> None:
    options = CommandOptions.of(
        config=tmp_path / "shadow.toml",
        store="postgresql://shadow:s3cret@db.internal/shadow",
        policy=tmp_path / "gate-policy.toml",
    )
    report = decision_report(commands=options)
    [group] = [g for s in report["services"] for g in s["groups"]]
    expires = (NOW + timedelta(days=7)).date().isoformat()
    located = (
        f"--config {tmp_path / 'shadow.toml'} --store 'postgresql://shadow:***@db.internal/shadow'"
    )
    # The files' options go before the command, where the command line takes them.
    assert group["commands"]["accept"] == (
        f"shadow {located} divergences accept {FINGERPRINT} "
        f"--note '<why this difference is acceptable>' --expires {expires}"
    )
    assert group["commands"]["fixed"].startswith(
        f"shadow {located} divergences fixed {FINGERPRINT} --note "
    )
    commands = [step["command"] for step in report["next_commands"]]
    gate_files = f"{located} --policy {tmp_path / 'gate-policy.toml'}"
    assert (
        f"shadow {gate_files} promote --phase 1 --service state --reason '<why this step now>'"
    ) in commands
    assert f"shadow {gate_files} gate --phase 1" in commands
    # The store's password never reaches a report, in any format.
    for fmt in ("json", "md", "html"):
        assert "s3cret" not in render(report, fmt)


def test_the_policy_is_in_every_format_and_a_relaxed_one_is_flagged() -> None:
    report = decision_report()
    assert [item["name"] for item in report["phases"][0]["relaxed"]] == [
        "max_divergence_rate",
        "min_soak",
    ]
    markdown = render(report, "md")
    assert "**RELAXED POLICY: looser than the built-in production defaults on" in markdown
    assert "| max_divergence_rate | 0.05 (relaxed) | 0.05 (relaxed) | 0.05 (relaxed) | 0.01 |" in (
        markdown
    )
    assert "| min_comparisons | 200 | 200 | 200 | 200 |" in markdown
    html = render(report, "html")
    assert 'id="relaxed-policy"' in html and 'id="policy-table"' in html
    assert "<td>0.05 (relaxed)</td>" in html
    strict = decision_report(policies=PolicySet())
    assert strict["phases"][0]["relaxed"] == []
    assert "RELAXED POLICY" not in render(strict, "md") + render(strict, "html")
    assert "| max_divergence_rate | 0.01 | 0.01 | 0.01 | 0.01 |" in render(strict, "md")


def test_latency_from_too_few_samples_is_marked_not_judged() -> None:
    report = decision_report()
    users = next(s for s in report["services"] if s["service"] == "users")
    create = next(m for m in users["methods"] if m["method"] == "create")
    assert create["latency_judged"] is False and create["samples"] == {"legacy": 1, "candidate": 1}
    markdown = render(report, "md")
    [row] = [line for line in markdown.splitlines() if line.startswith("| users | create | 500 ")]
    assert row.endswith("| 1/1 | (100 us) | (100 us) | (100 us) | (15.2 ms) | (15.2 ms) | "
                        "(15.2 ms) | not judged (1 sample) |")  # fmt: skip
    assert "152.00x" not in markdown
    html = render(report, "html")
    assert '<tr class="unjudged"><td>users</td><td>create</td>' in html
    chart = re.search(r'<svg class="chart" id="latency-users".*?</svg>', html, re.S)
    assert chart is not None
    assert ">get</text>" in chart.group(0) and ">create</text>" not in chart.group(0)


def test_open_groups_are_reviewed_most_seen_story_first() -> None:
    def group(fingerprint: str, count: int, root: str | None = None) -> dict[str, Any]:
        return {"fingerprint": fingerprint, "count": count, "root": root, "blocks_gate": True}

    groups = [
        group("rare", 1),
        group("rare-consequence", 50, root="rare"),  # read after its root, whatever its count
        group("accepted", 500) | {"blocks_gate": False},
        group("frequent", 81),
    ]
    ordered = [g["fingerprint"] for g in review_order(groups)]
    assert ordered == ["frequent", "rare", "rare-consequence"]


def test_a_rate_failing_on_too_few_comparisons_links_to_its_own_line() -> None:
    few = tuple(
        MethodEvidence(item.service, item.method, {"match": 5}, FAST, SLOWER)
        for item in healthy_methods()
    )
    report = build_report(
        plan=PLAN,
        policies=RELAXED,
        evidence=evidence(methods=few),
        modes=MODES,
        declared_methods=DECLARED,
    )
    blocking = {item["name"]: item["anchor"] for item in report["decision"][0]["blocking"]}
    # 0 divergences in 20 calls: the bound is still above 5%, and nothing diverged.
    assert blocking["divergence_rate"] == "phase-1-divergence_rate"
    assert blocking["min_comparisons"] == "methods"
    html = render(report, "html")
    assert 'href="#phase-1-divergence_rate"' in html and 'id="phase-1-divergence_rate"' in html
