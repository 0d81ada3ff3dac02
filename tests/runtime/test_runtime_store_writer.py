"""The divergence store written from a process of its own (``store_process``)."""

from __future__ import annotations

import multiprocessing
import os

import pytest
from structlog.testing import capture_logs

from shadow import ConfigError
from shadow.runtime import DivergenceStore, Runtime
from tests.runtime.runtime_kv import KeyValue, MakeRuntime


def _writer_processes() -> list[multiprocessing.process.BaseProcess]:
    return [child for child in multiprocessing.active_children() if child.name == "shadow-store"]


def _matches(store_url: str) -> int:
    store = DivergenceStore(store_url)
    try:
        return sum(c.total for c in store.comparison_counts() if c.outcome == "match")
    finally:
        store.close()


def _calls(runtime: Runtime, count: int) -> None:
    kv = runtime.proxy(KeyValue, "kv")
    for index in range(count):
        kv.put(f"k{index}", "v")
    assert runtime.flush(30)


def test_beside_the_process_worker_the_store_can_be_written_by_another_process(
    make_runtime: MakeRuntime, paths: dict[str, str]
) -> None:
    """The batches reach the same store, recorded from a child process, and it stops at close."""
    runtime = make_runtime(worker="process", store_process=True)
    (writer,) = _writer_processes()
    assert writer.pid != os.getpid()
    _calls(runtime, 3)
    assert _matches(paths["store"]) == 3
    runtime.close()
    assert not writer.is_alive()


def test_a_writer_that_died_is_a_refused_write_kept_for_the_next_flush(
    make_runtime: MakeRuntime, paths: dict[str, str]
) -> None:
    """Killed before a flush: that flush fails as a store write does, loses nothing, and the
    next one starts a new writer and records every call."""
    runtime = make_runtime(worker="process", store_process=True)
    (writer,) = _writer_processes()
    writer.kill()
    writer.join(5)
    with capture_logs() as logs:
        _calls(runtime, 2)  # Runtime.flush writes too: refused, kept
    failures = [line for line in logs if line["event"] == "shadow_store_write_failed"]
    assert failures and "store writer died" in failures[0]["error"]
    assert runtime.metrics.registry.get_sample_value("shadow_store_write_failures_total") == 1
    assert runtime.recorder.flush()
    assert _matches(paths["store"]) == 2
    (replacement,) = _writer_processes()
    assert replacement.pid != writer.pid


@pytest.mark.parametrize(
    ("worker", "settings"),
    [("thread", {"store_process": True}), ("inline", {"store_process": True}), ("process", {})],
)
def test_without_the_process_worker_or_by_default_the_store_is_written_here(
    make_runtime: MakeRuntime, paths: dict[str, str], worker: str, settings: dict[str, object]
) -> None:
    runtime = make_runtime(worker=worker, **settings)
    assert _writer_processes() == []
    _calls(runtime, 2)
    assert _matches(paths["store"]) == 2


def test_an_in_memory_store_cannot_be_written_from_a_process() -> None:
    store = DivergenceStore("sqlite://")
    try:
        assert store.in_memory
        with pytest.raises(ConfigError, match="in-memory"):
            store.write_from_process()
    finally:
        store.close()
