"""Run mirrored calls off the caller's path, in the order they were handed off.

The proxy hands each task over under the runtime's sequencer lock, so the
order of :meth:`submit` calls is the order the authoritative calls completed.
Every executor applies tasks in exactly that order:

* :class:`InlineExecutor` runs the mirror in the caller's thread, at once
  (deterministic: for tests and :mod:`shadow.testing`).
* :class:`QueuedExecutor` keeps a bounded FIFO queue; one dispatcher thread
  sends batches to a worker and publishes what comes back. The worker is a
  process fed over a pipe (:class:`ProcessWorker`, the default) or a thread
  (:class:`ThreadWorker`); either builds the mirror side itself from its
  :class:`~shadow.runtime.SideFactory`.

The worker answers each call as it finishes it; the dispatcher reads every
answer that has arrived at once, and while answers are still due it lingers
between reads (as it does to gather a batch) so that one wake-up of its thread,
one GIL acquisition in the caller's process, serves several answers.

Each call has a deadline: a worker that does not answer in time is killed
(a thread is abandoned) and replaced, the call is counted ``dropped`` with
reason ``deadline``, and the rest of its batch is sent again to the new
worker. A crashed worker is handled the same way (``worker_crash``).
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import decimal
import os
import queue
import select
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Protocol

from shadow._vocabulary import Side
from shadow.runtime._coverage import CoverageReport
from shadow.runtime._factory import SideFactory
from shadow.runtime._logging import runtime_logger
from shadow.runtime._observation import (
    Answer,
    AnswerFrames,
    BatchBusy,
    Observation,
    Reason,
    Task,
    Wire,
)
from shadow.runtime._recorder import Recorder
from shadow.runtime._spawn import spawn
from shadow.runtime._worker import MirrorEngine, serve

__all__ = [
    "Executor",
    "InlineExecutor",
    "ProcessWorker",
    "QueuedExecutor",
    "ThreadWorker",
    "Worker",
]

_log = runtime_logger

_STARTUP_SECONDS = 120.0


class _Silence:
    """Marker: the worker did not answer within the deadline."""


class _Gone:
    """Marker: the worker died (EOF on its pipe)."""


TIMEOUT = _Silence()
GONE = _Gone()


class Executor(Protocol):
    """Where handed-off tasks go."""

    def submit(self, task: Task) -> bool:
        """Take ``task``; False when it cannot be queued (full)."""
        ...

    def depth(self) -> int:
        """Tasks queued or running."""
        ...

    def capacity(self) -> int:
        """The most tasks that can be queued."""
        ...

    def fill(self) -> float:
        """How full the queue is, 0 to 1: the larger of its count and its bytes fill."""
        ...

    def oldest_age(self) -> float:
        """Seconds the oldest queued or running task has waited."""
        ...

    def flush(self, timeout: float) -> bool:
        """Wait until every submitted task is published; False on timeout."""
        ...

    def close(self) -> None:
        """Finish queued tasks (bounded by their deadlines) and stop."""
        ...


class InlineExecutor:
    """Mirrors each task in the caller's thread as it is submitted (tests)."""

    def __init__(self, engine: MirrorEngine, recorder: Recorder) -> None:
        self._engine = engine
        self._recorder = recorder

    def submit(self, task: Task) -> bool:
        observation = self._engine.run(task, self._recorder.evidence.lags.maximum())
        report = self._engine.coverage_report()
        if report is not None:
            self._recorder.coverage(report)
        self._recorder.observe(task, observation)
        self._recorder.maybe_flush()
        return True

    def depth(self) -> int:
        return 0

    def capacity(self) -> int:
        return 1

    def fill(self) -> float:
        return 0.0

    def oldest_age(self) -> float:
        return 0.0

    def flush(self, timeout: float) -> bool:
        return True

    def close(self) -> None:
        self._engine.close()


