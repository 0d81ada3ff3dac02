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


def test_a_scrape_never_waits_on_a_locked_store_and_says_how_old_its_value_is(
    tmp_path: Path,
) -> None:
    """While reading the evidence hangs, a scrape serves the last verdicts and their age."""
    import threading  # noqa: PLC0415

    locked = threading.Event()
    released = threading.Event()

    def evidence_source(_: CutoverSettings) -> Evidence:
        if locked.is_set():
            released.wait(30)  # a store locked by another process, for its busy timeout
        return evidence()

    settings = CutoverSettings(
        modes_file=tmp_path / "shadow.toml",
        audit_log=tmp_path / "audit.jsonl",
        declared_methods=DECLARED,
        plan=PLAN,
        clock=FixedClock(NOW),
        evidence_source=evidence_source,
    )
    ticker = Ticker()
    registry = CollectorRegistry()
    registry.register(GateReadiness(settings, min_interval=10, monotonic=ticker, scrape_wait=0.1))
    first = generate_latest(registry).decode()
    assert 'shadow_gate_ready{phase="1"} 1.0' in first
    assert "shadow_gate_ready_age_seconds 0.0" in first
    locked.set()
    ticker.now = 25
    answered = threading.Event()
    texts: list[str] = []

    def scrape() -> None:
        texts.append(generate_latest(registry).decode())
        answered.set()

    threading.Thread(target=scrape, daemon=True).start()
    try:
        assert answered.wait(5), "the scrape waited for the locked store"
        assert 'shadow_gate_ready{phase="1"} 1.0' in texts[0]  # the last known verdict
        assert "shadow_gate_ready_age_seconds 25.0" in texts[0]
    finally:
        released.set()


def test_before_the_first_evaluation_ends_every_phase_is_not_ready_and_the_age_infinite(
    tmp_path: Path,
) -> None:
    """A scrape that comes before any verdict exists serves 0 for every phase, age +Inf."""
    import threading  # noqa: PLC0415

    released = threading.Event()

    def evidence_source(_: CutoverSettings) -> Evidence:
        released.wait(30)
        return evidence()

    settings = CutoverSettings(
        modes_file=tmp_path / "shadow.toml",
        audit_log=tmp_path / "audit.jsonl",
        declared_methods=DECLARED,
        plan=PLAN,
        clock=FixedClock(NOW),
        evidence_source=evidence_source,
    )
    registry = CollectorRegistry()
    registry.register(GateReadiness(settings, scrape_wait=0.1))
    try:
        text = generate_latest(registry).decode()
        assert 'shadow_gate_ready{phase="1"} 0.0' in text
        assert "shadow_gate_ready_age_seconds +Inf" in text
    finally:
        released.set()
