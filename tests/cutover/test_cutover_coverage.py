"""Coverage as evidence in cutover control: the gate's ``coverage`` criterion, the
``min_coverage`` policy key, and the per-service coverage in every report format."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from html import unescape
from pathlib import Path

import pytest

from shadow import ConfigError
from shadow._vocabulary import Mode
from shadow.cutover.criteria import GateVerdict, evaluate_gate
from shadow.cutover.evidence import CoverageEvidence, Evidence
from shadow.cutover.policy import GatePolicy, PolicySet, load_policies
from shadow.cutover.report import build_report, render
from tests.cutover.cutover_factories import DECLARED, PLAN, evidence

ALL_SHADOW = {service: Mode.SHADOW for service in PLAN.services}


def measured(service: str, hit: int, total: int = 100) -> CoverageEvidence:
    """``hit`` of ``total`` lines run (no branches); the rest listed as never run."""
    missing = {f"app/{service}.py": tuple(range(1000, 1000 + total - hit))} if hit < total else {}
    return CoverageEvidence(service, total, hit, 0, 0, missing)


def with_coverage(**shares: int) -> Evidence:
    return replace(evidence(), coverage={name: measured(name, hit) for name, hit in shares.items()})


def gate(policy: GatePolicy, facts: Evidence, phase: int = 1) -> GateVerdict:
    return evaluate_gate(
        phase,
        plan=PLAN,
        policy=policy,
        evidence=facts,
        modes=ALL_SHADOW,
        declared_methods=DECLARED,
    )


POLICY = GatePolicy(min_comparisons=100, min_soak=timedelta(hours=1))


def test_without_min_coverage_the_criterion_passes_and_still_shows_the_lowest_share() -> None:
    """No min_coverage: not a criterion (passes), even with nothing measured."""
    verdict = gate(POLICY, with_coverage(settings=30, state=90))
    criterion = verdict.criterion("coverage")
    assert criterion.passed and verdict.passed
    assert "not required" in criterion.summary and "lowest 30%" in criterion.summary
    assert gate(POLICY, evidence()).criterion("coverage").passed


def test_min_coverage_passes_when_every_service_of_the_phase_reaches_it() -> None:
    """Both phase-1 services at or above the share: the criterion passes."""
    verdict = gate(replace(POLICY, min_coverage=0.6), with_coverage(settings=60, state=95))
    assert verdict.criterion("coverage").passed, verdict.criterion("coverage").summary
    assert verdict.passed


def test_min_coverage_fails_naming_the_service_below_it() -> None:
    """One service under the share fails the gate on ``coverage`` alone, naming it."""
    verdict = gate(replace(POLICY, min_coverage=0.6), with_coverage(settings=59, state=95))
    assert verdict.failed == ("coverage",)
    assert "settings (59%)" in verdict.criterion("coverage").summary
    assert "state" not in verdict.criterion("coverage").summary.split(":", 1)[1]


def test_min_coverage_fails_a_service_that_was_never_measured() -> None:
    """Coverage off (nothing measured) cannot pass a gate that asks for a share."""
    verdict = gate(replace(POLICY, min_coverage=0.1), with_coverage(settings=100))
    assert verdict.failed == ("coverage",)
    assert "state (not measured)" in verdict.criterion("coverage").summary


def test_branches_count_in_the_share_like_coverage_py_total() -> None:
    """share = (lines run + branches run) / (lines + branches)."""
    item = CoverageEvidence("settings", lines=80, lines_hit=60, branches=20, branches_hit=5)
    assert item.share == pytest.approx(65 / 100)
    assert CoverageEvidence("x", 0, 0, 0, 0).share == 0.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("min_coverage = 1.5", "min_coverage must be a share in [0, 1]"),
        ("min_coverage = -0.1", "min_coverage must be a share in [0, 1]"),
        ("min_coverage = true", "min_coverage has the wrong type"),
        ('min_coverage = "80%"', "min_coverage has the wrong type"),
    ],
)
def test_a_bad_min_coverage_is_refused_with_one_clear_message(
    tmp_path: Path, text: str, message: str
) -> None:
    """A typo must not silently loosen the gate."""
    path = tmp_path / "gate-policy.toml"
    path.write_text(f"[defaults]\n{text}\n")
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_policies(path)


def test_min_coverage_is_read_from_the_policy_file_per_phase(tmp_path: Path) -> None:
    """Defaults apply to every phase; a phase may override."""
    path = tmp_path / "gate-policy.toml"
    path.write_text("[defaults]\nmin_coverage = 0.5\n\n[phase.3]\nmin_coverage = 0.9\n")
    policies = load_policies(path)
    assert policies.for_phase(1).min_coverage == 0.5
    assert policies.for_phase(3).min_coverage == 0.9


def report_with_coverage() -> dict[str, object]:
    facts = with_coverage(settings=97, state=100)
    return build_report(
        plan=PLAN,
        policies=PolicySet(replace(POLICY, min_coverage=0.5)),
        evidence=facts,
        modes=ALL_SHADOW,
        declared_methods=DECLARED,
    )


def test_coverage_per_service_appears_in_json_markdown_and_html() -> None:
    """The share and the lines never run, per service, in all three formats."""
    report = report_with_coverage()
    data = json.loads(render(report, "json"))
    by_service = {item["service"]: item["coverage"] for item in data["services"]}
    assert by_service["settings"]["share"] == pytest.approx(0.97)
    assert by_service["settings"]["missing"] == {"app/settings.py": "1000-1002"}
    assert by_service["state"]["missing"] == {}
    assert by_service["users"] is None  # not measured
    markdown = render(report, "md")
    assert "## Candidate code run by compared calls" in markdown
    assert "| settings | 97.0% | 97/100 | 0/0 | app/settings.py: 1000-1002 |" in markdown
    assert "| state | 100.0% | 100/100 | 0/0 | none |" in markdown
    html = unescape(render(report, "html"))
    assert "Candidate code run by compared calls" in html
    assert "app/settings.py: 1000-1002" in html and "97.0%" in html


def test_reports_say_so_when_coverage_was_not_measured() -> None:
    """With the runtime's coverage off, the section says it is off instead of showing 0%."""
    report = build_report(
        plan=PLAN,
        policies=PolicySet(POLICY),
        evidence=evidence(),
        modes=ALL_SHADOW,
        declared_methods=DECLARED,
    )
    assert "Not measured (the runtime's `coverage` setting is off)." in render(report, "md")
    assert "Not measured" in render(report, "html")
