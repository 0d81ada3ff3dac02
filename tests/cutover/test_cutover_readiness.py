"""shadow_gate_ready{phase}: 1 when the phase's gate passes, cached between scrapes."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from shadow import FixedClock, StoreError
from shadow.cutover.control import CutoverSettings
from shadow.cutover.evidence import Evidence
from shadow.cutover.readiness import GateReadiness
from tests.cutover.cutover_factories import DECLARED, NOW, PLAN, evidence, group


class Ticker:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_gauge_per_phase_follows_the_gate_after_the_cache_interval(tmp_path: Path) -> None:
    current: list[Evidence] = [evidence()]
    settings = CutoverSettings(
        modes_file=tmp_path / "shadow.toml",
        audit_log=tmp_path / "audit.jsonl",
        declared_methods=DECLARED,
        plan=PLAN,
        clock=FixedClock(NOW),
        evidence_source=lambda _: current[0],
    )
    # Phase 1 in shadow: its gate judges leaving shadow (at legacy it needs no evidence).
    settings.modes_file.write_text(
        '[services.settings]\nmode = "shadow"\n[services.state]\nmode = "shadow"\n'
    )
    ticker = Ticker()
    registry = CollectorRegistry()
    registry.register(GateReadiness(settings, min_interval=10, monotonic=ticker))
    text = generate_latest(registry).decode()
    assert 'shadow_gate_ready{phase="1"} 1.0' in text
    assert 'shadow_gate_ready{phase="2"} 1.0' in text  # may enable shadow: phase 1 is there
    assert 'shadow_gate_ready{phase="3"} 0.0' in text  # phase 2 has not reached shadow
    current[0] = evidence(groups=(group(),))
    assert 'shadow_gate_ready{phase="1"} 1.0' in generate_latest(registry).decode()  # cached
    ticker.now = 11
    assert 'shadow_gate_ready{phase="1"} 0.0' in generate_latest(registry).decode()


def test_an_unreadable_store_reports_every_phase_not_ready(tmp_path: Path) -> None:
    def broken(_: CutoverSettings) -> Evidence:
        raise StoreError("store is gone")

    settings = CutoverSettings(
        modes_file=tmp_path / "shadow.toml",
        audit_log=tmp_path / "audit.jsonl",
        declared_methods=DECLARED,
        plan=PLAN,
        evidence_source=broken,
    )
    readiness = GateReadiness(settings)
    assert readiness.readiness() == {1: False, 2: False, 3: False}
