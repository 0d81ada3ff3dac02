"""The runtime: settings, sources, metrics, store and executor, handing out proxies.

One :class:`Runtime` per application process. It is built from settings (a
:class:`~shadow.runtime.ShadowSettings`, or a :class:`LiveSettings` that
follows a TOML file), the two :class:`SideFactory` objects, and optional
collaborators (a Prometheus registry, a store, the id source and clock the
implementations should draw from, a structlog logger, a reconcile hook).
:meth:`Runtime.proxy` returns an object implementing a contract; every proxy
of one runtime shares one sequencer, so mirrored calls are applied in the
order their authoritative calls completed: all of them by one mirror worker,
or, with ``mirror_workers`` above 1, each conflict domain's by its own
(``domains``, see :mod:`shadow.runtime._domains`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry

from shadow._exceptions import ConfigError, ShadowError
from shadow._sources import Clock, IdSource, SystemClock, UuidIds
from shadow._vocabulary import Mode, Side, WorkerKind
from shadow.runtime._capture import install as install_capture
from shadow.runtime._domains import RoutedExecutor, worker_routes
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
from shadow.runtime._proxy import build_proxy
from shadow.runtime._recorder import Observer, Recorder
from shadow.runtime._settings import LiveSettings, ShadowSettings
from shadow.runtime._store import DivergenceStore
from shadow.runtime._switchboard import Switchboard
from shadow.runtime._tape import TapeClock, TapeIds
from shadow.runtime._worker import MirrorEngine

__all__ = ["Reconciler", "Runtime"]

T = TypeVar("T")

Reconciler = Callable[[str, Side], None]
"""``reconcile(service, source)``: copy ``service``'s rows from side ``source`` to the other."""

_PROGRESS_SECONDS = 0.2
"""How often :meth:`Runtime.flush` tells its ``progress`` the calls still pending."""
_CLOSE_RETRY_SECONDS = 5.0
"""How long :meth:`Runtime.close` keeps retrying a store write it could not make."""
_CLOSE_RETRY_PAUSE = 0.25


