"""Operator paths that used to fail silently: what promote/rollback write, and the gate's evidence.

Regression tests for issue 15: a settings file the runtime rejects, the file's
mode and owner, the lock file, the reason and the audit log's directory, an
unknown phase in the policy, evidence counted from the mode being left, and
latency judged beyond noise.
"""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from shadow import ConfigError, FixedClock
from shadow._vocabulary import LatencySummary, Mode
from shadow.cutover.control import CutoverSettings, PromotionRefused, gate, promote, rollback
from shadow.cutover.criteria import evaluate_gate
from shadow.cutover.modes import read_audit, write_modes
from shadow.cutover.plan import PhasePlan
from shadow.cutover.policy import GatePolicy, PolicySet, load_policies
from shadow.runtime import DivergenceStore
from shadow.runtime._store import StoreBatch
from tests.cutover.cutover_factories import DECLARED, FAST, NOW, PLAN, evidence, healthy_methods

START = NOW - timedelta(hours=48)


def settings_for(tmp_path: Path, store: str | None = None, **options: object) -> CutoverSettings:
    values: dict[str, object] = {
        "modes_file": tmp_path / "shadow.toml",
        "audit_log": tmp_path / "audit.jsonl",
        "declared_methods": DECLARED,
        "plan": PLAN,
        "clock": FixedClock(NOW),
    }
    if store is None:
        values["evidence_source"] = lambda _: evidence()
    else:
        values["store"] = store
    values.update(options)
    return CutoverSettings(**values)  # type: ignore[arg-type]


# -- the settings file -------------------------------------------------------------------------


def test_promote_and_rollback_refuse_a_file_the_runtime_would_reject_and_write_nothing(
    tmp_path: Path,
) -> None:
    """An unknown key makes the runtime keep its old settings: the change would silently not
    take effect, so promote and rollback refuse (ConfigError, exit 2) and audit nothing."""
    settings = settings_for(tmp_path)
    original = (
        '[services.settings]\nmode = "shadow"\n[services.state]\nmode = "shadow"\nqueu_size = 5\n'
    )
    settings.modes_file.write_text(original)
    with pytest.raises(ConfigError, match="runtime would reject it") as refused:
        promote(settings, 1, actor="ops", reason="evidence is good")
    assert "queu_size" in str(refused.value)
    with pytest.raises(ConfigError, match="runtime would reject it"):
        rollback(settings, phase=1, actor="ops", reason="pager")
    assert settings.modes_file.read_text() == original
    assert read_audit(settings.audit_log) == []


def test_a_bad_value_is_refused_too_while_a_valid_file_is_written(tmp_path: Path) -> None:
    """The check is the runtime's own model (values too, not only key names)."""
    settings = settings_for(tmp_path)
    settings.modes_file.write_text("queue_size = 0\n")
    with pytest.raises(ConfigError, match="queue_size"):
        promote(settings, 1, actor="ops", reason="start")
    settings.modes_file.write_text("queue_size = 5\n")
    assert promote(settings, 1, actor="ops", reason="start").changes


def test_promote_keeps_the_files_mode_and_owner(tmp_path: Path) -> None:
    """mkstemp makes 0600 files owned by the operator: the application's account could no
    longer read its settings. The replaced file keeps the old mode and owner."""
    settings = settings_for(tmp_path)
    settings.modes_file.write_text("queue_size = 5\n")
    settings.modes_file.chmod(0o640)
    if os.geteuid() == 0:
        os.chown(settings.modes_file, 4321, 4322)
    promote(settings, 1, actor="ops", reason="start")
    status = settings.modes_file.stat()
    assert stat.S_IMODE(status.st_mode) == 0o640
    if os.geteuid() == 0:
        assert (status.st_uid, status.st_gid) == (4321, 4322)
    assert 'mode = "shadow"' in settings.modes_file.read_text()


def test_a_new_modes_file_gets_the_usual_permissions_not_0600(tmp_path: Path) -> None:
    path = tmp_path / "shadow.toml"
    umask = os.umask(0o022)
    try:
        write_modes(path, {"settings": Mode.SHADOW})
    finally:
        os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_a_refused_promote_leaves_no_lock_file_behind(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    write_modes(settings.modes_file, {"settings": Mode.SHADOW, "state": Mode.SHADOW})
    before = sorted(path.name for path in tmp_path.iterdir())
    with pytest.raises(PromotionRefused):
        promote(settings, 3, actor="ops", reason="too early")
    assert sorted(path.name for path in tmp_path.iterdir()) == before
    assert not (tmp_path / ".shadow.toml.lock").exists()


def test_an_empty_reason_is_refused_before_the_gate_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path)
    for reason in ("", "   "):
        with pytest.raises(ConfigError, match="reason is required"):
            promote(settings, 1, actor="ops", reason=reason)
        with pytest.raises(ConfigError, match="reason is required"):
            promote(settings, 3, actor="ops", reason=reason)  # refused by the gate too
        with pytest.raises(ConfigError, match="reason is required"):
            rollback(settings, phase=1, actor="ops", reason=reason)
    assert not settings.modes_file.exists() and not settings.audit_log.exists()


