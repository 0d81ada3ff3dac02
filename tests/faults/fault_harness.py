"""A running runtime over the reference services, a deterministic workload, and its verdicts.

Every fault scenario runs the same small workload (:func:`run_workload`) on a
runtime built by :class:`Rig`, once without the fault and once with it, and
compares: what the callers got, the authoritative store's rows, what the
runtime counted, whether the services are dirty, and what the gate says.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from imagegen.db.admin import init_legacy
from imagegen.db.backfill import copy_rows
from imagegen.db.engine import create_engine, create_schema
from imagegen.demo.wiring import SERVICE_TABLES, SERVICES
from shadow import FixedClock, SequentialIds, SystemClock
from shadow._vocabulary import Mode
from shadow.cutover.criteria import GateVerdict, evaluate_gate
from shadow.cutover.plan import PhasePlan
from shadow.cutover.policy import GatePolicy
from shadow.cutover.store import load_evidence
from shadow.runtime import Runtime, ServiceSettings, ShadowSettings, Side, SideFactory
from shadow.runtime._compare import normalize
from shadow.runtime._store import DivergenceStore

SHADOWED = ("app_settings", "client_state", "boards")
"""The services the workload calls (all in shadow mode)."""

DECLARED = {
    "app_settings": frozenset({"get", "set"}),
    "client_state": frozenset({"get_by_key", "set_by_key"}),
    "boards": frozenset({"get", "save"}),
}
"""The methods the gate judges: the ones the workload calls."""

PLAN = PhasePlan({1: SHADOWED})
POLICY = GatePolicy(
    min_comparisons=3,
    max_divergence_rate=0.2,
    max_candidate_error_rate=0.2,
    max_p95_ratio=1e6,
    min_latency_samples=10**6,  # latency is not what these scenarios judge
    min_soak=timedelta(0),
)
"""A gate that a fault-free run of the workload passes: what fails it is the fault."""

STEPS = 24


@dataclass
class Run:
    """What one workload run produced."""

    answers: list[Any]
    """Per call: the caller's result (projected) or ("raised", type, message)."""
    legacy_rows: dict[str, list[tuple[Any, ...]]]
    dirty: frozenset[str]
    stored_dirty: frozenset[str]
    drops: dict[str, int]
    comparisons: dict[str, int]
    store_write_failures: float
    gate: GateVerdict | None
    extra: dict[str, Any] = field(default_factory=dict)


def _project(value: Any) -> Any:
    """A caller's answer without database-generated times (they differ between runs)."""
    plain = normalize(value)
    if isinstance(plain, dict):
        return {k: _project(v) for k, v in plain.items() if not str(k).endswith("_at")}
    if isinstance(plain, list):
        return [_project(item) for item in plain]
    return plain


