"""shadow_gate_ready{phase}: the gate's verdicts from a snapshot a background thread refreshes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
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


class Store:
    """The evidence a divergence store holds now, and how often it was read."""

    def __init__(self) -> None:
        self.current: Evidence = evidence()
        self.reads = 0
        self.readers: set[str] = set()
        self.hang = threading.Event()
        self.released = threading.Event()

    def __call__(self, _: CutoverSettings) -> Evidence:
        self.reads += 1
        self.readers.add(threading.current_thread().name)
        if self.hang.is_set():
            self.released.wait(30)  # a store locked by another process, for its busy timeout
        return self.current


def _settings(tmp_path: Path, source: Callable[[CutoverSettings], Evidence]) -> CutoverSettings:
    settings = CutoverSettings(
        modes_file=tmp_path / "shadow.toml",
        audit_log=tmp_path / "audit.jsonl",
        declared_methods=DECLARED,
        plan=PLAN,
        clock=FixedClock(NOW),
        evidence_source=source,
    )
    # Phase 1 in shadow: its gate judges leaving shadow (at legacy it needs no evidence).
    settings.modes_file.write_text(
        '[services.settings]\nmode = "shadow"\n[services.state]\nmode = "shadow"\n'
    )
    return settings


@pytest.fixture
def store() -> Iterator[Store]:
    store = Store()
    yield store
    store.released.set()


def _scrape(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()


def test_a_scrape_serves_the_last_refresh_and_a_refresh_follows_a_change_in_the_store(
    tmp_path: Path, store: Store
) -> None:
    ticker = Ticker()
    readiness = GateReadiness(_settings(tmp_path, store), min_interval=3600, monotonic=ticker)
    registry = CollectorRegistry()
    registry.register(readiness)
    assert readiness.refresh() == {1: True, 2: True, 3: False}
    readiness.close()  # no background refresh: this test decides when the store is read
    text = _scrape(registry)
    assert 'shadow_gate_ready{phase="1"} 1.0' in text
    assert 'shadow_gate_ready{phase="2"} 1.0' in text  # may enable shadow: phase 1 is there
    assert 'shadow_gate_ready{phase="3"} 0.0' in text  # phase 2 has not reached shadow
    store.current = evidence(groups=(group(),))  # an open divergence group on phase 1
    ticker.now = 7
    text = _scrape(registry)
    assert 'shadow_gate_ready{phase="1"} 1.0' in text  # the snapshot, not the store
    assert "shadow_gate_ready_age_seconds 7.0" in text
    readiness.refresh()
    text = _scrape(registry)
    assert 'shadow_gate_ready{phase="1"} 0.0' in text
    assert "shadow_gate_ready_age_seconds 0.0" in text


def test_scrapes_never_read_the_store(tmp_path: Path, store: Store) -> None:
    readiness = GateReadiness(_settings(tmp_path, store), min_interval=3600)
    registry = CollectorRegistry()
    registry.register(readiness)
    try:
        _wait_for(lambda: 'shadow_gate_ready{phase="1"} 1.0' in _scrape(registry))
        for _ in range(20):
            _scrape(registry)
        assert store.reads == 1  # the background thread's one evaluation, none per scrape
        assert store.readers == {"shadow-gate-readiness"}
    finally:
        readiness.close()


def test_the_background_thread_picks_up_a_change_in_the_store(tmp_path: Path, store: Store) -> None:
    readiness = GateReadiness(_settings(tmp_path, store), min_interval=0.05)
    registry = CollectorRegistry()
    registry.register(readiness)
    try:
        _wait_for(lambda: 'shadow_gate_ready{phase="1"} 1.0' in _scrape(registry))
        store.current = evidence(groups=(group(),))
        _wait_for(lambda: 'shadow_gate_ready{phase="1"} 0.0' in _scrape(registry))
        store.current = evidence()  # the group was reviewed: ready again
        _wait_for(lambda: 'shadow_gate_ready{phase="1"} 1.0' in _scrape(registry))
    finally:
        readiness.close()


def test_an_unreadable_store_reports_every_phase_not_ready(tmp_path: Path) -> None:
    def broken(_: CutoverSettings) -> Evidence:
        raise StoreError("store is gone")

    readiness = GateReadiness(_settings(tmp_path, broken))
    assert readiness.refresh() == {1: False, 2: False, 3: False}


def test_a_scrape_never_waits_on_a_locked_store_and_says_how_old_its_value_is(
    tmp_path: Path, store: Store
) -> None:
    """While reading the evidence hangs, a scrape serves the last verdicts and their age."""
    ticker = Ticker()
    readiness = GateReadiness(_settings(tmp_path, store), min_interval=0.01, monotonic=ticker)
    registry = CollectorRegistry()
    registry.register(readiness)
    try:
        readiness.refresh()
        store.hang.set()
        readiness.start()  # its first evaluation hangs on the store
        _wait_for(lambda: store.reads >= 2)
        ticker.now = 25
        started = time.monotonic()
        text = _scrape(registry)
        assert time.monotonic() - started < 5, "the scrape waited for the locked store"
        assert 'shadow_gate_ready{phase="1"} 1.0' in text  # the last known verdict
        assert "shadow_gate_ready_age_seconds 25.0" in text
    finally:
        store.released.set()
        readiness.close()


def test_before_the_first_evaluation_ends_every_phase_is_not_ready_and_the_age_infinite(
    tmp_path: Path, store: Store
) -> None:
    """A scrape that comes before any verdict exists serves 0 for every phase, age +Inf."""
    store.hang.set()
    readiness = GateReadiness(_settings(tmp_path, store))
    registry = CollectorRegistry()
    registry.register(readiness)
    try:
        text = _scrape(registry)
        assert 'shadow_gate_ready{phase="1"} 0.0' in text
        assert "shadow_gate_ready_age_seconds +Inf" in text
    finally:
        store.released.set()
        readiness.close()


def _wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the background refresh never served the change"
        time.sleep(0.01)
