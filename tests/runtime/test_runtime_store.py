"""The divergence store: counts, latency, groups and review, dirt, restarts, several writers."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shadow import ConfigError, FixedClock, ReviewStatus, StoreError
from shadow.cutover.store import load_evidence
from shadow.runtime import DivergenceStore
from shadow.runtime._store import StoreBatch
from tests.runtime import runtime_kv
from tests.runtime.runtime_kv import KeyValue, MakeRuntime

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

BACKENDS = [
    pytest.param("sqlite"),
    pytest.param("postgresql", marks=pytest.mark.postgres),
    pytest.param("mariadb", marks=pytest.mark.mariadb),
]


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, empty_database: Callable[[str], str]) -> str:
    return empty_database(request.param)


def divergence(batch: StoreBatch, fingerprint: str, at: datetime, value: str = "x") -> None:
    batch.add_divergence(
        fingerprint,
        service="kv",
        method="get",
        outcome="divergence",
        paths=("root['value']",),
        error_types=(),
        at=at,
        example={"seen_at": at.isoformat(), "differences": [{"authoritative": value}]},
    )


def test_counts_latency_and_groups_survive_a_restart(store_url: str) -> None:
    store = DivergenceStore(store_url)
    batch = StoreBatch(examples_per_group=2)
    for _ in range(3):
        batch.add_outcome("kv", "get", "match", evidence=True, at=T0)
    batch.add_outcome("kv", "get", "divergence", evidence=False, at=T0)
    for millis in range(1, 101):
        batch.add_latency("kv", "get", "legacy", millis / 1000)
    for n in range(3):
        divergence(batch, "fp1", T0 + timedelta(minutes=n), value=f"v{n}")
    store.record(batch)
    store.close()

    reopened = DivergenceStore(store_url)
    counts = {(item.outcome, item.total, item.evidence) for item in reopened.comparison_counts()}
    assert counts == {("match", 3, 3), ("divergence", 1, 0)}
    (latency,) = reopened.latency()
    summary = latency.summary
    assert summary.count == 100
    assert 0.045 <= summary.p50 <= 0.055  # fixed ~9 % buckets, interpolated
    assert 0.09 <= summary.p99 <= 0.11
    (group,) = reopened.groups()
    assert (group.count, group.status, group.paths) == (3, "open", ("root['value']",))
    assert (group.first_seen, group.last_seen) == (T0, T0 + timedelta(minutes=2))
    detailed = reopened.group("fp1")
    assert detailed is not None
    assert [item["differences"][0]["authoritative"] for item in detailed.examples] == ["v0", "v1"]
    assert reopened.first_comparison_at() == T0
    reopened.close()


def test_review_accept_reopen_and_a_fixed_group_seen_again_is_reopened(store_url: str) -> None:
    store = DivergenceStore(store_url)
    batch = StoreBatch()
    divergence(batch, "fp", T0)
    store.record(batch)
    store.accept("fp", "known: rounding", T0 + timedelta(days=7), at=T0)
    accepted = store.group("fp")
    assert accepted is not None
    assert (accepted.status, accepted.note, accepted.expires_at) == (
        ReviewStatus.ACCEPTED,
        "known: rounding",
        T0 + timedelta(days=7),
    )
    store.reopen("fp", at=T0)
    assert [group.status for group in store.groups(status="open")] == ["open"]
    store.mark_fixed("fp", at=T0)
    assert store.groups(status="open") == []
    again = StoreBatch()
    divergence(again, "fp", T0 + timedelta(hours=1))
    store.record(again)
    reopened = store.group("fp")
    assert reopened is not None and (reopened.status, reopened.count) == ("open", 2)
    with pytest.raises(StoreError, match="nope"):
        store.accept("nope", "n", None, at=T0)
    store.close()


def test_dirty_state_is_stored_and_cleared(store_url: str) -> None:
    store = DivergenceStore(store_url)
    store.mark_dirty("kv", T0)
    assert store.dirty_services() == {"kv"}
    store.mark_clean("kv", T0 + timedelta(minutes=5))
    (state,) = store.services()
    assert (state.dirty, state.reconciled_at) == (False, T0 + timedelta(minutes=5))
    store.close()


@pytest.mark.slow
def test_several_processes_can_write_the_same_sqlite_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    DivergenceStore(url).close()
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=runtime_kv.write_batches, args=(url, 40)) for _ in range(3)]
    for writer in writers:
        writer.start()
    runtime_kv.write_batches(url, 40)
    for writer in writers:
        writer.join(120)
        assert writer.exitcode == 0
    store = DivergenceStore(url)
    (count,) = store.comparison_counts()
    assert count.total == 160
    (latency,) = store.latency()
    assert latency.summary.count == 160
    store.close()


def test_a_malformed_store_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="store_url"):
        DivergenceStore("not a url")


def test_the_recorder_attributes_each_mirrored_call_to_its_mode(
    make_runtime: MakeRuntime, paths: dict[str, str]
) -> None:
    """Real runtime, real store: calls in reverse mode are stored as reverse-mode evidence."""
    runtime = make_runtime(mode="reverse")
    kv = runtime.proxy(KeyValue, "kv")
    kv.put("a", "1")
    for _ in range(3):
        kv.get("a")
    runtime.close()
    found = load_evidence(paths["store"], clock=FixedClock())
    assert found.by_mode is not None and set(found.by_mode) == {"reverse"}
    reverse = found.in_mode("reverse")
    assert reverse.method("kv", "get").count("match") == 3
    assert reverse.method("kv", "get").legacy is not None
    assert "kv" in reverse.first_comparisons
    assert found.in_mode("shadow").method("kv", "get").compared == 0