def test_an_audit_log_in_a_missing_directory_is_refused_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "audit.jsonl"
    settings = settings_for(tmp_path, audit_log=missing)
    with pytest.raises(ConfigError, match="directory of the audit log does not exist"):
        promote(settings, 1, actor="ops", reason="start")
    assert not missing.parent.exists()
    assert not settings.modes_file.exists()  # nothing changed without its audit line


def test_a_policy_for_a_phase_the_plan_does_not_have_is_refused(tmp_path: Path) -> None:
    """A `[phase.9]` typo would otherwise silently never apply."""
    policy = tmp_path / "gate-policy.toml"
    policy.write_text("[phase.9]\nmax_p95_ratio = 1.5\n")
    (tmp_path / "plan.toml").write_text('[phases]\n1 = ["a"]\n2 = ["b"]\n')
    with pytest.raises(ConfigError, match=r"\[phase.9\] names a phase the plan does not have"):
        CutoverSettings.from_files(
            tmp_path / "shadow.toml",
            declared_methods={"a": {"x"}, "b": {"y"}},
            plan=tmp_path / "plan.toml",
            policy=policy,
        )
    assert load_policies(policy).phases.keys() == {9}  # alone, the file itself is fine


# -- evidence from the mode being left ---------------------------------------------------------


def record(store_url: str, mode: str, *, calls: int = 300, at: object = START) -> None:
    """``calls`` clean, fast comparisons of every declared method, mirrored in ``mode``."""
    store = DivergenceStore(store_url)
    batch = StoreBatch()
    for service, methods in DECLARED.items():
        for method in methods:
            for index in range(calls):
                batch.add_outcome(service, method, "match", evidence=True, at=at)  # type: ignore[arg-type]
                batch.add_mode_outcome(service, method, mode, "match", evidence=True, at=at)  # type: ignore[arg-type]
                for side in ("legacy", "candidate"):
                    seconds = 0.0001 + index * 1e-7
                    batch.add_latency(service, method, side, seconds)
                    batch.add_mode_latency(service, method, mode, side, seconds)
    try:
        store.record(batch)
    finally:
        store.close()


STRICT = PolicySet(GatePolicy(min_comparisons=200, min_soak=timedelta(hours=24)))


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    DivergenceStore(url).close()
    return url


def test_reverse_to_sqlmodel_needs_reverse_mode_traffic_not_shadow_mode_evidence(
    tmp_path: Path, store_url: str
) -> None:
    """The gate used to let a service go reverse -> sqlmodel with zero reverse-mode calls,
    on the shadow-mode evidence (and soak) gathered before."""
    record(store_url, "shadow")
    settings = settings_for(tmp_path, store=store_url, policies=STRICT)
    write_modes(settings.modes_file, dict.fromkeys(("settings", "state"), Mode.REVERSE))
    verdict = gate(settings, 1)
    assert verdict.current is Mode.REVERSE and verdict.target is Mode.SQLMODEL
    assert {"min_comparisons", "soak", "candidate_errors"} <= set(verdict.blocking)
    assert "no comparison recorded yet" in verdict.criterion("soak").summary
    with pytest.raises(PromotionRefused, match="min_comparisons"):
        promote(settings, 1, actor="ops", reason="looks done")
    record(store_url, "reverse")
    assert gate(settings, 1).passed
    assert promote(settings, 1, actor="ops", reason="reverse soaked").changes == {
        "settings": (Mode.REVERSE, Mode.SQLMODEL),
        "state": (Mode.REVERSE, Mode.SQLMODEL),
    }


def test_shadow_to_reverse_needs_shadow_mode_evidence(tmp_path: Path, store_url: str) -> None:
    """Reverse-mode calls (say, before a rollback to shadow) are no evidence for leaving shadow."""
    record(store_url, "reverse")
    settings = settings_for(tmp_path, store=store_url, policies=STRICT)
    write_modes(settings.modes_file, dict.fromkeys(("settings", "state"), Mode.SHADOW))
    verdict = gate(settings, 1)
    assert verdict.target is Mode.REVERSE and "min_comparisons" in verdict.blocking
    record(store_url, "shadow")
    assert gate(settings, 1).passed


