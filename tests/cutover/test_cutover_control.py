"""Promotion, rollback and status over real files: the modes file and the audit log."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

import pytest

from shadow import ConfigError, FixedClock
from shadow._vocabulary import Mode
from shadow.cutover.control import (
    CutoverSettings,
    PromotionRefused,
    gate,
    promote,
    rollback,
    status,
)
from shadow.cutover.evidence import Evidence
from shadow.cutover.modes import kill_switch_on, read_audit, read_modes, write_modes
from tests.cutover.cutover_factories import DECLARED, NOW, PLAN, evidence, group


def settings_for(tmp_path: Path, found: Evidence | None = None) -> CutoverSettings:
    return CutoverSettings(
        modes_file=tmp_path / "shadow.toml",
        audit_log=tmp_path / "audit.jsonl",
        declared_methods=DECLARED,
        plan=PLAN,
        clock=FixedClock(NOW),
        evidence_source=lambda _: evidence() if found is None else found,
    )


def set_modes(settings: CutoverSettings, modes: Mapping[str, Mode]) -> None:
    write_modes(settings.modes_file, modes)


def test_a_missing_modes_file_means_every_service_is_legacy(tmp_path: Path) -> None:
    assert set(read_modes(tmp_path / "none.toml", PLAN).values()) == {Mode.LEGACY}


def test_writing_modes_keeps_comments_and_other_settings(tmp_path: Path) -> None:
    path = tmp_path / "shadow.toml"
    path.write_text(
        '# operators: edit with care\nqueue_size = 500\n\n[services.users]\nmode = "shadow"\n'
        "read_sample_rate = 0.5  # sampled\n"
    )
    write_modes(path, {"users": Mode.REVERSE, "queue": Mode.SHADOW})
    text = path.read_text()
    assert "# operators: edit with care" in text and "read_sample_rate = 0.5  # sampled" in text
    assert "queue_size = 500" in text
    modes = read_modes(path, PLAN)
    assert modes["users"] is Mode.REVERSE and modes["queue"] is Mode.SHADOW


def test_default_mode_and_the_shadow_wrapper_table_are_honoured(tmp_path: Path) -> None:
    path = tmp_path / "shadow.toml"
    path.write_text('[shadow]\ndefault_mode = "shadow"\nkill_switch = true\n')
    assert read_modes(path, PLAN)["settings"] is Mode.SHADOW
    assert kill_switch_on(path)
    write_modes(path, {"settings": Mode.REVERSE})
    assert "[shadow.services.settings]" in path.read_text()
    assert read_modes(path, PLAN)["settings"] is Mode.REVERSE


def test_a_bad_mode_in_the_file_is_a_config_error_naming_the_service(tmp_path: Path) -> None:
    path = tmp_path / "shadow.toml"
    path.write_text('[services.users]\nmode = "sideways"\n')
    with pytest.raises(ConfigError, match=r"services\.users: unknown mode 'sideways'"):
        read_modes(path, PLAN)


def test_enabling_shadow_needs_no_evidence_but_is_audited(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, Evidence(collected_at=NOW))
    moved = promote(settings, 1, actor="ana", reason="start phase 1")
    assert moved.changes == {
        "settings": (Mode.LEGACY, Mode.SHADOW),
        "state": (Mode.LEGACY, Mode.SHADOW),
    }
    assert read_modes(settings.modes_file, PLAN)["state"] is Mode.SHADOW
    [entry] = read_audit(settings.audit_log)
    assert entry["actor"] == "ana" and entry["reason"] == "start phase 1"
    assert entry["action"] == "promote" and entry["at"] == NOW.isoformat()
    assert entry["changes"] == {"settings": ["legacy", "shadow"], "state": ["legacy", "shadow"]}
    assert entry["gate"]["target"] == "shadow"


def test_promotion_past_shadow_is_refused_when_the_gate_fails_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path, evidence(groups=(group(),)))
    set_modes(settings, {"settings": Mode.SHADOW, "state": Mode.SHADOW})
    before = settings.modes_file.read_text()
    with pytest.raises(PromotionRefused, match="open_divergences") as refused:
        promote(settings, 1, actor="ana", reason="looks fine")
    assert refused.value.details["failed"] == ("open_divergences",)
    assert settings.modes_file.read_text() == before
    assert read_audit(settings.audit_log) == []


def test_promotion_order_is_enforced_phase_three_waits_for_one_and_two(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    with pytest.raises(PromotionRefused, match="previous_phase"):
        promote(settings, 3, actor="ana", reason="too early")
    with pytest.raises(PromotionRefused, match="previous_phase"):
        promote(settings, 2, actor="ana", reason="too early")
    for phase in (1, 2, 3):
        promote(settings, phase, actor="ana", reason="shadow everything")
    with pytest.raises(PromotionRefused, match="phase 2 is at shadow"):
        promote(settings, 3, actor="ana", reason="queue first?")
    promote(settings, 1, actor="ana", reason="phase 1 to reverse")
    promote(settings, 2, actor="ana", reason="phase 2 to reverse")
    promote(settings, 3, actor="ana", reason="phase 3 to reverse")
    assert set(read_modes(settings.modes_file, PLAN).values()) == {Mode.REVERSE}
    assert len(read_audit(settings.audit_log)) == 6


def test_a_single_service_can_move_ahead_of_its_phase_mates(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    set_modes(settings, {"settings": Mode.SHADOW, "state": Mode.SHADOW})
    moved = promote(settings, 1, service="settings", actor="ana", reason="canary")
    assert moved.changes == {"settings": (Mode.SHADOW, Mode.REVERSE)}
    moved = promote(settings, 1, actor="ana", reason="the rest")
    assert moved.changes == {"state": (Mode.SHADOW, Mode.REVERSE)}


def test_rollback_from_reverse_to_shadow_is_allowed_even_when_the_gate_fails(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path, evidence(groups=(group(),), soaked=timedelta(0)))
    set_modes(settings, {"settings": Mode.REVERSE, "state": Mode.REVERSE})
    moved = rollback(settings, service="settings", actor="bo", reason="divergence in get")
    assert moved.changes == {"settings": (Mode.REVERSE, Mode.SHADOW)}
    assert read_modes(settings.modes_file, PLAN)["settings"] is Mode.SHADOW
    assert read_audit(settings.audit_log)[-1]["action"] == "rollback"


def test_rollback_from_sqlmodel_needs_force(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    set_modes(settings, {"settings": Mode.SQLMODEL})
    with pytest.raises(PromotionRefused, match="legacy has not been written"):
        rollback(settings, service="settings", actor="bo", reason="oops")
    moved = rollback(settings, service="settings", actor="bo", reason="reconciled", force=True)
    assert moved.changes == {"settings": (Mode.SQLMODEL, Mode.REVERSE)}


def test_nothing_to_do_is_refused(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    with pytest.raises(PromotionRefused, match="already at legacy"):
        rollback(settings, phase=1, actor="bo", reason="no")
    set_modes(settings, {"settings": Mode.SQLMODEL, "state": Mode.SQLMODEL})
    with pytest.raises(PromotionRefused, match="already at sqlmodel"):
        promote(settings, 1, actor="bo", reason="no")


def test_a_reason_is_required(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="reason is required"):
        promote(settings_for(tmp_path), 1, actor="ana", reason="  ")


def test_status_shows_each_service_with_its_phase_verdict_as_gate_and_promote_judge_it(
    tmp_path: Path,
) -> None:
    """A service's readiness in `status` is its phase's verdict: the one `gate --phase`
    prints and `promote --phase` acts on. (Judged per service, `settings` used to show
    ready while `promote --phase 1` refused on its phase mate's open group, and a phase
    at legacy showed blocked on evidence while `promote` moved it.)"""
    settings = settings_for(tmp_path, evidence(groups=(group(service="state"),)))
    set_modes(settings, {"settings": Mode.SHADOW, "state": Mode.SHADOW})
    rows = {row.service: row for row in status(settings)}
    assert [row.service for row in status(settings)] == list(PLAN.services)
    phase_one = gate(settings, 1)
    for name in ("settings", "state"):
        assert rows[name].ready is phase_one.passed is False
        assert rows[name].blocking == phase_one.blocking == ("open_divergences",)
        assert rows[name].target is Mode.REVERSE
    with pytest.raises(PromotionRefused, match="open_divergences"):
        promote(settings, 1, actor="a", reason="r")
    # Phase 2 is at legacy: enabling shadow needs only previous_phase, so it is ready even
    # with no evidence at all, and promote moves it, as status says.
    assert rows["users"].phase == 2 and rows["users"].ready and gate(settings, 2).passed
    assert rows["queue"].blocking == ("previous_phase",)
    assert json.dumps(rows["state"].to_dict())
    assert promote(settings, 2, actor="a", reason="r").changes == {
        "users": (Mode.LEGACY, Mode.SHADOW)
    }


def test_settings_from_files_resolve_store_audit_log_and_policy_beside_the_config(
    tmp_path: Path,
) -> None:
    config = tmp_path / "shadow.toml"
    config.write_text('store_url = "sqlite:////data/store.db"\n')
    (tmp_path / "gate-policy.toml").write_text("[defaults]\nmin_comparisons = 3\n")
    settings = CutoverSettings.from_files(config, declared_methods=DECLARED)
    assert settings.store == "sqlite:////data/store.db"
    assert settings.audit_log == tmp_path / "shadow-audit.jsonl"
    assert settings.policies.for_phase(2).min_comparisons == 3
    config.write_text('[shadow]\nstore_url = "sqlite:////other.db"\n')
    assert CutoverSettings.from_files(config, declared_methods={}).store == "sqlite:////other.db"
    explicit = CutoverSettings.from_files(
        tmp_path / "missing.toml", declared_methods={}, store="sqlite:////x.db"
    )
    assert explicit.store == "sqlite:////x.db"
    assert CutoverSettings.from_files(tmp_path / "missing.toml", declared_methods={}).store == (
        "sqlite:///shadow-store.db"
    )


def test_concurrent_promotions_are_serialized_so_no_step_is_lost(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def promote_once(name: str) -> None:
        barrier.wait()
        try:
            promote(settings, 1, actor=name, reason="race")
        except PromotionRefused as error:
            errors.append(error)

    threads = [threading.Thread(target=promote_once, args=(f"op{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    steps = [tuple(entry["changes"]["settings"]) for entry in read_audit(settings.audit_log)]
    # Each promotion saw the previous one's result: three distinct steps, then nothing left.
    assert steps == [("legacy", "shadow"), ("shadow", "reverse"), ("reverse", "sqlmodel")]
    assert len(errors) == 1 and "already at sqlmodel" in str(errors[0])
    assert read_modes(settings.modes_file, PLAN)["state"] is Mode.SQLMODEL
