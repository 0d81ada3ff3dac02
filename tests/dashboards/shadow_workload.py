"""A small real workload through the shadow runtime, for metric and dashboard tests.

Two tiny in-test implementations of one contract (a key/value store): the
candidate returns a different value for keys starting with ``odd`` (a planted
divergence) so every outcome panel has something to show. The runtime runs
with a thread worker, a SQLite divergence store in a temp directory, its own
registry and ``/metrics`` on 127.0.0.1, and the gate-readiness collector.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from shadow import read, write
from shadow.cutover.audit_metrics import AuditLogMetrics
from shadow.cutover.control import CutoverSettings
from shadow.cutover.plan import PhasePlan
from shadow.cutover.policy import GatePolicy, PolicySet
from shadow.cutover.readiness import GateReadiness
from shadow.runtime import Mode, Runtime, ServiceSettings, ShadowSettings, SideFactory, WorkerKind


class KeyValue(ABC):
    @read()
    @abstractmethod
    def get(self, key: str) -> str | None: ...

    @write()
    @abstractmethod
    def put(self, key: str, value: str) -> None: ...


class DictKeyValue(KeyValue):
    def __init__(self, *, suffix: str = "") -> None:
        self._values: dict[str, str] = {}
        self._suffix = suffix
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            value = self._values.get(key)
        return None if value is None else value + (self._suffix if key.startswith("odd") else "")

    def put(self, key: str, value: str) -> None:
        with self._lock:
            self._values[key] = value


def build_legacy(**_: Any) -> Mapping[str, KeyValue]:
    return {"kv": DictKeyValue()}


def build_candidate(**_: Any) -> Mapping[str, KeyValue]:
    return {"kv": DictKeyValue(suffix="!")}


@dataclass
class Workload:
    runtime: Runtime
    registry: CollectorRegistry
    port: int
    proxy: KeyValue
    cutover: CutoverSettings

    def run(self, calls: int) -> None:
        """``calls`` writes and reads, a few of them on diverging keys."""
        for index in range(calls):
            key = f"odd-{index}" if index % 25 == 0 else f"key-{index % 50}"
            self.proxy.put(key, str(index))
            self.proxy.get(key)


@contextmanager
def running_workload(tmp_path: Path) -> Iterator[Workload]:
    """A runtime serving /metrics with one shadowed service, closed on exit."""
    registry = CollectorRegistry()
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    settings = ShadowSettings(
        services={"kv": ServiceSettings(mode=Mode.SHADOW)},
        worker=WorkerKind.THREAD,
        store_url=store_url,
        store_flush_seconds=0.2,
    )
    runtime = Runtime(
        settings,
        legacy=SideFactory(build_legacy),
        candidate=SideFactory(build_candidate),
        registry=registry,
    )
    try:
        proxy = runtime.proxy(KeyValue, "kv")
        runtime.flush()
        cutover = CutoverSettings(
            modes_file=tmp_path / "shadow.toml",
            audit_log=tmp_path / "audit.jsonl",
            declared_methods={"kv": {"get", "put"}},
            store=store_url,
            plan=PhasePlan({1: ("kv",)}),
            policies=PolicySet(GatePolicy(min_comparisons=1)),
        )
        registry.register(GateReadiness(cutover, min_interval=1.0))
        registry.register(AuditLogMetrics(cutover.audit_log))
        port = runtime.serve_metrics(0)
        yield Workload(runtime, registry, port, proxy, cutover)
    finally:
        runtime.close()
