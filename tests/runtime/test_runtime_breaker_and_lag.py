"""The circuit breaker's states, the lag window, and a store write that fails once."""

from __future__ import annotations

import pytest

from shadow import StoreError
from shadow.runtime._breaker import CircuitBreaker
from shadow.runtime._lag import LagTracker
from tests.runtime.runtime_kv import KeyValue, MakeRuntime


def _is_open(breaker: CircuitBreaker) -> bool:
    """The breaker's state read through a call, so no earlier assert's narrowing sticks."""
    return breaker.is_open


def test_the_breaker_opens_at_the_threshold_half_opens_after_the_reset_and_closes() -> None:
    now = [0.0]
    changes: list[bool] = []
    breaker = CircuitBreaker(3, 10.0, on_change=changes.append, clock=lambda: now[0])
    for _ in range(2):
        breaker.failure()
    breaker.success()  # a success resets the consecutive count
    for _ in range(3):
        breaker.failure()
    assert breaker.is_open and not breaker.allow()
    now[0] = 11.0
    assert breaker.allow()  # half-open: calls may try again
    breaker.failure()  # ...and one failure opens it again at once
    assert breaker.is_open and not breaker.allow()
    now[0] = 22.0
    assert breaker.allow()
    breaker.success()
    assert not _is_open(breaker) and breaker.allow()
    assert changes == [True, True, False]


def test_the_lag_tracker_keeps_the_largest_lag_of_its_window() -> None:
    now = [0.0]
    lags = LagTracker(60.0, clock=lambda: now[0])
    assert lags.maximum() == 0.0
    lags.add(0.5)
    now[0] = 10.0
    lags.add(0.1)
    assert lags.maximum() == 0.5
    now[0] = 65.0  # the 0.5 s lag left the window
    assert lags.maximum() == 0.1


def test_a_failed_store_write_is_kept_and_written_with_the_next_flush(
    make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = make_runtime()
    kv = runtime.proxy(KeyValue, "kv")
    kv.put("a", "1")
    original = runtime.store.record
    calls = []

    def fail_once(batch: object) -> None:
        calls.append(batch)
        if len(calls) == 1:
            raise StoreError("database is locked")
        original(batch)  # type: ignore[arg-type]

    monkeypatch.setattr(runtime.store, "record", fail_once)
    runtime.flush()
    kv.get("a")
    runtime.flush()
    counts = {(item.method, item.outcome): item.total for item in runtime.store.comparison_counts()}
    assert counts == {("put", "match"): 1, ("get", "match"): 1}
