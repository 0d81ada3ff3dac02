"""The divergence store's counters add up on every backend it may live on.

Each flush adds its counts to the stored rows with one native upsert per table;
two stores (standing in for two processes) flushing the same keys must add,
never overwrite, on SQLite, PostgreSQL and MariaDB alike.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from shadow.runtime import DivergenceStore
from shadow.runtime._store import StoreBatch

AT = datetime(2026, 1, 1, tzinfo=UTC)


def _batch() -> StoreBatch:
    batch = StoreBatch()
    batch.add_outcome("users", "get", "match", evidence=True, at=AT)
    batch.add_outcome("users", "get", "match", evidence=False, at=AT)
    batch.add_outcome("users", "get", "divergence", evidence=True, at=AT)
    batch.add_latency("users", "get", "legacy", 0.001)
    batch.add_latency("users", "get", "legacy", 0.001)
    batch.add_drop("users", "create", "write", "queue_full")
    return batch


@pytest.mark.parametrize(
    "backend",
    [
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ],
)
def test_two_writers_flushing_the_same_keys_add_their_counts(
    backend: str, empty_database: Callable[[str], str]
) -> None:
    url = empty_database(backend)
    first, second = DivergenceStore(url), DivergenceStore(url)
    try:
        first.record(_batch())
        second.record(_batch())
        second.record(_batch())
        counts = {(c.method, c.outcome): (c.total, c.evidence) for c in first.comparison_counts()}
        assert counts == {("get", "match"): (6, 3), ("get", "divergence"): (3, 3)}
        [latency] = first.latency()
        assert (latency.method, latency.side, latency.summary.count) == ("get", "legacy", 6)
        assert 0.0009 < latency.summary.p50 < 0.0012
        [drop] = first.drops()
        assert (drop.method, drop.kind, drop.reason, drop.count) == (
            "create",
            "write",
            "queue_full",
            3,
        )
    finally:
        first.close()
        second.close()
