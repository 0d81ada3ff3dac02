"""``shadow demo``: the reference application's traffic through shadow proxies.

:func:`run_demo` prepares a legacy store and a candidate store (the candidate
starts as an exact copy of the legacy one, as a real shadow rollout does),
builds a :class:`~shadow.runtime.Runtime` with a proxy per service, drives the
realistic traffic of :mod:`imagegen.demo.traffic` with API threads and queue
workers at once, and returns what the runtime recorded. The work directory
keeps the divergence store, the modes file and the gate policy, so the
cutover commands (``shadow gate``, ``shadow report``, ...) can be run on it
afterwards; ``/metrics`` also carries ``shadow_gate_ready{phase}``.

Choices where the issue is silent: every run starts from fresh stores (the
evidence of one run is not mixed with an older one; the previous run's
divergence store is kept as ``divergences.previous.sqlite3``, never deleted);
``--ops`` counts API requests, each of which makes one to several service
calls; the queue workers keep going until the API threads are done and the
queue is empty.

Every option is validated before anything in the work directory is touched.
A Ctrl-C (SIGINT) stops the traffic: requests in flight finish, the mirror
is drained (its worker ignores SIGINT, so no in-flight call dies as a
candidate error), the store is written and the summary printed; the result
says ``interrupted`` (the command exits 130). A run is ``ok`` only without
divergences, candidate errors, dropped calls, dirty services, a side that
could not be built, services the
candidate compared nothing of, and uncalled methods; :attr:`DemoResult.problems`
says which.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit
from prometheus_client import CollectorRegistry

from imagegen.cutover import DEMO_POLICY_TOML, REFERENCE_PLAN, conflict_domains
from imagegen.db.backfill import copy_rows
from imagegen.db.engine import connectable, create_engine, create_schema
from imagegen.db.legacy import open_legacy
from imagegen.db.migrate import downgrade
from imagegen.demo.at_rest import AtRest, verify_stores
from imagegen.demo.explore import ReferenceTarget
from imagegen.demo.histograms import merged_quantiles
from imagegen.demo.options import DemoOptions
from imagegen.demo.progress import DemoProgress, Stage
from imagegen.demo.traffic import API_MIX, ReferenceServices, World, tour, work_queue_item
from imagegen.demo.wiring import SERVICE_TABLES, SERVICES, phase_plan
from shadow._contract import contract_methods
from shadow._sources import UuidIds
from shadow.cutover import (
    POLICY_FILE_NAME,
    AuditLogMetrics,
    CutoverSettings,
    GateReadiness,
    declared_methods,
)
from shadow.explore import ExploreResult, explore
from shadow.runtime import (
    DivergenceStore,
    DropCount,
    LiveSettings,
    Mode,
    Runtime,
    Side,
    SideFactory,
)

__all__ = ["DemoOptions", "DemoResult", "ServiceSummary", "paced_slots", "run_demo"]

LEGACY_FILE = "legacy.sqlite3"
CANDIDATE_FILE = "candidate.sqlite3"
STORE_FILE = "divergences.sqlite3"
PREVIOUS_STORE_FILE = "divergences.previous.sqlite3"
INTERRUPTED_DRAIN_SECONDS = 30.0
"""How long an interrupted run waits for the mirror to catch up."""
MODES_FILE = "shadow.toml"


@dataclass(frozen=True)
class ServiceSummary:
    """What the runtime recorded for one service during the run."""

    service: str
    phase: int
    outcomes: Mapping[str, int]
    divergence_groups: int
    latency: Mapping[str, tuple[float, float]]
    """p50 and p99 in seconds, per side (``legacy``, ``candidate``)."""
    evidence: Mapping[str, int] = field(default_factory=dict)
    """Per outcome, the calls that count as evidence (made while the service was clean)."""

    @property
    def calls(self) -> int:
        return sum(self.outcomes.values())


@dataclass(frozen=True)
class DemoResult:
    """The outcome of a demo run."""

    services: list[ServiceSummary]
    uncovered: list[str]
    """``service.method`` of every declared method that was never called."""
    requests: int
    elapsed_seconds: float
    request_latencies: list[float] = field(repr=False)
    """Caller-side latency of every API request (seconds), for the overhead benchmark."""
    api_seconds: float
    """Wall time of the API traffic alone (after the tour, before the final flush)."""
    errors: Mapping[str, int]
    workdir: Path
    store_url: str
    metrics_port: int | None
    drained: bool = True
    """False when the mirror did not catch up before the summary: its counts are partial."""
    dirty: list[str] = field(default_factory=list)
    """Services with a dropped write not yet reconciled (their stores may differ)."""
    unavailable: Mapping[str, str] = field(default_factory=dict)
    """Sides whose factory could not be built (side -> redacted error): nothing was mirrored."""
    dirty_reasons: Mapping[str, str] = field(default_factory=dict)
    """Why each dirty service is dirty, in words (the writes not mirrored, and why)."""
    interrupted: bool = False
    """True when a Ctrl-C stopped the traffic before every request was made."""
    exploration: ExploreResult | None = None
    """What the exploration after the traffic found (None when it did not run)."""
    at_rest: AtRest | None = None
    """The verification of every table of the two stores after the traffic."""
    mirror_busy_seconds: tuple[float, ...] = ()
    """Each mirror worker's busy seconds (``shadow_mirror_busy_seconds_total``), by index."""
    mirrored_call_seconds: float = 0.0
    """The mirror side's own call time, summed (``shadow_call_duration_seconds``): the
    part of the busy seconds the mirrored implementation itself took."""

    @property
    def divergences(self) -> int:
        """Divergences that count as evidence: those of a dirty service diverge by construction."""
        return sum(summary.evidence.get("divergence", 0) for summary in self.services)

    def _total(self, outcome: str) -> int:
        return sum(summary.outcomes.get(outcome, 0) for summary in self.services)

    @property
    def not_compared(self) -> list[str]:
        """Services called but never compared: the candidate (factory) built nothing for them."""
        compared = ("match", "divergence", "raced", "candidate_error")
        return [
            summary.service
            for summary in self.services
            if summary.calls and not any(summary.outcomes.get(name, 0) for name in compared)
        ]

    @property
    def problems(self) -> list[str]:
        """Why the run is not ok, one line each (empty when it is)."""
        found = []
        if self.interrupted:
            found.append("interrupted: the counts cover only the requests made")
        for side, error in sorted(self.unavailable.items()):
            found.append(f"the {side} side could not be built, nothing was mirrored: {error}")
        if not self.drained:
            found.append("the mirror did not catch up: the counts are partial")
        if self.divergences:
            found.append(f"{self.divergences} divergences")
        if self._total("candidate_error"):
            found.append(f"{self._total('candidate_error')} candidate errors")
        if self._total("dropped"):
            found.append(f"{self._total('dropped')} calls not mirrored (dropped)")
        if self.dirty:
            found.append(
                "dirty (stores may differ until reconciled): "
                + "; ".join(
                    f"{service} ({self.dirty_reasons.get(service, 'unknown')})"
                    for service in self.dirty
                )
            )
        if self.not_compared:
            found.append(
                "the candidate compared nothing for: "
                + ", ".join(self.not_compared)
                + " (did the candidate factory build them? see the log)"
            )
        if self.uncovered:
            found.append(f"{len(self.uncovered)} declared methods never called")
        if self.exploration is not None and self.exploration.found:
            found.append(f"exploration found {len(self.exploration.found)} divergence group(s)")
        if self.at_rest is not None and not self.at_rest.report.equal:
            different = [t.table for t in self.at_rest.report.tables if not t.equal]
            found.append("the stores differ at rest: " + ", ".join(different))
        return found

    @property
    def ok(self) -> bool:
        """No problem at all (see :attr:`problems`)."""
        return not self.problems


