"""A promotion written by cutover control is what the runtime's live settings read."""

from __future__ import annotations

from pathlib import Path

from shadow import FixedClock
from shadow.cutover.control import CutoverSettings, promote, rollback
from shadow.runtime import LiveSettings, Mode, load_settings
from tests.cutover.cutover_factories import DECLARED, NOW, PLAN, evidence


class Ticker:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_live_settings_follow_promotions_and_rollbacks_without_a_restart(tmp_path: Path) -> None:
    config = tmp_path / "shadow.toml"
    config.write_text("# the operators' file\nqueue_size = 500\nreload_check_seconds = 1.0\n")
    ticker = Ticker()
    live = LiveSettings(config, monotonic=ticker)
    assert live.current().effective_mode("settings") is Mode.LEGACY
    settings = CutoverSettings(
        modes_file=config,
        audit_log=tmp_path / "audit.jsonl",
        declared_methods=DECLARED,
        plan=PLAN,
        clock=FixedClock(NOW),
        evidence_source=lambda _: evidence(),
    )
    promote(settings, 1, actor="ana", reason="start shadowing")
    ticker.now += 2
    assert live.current().effective_mode("settings") is Mode.SHADOW
    promote(settings, 1, actor="ana", reason="gate passed")
    ticker.now += 2
    assert live.current().effective_mode("state") is Mode.REVERSE
    rollback(settings, service="state", actor="bo", reason="alert")
    ticker.now += 2
    current = live.current()
    assert current.effective_mode("state") is Mode.SHADOW
    assert current.effective_mode("settings") is Mode.REVERSE
    assert current.queue_size == 500  # the rest of the file survived every edit


def test_the_written_file_is_valid_for_the_runtime_inside_a_shadow_table(tmp_path: Path) -> None:
    config = tmp_path / "shadow.toml"
    config.write_text('[shadow]\nkill_switch = false\n\n[shadow.services.users]\nmode = "shadow"\n')
    settings = CutoverSettings(
        modes_file=config,
        audit_log=tmp_path / "audit.jsonl",
        declared_methods=DECLARED,
        plan=PLAN,
        clock=FixedClock(NOW),
        evidence_source=lambda _: evidence(),
    )
    promote(settings, 1, actor="ana", reason="start")
    loaded = load_settings(config)
    assert loaded.effective_mode("settings") is Mode.SHADOW
    assert loaded.effective_mode("users") is Mode.SHADOW
