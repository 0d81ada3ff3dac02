"""Dirty means suspect, a clean verification clears it, and the gate's data_verified criterion."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from imagegen.cutover import SERVICE_TABLES
from imagegen.db.tables import ClientStateTable
from shadow import ConfigError, FixedClock
from shadow.cutover.criteria import evaluate_gate
from shadow.cutover.evidence import DataVerified, Evidence
from shadow.cutover.plan import PhasePlan
from shadow.cutover.policy import GatePolicy, policies_from_mapping
from shadow.cutover.store import load_evidence
from shadow.data import DataSchema, backfill, record_verification, verify
from shadow.data._engines import open_engine
from shadow.runtime import DivergenceStore

client_state = ClientStateTable.__table__  # type: ignore[attr-defined]
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PLAN = PhasePlan({1: ("client_state",)})
DECLARED: dict[str, frozenset[str]] = {"client_state": frozenset()}
REQUIRED = GatePolicy(min_comparisons=1, min_soak=timedelta(0), require_data_verified=True)


def _verdict(evidence: Evidence, policy: GatePolicy = REQUIRED) -> tuple[bool, str]:
    verdict = evaluate_gate(
        1, plan=PLAN, policy=policy, evidence=evidence, modes={}, declared_methods=DECLARED
    )
    criterion = verdict.criterion("data_verified")
    return criterion.passed, criterion.summary


def test_criterion_passes_only_for_a_clean_verification_since_the_last_clearing() -> None:
    """Never verified, verified different, dirty, or reconciled after the verification all
    fail; an equal verification of a clean service passes; off in the policy, it passes
    but still says what it sees."""
    equal = {"client_state": DataVerified("client_state", NOW, True)}
    assert _verdict(Evidence(NOW)) == (False, "client_state was never verified at rest")
    assert _verdict(Evidence(NOW, data_verified=equal))[0]
    different = {"client_state": DataVerified("client_state", NOW, False)}
    assert not _verdict(Evidence(NOW, data_verified=different))[0]
    dirty = Evidence(NOW, data_verified=equal, dirty=frozenset({"client_state"}))
    assert "dirty" in _verdict(dirty)[1] and not _verdict(dirty)[0]
    later = Evidence(NOW, data_verified=equal, reconciled={"client_state": NOW + timedelta(1)})
    assert not _verdict(later)[0]
    assert _verdict(dirty, GatePolicy(min_comparisons=1))[0]
    assert "not required" in _verdict(dirty, GatePolicy(min_comparisons=1))[1]


def test_policy_switch_takes_a_boolean_and_refuses_anything_else() -> None:
    """``require_data_verified`` is a boolean; a number there is a typo, refused."""
    assert policies_from_mapping(
        {"defaults": {"require_data_verified": True}}, "p"
    ).defaults.require_data_verified
    with pytest.raises(ConfigError, match="wrong type"):
        policies_from_mapping({"defaults": {"require_data_verified": 1}}, "p")


def _seed_client_state(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            client_state.insert(),
            [{"user_id": "system", "key": f"k{i}", "value": "v"} for i in range(20)],
        )


def test_clean_verification_clears_a_dirty_service_and_the_gate_follows(
    sqlite_engine: sa.Engine, sqlite_template: Path, tmp_path: Path, schema: DataSchema
) -> None:
    """A service marked dirty (a mirrored write failed) fails the gate; a verification that
    started before the write stays dirty; a clean one after it clears the service, records
    when, and the gate's data_verified criterion then passes from the store's evidence."""
    source_path = tmp_path / "source.db"
    shutil.copyfile(sqlite_template, source_path)
    source = open_engine(f"sqlite:///{source_path}", "SOURCE")
    _seed_client_state(source)
    tables = schema.tables(["users", "client_state"])
    backfill(source, sqlite_engine, tables)
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    store = DivergenceStore(store_url)
    dirty_at = datetime.now(UTC)
    store.mark_dirty("client_state", dirty_at)
    store.close()
    services = {"client_state": SERVICE_TABLES["client_state"]}

    # A verification that began before the failed write cannot have seen it.
    first = verify(source, sqlite_engine, tables)
    early = dirty_at - timedelta(seconds=5)
    stale = replace(first, tables=tuple(replace(t, started_at=early) for t in first.tables))
    assert record_verification(store_url, stale, service_tables=services) == []

    clock = FixedClock(datetime.now(UTC))
    evidence = load_evidence(store_url, clock=clock)
    assert "client_state" in evidence.dirty
    assert not _verdict(evidence)[0]

    report = verify(source, sqlite_engine, tables)
    assert record_verification(store_url, report, service_tables=services) == ["client_state"]
    evidence = load_evidence(store_url, clock=clock)
    assert "client_state" not in evidence.dirty
    assert evidence.reconciled["client_state"] >= dirty_at
    assert _verdict(evidence) == (
        True,
        "every service's data verified equal since its last unclean write",
    )
    assert {check.table for check in evidence.data_checks} == {"users", "client_state"}
    source.dispose()


def test_a_verification_begun_before_a_newer_unclean_write_leaves_the_service_dirty(
    tmp_path: Path,
) -> None:
    """Dirty at t0, verification begun at t1, another unclean write at t2: the verification
    cannot have seen t2, so it must not clear the service (only ``dirty_since``, the first
    write, predates it); one begun after t2 clears it."""
    store = DivergenceStore(f"sqlite:///{tmp_path / 'store.db'}")
    t0 = NOW
    store.mark_dirty("client_state", t0)
    store.mark_dirty("client_state", t0 + timedelta(seconds=20))
    assert not store.mark_verified(
        "client_state", started=t0 + timedelta(seconds=10), at=t0 + timedelta(seconds=30)
    )
    assert "client_state" in store.dirty_services()
    assert store.mark_verified(
        "client_state", started=t0 + timedelta(seconds=21), at=t0 + timedelta(seconds=40)
    )
    assert "client_state" not in store.dirty_services()
    store.close()


def test_an_unclean_write_stored_after_a_clearing_it_postdates_makes_the_service_dirty_again(
    tmp_path: Path,
) -> None:
    """The runtime may flush a later unclean write only after a verification cleared the
    service: if that write came after the verification began, the service is dirty again;
    one from before the verification began changes nothing."""
    from shadow.runtime._store import StoreBatch  # noqa: PLC0415  (the runtime's batch type)

    store = DivergenceStore(f"sqlite:///{tmp_path / 'store.db'}")
    store.mark_dirty("client_state", NOW)
    started = NOW + timedelta(seconds=10)
    assert store.mark_verified("client_state", started=started, at=NOW + timedelta(seconds=30))
    store.record(StoreBatch(service_marks=[("client_state", True, NOW + timedelta(seconds=5))]))
    assert "client_state" not in store.dirty_services()
    store.record(StoreBatch(service_marks=[("client_state", True, NOW + timedelta(seconds=15))]))
    assert "client_state" in store.dirty_services()
    assert not store.mark_verified(
        "client_state", started=NOW + timedelta(seconds=12), at=NOW + timedelta(seconds=50)
    )
    store.close()


def test_the_runtime_sends_the_latest_unclean_write_of_a_service_already_dirty() -> None:
    """The first unclean write turns the service dirty; each later one moves its last-dirty
    time, which the next batch carries (one mark per service, not one per write)."""
    from shadow.runtime import ShadowSettings  # noqa: PLC0415
    from shadow.runtime._evidence import EvidenceState  # noqa: PLC0415

    clock = FixedClock(NOW)
    state = EvidenceState(ShadowSettings(), clock=clock)
    assert state.mark_dirty("client_state", 5)
    for seq in (6, 7, 8):
        latest = clock.advance(1)
        assert not state.mark_dirty("client_state", seq)
    assert state.take_marks() == [("client_state", True, NOW), ("client_state", True, latest)]
    assert state.take_marks() == []
