"""Conflict domains: a mirror worker per group of services that share no tables.

Two key-value services, ``a`` and ``b``, over two files of their own on each
side (``runtime_kv.build_pair``): declared as two domains and run with
``mirror_workers=2``, each gets a worker; each keeps its order, and a fault in
one's worker drops nothing of the other's.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import pytest
from prometheus_client import CollectorRegistry

from shadow import ConfigError, FixedClock, SequentialIds
from shadow.runtime import Outcome, Runtime, ShadowSettings, SideFactory
from shadow.runtime._domains import RoutedExecutor, worker_routes
from shadow.runtime._executor import InlineExecutor, QueuedExecutor
from shadow.testing import capture_comparisons
from tests.runtime import runtime_kv
from tests.runtime.runtime_kv import KeyValue

TWO_DOMAINS = (("a",), ("b",))


class MakePair(Protocol):
    def __call__(
        self,
        *,
        domains: Sequence[Collection[str]] = TWO_DOMAINS,
        b_options: Mapping[str, Any] | None = None,
        **settings: Any,
    ) -> Runtime: ...


@pytest.fixture
def make_pair(tmp_path: Path) -> Iterator[MakePair]:
    created: list[Runtime] = []

    def make(
        *,
        domains: Sequence[Collection[str]] = TWO_DOMAINS,
        b_options: Mapping[str, Any] | None = None,
        **settings: Any,
    ) -> Runtime:
        build = "tests.runtime.runtime_kv:build_pair"
        runtime = Runtime(
            ShadowSettings(
                default_mode="shadow", store_url=f"sqlite:///{tmp_path / 'store.db'}", **settings
            ),
            legacy=SideFactory(build, {"path": str(tmp_path / "legacy")}),
            candidate=SideFactory(
                build, {"path": str(tmp_path / "candidate"), "b_options": dict(b_options or {})}
            ),
            registry=CollectorRegistry(),
            ids=SequentialIds("kv"),
            clock=FixedClock(),
            domains=domains,
        )
        created.append(runtime)
        return runtime

    yield make
    for runtime in created:
        runtime.close()


def _rows(tmp_path: Path, service: str) -> tuple[list[Any], list[Any]]:
    """The legacy and candidate rows of ``service``."""
    return (
        runtime_kv.rows(str(tmp_path / f"legacy-{service}")),
        runtime_kv.rows(str(tmp_path / f"candidate-{service}")),
    )


@pytest.mark.parametrize("worker", ["process", "thread"])
def test_each_domain_keeps_its_commit_order_on_a_worker_of_its_own(
    make_pair: MakePair, tmp_path: Path, worker: str
) -> None:
    runtime = make_pair(worker=worker, mirror_workers=2, batch_size=3)
    assert isinstance(runtime.executor, RoutedExecutor)
    assert len(runtime.executor.executors) == 2
    a, b = runtime.proxy(KeyValue, "a"), runtime.proxy(KeyValue, "b")
    with capture_comparisons(runtime) as seen:

        def writer(prefix: str) -> None:
            for n in range(30):
                # Overwrites of a few keys from three threads: only the same order per
                # service gives the same rows.
                (a if n % 2 else b).put(f"{prefix}{n % 3}", f"{prefix}{n}")

        threads = [threading.Thread(target=writer, args=(prefix,)) for prefix in "xyz"]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        a.worker_pid()
        b.worker_pid()
        assert runtime.flush(60)
    for service in ("a", "b"):
        legacy, candidate = _rows(tmp_path, service)
        assert candidate == legacy and len(legacy) == 9
    writes = [item for item in seen if item.method == "put"]
    assert len(writes) == 90 and {item.outcome for item in writes} == {Outcome.MATCH}
    # Each worker's busy time is its own series (the busiest bounds the mirror's capacity).
    registry = runtime.metrics.registry
    for index in ("0", "1"):
        busy = registry.get_sample_value("shadow_mirror_busy_seconds_total", {"worker": index})
        assert busy is not None and busy > 0
    assert registry.get_sample_value("shadow_mirror_busy_seconds_total", {"worker": "2"}) is None
    if worker == "process":
        # worker_pid answers differently on the two sides; the mirror's answer is its pid.
        pids = {item.service: item.differences[0].mirror for item in seen if item.differences}
        assert pids["a"] != pids["b"] and os.getpid() not in pids.values()


@pytest.mark.slow
def test_a_crashed_worker_drops_only_its_own_domains_call(make_pair: MakePair) -> None:
    runtime = make_pair(
        worker="process", mirror_workers=2, b_options={"fault": "exit", "fault_method": "delete"}
    )
    a, b = runtime.proxy(KeyValue, "a"), runtime.proxy(KeyValue, "b")
    with capture_comparisons(runtime) as seen:
        b.put("k", "1")
        for n in range(10):
            a.put(f"k{n}", "v")
        b.delete("k")  # kills b's worker process
        for n in range(10):
            a.put(f"k{n}", "w")
        b.put("j", "2")  # on b's replacement worker
        assert runtime.flush(60)
    by_service = {
        service: [
            (item.method, item.outcome, item.reason) for item in seen if item.service == service
        ]
        for service in ("a", "b")
    }
    assert by_service["a"] == [("put", Outcome.MATCH, None)] * 20
    assert by_service["b"] == [
        ("put", Outcome.MATCH, None),
        ("delete", Outcome.DROPPED, "worker_crash"),
        ("put", Outcome.MATCH, None),
    ]
    assert runtime.recorder.evidence.is_dirty("b")
    assert not runtime.recorder.evidence.is_dirty("a")
    # Only b's worker was replaced; a's went on as it was.
    assert isinstance(runtime.executor, RoutedExecutor)
    assert (runtime.executor.route("a").restarts, runtime.executor.route("b").restarts) == (0, 1)


@pytest.mark.slow
def test_a_worker_past_its_deadline_does_not_hold_up_the_other_domain(make_pair: MakePair) -> None:
    runtime = make_pair(
        worker="process",
        mirror_workers=2,
        deadline_seconds=3.0,
        b_options={"fault": "hang", "fault_method": "get"},
    )
    a, b = runtime.proxy(KeyValue, "a"), runtime.proxy(KeyValue, "b")
    with capture_comparisons(runtime) as seen:
        b.put("k", "1")
        b.get("k")  # hangs b's worker until its deadline kills it
        for n in range(10):
            a.put(f"k{n}", "v")
        b.put("k", "2")
        assert runtime.flush(60)
    published = [(item.service, item.method, item.outcome, str(item.reason)) for item in seen]
    # a's writes, handed off after b's hanging read, were applied while b's worker hung:
    # with one worker they would have waited behind it and been published after the drop.
    dropped = published.index(("b", "get", Outcome.DROPPED, "deadline"))
    assert [entry for entry in published[:dropped] if entry[0] == "a"] == [
        ("a", "put", Outcome.MATCH, "None")
    ] * 10
    assert published[-1] == ("b", "put", Outcome.MATCH, "None")
    assert not runtime.recorder.evidence.is_dirty("a")


def test_the_queue_bounds_hold_over_every_domains_queue_together(make_pair: MakePair) -> None:
    release = threading.Event()
    runtime = make_pair(
        worker="thread",
        mirror_workers=2,
        queue_size=4,
        batch_size=1,
        deadline_seconds=60,
        b_options={"gate": release.wait},
    )
    a, b = runtime.proxy(KeyValue, "a"), runtime.proxy(KeyValue, "b")
    try:
        with capture_comparisons(runtime) as seen:
            b.put("k", "1")
            assert runtime.flush(30)
            b.get("k")  # holds b's worker until released
            for n in range(3):
                b.put(f"w{n}", "x")  # writes: never sampled out, so the queue fills
            assert runtime.executor.depth() == 4
            a.put("x", "1")  # a's own queue is empty, but the bound is over both
            dropped = [(item.service, item.method, item.reason) for item in seen
                       if item.outcome is Outcome.DROPPED]  # fmt: skip
            assert dropped == [("a", "put", "queue_full")]
    finally:
        release.set()
    assert runtime.flush(30)


def test_one_worker_by_default_whatever_the_domains(make_pair: MakePair) -> None:
    assert isinstance(make_pair(worker="thread").executor, QueuedExecutor)
    assert isinstance(
        make_pair(worker="thread", mirror_workers=4, domains=()).executor, QueuedExecutor
    )
    assert isinstance(make_pair(worker="inline", mirror_workers=2).executor, InlineExecutor)


def test_domains_go_round_the_workers_in_the_order_declared() -> None:
    domains = [("queue",), ("users", "boards"), ("models",)]
    assert worker_routes(domains, 1) == ({"queue": 0, "users": 0, "boards": 0, "models": 0}, 1)
    assert worker_routes(domains, 2) == ({"queue": 0, "users": 1, "boards": 1, "models": 0}, 2)
    # Never more workers than domains.
    assert worker_routes(domains, 8) == ({"queue": 0, "users": 1, "boards": 1, "models": 2}, 3)
    assert worker_routes((), 8) == ({}, 1)


@pytest.mark.parametrize(
    ("domains", "message"),
    [
        ((("a",), ("a", "b")), "service 'a' is in more than one conflict domain"),
        ((("a",), ()), "conflict domain 1 names no service"),
        (("ab",), "conflict domain 'ab' must be a collection of service names"),
    ],
)
def test_a_wrong_declaration_is_one_clear_error(
    make_pair: MakePair, domains: Sequence[Collection[str]], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        make_pair(worker="thread", domains=domains)