class Runtime:
    """Hands out shadow proxies and runs everything behind them.

    ``domains`` declares the application's conflict domains: groups of services
    such that no service reads or writes a table of a service in another group.
    With the ``mirror_workers`` setting above 1 each group's calls go to a mirror
    worker of their own, still in the order their authoritative calls
    completed; services in no group share the first worker. Without it (the
    default) one worker applies every call, whatever ``domains`` says.
    """

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
        domains: Sequence[Collection[str]] = (),
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
        # Only beside the process worker: tests and thread workers keep one process.
        if (
            self._owns_store
            and initial.store_process
            and initial.worker is WorkerKind.PROCESS
            and not self.store.in_memory
        ):
            # Started with the runtime when something is mirrored from the start, as the worker.
            self.store.write_from_process(start=_mirror_at_start(initial) is not None)
        self._reconcile = reconcile
        self.recorder = Recorder(
            settings=initial,
            metrics=self.metrics,
            store=self.store,
            logger=self.log,
            observers=observers,
            # Late-bound: the switchboard needs the executor, which needs this recorder.
            recheck=lambda task: self.switchboard.recheck(task),  # noqa: PLW0108
        )
        self._deadline = initial.deadline_seconds
        self._domains = domains
        self.executor = self._build_executor(initial)
        self.switchboard = Switchboard(
            settings=lambda: self.settings,
            factories=self._factories,
            ids=self.ids,
            clock=self.clock,
            executor=self.executor,
            recorder=self.recorder,
            metrics=self.metrics,
            logger=self.log,
            high_water=initial.read_high_water,
            deadline=initial.deadline_seconds,
        )
        """What the proxies share: sides, call order, read admission, hand-off."""
        if not isinstance(self.executor, InlineExecutor):
            self.recorder.start_flusher()
        self.metrics.track_queue(*queue_gauges(self.executor))
        self._closed = False
        if initial.metrics_port is not None:
            self.metrics.serve(initial.metrics_port, initial.metrics_addr)

    def _build_executor(self, settings: ShadowSettings) -> Executor:
        factories = self._factories
        routes, workers = worker_routes(self._domains, settings.mirror_workers)
        if settings.worker is WorkerKind.INLINE:
            engine = MirrorEngine(factories, coverage=settings.coverage)
            return InlineExecutor(engine, self.recorder)

        def start(warm: Side) -> ProcessWorker | ThreadWorker:
            if settings.worker is WorkerKind.PROCESS:
                return ProcessWorker(
                    factories,
                    warm,
                    coverage=settings.coverage,
                    group_commit=settings.group_commit,
                    nice=settings.mirror_nice,
                )
            return ThreadWorker(
                factories, warm, coverage=settings.coverage, group_commit=settings.group_commit
            )

        def queued(index: int = 0) -> QueuedExecutor:
            return QueuedExecutor(
                start,
                self.recorder,
                capacity=settings.queue_size,
                batch_size=settings.batch_size,
                deadline=settings.deadline_seconds,
                idle_seconds=settings.store_flush_seconds,
                linger=settings.batch_linger_seconds,
                max_bytes=settings.queue_max_bytes,
                warm=_mirror_at_start(settings),
                name=str(index),
            )

        if workers == 1:
            return queued()
        return RoutedExecutor(
            [queued(index) for index in range(workers)],
            routes,
            capacity=settings.queue_size,
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
        if self.switchboard.has(service):
            raise ConfigError(f"service {service!r} already has a proxy in this runtime")
        return build_proxy(self.switchboard, contract, service)

    def flush(self, timeout: float = 30.0, progress: Callable[[int], None] | None = None) -> bool:
        """Wait until every handed-off call is mirrored and published, then write the store.

        Returns False if the queue did not drain within ``timeout`` seconds.
        ``progress(pending)`` is told the calls still queued or running about
        every 0.2 s while it waits, and 0 once drained (a drain bar).
        """
        if progress is None:
            drained = self.executor.flush(timeout)
        else:
            drained = self._flush_telling(timeout, progress)
        self.recorder.flush()
        return drained

    def _flush_telling(self, timeout: float, progress: Callable[[int], None]) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            progress(self.executor.depth())
            remaining = deadline - time.monotonic()
            if self.executor.flush(max(0.0, min(_PROGRESS_SECONDS, remaining))):
                progress(0)
                return True
            if remaining <= _PROGRESS_SECONDS:
                return False

    def wait_ready(self, timeout: float = 120.0) -> bool:
        """Wait until the mirror worker and store writer started with the runtime are up.

        False on timeout. The worker starts when the runtime does, if a service starts in a
        dual-written mode (otherwise at the first mirrored call, and this returns
        at once). Waiting for it before taking traffic keeps its start-up (1 to 3 s
        for a worker process) from filling the queue under the first requests, and
        the processes' imports from competing with them for the CPU.
        """
        deadline = time.monotonic() + timeout
        wait = getattr(self.executor, "wait_ready", None)
        ready = True if wait is None else bool(wait(timeout))
        return self.store.wait_ready(max(0.0, deadline - time.monotonic())) and ready

    def reconcile(self, service: str, timeout: float = 30.0) -> None:
        """Bring ``service``'s mirror store back in line and clear its dirty state.

        Drains the queue, then runs the reconcile hook (copying the service's
        rows from the authoritative side to the mirror) under the sequencer
        lock, so no write of this runtime slips in between.
        """
        if self._reconcile is None:
            raise ConfigError("this runtime has no reconcile hook (Runtime(reconcile=...))")
        proxied = self.switchboard.has(service)
        mode = self.settings.effective_mode(service)
        with self.switchboard.sequencer.exclusive():
            if not self.executor.flush(timeout):
                raise ShadowError(f"cannot reconcile {service!r}: the mirror queue did not drain")
            self._reconcile(service, mode.authoritative)
            self.recorder.mark_clean(service)
        self.recorder.flush()  # outside the lock: callers never wait on the store
        if not proxied:
            self.log.info("shadow_reconciled_without_proxy", service=service)

    def align(self, services: Iterable[str] | None = None, timeout: float = 30.0) -> None:
        """Align the mirror stores with the authoritative ones, so comparisons count from here.

        For what reached one store only: the application's own start-up writes
        (made outside any proxied call), or writes made while a side could not
        be built. Reconciles each of ``services`` (default: every proxied
        service in a dual-written mode) with the reconcile hook, as
        :meth:`reconcile` does, then clears the store's record of unavailable
        sides. Refused (:class:`ShadowError`) while a side cannot be built here.
        """
        unavailable = self.recorder.unavailable_sides()
        if unavailable:
            raise ShadowError(
                "cannot align: "
                + "; ".join(
                    f"the {s.value} side cannot be built ({e})" for s, e in unavailable.items()
                )
            )
        if services is None:
            proxied = self.switchboard.services()
            services = [name for name in proxied if self.settings.effective_mode(name).mirror]
        for service in services:
            self.reconcile(service, timeout)
        self.recorder.mirrors_aligned()
        self.recorder.flush()

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
        self.switchboard.close()
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
                    {service for service, dirty in self.recorder.evidence.pending_marks() if dirty}
                )
                self.log.error("shadow_store_unwritten_at_close", dirty_services=lost)
                return
            time.sleep(_CLOSE_RETRY_PAUSE)

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _mirror_at_start(settings: ShadowSettings) -> Side | None:
    """The side to build in the worker as the runtime starts (None: nothing is mirrored yet).

    The mirror of the first dual-written mode among the named services, or of
    the default mode; the worker builds the other side too if a call needs it.
    """
    modes = [settings.effective_mode(name) for name in settings.services]
    modes.append(Mode.LEGACY if settings.kill_switch else settings.default_mode)
    for mode in modes:
        if mode.mirror is not None:
            return mode.mirror
    return None
