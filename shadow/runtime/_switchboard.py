"""What the proxies of one runtime share: sides, call order, read admission and the hand-off.

A :class:`~shadow.runtime._proxy.ServiceProxy` knows nothing of the
:class:`~shadow.runtime.Runtime` that made it; it is given a
:class:`Switchboard`, which

* builds each side's implementations in this process, on first use;
* orders calls: one re-entrant lock and the sequence counters of the
  :class:`Sequencer`, shared by every proxy, so the mirror applies writes in
  the order their authoritative calls committed;
* admits reads: sampling falls off as the queue fills past its high-water mark;
* hands each task to the executor (or counts it dropped), records calls it
  skipped, and runs re-checks of raced reads;
* learns of each service's start and mode changes.

None of its work may reach a caller: bookkeeping failures are logged, not raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from shadow._exceptions import ConfigError, DivergenceError
from shadow._sources import Clock, IdSource
from shadow._vocabulary import Mode, Outcome, Side
from shadow.runtime._executor import Executor, InlineExecutor
from shadow.runtime._factory import SideFactory
from shadow.runtime._metrics import ShadowMetrics
from shadow.runtime._observation import MethodPlan, Reason, Task
from shadow.runtime._recorder import Recorder
from shadow.runtime._settings import ShadowSettings

__all__ = ["Recheck", "Sequencer", "Switchboard"]

Recheck = Callable[[Task], None]
"""Runs a raced read again on both sides (a proxy's ``recheck``)."""

_READ_CUTOFF = 0.9
"""Queue fill at which no more reads are mirrored: the last tenth is kept for writes."""

_ASYNC_POLL_SECONDS = 0.0005
"""How often a coroutine waiting for the sequencer lock tries again (it must not block)."""


class Sequencer:
    """Orders hand-offs: two locks shared by all proxies of a runtime, and counters.

    * :attr:`lock` is held by a write across its authoritative call and its
      hand-off, so writes are mirrored in the order they committed;
    * :attr:`handoff` is held only to number a call and queue it: a read takes
      this one alone, so it never waits for a write's authoritative call (which
      includes the write's commit and fsync). A read that ends while a write is
      in flight is numbered before it and marked raced (:meth:`raced`).

    Lock order: :attr:`lock`, then :attr:`handoff`; :meth:`exclusive` takes both.
    Both are re-entrant, because the inline executor mirrors (and may re-check)
    inside them; with ``split=False`` (the inline executor) they are one lock.

    An ``async def`` write holds the lock across its ``await``, as a sync write
    holds it across its call, so writes of every kind and thread are mirrored
    in the order they committed. A coroutine takes it without blocking its
    event loop (:meth:`acquire_async`), after the loop's own write lock
    (:meth:`async_writes`): the re-entrant lock alone would let a second
    coroutine of the same thread in.
    """

    def __init__(self, *, split: bool = True) -> None:
        self.lock = threading.RLock()
        self.handoff = threading.RLock() if split else self.lock
        self.seq = 0
        self.writes = 0
        self.writing = 0
        """Writes between taking :attr:`lock` and their hand-off (see :meth:`raced`);
        changed with :attr:`lock` held, and back down with :attr:`handoff` too."""
        self._async_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]
        self._async_locks = weakref.WeakKeyDictionary()

    def raced(self, writes_before: int) -> bool:
        """Whether a read that began at ``writes_before`` may have seen a write it is not
        sequenced after (call with :attr:`handoff` held, at the read's hand-off).

        A write sequenced since it began, or a write still in flight: the read
        is numbered before that write, and may already see what it committed.
        """
        return self.writes != writes_before or self.writing > 0

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold both locks: no call is numbered or queued meanwhile (mode changes, reconciles)."""
        with self.lock, self.handoff:
            yield

    @contextlib.contextmanager
    def writing_call(self) -> Iterator[None]:
        """Count a write as in flight while it runs (call with :attr:`lock` held).

        It stops counting in :meth:`written`, numbered in the same step; a write
        that raised before it could be handed off stops counting here.
        """
        self.writing += 1
        try:
            yield
        except BaseException:
            with self.handoff:
                self.writing -= 1
            raise

    def written(self) -> int:
        """The sequence number of a write that ran (call with :attr:`handoff` held)."""
        self.writing -= 1
        return self.advance(write=True)

    def async_writes(self) -> asyncio.Lock:
        """The running event loop's lock for async writes: one at a time per loop."""
        loop = asyncio.get_running_loop()
        with self.lock:
            found = self._async_locks.get(loop)
            if found is None:
                found = self._async_locks[loop] = asyncio.Lock()
        return found

    async def acquire_async(self) -> None:
        """Take :attr:`lock` from a coroutine, letting its loop run while another holds it."""
        while not self.lock.acquire(blocking=False):
            await asyncio.sleep(_ASYNC_POLL_SECONDS)

    def advance(self, *, write: bool) -> int:
        """Next sequence number (call with the lock held)."""
        self.seq += 1
        if write:
            self.writes += 1
        return self.seq