class Rig:
    """The stores of one run (legacy, candidate, divergence store) and its runtime."""

    def __init__(
        self,
        root: Path,
        *,
        candidate_url: str | None = None,
        candidate_options: dict[str, Any] | None = None,
        legacy_options: dict[str, Any] | None = None,
        worker: str = "thread",
        mode: str = "shadow",
        store: Callable[[str], DivergenceStore] | None = None,
        defer_candidate: bool = False,
        **settings: Any,
    ) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.legacy_path = root / "legacy.sqlite3"
        self.candidate_path = root / "candidate.sqlite3"
        self.store_path = root / "divergences.sqlite3"
        self.store_url = f"sqlite:///{self.store_path}"
        self.switch = str(root / "fault-on")
        init_legacy(self.legacy_path)
        self.candidate_url = candidate_url or f"sqlite:///{self.candidate_path}"
        legacy_engine = create_engine(f"sqlite:///{self.legacy_path}")
        candidate_engine = create_engine(self.candidate_url)
        try:
            if candidate_url is None:
                create_schema(candidate_engine)
            copy_rows(legacy_engine, candidate_engine)
        finally:
            legacy_engine.dispose()
            candidate_engine.dispose()
        self._runtime_args: dict[str, Any] = {
            "legacy_options": legacy_options,
            "candidate_options": candidate_options,
            "worker": worker,
            "mode": mode,
            "store": store,
            "settings": settings,
        }
        if not defer_candidate:
            self.start()

    def start(self) -> None:
        """Build the runtime and its proxies (deferred when a test alters the stores first)."""
        args = self._runtime_args
        legacy_options = args["legacy_options"]
        candidate_options = args["candidate_options"]
        worker, mode, store, settings = (
            args["worker"],
            args["mode"],
            args["store"],
            args["settings"],
        )
        self.registry = CollectorRegistry()
        self.store = store(self.store_url) if store is not None else None
        legacy_factory = (
            SideFactory(
                "tests.faults.fault_factories:build_faulty_legacy",
                {"path": str(self.legacy_path), **legacy_options},
            )
            if legacy_options
            else SideFactory("imagegen.demo.wiring:build_legacy", {"path": str(self.legacy_path)})
        )
        self.runtime = Runtime(
            ShadowSettings(
                worker=worker,
                services={name: ServiceSettings(mode=mode) for name in SHADOWED},
                store_url=self.store_url,
                **{"deadline_seconds": 2.0, "store_flush_seconds": 0.1, **settings},
            ),
            legacy=legacy_factory,
            candidate=SideFactory(
                "tests.faults.fault_factories:build_candidate",
                {"url": self.candidate_url, **(candidate_options or {})},
            ),
            registry=self.registry,
            store=self.store,
            ids=SequentialIds("fault"),
            clock=FixedClock(),
            reconcile=self._reconcile,
        )
        contracts = {wiring.name: wiring.contract for wiring in SERVICES}
        self.services: dict[str, Any] = {
            name: self.runtime.proxy(contracts[name], name) for name in SHADOWED
        }
        self._warm_up()

    def _warm_up(self) -> None:
        # The first call of each service on the mirror compiles its statements:
        # on a loaded machine that alone can pass a deadline. Warm both sides up
        # with reads of nothing (they match, and count the same in every run).
        self.services["app_settings"].get("fault.warm-up")
        self.services["client_state"].get_by_key("system", "warm-up")
        with contextlib.suppress(Exception):  # NotFoundError, on both sides alike
            self.services["boards"].get("warm-up")
        self.runtime.flush(timeout=60)

    def _reconcile(self, service: str, source: Side) -> None:
        urls = {Side.LEGACY: f"sqlite:///{self.legacy_path}", Side.CANDIDATE: self.candidate_url}
        source_engine = create_engine(urls[source])
        target_engine = create_engine(urls[source.other])
        try:
            copy_rows(source_engine, target_engine, SERVICE_TABLES[service])
        finally:
            source_engine.dispose()
            target_engine.dispose()

    def fault_on(self) -> None:
        """Turn on the planted fault (factories built with ``switch=rig.switch``)."""
        Path(self.switch).touch()

    def fault_off(self) -> None:
        """Turn the planted fault off again."""
        Path(self.switch).unlink(missing_ok=True)

    def sample(self, name: str, **labels: str) -> float:
        """A metric sample of this run's registry (0 when absent)."""
        return self.registry.get_sample_value(name, labels or None) or 0.0


def run_workload(
    rig: Rig,
    *,
    at_step: Callable[[int], None] = lambda step: None,
    steps: int = STEPS,
) -> list[Any]:
    """The deterministic workload: settings, client state and boards, reads after writes.

    ``at_step(i)`` runs before step ``i`` (to inject a fault mid-run). Returns
    what each call gave the caller.
    """
    settings = rig.services["app_settings"]
    state = rig.services["client_state"]
    boards = rig.services["boards"]
    answers: list[Any] = []
    board_ids: list[str] = []

    def record(call: Callable[..., Any], *args: Any) -> Any:
        try:
            result = call(*args)
        except Exception as error:
            answers.append(("raised", type(error).__name__, str(error)))
            return None
        answers.append(_project(result))
        return result

    for step in range(steps):
        at_step(step)
        record(settings.set, f"fault.k{step % 5}", f"v{step}")
        record(settings.get, f"fault.k{step % 5}")
        record(state.set_by_key, "system", f"key{step % 4}", f"value {step}")
        record(state.get_by_key, "system", f"key{step % 4}")
        board = record(boards.save, f"board {step}", "system")
        if board is not None:
            board_ids.append(board.board_id)
        if board_ids:
            record(boards.get, board_ids[-1])
    return answers


