"""Policy files and phase plans: defaults, overrides, and one clear error for bad input."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from imagegen.cutover import DEMO_POLICY_TOML, REFERENCE_PLAN
from shadow import ConfigError
from shadow._vocabulary import Mode
from shadow.cutover.plan import PhasePlan, load_plan
from shadow.cutover.policy import GatePolicy, load_policies, parse_duration


def write(tmp_path: Path, text: str, name: str = "file.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_no_policy_file_gives_the_built_in_defaults_for_every_phase() -> None:
    assert load_policies(None).for_phase(3) == GatePolicy()
    assert GatePolicy().min_soak == timedelta(hours=24)


def test_a_policy_file_next_to_the_settings_file_is_found_by_name(tmp_path: Path) -> None:
    settings_file = tmp_path / "shadow.toml"
    assert load_policies(None, settings_file=settings_file) == load_policies(None)
    write(tmp_path, "[defaults]\nmin_comparisons = 7\n", name="gate-policy.toml")
    assert load_policies(None, settings_file=settings_file).for_phase(1).min_comparisons == 7
    explicit = write(tmp_path, "[defaults]\nmin_comparisons = 9\n")
    assert load_policies(explicit, settings_file=settings_file).for_phase(1).min_comparisons == 9


def test_the_demo_policy_parses_and_only_relaxes_what_a_short_run_cannot_show(
    tmp_path: Path,
) -> None:
    policy = load_policies(write(tmp_path, DEMO_POLICY_TOML)).for_phase(1)
    assert policy.min_comparisons == 1 and policy.min_soak == timedelta(0)
    assert policy.max_divergence_rate <= 0.05 and policy.max_candidate_error_rate <= 0.01


def test_phase_overrides_apply_on_top_of_file_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[defaults]\nmin_comparisons = 200\nmin_soak = "24h"\n\n[phase.3]\nmax_p95_ratio = 1.5\n',
    )
    policies = load_policies(path)
    assert policies.for_phase(1) == GatePolicy(min_comparisons=200, min_soak=timedelta(hours=24))
    assert policies.for_phase(3) == GatePolicy(
        min_comparisons=200, min_soak=timedelta(hours=24), max_p95_ratio=1.5
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[defaults]\nmin_comparsons = 5\n", "unknown key 'min_comparsons'"),
        ("[defaults]\nmax_divergence_rate = 2.0\n", "max_divergence_rate must be a rate"),
        ('[defaults]\nmin_soak = "soon"\n', "bad duration 'soon'"),
        ("[defaults]\nmin_comparisons = true\n", "wrong type"),
        ("[phase.x]\nmin_comparisons = 5\n", "phase key 'x'"),
        ("[gates]\n", "unknown table"),
        ("[defaults\n", "not valid TOML"),
    ],
)
def test_malformed_policy_is_one_config_error_naming_the_problem(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as raised:
        load_policies(path)
    assert str(path) in str(raised.value)


def test_missing_policy_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_policies(tmp_path / "nope.toml")


def test_durations_parse_in_every_unit() -> None:
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("15m") == timedelta(minutes=15)
    assert parse_duration("1.5h") == timedelta(minutes=90)
    assert parse_duration("7d") == timedelta(days=7)


def test_reference_plan_is_domain_md_phases_with_session_queue_last() -> None:
    assert REFERENCE_PLAN.services_of(3) == ("session_queue",)
    assert len(REFERENCE_PLAN.services) == 11
    assert REFERENCE_PLAN.phase_of("workflows") == 1
    assert REFERENCE_PLAN.phase_of("model_relationships") == 2


def test_plan_file_overrides_the_reference_plan(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, '[phases]\n1 = ["a", "b"]\n2 = ["c"]\n'))
    assert plan.phases == {1: ("a", "b"), 2: ("c",)}


@pytest.mark.parametrize(
    ("phases", "message"),
    [
        ({1: ("a",), 3: ("b",)}, "without gaps"),
        ({1: ("a",), 2: ("a",)}, "in phase 1 and phase 2"),
        ({1: ()}, "no services"),
        ({}, "no phases"),
    ],
)
def test_inconsistent_plans_are_refused(phases: dict[int, tuple[str, ...]], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PhasePlan(phases)


def test_modes_step_in_order_and_unknown_names_are_config_errors() -> None:
    assert [m.next() for m in Mode] == [Mode.SHADOW, Mode.REVERSE, Mode.SQLMODEL, None]
    assert Mode.LEGACY.previous() is None and Mode.SQLMODEL.previous() is Mode.REVERSE
    with pytest.raises(ConfigError, match="unknown mode 'sideways'"):
        Mode.parse("sideways")