def run_demo(options: DemoOptions, progress: DemoProgress | None = None) -> DemoResult:
    """Run the demo described by ``options``, telling ``progress`` how far each stage got.

    In the main thread, SIGINT stops the traffic instead of raising
    KeyboardInterrupt (see the module docstring).
    """
    options.validate()
    stop = threading.Event()
    with _interrupts(stop):
        return _run(options, progress, stop)


@contextmanager
def _interrupts(stop: threading.Event) -> Iterator[None]:
    """While running, SIGINT sets ``stop``; a second one only repeats that we are stopping."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupted(_signum: int, _frame: object) -> None:
        again = stop.is_set()
        stop.set()
        sys.stderr.write(
            "shadow demo: "
            + ("still stopping" if again else "interrupted: stopping the traffic")
            + f"; draining the mirror (at most {INTERRUPTED_DRAIN_SECONDS:.0f} s)\n"
        )

    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _run(options: DemoOptions, progress: DemoProgress | None, stop: threading.Event) -> DemoResult:
    workdir = options.workdir.resolve()
    candidate_url = _prepare_stores(workdir, options)
    store_url = f"sqlite:///{workdir / STORE_FILE}"
    modes_file = _write_modes_file(workdir, options, store_url)
    policy_file = workdir / POLICY_FILE_NAME
    if not policy_file.exists():  # an operator's edited policy survives later runs
        policy_file.write_text(DEMO_POLICY_TOML)

    cutover = CutoverSettings.from_files(
        modes_file,
        declared_methods=declared_methods({w.name: w.contract for w in SERVICES}),
        default_plan=REFERENCE_PLAN,
    )
    registry = CollectorRegistry()
    readiness = GateReadiness(cutover)
    registry.register(readiness)
    registry.register(AuditLogMetrics(cutover.audit_log))  # promotions as dashboard annotations
    runtime = Runtime(
        LiveSettings(modes_file),
        legacy=SideFactory(
            "imagegen.demo.wiring:build_legacy", {"path": str(workdir / LEGACY_FILE)}
        ),
        candidate=_candidate_factory(options, workdir, _shadow_durability(candidate_url, options)),
        registry=registry,
        ids=UuidIds(),
        reconcile=_reconciler(workdir, candidate_url),
        domains=conflict_domains(),
    )
    try:
        port = None
        if options.metrics_port is not None:
            port = runtime.serve_metrics(options.metrics_port)
            if progress is not None:
                progress.serving(f"http://{runtime.settings.metrics_addr}:{port}/metrics")
        services = ReferenceServices(
            **{wiring.name: runtime.proxy(wiring.contract, wiring.name) for wiring in SERVICES}
        )
        # As a service would before taking traffic: the mirror worker is up.
        runtime.wait_ready()
        started = time.perf_counter()
        world, latencies, api_seconds = _drive(services, runtime, options, progress, stop)
        drained = runtime.flush(
            timeout=INTERRUPTED_DRAIN_SECONDS if stop.is_set() else 120.0,
            progress=_drain_progress(progress),
        )
        elapsed = time.perf_counter() - started
    finally:
        readiness.close()
        runtime.close()
    exploration = None if stop.is_set() else _explore(options, store_url, progress)
    # An interrupted run stopped before the mirror caught up: its stores differ anyway. In
    # the legacy and sqlmodel modes nothing is mirrored, so only one store was written:
    # verifying would report that difference and nothing else (and take a minute on a
    # store of a million images, the after-cutover benchmark's at scale).
    at_rest = None
    if not stop.is_set() and options.mode in (Mode.SHADOW, Mode.REVERSE):
        if progress is not None:
            progress.step(Stage.AT_REST, 0, None)
        at_rest = verify_stores(f"sqlite:///{workdir / LEGACY_FILE}", candidate_url, store_url)
    return _summarize(
        exploration=exploration,
        options=options,
        workdir=workdir,
        store_url=store_url,
        registry=registry,
        world=world,
        latencies=latencies,
        api_seconds=api_seconds,
        elapsed=elapsed,
        port=port,
        drained=drained,
        interrupted=stop.is_set(),
        at_rest=at_rest,
    )


# -- preparing the stores -------------------------------------------------------------------


def _prepare_stores(workdir: Path, options: DemoOptions) -> str:
    """Fresh legacy store and a candidate that is an exact copy of it; returns the candidate URL."""
    workdir.mkdir(parents=True, exist_ok=True)
    _keep_previous_store(workdir)
    for name in (LEGACY_FILE, CANDIDATE_FILE, STORE_FILE):
        for suffix in ("", "-wal", "-shm"):
            (workdir / f"{name}{suffix}").unlink(missing_ok=True)
    legacy_path = workdir / LEGACY_FILE
    if options.legacy_template is not None:
        _sqlite_copy(options.legacy_template, legacy_path)
    open_legacy(legacy_path).close()
    candidate_path = workdir / CANDIDATE_FILE
    if options.aa:
        # A/A: the "candidate" is the legacy implementation over a byte-for-byte copy.
        _sqlite_copy(legacy_path, candidate_path)
        return f"sqlite:///{candidate_path}"
    if options.candidate_template is not None:
        _sqlite_copy(options.candidate_template, candidate_path)
        url = f"sqlite:///{candidate_path}"
        # A template seeded before a later revision is brought to head, as the legacy
        # copy is by open_legacy above.
        with connectable(url) as engine:
            create_schema(engine)
        return url
    url = options.candidate_url or f"sqlite:///{candidate_path}"
    # connectable() proves the server answers, so a wrong URL is one clear ConfigError.
    with connectable(url, must_exist=False) as engine:
        if options.candidate_url is not None:
            downgrade(engine, "base")  # a server database: start from an empty schema
        create_schema(engine)
        with connectable(f"sqlite:///{legacy_path}") as legacy_engine:
            copy_rows(legacy_engine, engine)
    return url


def _keep_previous_store(workdir: Path) -> None:
    """Keep the last run's evidence (one consistent copy, WAL included) before starting anew."""
    previous = workdir / STORE_FILE
    if not previous.exists():
        return
    kept = workdir / PREVIOUS_STORE_FILE
    kept.unlink(missing_ok=True)
    _sqlite_copy(previous, kept)


