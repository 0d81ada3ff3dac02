"""The runtime: settings, sources, metrics, store and executor, handing out proxies.

One :class:`Runtime` per application process. It is built from settings (a
:class:`~shadow.runtime.ShadowSettings`, or a :class:`LiveSettings` that
follows a TOML file), the two :class:`SideFactory` objects, and optional
collaborators (a Prometheus registry, a store, the id source and clock the
implementations should draw from, a structlog logger, a reconcile hook).
:meth:`Runtime.proxy` returns an object implementing a contract; every proxy
of one runtime shares one sequencer, so mirrored calls of all services are
applied in the order their authoritative calls completed.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry

from shadow._exceptions import ConfigError, DivergenceError, ShadowError
from shadow._sources import Clock, IdSource, SystemClock, UuidIds
from shadow._vocabulary import Mode, Side, WorkerKind
from shadow.runtime._capture import install as install_capture
from shadow.runtime._executor import (
    Executor,
    InlineExecutor,
    ProcessWorker,
    QueuedExecutor,
    ThreadWorker,
    queue_gauges,
)
from shadow.runtime._factory import SideFactory
from shadow.runtime._logging import runtime_logger
from shadow.runtime._metrics import ShadowMetrics
from shadow.runtime._observation import Task
from shadow.runtime._proxy import ServiceProxy, build_proxy
from shadow.runtime._recorder import Observer, Recorder
from shadow.runtime._settings import LiveSettings, ShadowSettings
from shadow.runtime._store import DivergenceStore
from shadow.runtime._tape import TapeClock, TapeIds
from shadow.runtime._worker import MirrorEngine

__all__ = ["Reconciler", "Runtime", "Sequencer"]

T = TypeVar("T")

Reconciler = Callable[[str, Side], None]
"""``reconcile(service, source)``: copy ``service``'s rows from side ``source`` to the other."""

_CLOSE_RETRY_SECONDS = 5.0
"""How long :meth:`Runtime.close` keeps retrying a store write it could not make."""
_CLOSE_RETRY_PAUSE = 0.25

_READ_CUTOFF = 0.9
"""Queue fill at which no more reads are mirrored: the last tenth is kept for writes."""