class Worker(Protocol):
    """One mirror worker, as the dispatcher sees it."""

    def send(self, tasks: list[Task], lag_bound: float, report_now: bool) -> None:
        """Hand over a batch (raises OSError when the worker is gone); ``report_now``: its
        coverage news come with its last answer, however recent the last report. No
        tasks: the news alone, answered with a ``BatchBusy`` of 0 seconds."""
        ...

    def receive(self, timeout: float) -> list[Answer] | _Silence | _Gone:
        """Every answer that has arrived, in order (at least one, waiting up to
        ``timeout`` for it): observations (a plain match may come compact),
        coverage reports and a batch's busy time. TIMEOUT when none came in time,
        GONE when the worker died."""
        ...

    def kill(self) -> None:
        """Stop now, abandoning whatever runs."""
        ...

    def stop(self) -> None:
        """Stop after the current batch."""
        ...


class ProcessWorker:
    """A worker process (spawned, so no state is inherited), fed over a pipe."""

    def __init__(
        self,
        factories: Mapping[Side, SideFactory],
        warm: Side,
        *,
        coverage: bool = False,
        group_commit: int = 1,
        nice: int = 0,
    ) -> None:
        self.process, self._connection = spawn(
            serve,
            dict(factories),
            warm,
            name="shadow-mirror",
            coverage=coverage,
            group_commit=group_commit,
            nice=nice,
        )
        try:
            if not self._connection.poll(_STARTUP_SECONDS):
                raise OSError("the mirror worker process did not start in time")
            # A side that failed to build is answered as skipped, call by call;
            # the recorder says so once (shadow_mirror_unavailable).
            self._connection.recv()
        except (EOFError, OSError):
            self.kill()
            raise OSError("the mirror worker process died while starting") from None
        self._wire = Wire()
        # Answers come as frames on the raw pipe (serve writes them), read with a
        # poll registered once: Connection.poll builds a selector per call (12 to
        # 23 us of the caller's GIL per answer, against 1 to 4 us for this).
        self._answers = self._connection.fileno()
        self._frames = AnswerFrames()
        self._readable = select.poll()
        self._readable.register(self._answers, select.POLLIN)

    def send(self, tasks: list[Task], lag_bound: float, report_now: bool) -> None:
        new_plans, blobs = self._wire.encode(tasks)
        self._connection.send((lag_bound, new_plans, blobs, report_now))

    def receive(self, timeout: float) -> list[Answer] | _Silence | _Gone:
        # A frame may arrive in pieces: wait for its rest within the same timeout.
        until = time.monotonic() + timeout
        while True:
            try:
                if not self._readable.poll(max(0.0, until - time.monotonic()) * 1000.0):
                    return TIMEOUT
                chunk = os.read(self._answers, _READ_BYTES)
            except OSError:
                return GONE
            if not chunk:
                return GONE
            answers = self._frames.feed(chunk)
            if answers:
                return answers

    def kill(self) -> None:
        self.process.kill()
        self.process.join(5)
        self._connection.close()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._connection.send(None)
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self._connection.close()


_READ_BYTES = 256 * 1024
"""The most bytes of answers one read takes (a compact answer is about 40)."""