class Switchboard:
    """Between the proxies of one runtime and everything behind them."""

    def __init__(
        self,
        *,
        settings: Callable[[], ShadowSettings],
        factories: Mapping[Side, SideFactory],
        ids: IdSource,
        clock: Clock,
        executor: Executor,
        recorder: Recorder,
        metrics: ShadowMetrics,
        logger: Any,
        high_water: float,
        deadline: float,
    ) -> None:
        self._settings = settings
        self._factories = dict(factories)
        self._ids = ids
        self._clock = clock
        self._executor = executor
        self._recorder = recorder
        self._metrics = metrics
        self.log = logger
        self._high_water = high_water
        self._deadline = deadline
        self.sequencer = Sequencer(split=not isinstance(executor, InlineExecutor))
        self.precreate_labels = True
        """Pre-create each service's metric label sets (exploration turns it off)."""
        self._sides: dict[Side, Mapping[str, Any]] = {}
        self._sides_lock = threading.Lock()
        self._rechecks: dict[str, Recheck] = {}
        self._recheck_queue: queue.SimpleQueue[Task | None] = queue.SimpleQueue()
        self._recheck_thread: threading.Thread | None = None
        # Several dispatchers (one per conflict domain) may ask for the first re-check at once.
        self._recheck_start = threading.Lock()
        self._closed = False

    @property
    def settings(self) -> ShadowSettings:
        """The settings in force now."""
        return self._settings()

    # -- sides and services -----------------------------------------------------------------

    def implementation(self, side: Side, service: str) -> Any:
        """This process's implementation of ``service`` on ``side`` (built on first use)."""
        built = self._sides.get(side)
        if built is None:
            with self._sides_lock:
                built = self._sides.get(side)
                if built is None:
                    built = self._factories[side].build(ids=self._ids, clock=self._clock)
                    self._sides[side] = built
        try:
            return built[service]
        except KeyError:
            raise ConfigError(
                f"the {side.value} factory builds no service {service!r} "
                f"(it builds: {', '.join(sorted(built)) or 'nothing'})"
            ) from None

    def has(self, service: str) -> bool:
        """True once a proxy of ``service`` was built."""
        return service in self._rechecks

    def services(self) -> list[str]:
        """The services a proxy was built for."""
        return list(self._rechecks)

    def started(
        self, service: str, plans: Mapping[str, MethodPlan], mode: Mode, recheck: Recheck
    ) -> None:
        """A proxy of ``service`` was built: remember it, pre-create its metric label sets."""
        self._rechecks[service] = recheck
        if not self.precreate_labels:
            return
        writes = [name for name, plan in plans.items() if plan.kind.mutates]
        self._metrics.register_service(service, plans, writes, mode)
        if self._recorder.evidence.is_dirty(service):  # dirty from an earlier run (the store)
            self._metrics.service_dirty.labels(service).set(1)

    def mode_changed(self, service: str, old: Mode, new: Mode) -> None:
        """Switch ``service`` from ``old`` to ``new`` (called holding both sequencer locks).

        Queued mirror calls are applied first when the sides change roles, so
        the new authoritative side never runs ahead of writes still queued for
        it. Entering a dual-written mode from a single-side one marks the
        service dirty: writes made meanwhile reached one store only.
        """
        self._metrics.set_mode(service, new)
        self.log.info("shadow_mode_changed", service=service, old=old.value, new=new.value)
        seq = self.sequencer.seq
        if old.mirror is not None and not self._executor.flush(self._deadline * 4):
            self._recorder.mark_dirty(service, seq, method="*", reason=Reason.MODE_CHANGE_UNDRAINED)
        if old.mirror is None and new.mirror is not None:
            self._recorder.mark_dirty(service, seq, method="*", reason=Reason.ENTERED_DUAL_WRITE)

    # -- calls ------------------------------------------------------------------------------

    def read_admission(self) -> float:
        """Factor applied to read sampling: 1 until the queue passes its high-water mark."""
        fill = self._executor.fill()
        if fill <= self._high_water:
            return 1.0
        if fill >= _READ_CUTOFF or self._high_water >= _READ_CUTOFF:
            return 0.0
        return (_READ_CUTOFF - fill) / (_READ_CUTOFF - self._high_water)

    def hand_off(self, task: Task) -> None:
        """Queue ``task`` for its mirror, or count it dropped (call with the hand-off lock)."""
        self._guarded(self._hand_off, task)

    def _hand_off(self, task: Task) -> None:
        if not task.payload:
            self._recorder.dropped(task, Reason.UNPICKLABLE)
        elif not self._recorder.evidence.breaker(task.plan.service).allow():
            self._recorder.dropped(task, Reason.BREAKER_OPEN)
        elif not self._executor.submit(task):
            # Refused because the runtime is closing is not a full queue.
            self._recorder.dropped(task, Reason.SHUTDOWN if self._closed else Reason.QUEUE_FULL)

    def skipped(self, plan: MethodPlan, side: Side, reason: Reason, seconds: float) -> None:
        """A read ran on ``side`` only, for ``seconds``: count it ``skipped``."""
        self._guarded(self._skipped, plan, side, reason, seconds)

    def _skipped(self, plan: MethodPlan, side: Side, reason: Reason, seconds: float) -> None:
        self._recorder.latency(plan, side, seconds)
        self._recorder.unmirrored(plan, Outcome.SKIPPED, reason, self.sequencer.seq)

    def _guarded(self, function: Callable[..., object], *args: Any) -> None:
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

    # -- re-checks --------------------------------------------------------------------------

    def recheck(self, task: Task) -> None:
        """Run a raced read again (at once with the inline executor, else on a thread)."""
        recheck = self._rechecks.get(task.plan.service)
        if recheck is None:
            return
        if isinstance(self._executor, InlineExecutor):
            recheck(task)
            return
        with self._recheck_start:
            if self._recheck_thread is None:
                self._recheck_thread = threading.Thread(
                    target=self._run_rechecks, name="shadow-recheck", daemon=True
                )
                self._recheck_thread.start()
        self._recheck_queue.put(task)

    def _run_rechecks(self) -> None:
        # Re-checks run authoritative reads; they must not block the dispatcher
        # thread, which has to keep draining the queue they are sequenced into.
        while (task := self._recheck_queue.get()) is not None:
            recheck = self._rechecks.get(task.plan.service)
            try:
                if recheck is not None:
                    recheck(task)
            except Exception as error:
                self.log.warning("shadow_recheck_failed", error=type(error).__name__)

    def close(self) -> None:
        """Refuse new hand-offs (``shutdown``), drain the executor, stop the re-checks."""
        self._closed = True
        self._executor.close()
        if self._recheck_thread is not None:
            self._recheck_queue.put(None)
            self._recheck_thread.join(self._deadline * 2)
