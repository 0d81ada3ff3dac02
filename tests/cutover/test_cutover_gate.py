"""The gate: every criterion passes on good evidence and fails, by name, on bad."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from shadow import ConfigError
from shadow._vocabulary import LatencySummary, Mode, ReviewStatus
from shadow.cutover.criteria import CRITERIA, GateVerdict, evaluate_gate, wilson_upper_bound
from shadow.cutover.evidence import MethodEvidence
from shadow.cutover.policy import GatePolicy
from tests.cutover.cutover_factories import (
    DECLARED,
    FAST,
    NOW,
    PLAN,
    evidence,
    group,
    healthy_methods,
)

ALL_SHADOW = {service: Mode.SHADOW for service in PLAN.services}


def gate(phase: int = 1, **overrides: object) -> GateVerdict:
    arguments: dict[str, object] = {
        "plan": PLAN,
        "policy": GatePolicy(min_comparisons=100, min_soak=timedelta(hours=1)),
        "evidence": evidence(),
        "modes": ALL_SHADOW,
        "declared_methods": DECLARED,
    }
    arguments.update(overrides)
    return evaluate_gate(phase, **arguments)  # type: ignore[arg-type]


def test_healthy_evidence_passes_every_criterion_in_order() -> None:
    verdict = gate()
    assert verdict.passed, verdict.to_dict()
    assert [criterion.name for criterion in verdict.criteria] == list(CRITERIA)
    assert verdict.current is Mode.SHADOW and verdict.target is Mode.REVERSE


def test_wilson_bound_matches_known_values_and_is_wide_for_small_samples() -> None:
    # 0 of 100 at 95%: z^2 / (n + z^2) = 3.8415 / 103.8415
    assert wilson_upper_bound(0, 100, 0.95) == pytest.approx(0.036994, abs=1e-5)
    assert wilson_upper_bound(5, 100, 0.95) == pytest.approx(0.111750, abs=1e-5)
    assert wilson_upper_bound(0, 0, 0.95) == 1.0
    assert wilson_upper_bound(0, 10, 0.95) > wilson_upper_bound(0, 1000, 0.95)


def test_an_uncalled_declared_method_fails_min_comparisons_naming_it() -> None:
    methods = tuple(
        m for m in healthy_methods() if (m.service, m.method) != ("state", "get_by_key")
    )
    verdict = gate(evidence=evidence(methods=methods))
    assert verdict.failed == ("min_comparisons",)
    assert "state.get_by_key (0)" in verdict.criterion("min_comparisons").summary
    assert "1 not judged" in verdict.criterion("latency").summary


def test_raced_and_skipped_calls_are_not_counted_as_comparisons() -> None:
    methods = tuple(
        replace(m, outcomes={"match": 50, "raced": 500, "skipped": 500}) for m in healthy_methods()
    )
    assert "min_comparisons" in gate(evidence=evidence(methods=methods)).failed


def test_divergence_rate_uses_the_upper_bound_not_the_point_estimate() -> None:
    # 0 divergences in 200 comparisons per method: point rate 0, bound ~0.95% > 0.5%.
    methods = healthy_methods(matches=100)
    strict = GatePolicy(min_comparisons=1, max_divergence_rate=0.005)
    verdict = gate(policy=strict, evidence=evidence(methods=methods))
    assert verdict.failed == ("divergence_rate",)
    loose = GatePolicy(min_comparisons=1, max_divergence_rate=0.02)
    assert gate(policy=loose, evidence=evidence(methods=methods)).passed


def test_divergences_in_another_phase_do_not_count_against_this_one() -> None:
    methods = tuple(
        replace(m, outcomes={"match": 500, "divergence": 400}) if m.service == "users" else m
        for m in healthy_methods()
    )
    assert gate(phase=1, evidence=evidence(methods=methods)).passed
    assert "divergence_rate" in gate(phase=2, evidence=evidence(methods=methods)).failed


def test_an_open_group_blocks_and_an_accepted_unexpired_one_does_not() -> None:
    opened = gate(evidence=evidence(groups=(group(),)))
    assert opened.failed == ("open_divergences",)
    assert "settings.get fp-settings-get" in opened.criterion("open_divergences").summary
    accepted = group(status=ReviewStatus.ACCEPTED, note="known", expires_at=NOW + timedelta(1))
    verdict = gate(evidence=evidence(groups=(accepted,)))
    assert verdict.passed
    assert verdict.criterion("open_divergences").details[0]["state"] == "accepted"


def test_an_accepted_group_blocks_again_once_expired() -> None:
    expired = group(status=ReviewStatus.ACCEPTED, note="known", expires_at=NOW)
    verdict = gate(evidence=evidence(groups=(expired,)))
    assert verdict.failed == ("open_divergences",)
    assert verdict.criterion("open_divergences").details[0]["state"] == "expired"


def test_a_group_of_another_phase_does_not_block() -> None:
    assert gate(evidence=evidence(groups=(group(service="users"),))).passed


def test_candidate_error_rate_above_threshold_fails() -> None:
    methods = tuple(
        replace(m, outcomes={"match": 480, "candidate_error": 20}) if m.service == "state" else m
        for m in healthy_methods()
    )
    verdict = gate(evidence=evidence(methods=methods))
    assert verdict.failed == ("candidate_errors",)
    assert (
        "40 candidate errors in 2000 comparisons" in verdict.criterion("candidate_errors").summary
    )


def test_a_slow_candidate_method_fails_latency_naming_the_ratio() -> None:
    slow = LatencySummary(count=1000, p50=0.01, p95=0.02, p99=0.04)
    methods = tuple(
        replace(m, candidate=slow) if (m.service, m.method) == ("settings", "set") else m
        for m in healthy_methods()
    )
    verdict = gate(evidence=evidence(methods=methods))
    assert verdict.failed == ("latency",)
    assert "settings.set (100.00x)" in verdict.criterion("latency").summary


def test_latency_missing_on_one_side_of_a_well_compared_method_fails() -> None:
    methods = tuple(replace(m, candidate=None) for m in healthy_methods())
    verdict = gate(evidence=evidence(methods=methods))
    assert "latency" in verdict.failed
    assert "settings.get (no latency samples)" in verdict.criterion("latency").summary


def test_a_p95_from_too_few_samples_is_not_judged() -> None:
    few = LatencySummary(count=3, p50=0.01, p95=0.05, p99=0.05)  # 250x legacy, 3 calls
    methods = tuple(
        replace(m, outcomes={"match": 3}, candidate=few)
        if (m.service, m.method) == ("settings", "set")
        else m
        for m in healthy_methods()
    )
    policy = GatePolicy(min_comparisons=1, min_soak=timedelta(0))
    verdict = gate(policy=policy, evidence=evidence(methods=methods))
    assert "latency" not in verdict.failed
    assert "1 not judged (< 20 samples): settings.set (3)" in verdict.criterion("latency").summary
    strict = GatePolicy(min_comparisons=1, min_latency_samples=2, min_soak=timedelta(0))
    assert "latency" in gate(policy=strict, evidence=evidence(methods=methods)).failed


def test_soak_shorter_than_policy_fails_and_no_comparison_at_all_fails() -> None:
    assert gate(evidence=evidence(soaked=timedelta(minutes=30))).failed == ("soak",)
    assert "soak" in gate(evidence=evidence(soaked=None)).failed


def test_a_dirty_service_fails_with_its_drop_count() -> None:
    verdict = gate(evidence=evidence(dirty=frozenset({"state"}), drops={"state": 7}))
    assert verdict.failed == ("no_dirty",)
    assert "state (7 drops)" in verdict.criterion("no_dirty").summary


def test_phase_three_cannot_step_before_phases_one_and_two() -> None:
    modes = {**ALL_SHADOW, "users": Mode.SHADOW}
    verdict = gate(phase=3, modes=modes)
    assert verdict.failed == ("previous_phase",)
    modes = {service: Mode.REVERSE for service in PLAN.services_of(2)} | {
        "settings": Mode.REVERSE,
        "state": Mode.REVERSE,
        "queue": Mode.SHADOW,
    }
    assert gate(phase=3, modes=modes).passed


def test_the_phase_step_is_its_least_advanced_service() -> None:
    modes = {**ALL_SHADOW, "settings": Mode.REVERSE}
    verdict = gate(modes=modes)
    assert verdict.current is Mode.SHADOW and verdict.target is Mode.REVERSE


def test_a_single_service_gate_ignores_its_phase_mates() -> None:
    methods = tuple(m for m in healthy_methods() if m.service != "state")
    verdict = gate(evidence=evidence(methods=methods), services=["settings"])
    assert verdict.passed and verdict.services == ("settings",)


def test_unknown_phase_and_foreign_service_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown phase 9"):
        gate(phase=9)
    with pytest.raises(ConfigError, match="not in phase 1"):
        gate(services=["users"])


def test_missing_declared_methods_for_a_service_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no declared methods"):
        gate(declared_methods={"settings": {"get"}})


def test_verdict_dict_lists_policy_and_every_criterion() -> None:
    data = gate(evidence=evidence(groups=(group(),))).to_dict()
    assert data["passed"] is False and data["failed"] == ["open_divergences"]
    assert data["policy"]["min_soak"] == "1h"
    assert [c["name"] for c in data["criteria"]] == list(CRITERIA)


def test_method_evidence_counts_only_compared_outcomes() -> None:
    item = MethodEvidence("s", "m", {"match": 3, "divergence": 2, "candidate_error": 1, "raced": 9})
    assert item.compared == 6
    assert FAST.p95 == 0.0002


def test_accepted_divergences_are_explained_and_leave_the_rate_but_open_ones_count() -> None:
    methods = tuple(
        replace(m, outcomes={"match": 400, "divergence": 100})
        if (m.service, m.method) == ("settings", "get")
        else m
        for m in healthy_methods()
    )
    opened = gate(evidence=evidence(methods=methods, groups=(group(count=100),)))
    assert opened.failed == ("divergence_rate", "open_divergences")
    accepted = group(
        count=100, status=ReviewStatus.ACCEPTED, note="ok", expires_at=NOW + timedelta(1)
    )
    verdict = gate(evidence=evidence(methods=methods, groups=(accepted,)))
    assert verdict.passed, verdict.to_dict()
    assert (
        "0 unexplained divergences (100 more accepted)"
        in verdict.criterion("divergence_rate").summary
    )


def test_soak_uses_the_least_soaked_service_when_the_store_knows_each_start() -> None:
    found = replace(
        evidence(),
        first_comparisons={
            "settings": NOW - timedelta(days=3),
            "state": NOW - timedelta(minutes=5),
        },
    )
    verdict = gate(evidence=found)
    assert verdict.failed == ("soak",)
    assert gate(evidence=found, services=["settings"]).passed
    never = replace(found, first_comparisons={"settings": NOW - timedelta(days=3)})
    assert "never compared: state" in gate(evidence=never).criterion("soak").summary


def test_latency_says_so_when_no_method_had_enough_samples() -> None:
    few = LatencySummary(count=2, p50=0.001, p95=0.001, p99=0.001)
    methods = tuple(
        replace(m, outcomes={"match": 2}, legacy=few, candidate=few) for m in healthy_methods()
    )
    policy = GatePolicy(min_comparisons=1, max_divergence_rate=1.0, min_soak=timedelta(0))
    summary = gate(policy=policy, evidence=evidence(methods=methods)).criterion("latency").summary
    assert summary.startswith("no method had enough samples to judge its p95")