class ThreadWorker:
    """A worker thread in this process (cheaper to start; shares the GIL with callers)."""

    def __init__(
        self,
        factories: Mapping[Side, SideFactory],
        warm: Side,
        *,
        coverage: bool = False,
        group_commit: int = 1,
    ) -> None:
        self._inbox: queue.SimpleQueue[tuple[float, list[Task], bool] | None]
        self._inbox = queue.SimpleQueue()
        self._outbox: queue.SimpleQueue[Answer | str | None] = queue.SimpleQueue()
        self._abandoned = threading.Event()
        self._gone = False
        self._engine = MirrorEngine(factories, coverage=coverage, group_commit=group_commit)
        self.thread = threading.Thread(
            target=self._loop, args=(warm,), name="shadow-mirror", daemon=True
        )
        self.thread.start()
        self._outbox.get(timeout=_STARTUP_SECONDS)  # built, or unavailable (see ProcessWorker)

    def _loop(self, warm: Side) -> None:
        try:
            self._serve(warm)
        finally:
            self._engine.close()

    def _serve(self, warm: Side) -> None:
        self._outbox.put(self._engine.prepare(warm))
        while True:
            message = self._inbox.get()
            if message is None or self._abandoned.is_set():
                return
            taken = time.perf_counter()
            lag_bound, tasks, report_now = message
            if not tasks:  # the coverage news alone (see Worker.send)
                for answer in self._engine.coverage_alone():
                    self._outbox.put(answer)
                continue
            for index, observation in enumerate(self._engine.run_batch(tasks, lag_bound)):
                if self._abandoned.is_set():
                    return
                if index == len(tasks) - 1:
                    if report := self._engine.coverage_report(now=report_now):
                        self._outbox.put(report)
                    self._outbox.put(BatchBusy(time.perf_counter() - taken))
                self._outbox.put(observation)

    def send(self, tasks: list[Task], lag_bound: float, report_now: bool) -> None:
        self._inbox.put((lag_bound, tasks, report_now))

    def receive(self, timeout: float) -> list[Answer] | _Silence | _Gone:
        if self._gone:
            return GONE
        answers: list[Answer] = []
        try:
            answer = self._outbox.get(timeout=timeout)
            while isinstance(answer, Observation | CoverageReport | BatchBusy):
                answers.append(answer)
                answer = self._outbox.get_nowait()
        except queue.Empty:
            return answers or TIMEOUT
        self._gone = True  # anything else in the outbox means the thread is done
        return answers or GONE

    def kill(self) -> None:
        # A thread cannot be killed: it is abandoned (daemon) and its answers ignored.
        self._abandoned.set()
        self._inbox.put(None)

    def stop(self) -> None:
        self._inbox.put(None)
        self.thread.join(5)


WorkerStarter = Callable[[Side], Worker]