def test_the_soak_of_a_step_starts_at_the_first_comparison_in_the_mode_left(
    tmp_path: Path, store_url: str
) -> None:
    record(store_url, "shadow", at=NOW - timedelta(days=30))
    record(store_url, "reverse", at=NOW - timedelta(hours=2))
    settings = settings_for(tmp_path, store=store_url, policies=STRICT)
    write_modes(settings.modes_file, dict.fromkeys(("settings", "state"), Mode.REVERSE))
    verdict = gate(settings, 1)
    assert verdict.blocking == ("soak",)
    assert "soaking for 2h00m00s" in verdict.criterion("soak").summary


def test_legacy_to_shadow_needs_no_evidence_only_the_previous_phase(
    tmp_path: Path, store_url: str
) -> None:
    settings = settings_for(tmp_path, store=store_url, policies=STRICT)
    verdict = gate(settings, 1)
    assert (
        verdict.target is Mode.SHADOW and verdict.passed and verdict.required == ("previous_phase",)
    )
    assert "min_comparisons" in verdict.failed  # shown, but not required for this step
    assert not gate(settings, 2).passed and gate(settings, 2).blocking == ("previous_phase",)


# -- latency judged beyond noise ---------------------------------------------------------------


def latency_gate(candidate: LatencySummary, legacy: LatencySummary = FAST) -> object:
    methods = tuple(
        replace(m, legacy=legacy, candidate=candidate)
        if (m.service, m.method) == ("settings", "get")
        else m
        for m in healthy_methods()
    )
    policy = GatePolicy(max_p95_ratio=10.0, min_comparisons=1, min_soak=timedelta(0))
    return evaluate_gate(
        1,
        plan=PhasePlan({1: ("settings", "state")}),
        policy=policy,
        evidence=evidence(methods=methods),
        modes={"settings": Mode.SHADOW, "state": Mode.SHADOW},
        declared_methods=DECLARED,
    ).criterion("latency")


def test_a_loaded_machine_sub_millisecond_ratio_is_noise_named_in_the_verdict() -> None:
    """The demo's failure: 14.9x legacy p95 on an untouched method under load (0.1 ms vs
    1.5 ms). Over the ratio, but by 1.3 ms: noise, passed and said so."""
    legacy = LatencySummary(count=400, p50=0.00005, p95=0.0001, p99=0.0002)
    loaded = LatencySummary(count=400, p50=0.0002, p95=0.00149, p99=0.004)
    criterion = latency_gate(loaded, legacy)
    assert criterion.passed  # type: ignore[attr-defined]
    assert "only within noise" in criterion.summary  # type: ignore[attr-defined]
    assert "settings.get (14.90x" in criterion.summary  # type: ignore[attr-defined]
    [detail] = [d for d in criterion.details if d["method"] == "get" and d["service"] == "settings"]  # type: ignore[attr-defined]
    assert detail["noise"] is True and detail["ok"] is True


def test_a_ratio_whose_confidence_bounds_overlap_the_limit_is_noise() -> None:
    """12x at the point estimate, but the p95 bounds (few samples) allow under 10x."""
    legacy = LatencySummary(count=60, p50=0.002, p95=0.004, p99=0.01, p95_low=0.003, p95_high=0.01)
    candidate = LatencySummary(count=60, p50=0.01, p95=0.048, p99=0.09, p95_low=0.02, p95_high=0.09)
    assert latency_gate(candidate, legacy).passed  # type: ignore[attr-defined]


def test_a_real_slowdown_beyond_the_bounds_and_the_floor_still_fails() -> None:
    legacy = LatencySummary(
        count=400, p50=0.001, p95=0.002, p99=0.003, p95_low=0.0019, p95_high=0.0021
    )
    slow = LatencySummary(count=400, p50=0.02, p95=0.05, p99=0.08, p95_low=0.045, p95_high=0.055)
    criterion = latency_gate(slow, legacy)
    assert not criterion.passed  # type: ignore[attr-defined]
    assert "settings.get (25.00x)" in criterion.summary  # type: ignore[attr-defined]


def test_the_store_bounds_a_p95_from_its_histogram(store_url: str) -> None:
    store = DivergenceStore(store_url)
    batch = StoreBatch()
    for index in range(1000):
        batch.add_latency("s", "m", "legacy", 0.001 + index * 1e-6)
    store.record(batch)
    [stored] = store.latency()
    store.close()
    summary = stored.summary
    assert summary.p95_low is not None and summary.p95_high is not None
    assert summary.p95_low < summary.p95 < summary.p95_high
    assert 0.0019 < summary.p95 < 0.0021