def legacy_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The authoritative store's rows the workload writes (times left out)."""
    connection = sqlite3.connect(path)
    try:
        return {
            "app_settings": connection.execute(
                "SELECT key, value FROM app_settings WHERE key LIKE 'fault.%' ORDER BY key"
            ).fetchall(),
            "client_state": connection.execute(
                "SELECT user_id, key, value FROM client_state ORDER BY user_id, key"
            ).fetchall(),
            "boards": connection.execute(
                "SELECT board_id, board_name, user_id FROM boards ORDER BY board_id"
            ).fetchall(),
        }
    finally:
        connection.close()


def judge(rig: Rig) -> GateVerdict | None:
    """The gate's verdict for the workload's services on this run's store (None: unreadable)."""
    try:
        evidence = load_evidence(rig.store_url, clock=SystemClock())
    except Exception:
        return None
    return evaluate_gate(
        1,
        plan=PLAN,
        policy=POLICY,
        evidence=evidence,
        modes=dict.fromkeys(SHADOWED, Mode.SHADOW),
        declared_methods=DECLARED,
    )


def finish(rig: Rig, answers: list[Any], *, close: bool = True) -> Run:
    """Flush and close the runtime, then collect what the run left behind."""
    rig.runtime.flush(timeout=30)
    dirty = rig.runtime.recorder.evidence.dirty_services()
    if close:
        close_runtime(rig)
    drops: dict[str, int] = {}
    comparisons: dict[str, int] = {}
    for service in SHADOWED:
        for method in sorted(DECLARED[service]):
            for outcome in ("match", "divergence", "candidate_error", "dropped", "raced"):
                value = rig.sample(
                    "shadow_comparisons_total", service=service, method=method, outcome=outcome
                )
                comparisons[outcome] = comparisons.get(outcome, 0) + int(value)
    stored_dirty: frozenset[str] = frozenset()
    if rig.store_path.exists():  # opening a missing store would create it
        store = DivergenceStore(rig.store_url)
        try:
            stored_dirty = store.dirty_services()
            for drop in store.drops():
                drops[drop.reason] = drops.get(drop.reason, 0) + drop.count
        finally:
            store.close()
    return Run(
        answers=answers,
        legacy_rows=legacy_rows(rig.legacy_path),
        dirty=dirty,
        stored_dirty=stored_dirty,
        drops=drops,
        comparisons=comparisons,
        store_write_failures=rig.sample("shadow_store_write_failures_total"),
        gate=judge(rig),
    )


def close_runtime(rig: Rig) -> None:
    """Close the runtime, and the mirror's engines first (the runtime leaves them to exit).

    A server candidate's pooled connections would otherwise be garbage-collected
    open, which Python reports as a ResourceWarning (an error in this suite).
    """
    worker = getattr(rig.runtime.executor, "worker", None)
    engine = getattr(worker, "_engine", None)
    for services in getattr(engine, "_sides", {}).values():
        for service in services.values():
            for value in vars(getattr(service, "_inner", service)).values():
                if isinstance(value, sa.Engine):
                    value.dispose()
    rig.runtime.close()


def failed_criteria(verdict: GateVerdict | None) -> list[str]:
    """Names of the gate criteria that failed (``["store unreadable"]`` without a verdict)."""
    if verdict is None:
        return ["store unreadable"]
    return [criterion.name for criterion in verdict.criteria if not criterion.passed]