class QueuedExecutor:
    """A bounded FIFO queue drained by one dispatcher thread into one worker."""

    def __init__(
        self,
        start_worker: WorkerStarter,
        recorder: Recorder,
        *,
        capacity: int,
        batch_size: int,
        deadline: float,
        idle_seconds: float,
        linger: float = 0.0,
        max_bytes: int = 64 * 1024 * 1024,
        warm: Side | None = None,
        name: str = "0",
    ) -> None:
        self._start_worker = start_worker
        # Which worker this is (its index among the runtime's), for the busy-time metric.
        self._name = name
        self._warm = warm
        self._recorder = recorder
        self._capacity = capacity
        self._max_bytes = max_bytes
        self._bytes = 0
        self._batch_size = batch_size
        self._deadline = deadline
        self._idle_seconds = idle_seconds
        self._linger = linger
        self._queue: collections.deque[Task] = collections.deque()
        self._in_flight: list[Task] = []
        self._condition = threading.Condition()
        self._closing = False
        self._worker: Worker | None = None
        # The worker may hold coverage news it was not asked for (it works them out
        # at most once a second): a flush or close asks for them before it is done.
        self._unreported = False
        self._flushing = 0
        self._ready = threading.Event()
        self.restarts = 0
        self._thread = threading.Thread(target=self._dispatch, name="shadow-dispatch", daemon=True)
        self._thread.start()

    @property
    def worker(self) -> Worker | None:
        """The current worker (None before it started, or after a failure)."""
        return self._worker

    def wait_ready(self, timeout: float) -> bool:
        """Wait until the worker started at construction is up (or failed to start).

        True at once without a ``warm`` side (the worker then starts at the first
        task); False when ``timeout`` passed first.
        """
        return self._ready.wait(timeout)

    def submit(self, task: Task) -> bool:
        size = task_size(task)
        with self._condition:
            if self._closing or len(self._queue) + len(self._in_flight) >= self._capacity:
                return False
            # A call larger than the whole bound still goes through an empty queue.
            if self._bytes and self._bytes + size > self._max_bytes:
                return False
            task.size = size
            self._bytes += size
            task.queued_at = time.monotonic()
            self._queue.append(task)
            # Wake the dispatcher for the first task (it then lingers to gather
            # a batch) and for a full batch; not for every call in between.
            if len(self._queue) == 1 or len(self._queue) >= self._batch_size:
                self._condition.notify()
        return True

    def depth(self) -> int:
        return len(self._queue) + len(self._in_flight)

    def capacity(self) -> int:
        return self._capacity

    def fill(self) -> float:
        return max(self.depth() / self._capacity, self._bytes / self._max_bytes)

    def queued_bytes(self) -> int:
        """Estimated bytes of the tasks queued or running."""
        return self._bytes

    def oldest_age(self) -> float:
        try:
            oldest = self._in_flight[0] if self._in_flight else self._queue[0]
        except IndexError:
            return 0.0
        return time.monotonic() - oldest.queued_at

    def flush(self, timeout: float) -> bool:
        with self._condition:
            self._flushing += 1
            self._condition.notify_all()
            try:
                return self._condition.wait_for(
                    lambda: not self._queue and not self._in_flight and not self._unreported,
                    timeout=timeout,
                )
            finally:
                self._flushing -= 1

    def close(self) -> None:
        with self._condition:
            self._closing = True
            self._condition.notify_all()
        self._thread.join()
        if self._worker is not None:
            self._worker.stop()
            self._worker = None

    # -- the dispatcher thread ----------------------------------------------------------

    def _dispatch(self) -> None:
        self._start_early()
        while True:
            with self._condition:
                asked = self._unreported and (self._flushing > 0 or self._closing)
                if not self._queue and not self._closing and not asked:
                    self._condition.wait(timeout=self._idle_seconds)
                if self._queue and len(self._queue) < self._batch_size and not self._closing:
                    # Linger briefly so one message carries several calls: fewer
                    # wake-ups of this thread and of the worker per call.
                    self._condition.wait(timeout=self._linger)
                if not self._queue and self._closing and not self._unreported:
                    return
                batch = [
                    self._queue.popleft() for _ in range(min(self._batch_size, len(self._queue)))
                ]
                self._in_flight = batch
                # A batch that empties the queue while someone waits for it asks for
                # the coverage news; so does an empty round once the queue is empty.
                report_now = not self._queue and (self._flushing > 0 or self._closing)
            try:
                if batch:
                    self._run(batch, report_now)
                elif report_now and self._unreported:
                    self._collect_coverage()
                self._recorder.maybe_flush()
            except Exception as error:  # the dispatcher must outlive any failure
                _log.exception("shadow_dispatcher_error", error=type(error).__name__)
                self._abandon_in_flight()
            finally:
                with self._condition:
                    self._in_flight = []
                    self._bytes -= sum(task.size for task in batch)
                    self._condition.notify_all()

    def _start_early(self) -> None:
        # Started here, not at the first task: a worker process takes 1 to 3 s to
        # import and build its side, and the queue fills meanwhile (then drains in
        # a burst that competes with the callers for the GIL).
        try:
            if self._warm is not None:
                self._ensure_worker(self._warm)
        except Exception as error:  # tried again at the first batch
            _log.warning("shadow_worker_start_failed", error=str(error))
        finally:
            self._ready.set()

    def _abandon_in_flight(self) -> None:
        # The worker's state is unknown after an unexpected failure: replace it,
        # and count what was in flight as dropped so nothing vanishes uncounted.
        with contextlib.suppress(Exception):
            self._retire_worker(kill=True)
        with self._condition:
            lost, self._in_flight = self._in_flight, []
        for task in lost:
            with contextlib.suppress(Exception):
                self._recorder.dropped(task, Reason.WORKER_ERROR, detail="dispatcher")

    def _ensure_worker(self, warm: Side) -> Worker:
        if self._worker is None:
            self._worker = self._start_worker(warm)
        return self._worker

    def _retire_worker(self, *, kill: bool) -> None:
        worker, self._worker = self._worker, None
        self._unreported = False  # whatever news it held went with it
        self.restarts += 1
        if worker is not None:
            worker.kill() if kill else worker.stop()

    def _run(self, batch: list[Task], report_now: bool) -> None:
        try:
            worker = self._ensure_worker(batch[0].mirror)
            worker.send(batch, self._recorder.evidence.lags.maximum(), report_now)
        except OSError:
            self._retire_worker(kill=True)
            for task in batch:
                self._recorder.dropped(task, Reason.WORKER_CRASH)
            return
        index = 0
        while index < len(batch):
            if len(batch) - index > 1 and self._linger:
                # Several answers still due: let them gather (the GIL is free
                # meanwhile) and read them in one go. The last one is read as
                # soon as it comes, so the next batch is not held back.
                time.sleep(self._linger)
            answers = worker.receive(self._deadline)
            if isinstance(answers, list):
                for answer in answers:
                    if isinstance(answer, BatchBusy):
                        self._recorder.mirror_busy(self._name, answer.seconds)
                    elif isinstance(answer, CoverageReport):
                        self._recorder.coverage(answer)
                    elif index < len(batch):
                        self._publish(batch[index], Wire.expand(batch[index], answer))
                        index += 1
                with self._condition:
                    self._in_flight = batch[index:]
                    if index == len(batch):
                        self._unreported = not report_now
                continue
            task = batch[index]
            reason = Reason.DEADLINE if answers is TIMEOUT else Reason.WORKER_CRASH
            self._retire_worker(kill=True)
            self._recorder.dropped(task, reason)
            _log.warning(
                "shadow_mirror_abandoned",
                service=task.plan.service,
                method=task.plan.method,
                reason=reason,
                deadline_seconds=self._deadline,
            )
            with self._condition:
                # The rest of the batch never ran: back to the front, in order
                # (and still counted against the byte bound).
                rest = batch[index + 1 :]
                self._queue.extendleft(reversed(rest))
                self._bytes += sum(item.size for item in rest)
            return

    def _collect_coverage(self) -> None:
        """Ask the worker for the coverage news alone, and publish them."""
        worker = self._worker
        try:
            if worker is None:
                raise OSError("no worker")
            worker.send([], self._recorder.evidence.lags.maximum(), True)
        except OSError:
            self._unreported = False
            return
        while True:
            answers = worker.receive(self._deadline)
            if not isinstance(answers, list):
                self._retire_worker(kill=True)  # its news go with it; every call was answered
                return
            for answer in answers:
                if isinstance(answer, CoverageReport):
                    self._recorder.coverage(answer)
                elif isinstance(answer, BatchBusy):  # the round's end
                    with self._condition:
                        self._unreported = False
                    return

    def _publish(self, task: Task, observation: Observation) -> None:
        try:
            self._recorder.observe(task, observation)
        except Exception as error:
            _log.exception("shadow_observer_error", error=type(error).__name__)