class Sequencer:
    """Orders hand-offs: one lock shared by all proxies of a runtime, and counters.

    Re-entrant, because the inline executor mirrors (and may re-check) inside it.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.seq = 0
        self.writes = 0

    def advance(self, *, write: bool) -> int:
        """Next sequence number (call with the lock held)."""
        self.seq += 1
        if write:
            self.writes += 1
        return self.seq


class Runtime:
    """Hands out shadow proxies and runs everything behind them."""

    def __init__(
        self,
        settings: ShadowSettings | LiveSettings | None = None,
        *,
        legacy: SideFactory,
        candidate: SideFactory,
        registry: CollectorRegistry | None = None,
        store: DivergenceStore | None = None,
        ids: IdSource | None = None,
        clock: Clock | None = None,
        logger: Any = None,
        reconcile: Reconciler | None = None,
        observers: Sequence[Observer] = (),
    ) -> None:
        if isinstance(settings, LiveSettings):
            self._live: LiveSettings | None = settings
            initial = settings.current()
        else:
            self._live = None
            initial = settings if settings is not None else ShadowSettings()
        self._static = initial
        self._factories = {Side.LEGACY: legacy, Side.CANDIDATE: candidate}
        if initial.worker is WorkerKind.PROCESS:
            for side, factory in self._factories.items():
                if not factory.portable:
                    raise ConfigError(
                        f"the process worker needs the {side.value} factory as a "
                        "'module:callable' string, not a callable object"
                    )
        for factory in self._factories.values():
            factory.resolve()
        if initial.capture_nondeterminism:
            install_capture()  # once per process; the worker installs it on first replay
        self.ids = TapeIds(ids or UuidIds())
        self.clock = TapeClock(clock or SystemClock())
        self.log = logger if logger is not None else runtime_logger
        self.metrics = ShadowMetrics(registry if registry is not None else CollectorRegistry())
        self._owns_store = store is None
        self.store = store if store is not None else DivergenceStore(initial.store_url)
        self._reconcile = reconcile
        self.sequencer = Sequencer()
        self.recorder = Recorder(
            settings=initial,
            metrics=self.metrics,
            store=self.store,
            logger=self.log,
            observers=observers,
            recheck=self._schedule_recheck,
        )
        self._sides: dict[Side, Mapping[str, Any]] = {}
        self._sides_lock = threading.Lock()
        self._proxies: dict[str, ServiceProxy] = {}
        self._rechecks: queue.SimpleQueue[Task | None] = queue.SimpleQueue()
        self._recheck_thread: threading.Thread | None = None
        self._deadline = initial.deadline_seconds
        self._high_water = initial.read_high_water
        self.executor = self._build_executor(initial)
        if not isinstance(self.executor, InlineExecutor):
            self.recorder.start_flusher()
        self.metrics.track_queue(*queue_gauges(self.executor))
        self._closed = False
        if initial.metrics_port is not None:
            self.metrics.serve(initial.metrics_port, initial.metrics_addr)

    def _build_executor(self, settings: ShadowSettings) -> Executor:
        window = settings.lag_window_seconds
        factories = self._factories
        if settings.worker is WorkerKind.INLINE:
            engine = MirrorEngine(factories, window, coverage=settings.coverage)
            return InlineExecutor(engine, self.recorder)

        def start(warm: Side) -> ProcessWorker | ThreadWorker:
            if settings.worker is WorkerKind.PROCESS:
                return ProcessWorker(factories, window, warm, coverage=settings.coverage)
            return ThreadWorker(factories, window, warm, coverage=settings.coverage)

        return QueuedExecutor(
            start,
            self.recorder,
            capacity=settings.queue_size,
            batch_size=settings.batch_size,
            deadline=settings.deadline_seconds,
            idle_seconds=settings.store_flush_seconds,
            linger=settings.batch_linger_seconds,
            max_bytes=settings.queue_max_bytes,
        )

    # -- public API -------------------------------------------------------------------------

    @property
    def settings(self) -> ShadowSettings:
        """The settings in force now (live-reloaded when built from a LiveSettings)."""
        if self._live is not None:
            return self._live.current()
        return self._static

    def proxy(self, contract: type[T], service: str) -> T:
        """An object implementing ``contract`` for service ``service``.

        Raises :class:`ContractError` for a contract with undeclared public
        methods, and :class:`ConfigError` when the authoritative factory does
        not provide ``service``.
        """
        if service in self._proxies:
            raise ConfigError(f"service {service!r} already has a proxy in this runtime")
        built = build_proxy(self, contract, service)
        return built

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every handed-off call is mirrored and published, then write the store.

        Returns False if the queue did not drain within ``timeout`` seconds.
        """
        drained = self.executor.flush(timeout)
        self.recorder.flush()
        return drained

    def reconcile(self, service: str, timeout: float = 30.0) -> None:
        """Bring ``service``'s mirror store back in line and clear its dirty state.

        Drains the queue, then runs the reconcile hook (copying the service's
        rows from the authoritative side to the mirror) under the sequencer
        lock, so no write of this runtime slips in between.
        """
        if self._reconcile is None:
            raise ConfigError("this runtime has no reconcile hook (Runtime(reconcile=...))")
        proxy = self._proxies.get(service)
        mode = self.settings.effective_mode(service)
        with self.sequencer.lock:
            if not self.executor.flush(timeout):
                raise ShadowError(f"cannot reconcile {service!r}: the mirror queue did not drain")
            self._reconcile(service, mode.authoritative)
            self.recorder.mark_clean(service)
        self.recorder.flush()  # outside the lock: callers never wait on the store
        if proxy is None:
            self.log.info("shadow_reconciled_without_proxy", service=service)

    def mark_reconciled(self, service: str) -> None:
        """Clear ``service``'s dirty state after it was reconciled outside the runtime."""
        self.recorder.mark_clean(service)
        self.recorder.flush()

    def serve_metrics(self, port: int = 0, addr: str | None = None) -> int:
        """Serve ``/metrics`` (127.0.0.1 unless ``addr`` says otherwise); return the port."""
        return self.metrics.serve(port, addr or self.settings.metrics_addr)

    def close(self) -> None:
        """Drain and stop the worker, write the store, stop serving metrics."""
        if self._closed:
            return
        self._closed = True
        self.executor.close()
        if self._recheck_thread is not None:
            self._rechecks.put(None)
            self._recheck_thread.join(self._deadline * 2)
        self.recorder.stop_flusher(self._deadline * 2)
        self._final_flush()
        self.metrics.stop_serving()
        if self._owns_store:
            self.store.close()

    def _final_flush(self) -> None:
        # Dirty state must outlive this process: retry a refused last write for
        # a while (a store locked by a long transaction usually frees up), then
        # say loudly what a restarted runtime will not know.
        deadline = time.monotonic() + _CLOSE_RETRY_SECONDS
        while not self.recorder.flush():
            if time.monotonic() >= deadline:
                lost = sorted(
                    {service for service, dirty in self.recorder.pending_marks() if dirty}
                )
                self.log.error("shadow_store_unwritten_at_close", dirty_services=lost)
                return
            time.sleep(_CLOSE_RETRY_PAUSE)

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- used by the proxies ----------------------------------------------------------------

    def implementation(self, side: Side, service: str) -> Any:
        """This process's implementation of ``service`` on ``side`` (built on first use)."""
        built = self._sides.get(side)
        if built is None:
            with self._sides_lock:
                built = self._sides.get(side)
                if built is None:
                    built = self._factories[side].build(ids=self.ids, clock=self.clock)
                    self._sides[side] = built
        try:
            return built[service]
        except KeyError:
            raise ConfigError(
                f"the {side.value} factory builds no service {service!r} "
                f"(it builds: {', '.join(sorted(built)) or 'nothing'})"
            ) from None

    def service_started(self, proxy: ServiceProxy, mode: Mode) -> None:
        """A proxy was built: pre-create its metric label sets."""
        self._proxies[proxy.service] = proxy
        writes = [name for name, plan in proxy.plans.items() if plan.kind.mutates]
        self.metrics.register_service(proxy.service, proxy.plans, writes, mode)
        if self.recorder.is_dirty(proxy.service):  # dirty from an earlier run (the store says)
            self.metrics.service_dirty.labels(proxy.service).set(1)

    def mode_changed(self, service: str, old: Mode, new: Mode) -> None:
        """Switch ``service`` from ``old`` to ``new`` (called under the sequencer lock).

        Queued mirror calls are applied first when the sides change roles, so
        the new authoritative side never runs ahead of writes still queued for
        it. Entering a dual-written mode from a single-side one marks the
        service dirty: writes made meanwhile reached one store only.
        """
        self.metrics.set_mode(service, new)
        self.log.info("shadow_mode_changed", service=service, old=old.value, new=new.value)
        if old.mirror is not None and not self.executor.flush(self._deadline * 4):
            self.recorder.mark_dirty(
                service, self.sequencer.seq, method="*", reason="mode_change_undrained"
            )
        if old.mirror is None and new.mirror is not None:
            self.recorder.mark_dirty(
                service, self.sequencer.seq, method="*", reason="entered_dual_write"
            )

    def read_admission(self) -> float:
        """Factor applied to read sampling: 1 until the queue passes its high-water mark."""
        fill = self.executor.fill()
        if fill <= self._high_water:
            return 1.0
        if fill >= _READ_CUTOFF or self._high_water >= _READ_CUTOFF:
            return 0.0
        return (_READ_CUTOFF - fill) / (_READ_CUTOFF - self._high_water)

    def guarded(self, function: Callable[..., object], *args: Any) -> None:
        """Run shadow bookkeeping so that no failure of it reaches the caller.

        Only :class:`DivergenceError` passes: strict mode (``shadow.testing``)
        raises it on purpose, from the diverging call.
        """
        try:
            function(*args)
        except DivergenceError:
            raise
        except Exception as error:
            self.log.exception("shadow_internal_error", error=type(error).__name__)

    def hand_off(self, task: Task) -> None:
        """Queue ``task`` for its mirror, or count it dropped (call with the sequencer lock)."""
        if not task.payload:
            self.recorder.dropped(task, "unpicklable")
        elif not self.recorder.breaker(task.plan.service).allow():
            self.recorder.dropped(task, "breaker_open")
        elif not self.executor.submit(task):
            # Refused because the runtime is closing is not a full queue.
            self.recorder.dropped(task, "shutdown" if self._closed else "queue_full")

    def _schedule_recheck(self, task: Task) -> None:
        proxy = self._proxies.get(task.plan.service)
        if proxy is None:
            return
        if isinstance(self.executor, InlineExecutor):
            proxy.recheck(task)
            return
        if self._recheck_thread is None:
            self._recheck_thread = threading.Thread(
                target=self._run_rechecks, name="shadow-recheck", daemon=True
            )
            self._recheck_thread.start()
        self._rechecks.put(task)

    def _run_rechecks(self) -> None:
        # Re-checks run authoritative reads; they must not block the dispatcher
        # thread, which has to keep draining the queue they are sequenced into.
        while (task := self._rechecks.get()) is not None:
            proxy = self._proxies.get(task.plan.service)
            try:
                if proxy is not None:
                    proxy.recheck(task)
            except Exception as error:
                self.log.warning("shadow_recheck_failed", error=type(error).__name__)