def _sqlite_copy(source: Path, target: Path) -> None:
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def _write_modes_file(workdir: Path, options: DemoOptions, store_url: str) -> Path:
    """The TOML file the runtime follows and ``shadow promote`` edits."""
    document = tomlkit.document()
    document.add(
        tomlkit.comment("Written by `shadow demo`; `shadow promote` and `shadow rollback` edit it.")
    )
    document["store_url"] = store_url
    document["worker"] = options.worker.value
    document["coverage"] = options.coverage
    for key, value in options.runtime_settings.items():
        document[key] = value
    services = tomlkit.table()
    for wiring in SERVICES:
        entry = tomlkit.table()
        entry["mode"] = options.mode.value
        entry["read_sample_rate"] = options.read_sample_rate
        services[wiring.name] = entry
    document["services"] = services
    path = workdir / MODES_FILE
    path.write_text(tomlkit.dumps(document))
    return path


def _shadow_durability(url: str, options: DemoOptions) -> str:
    """The demo's own SQLite candidate file at ``synchronous=NORMAL`` when it starts in shadow mode.

    A shadow store can be rebuilt from the authoritative one (``shadow data
    repair``), so the last transactions a power cut may lose in WAL mode at
    ``NORMAL`` cost a repair, never data; it is the largest single lever on the
    mirror's write rate measured on SQLite (docs/benchmarks.md, "Mirror
    headroom"). Never for the legacy store, nor for a candidate that starts
    authoritative; a URL the operator gave (``--candidate-url``) is theirs.
    """
    if options.mode is not Mode.SHADOW or options.candidate_url is not None or options.aa:
        return url
    return f"{url}?synchronous=NORMAL"