_SIZE_NODES = 256
"""How many values of a result :func:`task_size` looks at (bounded: it runs on hand-off)."""


def task_size(task: Task) -> int:
    """Estimated bytes ``task`` holds: its pickled arguments and the text and bytes of its result.

    Only strings and bytes are counted (what makes a queued call large, like a
    20 KB session), over at most a few hundred values of the result, so the
    estimate costs microseconds; a fixed overhead stands for the rest.
    """
    size = 512 + len(task.payload)
    pending: list[object] = [task.result]
    seen = 0
    # It runs in the caller's thread on every hand-off: the common exact types are
    # told apart first, and a scalar never reaches hasattr (a failed attribute
    # look-up raises inside). The walk of the demo's results took 3x as long before.
    while pending and seen < _SIZE_NODES:
        value = pending.pop()
        seen += 1
        kind = type(value)
        if kind in _SIZELESS:
            continue
        if kind is str or kind is bytes:
            size += len(value)  # type: ignore[arg-type]
        elif kind is dict:
            pending.extend(value.values())  # type: ignore[attr-defined]
        elif kind is list or kind is tuple:
            pending.extend(value)  # type: ignore[arg-type]
        elif isinstance(value, str | bytes | bytearray):
            size += len(value)
        elif isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list | tuple | set | frozenset):
            pending.extend(value)
        elif hasattr(value, "__dict__"):
            pending.extend(vars(value).values())
    return size


_SIZELESS = frozenset(
    {int, float, bool, type(None), datetime.datetime, datetime.date, uuid.UUID, decimal.Decimal}
)
"""Exact types :func:`task_size` counts as nothing (no text inside, no ``__dict__``)."""


def queue_gauges(executor: Executor) -> tuple[Callable[[], float], Callable[[], float]]:
    """Scrape-time readers of the queue depth and the oldest task's age."""
    return (lambda: float(executor.depth())), executor.oldest_age