def _candidate_factory(options: DemoOptions, workdir: Path, url: str) -> SideFactory:
    if options.aa:
        return SideFactory(
            "imagegen.demo.wiring:build_legacy", {"path": str(workdir / CANDIDATE_FILE)}
        )
    if options.candidate_factory is not None:
        return SideFactory(options.candidate_factory, {"url": url})
    return SideFactory("imagegen.demo.wiring:build_candidate", {"url": url})


def _reconciler(workdir: Path, candidate_url: str) -> Callable[[str, Side], None]:
    urls = {Side.LEGACY: f"sqlite:///{workdir / LEGACY_FILE}", Side.CANDIDATE: candidate_url}

    def reconcile(service: str, source: Side) -> None:
        source_engine = create_engine(urls[source])
        target_engine = create_engine(urls[source.other])
        try:
            copy_rows(source_engine, target_engine, SERVICE_TABLES[service])
        finally:
            source_engine.dispose()
            target_engine.dispose()

    return reconcile


# -- driving the traffic --------------------------------------------------------------------


class _Traffic:
    """API threads and queue workers sharing one world, until the API requests are done."""

    def __init__(
        self,
        services: ReferenceServices,
        world: World,
        options: DemoOptions,
        progress: DemoProgress | None,
        stop: threading.Event | None = None,
    ) -> None:
        self.stop = stop or threading.Event()
        self.services = services
        self.world = world
        self.options = options
        self.progress = progress
        self.latencies: list[float] = []
        self.done = 0
        self.lock = threading.Lock()
        self.api_finished = threading.Event()
        self.errors: list[BaseException] = []
        self.started = 0.0
        """When the schedule of paced requests starts (set by :meth:`run`)."""

    def api_thread(self, index: int, count: int) -> None:
        rng = random.Random(self.options.seed * 1000 + index)
        weights = [weight for weight, _ in API_MIX]
        requests = [request for _, request in API_MIX]
        mine: list[float] = []
        rate, threads = self.options.rate, self.options.threads
        slots = paced_slots(self.started, index, threads, rate) if rate else None
        for _ in range(count):
            if self.stop.is_set():
                break
            if slots is not None:
                time.sleep(max(0.0, next(slots) - time.perf_counter()))
            request = rng.choices(requests, weights)[0]
            began = time.perf_counter()
            with self.world.tolerate():
                request(self.services, self.world, rng)
            mine.append(time.perf_counter() - began)
            with self.lock:
                self.done += 1
                if self.progress is not None:
                    self.progress.step(Stage.REQUESTS, self.done, self.options.ops)
        with self.lock:
            self.latencies.extend(mine)

    def queue_worker(self, index: int) -> None:
        rng = random.Random(self.options.seed * 7919 + index)
        while True:
            if self.stop.is_set():
                return
            if not work_queue_item(self.services, self.world, rng):
                if self.api_finished.is_set():
                    return
                time.sleep(0.005)

    def _thread(self, name: str, target: Callable[..., None], *args: Any) -> threading.Thread:
        def run() -> None:
            try:
                target(*args)
            except BaseException as error:  # re-raised after join: a crash must not pass silently
                self.errors.append(error)

        return threading.Thread(target=run, name=name)

    def run(self) -> float:
        """Run every actor to the end; return the wall time of the API requests."""
        threads, ops = self.options.threads, self.options.ops
        shares = [ops // threads + (i < ops % threads) for i in range(threads)]
        api = [self._thread(f"api-{i}", self.api_thread, i, n) for i, n in enumerate(shares)]
        workers = [
            self._thread(f"queue-worker-{i}", self.queue_worker, i)
            for i in range(self.options.queue_workers)
        ]
        started = self.started = time.perf_counter()
        for thread in (*api, *workers):
            thread.start()
        for thread in api:
            thread.join()
        api_seconds = time.perf_counter() - started
        self.api_finished.set()
        for thread in workers:
            thread.join()
        if self.errors:
            raise self.errors[0]
        return api_seconds


def paced_slots(start: float, index: int, threads: int, rate: float) -> Iterator[float]:
    """The times API thread ``index`` of ``threads`` makes its requests at, ``rate`` in all.

    One schedule shared by every thread, each taking every ``threads``-th slot:
    requests ``1 / rate`` apart, one at a time. (Each thread pacing on its own
    clock from its own start sent the demo's requests in bursts of one per
    thread, and how tight the bursts fell, a draw per run, moved the paced p50
    3x to 5x: docs/benchmarks.md, "Why shadow mode beats legacy-only".) A
    thread that falls behind its slots catches up without waiting: the rate is
    kept over the run, open loop, as a real application's callers would.
    """
    spacing = 1.0 / rate
    slot = start + (index + 1) * spacing
    while True:
        yield slot
        slot += threads * spacing


def _drive(
    services: ReferenceServices,
    runtime: Runtime,
    options: DemoOptions,
    progress: DemoProgress | None,
    stop: threading.Event,
) -> tuple[World, list[float], float]:
    world = World(clock=runtime.clock)
    if stop.is_set():
        return world, [], 0.0
    if options.tour:
        tour(services, world, random.Random(options.seed))
    if options.legacy_template is not None:  # after the tour: it indexes what it added
        _known_rows(world, options.workdir.resolve() / LEGACY_FILE)
    traffic = _Traffic(services, world, options, progress, stop)
    api_seconds = traffic.run()
    return world, traffic.latencies, api_seconds


KNOWN_IMAGES = 1000
"""How many of a template store's images the traffic knows (the most recent ones)."""
KNOWN_BATCHES = 100


def _known_rows(world: World, legacy_path: Path) -> None:
    """Let the traffic use the rows a template store starts with, as its users would.

    Every user and board, the most recent non-intermediate images and queue
    batches: gallery requests then browse the seeded boards and star or move
    seeded images, instead of only what the run itself creates. Read directly
    from the file before the traffic starts (not through the services: it is
    not traffic).
    """
    with closing(sqlite3.connect(legacy_path)) as connection:
        world.users += [
            (user_id, email, "")  # seeded users have no password anyone knows
            for user_id, email in connection.execute(
                "SELECT user_id, email FROM users WHERE user_id != 'system' ORDER BY user_id"
            )
        ]
        world.boards += [row[0] for row in connection.execute("SELECT board_id FROM boards")]
        world.images += [
            row[0]
            for row in connection.execute(
                "SELECT image_name FROM images WHERE is_intermediate = 0"
                " ORDER BY created_at DESC LIMIT ?",
                (KNOWN_IMAGES,),
            )
        ]
        world.batches += [
            row[0]
            for row in connection.execute(
                "SELECT batch_id FROM session_queue GROUP BY batch_id"
                " ORDER BY MAX(item_id) DESC LIMIT ?",
                (KNOWN_BATCHES,),
            )
        ]


def _drain_progress(progress: DemoProgress | None) -> Callable[[int], None] | None:
    """``progress`` told the drain as calls done of those queued when the traffic ended."""
    if progress is None:
        return None
    queued: list[int] = []

    def tell(pending: int) -> None:
        if not queued:
            queued.append(pending)
        total = max(queued[0], pending)
        progress.step(Stage.DRAIN, total - pending, total)

    return tell


def _explore(
    options: DemoOptions, store_url: str, progress: DemoProgress | None
) -> ExploreResult | None:
    """Differential exploration into the same store: its evidence counts like traffic's."""
    if options.explore_seconds <= 0 or options.aa:
        return None  # A/A: exploration's target builds the candidate from a URL, not a file copy
    if options.candidate_url is not None:
        # Exploration rebuilds its candidate database from a template for every example;
        # on a server candidate that database is the one the demo then verifies at rest.
        # Until exploration gets a database of its own there, the demo does not explore.
        return None
    if progress is not None:
        progress.step(Stage.EXPLORATION, 0, None)
    with ReferenceTarget(
        candidate_factory=options.candidate_factory, candidate_url=options.candidate_url
    ) as target:
        return explore(
            target, store=store_url, budget_seconds=options.explore_seconds, seed=options.seed
        )


# -- the summary ----------------------------------------------------------------------------


def _summarize(
    *,
    options: DemoOptions,
    workdir: Path,
    store_url: str,
    registry: CollectorRegistry,
    world: World,
    latencies: list[float],
    api_seconds: float,
    elapsed: float,
    port: int | None,
    drained: bool,
    interrupted: bool = False,
    exploration: ExploreResult | None = None,
    at_rest: AtRest | None = None,
) -> DemoResult:
    store = DivergenceStore(store_url)
    try:
        counts = store.comparison_counts()
        groups = store.groups()
        dirty = sorted(store.dirty_services())
        unavailable = {item.side: item.error for item in store.unavailable_mirrors()}
        drops = store.drops()
    finally:
        store.close()
    called = {(count.service, count.method) for count in counts if count.total}
    phases = phase_plan()
    summaries = []
    uncovered = []
    for wiring in SERVICES:
        outcomes: dict[str, int] = {}
        evidence: dict[str, int] = {}
        for count in counts:
            if count.service == wiring.name:
                outcomes[count.outcome] = outcomes.get(count.outcome, 0) + count.total
                evidence[count.outcome] = evidence.get(count.outcome, 0) + count.evidence
        uncovered += [
            f"{wiring.name}.{method}"
            for method in sorted(contract_methods(wiring.contract))
            if (wiring.name, method) not in called
        ]
        summaries.append(
            ServiceSummary(
                service=wiring.name,
                phase=phases[wiring.name],
                outcomes=outcomes,
                evidence=evidence,
                divergence_groups=sum(1 for group in groups if group.service == wiring.name),
                latency=merged_quantiles(registry, wiring.name),
            )
        )
    return DemoResult(
        services=summaries,
        uncovered=uncovered,
        requests=len(latencies),  # made (fewer than --ops when interrupted)
        elapsed_seconds=elapsed,
        request_latencies=latencies,
        api_seconds=api_seconds,
        errors=dict(world.errors),
        workdir=workdir,
        store_url=store_url,
        metrics_port=port,
        drained=drained,
        dirty=dirty,
        unavailable=unavailable,
        dirty_reasons={service: _why_dirty(service, drops) for service in dirty},
        interrupted=interrupted,
        exploration=exploration,
        at_rest=at_rest,
        mirror_busy_seconds=_mirror_busy(registry),
        mirrored_call_seconds=_mirrored_call_seconds(registry, options.mode),
    )


def _mirrored_call_seconds(registry: CollectorRegistry, mode: Mode) -> float:
    mirror = {Mode.SHADOW: Side.CANDIDATE, Mode.REVERSE: Side.LEGACY}.get(mode)
    total = 0.0
    for family in registry.collect():
        if family.name == "shadow_call_duration_seconds" and mirror is not None:
            total += sum(
                sample.value
                for sample in family.samples
                if sample.name.endswith("_sum") and sample.labels.get("side") == mirror.value
            )
    return total


def _mirror_busy(registry: CollectorRegistry) -> tuple[float, ...]:
    busy: dict[int, float] = {}
    for family in registry.collect():
        if family.name == "shadow_mirror_busy_seconds":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    busy[int(sample.labels["worker"])] = sample.value
    return tuple(busy[index] for index in sorted(busy))


def _why_dirty(service: str, drops: list[DropCount]) -> str:
    """Why ``service`` is dirty: its writes not mirrored (and why), else a one-sided write."""
    dropped: dict[str, int] = {}
    for drop in drops:
        if drop.service == service and drop.kind == "write":
            dropped[drop.reason] = dropped.get(drop.reason, 0) + drop.count
    if not dropped:
        return "a write succeeded on one side and failed on the other"
    reasons = ", ".join(f"{reason} x{count}" for reason, count in sorted(dropped.items()))
    return f"{sum(dropped.values())} write(s) not mirrored: {reasons}"
