"""The mirror side: run handed-off calls on the mirror implementation and compare.

:class:`MirrorEngine` is what runs in the worker (a process, a thread, or the
caller's thread for tests): it builds the mirror side's implementations from
their :class:`SideFactory` on first use, replays each task's tape into the
call so the mirror draws the same ids and times, runs it, and compares the two
outcomes under the method's spec. Comparing here, not in the caller's process,
keeps the caller's process nearly idle (docs/architecture.md: a busy thread in the
caller's process inflates its p99 through the GIL).

:func:`serve` is the worker process's main loop: batches of tasks in over a
pipe, one framed observation out per task, in order.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import inspect
import os
import pickle
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from typing import Any

from shadow._contract import Compare, is_declared
from shadow._exceptions import ContractError
from shadow._sources import SystemClock, UuidIds
from shadow._vocabulary import Outcome, Side
from shadow.runtime import _capture as capture
from shadow.runtime._compare import compare_values, fingerprint, redact
from shadow.runtime._coverage import CoverageMeter, CoverageReport
from shadow.runtime._errors import explain_error, named_arguments, secret_values
from shadow.runtime._factory import SideFactory
from shadow.runtime._groups import GroupCommit
from shadow.runtime._logging import runtime_logger
from shadow.runtime._observation import (
    UNPICKLABLE,
    BatchBusy,
    Observation,
    Reason,
    Task,
    Wire,
    error_name,
)
from shadow.runtime._spawn import ignore_interrupts
from shadow.runtime._stamps import Window
from shadow.runtime._tape import TapeClock, TapeIds, replaying

__all__ = ["MirrorEngine", "serve"]


_log = runtime_logger

GROUP_SECONDS = 0.25
"""A group takes no more calls once it has run this long: the dispatcher's deadline
waits for each answer, and a group's answers all wait for its commit."""


@dataclass(slots=True)
class _Applied:
    """One call the mirror ran, not compared yet (a group compares after its commit)."""

    task: Task
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    result: Any
    error: Exception | None
    started_at: float
    """Wall-clock start and end of the mirror's call (``time.time()``)."""
    finished_at: float
    mirror_seconds: float
    """The call's own duration (its window's bound, see Window.around)."""
    commit_share: float = 0.0
    """Its share of its group's COMMIT: counted in its latency, never in its window."""


class _CallFailed(Exception):
    """Raised inside a group when one of its calls raised: the group rolls back."""


def _groupable(task: Task) -> bool:
    """A write whose authoritative call succeeded (see :meth:`MirrorEngine._grouped`)."""
    return task.plan.kind.mutates and task.error_type is None


def _failed_call(applied: list[_Applied | Observation]) -> bool:
    return any(isinstance(item, _Applied) and item.error is not None for item in applied)


COVERAGE_REPORT_SECONDS = 1.0
"""How often a worker works out its coverage news unless asked (``coverage_report``)."""


class MirrorEngine:
    """Runs tasks on the mirror implementations and compares (one thread at a time)."""

    def __init__(
        self,
        factories: Mapping[Side, SideFactory],
        *,
        coverage: bool = False,
        group_commit: int = 1,
    ) -> None:
        self._factories = dict(factories)
        # Most consecutive writes in one transaction, for a side offering GroupCommit.
        self._group_commit = group_commit
        # Coverage of the candidate's code under compared calls (runtime.coverage).
        self._coverage = CoverageMeter() if coverage else None
        self._coverage_reported = -COVERAGE_REPORT_SECONDS
        self._sides: dict[Side, Mapping[str, Any]] = {}
        # Sides whose factory raised, with the error explained: not built again.
        self._unavailable: dict[Side, Mapping[str, Any]] = {}
        self._loops = _Loops()
        # A mirror that draws more ids or times than the authoritative call did
        # gets fresh ones: the difference then shows up in the comparison.
        self._ids = TapeIds(UuidIds())
        self._clock = TapeClock(SystemClock())

    def _side(self, side: Side) -> Mapping[str, Any]:
        built = self._sides.get(side)
        if built is None:
            factory = self._factories[side]
            try:
                built = factory.build(ids=self._ids, clock=self._clock)
            except Exception as error:
                # Tried once: every later call of this side is skipped, not dropped.
                kwargs = dict(factory.kwargs)
                self._unavailable[side] = explain_error(
                    error, secret_values(kwargs, frozenset()), frozenset()
                )
                raise
            self._sides[side] = built
        return built

    def prepare(self, side: Side) -> str | None:
        """Build ``side``'s implementations now; return the error text if that fails."""
        try:
            self._side(side)
        except Exception:
            explained = self._unavailable.get(side, {})
            return f"{explained.get('type')}: {explained.get('message')}"
        return None

    def _tie_value(self, task: Task) -> Callable[[Any], Any] | None:
        """The spec's ``tie_key`` bound to the authoritative side, built here on first use."""
        key = task.plan.compare.tie_key
        if key is None:
            return None

        def value(row: Any) -> Any:
            return key(self._side(task.mirror.other)[task.plan.service], row)

        return value

    def _call(self, task: Task, method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Call the mirror's method; an ``async def`` one is awaited in this worker's loop."""
        result = method(*args, **kwargs)
        if task.plan.is_async:
            if not inspect.isawaitable(result):
                raise ContractError(
                    f"{task.plan.method} is declared async def but the {task.mirror.value} "
                    f"implementation returned {type(result).__name__}, not an awaitable"
                )
            return self._loops.wait(result)
        if inspect.iscoroutine(result):
            result.close()  # never left un-awaited
            raise ContractError(
                f"{task.plan.method} is declared sync but the {task.mirror.value} "
                "implementation returned a coroutine: declare it async def in the contract"
            )
        return result

    def close(self) -> None:
        """Close what the engine built, then its event loop.

        Each distinct implementation with an ``aclose()`` (awaited on this
        engine's loop, where its pooled connections were opened) or a
        ``close()`` is closed once: an async candidate's pool otherwise dies
        with its loop, unclosed. So is the side's mapping itself, after its
        implementations, when it has such a hook (a mapping that owns the engine
        they share disposes of its pool). A declared contract method of that
        name is never called (it is the service's own operation, not a shutdown hook).
        A failing close is logged and the rest still close; it never fails the
        shutdown.
        """
        closed: set[int] = set()
        for side, built in self._sides.items():
            # The built mapping last: it may own what its implementations share
            # (an engine and its pooled connections).
            parts = [*built.items(), ("", built)]
            for service, implementation in parts:
                if id(implementation) in closed:
                    continue
                closed.add(id(implementation))
                try:
                    _close(implementation, self._loops)
                except Exception as error:
                    _log.warning(
                        "shadow_mirror_close_failed",
                        side=side.value,
                        service=service or None,
                        error=type(error).__name__,
                    )
        self._sides = {}
        self._loops.close()

    def coverage_report(self, *, now: bool = True) -> CoverageReport | None:
        """Coverage news since the last report (None when off or nothing is new).

        Unless ``now``, also None while the last report is under
        :data:`COVERAGE_REPORT_SECONDS` old: working the news out reads coverage.py's
        data for every measured file (a quarter of a worker's time when every batch
        is one call), while news that waits a second loses nothing; the
        dispatcher asks ``now`` when it flushes or closes.
        """
        if self._coverage is None:
            return None
        moment = time.monotonic()
        if not now and moment - self._coverage_reported < COVERAGE_REPORT_SECONDS:
            return None
        self._coverage_reported = moment
        try:
            return self._coverage.report()
        except Exception:  # coverage is evidence about the candidate, never a reason to fail
            return None

    def coverage_alone(self) -> list[CoverageReport | BatchBusy]:
        """The answer to a batch of no tasks: the coverage news (if any), then a
        ``BatchBusy`` of 0 seconds that ends it (see :func:`serve`)."""
        report = self.coverage_report()
        return [BatchBusy(0.0)] if report is None else [report, BatchBusy(0.0)]

    def _measured(self, task: Task, implementation: Any) -> contextlib.AbstractContextManager[None]:
        if self._coverage is None or task.mirror is not Side.CANDIDATE:
            return contextlib.nullcontext()
        return self._coverage.measuring(task.plan.service, implementation)

    def run_batch(self, tasks: list[Task], lag_bound: float) -> Iterator[Observation]:
        """Mirror and compare ``tasks`` in order, one observation each.

        ``lag_bound`` is the largest recent write lag the caller's process knows
        (its one :class:`~shadow.runtime._lag.LagTracker`); the lags of this
        batch's own writes, which it does not know yet, raise it as they run.
        Runs of consecutive writes go through group commit when the side
        offers it (:mod:`shadow.runtime._groups`); their observations come
        after their commit.
        """
        index = 0
        while index < len(tasks):
            grouped = self._grouped(tasks, index)
            if grouped is None:
                observations = [self.run(tasks[index], lag_bound)]
            else:
                observations = self._run_group(grouped[0], tasks[index : grouped[1]], lag_bound)
            for task, observation in zip(tasks[index:], observations, strict=False):
                if task.plan.kind.mutates and observation.lag_seconds is not None:
                    lag_bound = max(lag_bound, observation.lag_seconds)
                yield observation
            index += len(observations)

    def _grouped(self, tasks: list[Task], start: int) -> tuple[GroupCommit, int] | None:
        """The side's group commit and where the run of writes from ``start`` ends, if any.

        A write the authoritative call failed ends the run before it, as a read
        does: its mirror most likely raises too, which would send an optimistic
        group back to run alone (:meth:`_run_group`); alone it costs one
        transaction.
        """
        first = tasks[start]
        if self._group_commit < 2 or not _groupable(first):
            return None
        end = start + 1
        limit = min(len(tasks), start + self._group_commit)
        while end < limit and _groupable(tasks[end]) and tasks[end].mirror is first.mirror:
            end += 1
        if end - start < 2 or first.mirror in self._unavailable:
            return None
        try:
            side = self._side(first.mirror)
        except Exception:  # each call then says so itself
            return None
        return (side, end) if isinstance(side, GroupCommit) else None

    def _run_group(
        self, side: GroupCommit, tasks: list[Task], lag_bound: float
    ) -> list[Observation]:
        """Apply ``tasks`` (writes) in one transaction, then compare.

        With the side's savepoints, a call that raises is rolled back to its
        own and the group goes on. Without (the group yields None), it is
        optimistic: a call that raises ends the group there and rolls it back
        whole, discarding what its calls did; each of them, up to and
        including the failing one, then runs again alone, in order, exactly
        as without group commit (each replays its own tape from the start).

        Stops adding calls once the group has run :data:`GROUP_SECONDS`, so its
        first answer waits little longer than alone; returns an observation per
        task applied (the caller goes on from there). A group that cannot begin
        applies only its first call, alone.
        """
        applied: list[_Applied | Observation] = []
        failure: Exception | None = None
        optimistic = False
        started = time.perf_counter()
        try:
            with side.group() as savepoints:
                optimistic = savepoints is None
                scope = contextlib.nullcontext if savepoints is None else savepoints.savepoint
                for task in tasks:
                    if applied and time.perf_counter() - started > GROUP_SECONDS:
                        break
                    applied.append(self._apply(task, scope))
                    if optimistic and _failed_call(applied[-1:]):
                        raise _CallFailed  # rolls the group back
                committing = time.perf_counter()
        except _CallFailed:
            return self._run_alone(tasks[: len(applied)], lag_bound)
        except Exception as error:
            if not applied:  # BEGIN failed: nothing of the group ran
                return [self.run(tasks[0], lag_bound)]
            if optimistic and _failed_call(applied):  # the rollback failed: nothing committed
                return self._run_alone(tasks[: len(applied)], lag_bound)
            failure = error
        commit_seconds = 0.0 if failure is not None else time.perf_counter() - committing
        succeeded = [a for a in applied if isinstance(a, _Applied) and a.error is None]
        share = commit_seconds / len(succeeded) if succeeded else 0.0
        observations = []
        for item in applied:
            if isinstance(item, Observation):
                observations.append(item)
                continue
            if item.error is None:
                item.commit_share = share
                if failure is not None:  # the write never committed: it failed with the commit
                    item.result, item.error = None, failure
            observation = self._settled(item, lag_bound)
            if item.task.plan.kind.mutates and observation.lag_seconds is not None:
                lag_bound = max(lag_bound, observation.lag_seconds)  # compared after the group
            observations.append(observation)
        return observations

    def _run_alone(self, tasks: list[Task], lag_bound: float) -> list[Observation]:
        """Run ``tasks`` one by one, each in the transactions it makes, as without groups."""
        observations = []
        for task in tasks:
            observation = self.run(task, lag_bound)
            if observation.lag_seconds is not None:
                lag_bound = max(lag_bound, observation.lag_seconds)
            observations.append(observation)
        return observations

    def run(self, task: Task, lag_bound: float) -> Observation:
        """Mirror one task and compare; never raises (a failure is an observation)."""
        applied = self._apply(task, contextlib.nullcontext)
        return applied if isinstance(applied, Observation) else self._settled(applied, lag_bound)

    def _apply(
        self, task: Task, scope: Callable[[], contextlib.AbstractContextManager[None]]
    ) -> _Applied | Observation:
        """Run ``task`` on the mirror inside ``scope()``: what it did, or why it could not run."""
        try:
            return self._call_mirror(task, scope)
        except Exception as error:  # a bug here must not kill the worker
            return _dropped(task, Reason.WORKER_ERROR, type(error).__name__)

    def _settled(self, applied: _Applied, lag_bound: float) -> Observation:
        """Compare what ``applied`` did; never raises."""
        try:
            return self._observe(applied, lag_bound)
        except Exception as error:  # a bug in comparing must not kill the worker
            return _dropped(applied.task, Reason.WORKER_ERROR, type(error).__name__)

    def _call_mirror(
        self, task: Task, scope: Callable[[], contextlib.AbstractContextManager[None]]
    ) -> _Applied | Observation:
        plan = task.plan
        unavailable = self._unavailable.get(task.mirror)
        if unavailable is not None:
            return _unavailable(task, unavailable)
        try:
            implementation = self._side(task.mirror)[plan.service]
            args, kwargs = pickle.loads(task.payload)
        except Exception as error:  # the mirror cannot even be set up
            if (unavailable := self._unavailable.get(task.mirror)) is not None:
                return _unavailable(task, unavailable)
            return _dropped(task, Reason.WORKER_ERROR, type(error).__name__)
        result = task.result
        if isinstance(result, str) and result == UNPICKLABLE:
            return _dropped(task, Reason.UNPICKLABLE, failed=False)
        mirror_error: Exception | None = None
        mirror_result: Any = None
        if task.tape.captured and not capture.installed():
            capture.install()  # the authoritative process records; replay needs the same hooks
        # The wall clock is read outside the replay: captured nondeterminism
        # serves time.time() from the tape inside it.
        started_at = time.time()
        with replaying(task.tape), self._measured(task, implementation):
            started = time.perf_counter()
            try:
                with scope():
                    mirror_result = self._call(
                        task, getattr(implementation, plan.method), args, kwargs
                    )
            except Exception as error:
                mirror_error = error
            mirror_seconds = time.perf_counter() - started
        return _Applied(
            task, args, kwargs, mirror_result, mirror_error, started_at, time.time(), mirror_seconds
        )

    def _observe(self, applied: _Applied, lag_bound: float) -> Observation:
        task, plan = applied.task, applied.task.plan
        windows: tuple[Window, Window] | None = None
        if plan.kind.mutates:
            # A write's own timestamps must fall inside its own side's window.
            windows = (
                Window.around(
                    task.started_at,
                    task.finished_at or task.started_at + task.authoritative_seconds,
                    task.authoritative_seconds,
                ),
                Window.around(applied.started_at, applied.finished_at, applied.mirror_seconds),
            )
        lag = applied.finished_at - task.started_at
        tolerance = max(lag_bound, lag) + plan.compare.timestamp_precision
        compare_started = time.perf_counter()
        observation = self._compare(
            task,
            result=task.result,
            mirror_result=applied.result,
            mirror_error=applied.error,
            tolerance=tolerance,
            windows=windows,
            args=applied.args,
            kwargs=applied.kwargs,
        )
        compare_seconds = time.perf_counter() - compare_started
        mirror_seconds = applied.mirror_seconds + applied.commit_share
        return _with_timing(observation, mirror_seconds, compare_seconds, lag)

    def _compare(
        self,
        task: Task,
        *,
        result: Any,
        mirror_result: Any,
        mirror_error: Exception | None,
        tolerance: float,
        windows: tuple[Window, Window] | None,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Observation:
        plan = task.plan
        spec = plan.compare
        mirror_type = None if mirror_error is None else error_name(mirror_error)
        if task.error_type is not None or mirror_type is not None:
            if task.error_type == mirror_type:
                return Observation.about(task, Outcome.MATCH)
            error_types = (task.error_type or "none", mirror_type or "none")
            mirror_failed = task.error_type is None
            if task.race_window:
                return Observation.about(task, Outcome.RACED, mirror_failed=mirror_failed)
            outcome = (
                Outcome.CANDIDATE_ERROR
                if mirror_failed and task.mirror is Side.CANDIDATE
                else Outcome.DIVERGENCE
            )
            return Observation.about(
                task,
                outcome,
                fingerprint=fingerprint(plan.service, plan.method, (), error_types),
                error_types=error_types,
                arguments=_redacted_arguments(plan.parameters, args, kwargs, spec.sensitive),
                mirror_error=_explained(mirror_error, plan.parameters, args, kwargs, spec),
                mirror_failed=mirror_failed,
            )
        verdict = compare_values(
            spec,
            result,
            mirror_result,
            tolerance=tolerance,
            windows=windows,
            tie_value=self._tie_value(task),
        )
        if verdict.equal:
            return Observation.about(task, Outcome.MATCH)
        if task.race_window:
            return Observation.about(task, Outcome.RACED)
        return Observation.about(
            task,
            Outcome.DIVERGENCE,
            fingerprint=fingerprint(plan.service, plan.method, verdict.patterns),
            paths=verdict.patterns,
            differences=verdict.differences,
            arguments=_redacted_arguments(plan.parameters, args, kwargs, spec.sensitive),
        )


def _close(implementation: object, loops: _Loops) -> None:
    for name in ("aclose", "close"):
        hook = getattr(implementation, name, None)
        if callable(hook) and not is_declared(type(implementation), name):
            result = hook()
            if inspect.isawaitable(result):
                loops.wait(result)
            return


class _Loops:
    """The worker's own event loop, where async mirror calls are awaited.

    One loop for the life of the engine, so the connections an async candidate
    pools stay on the loop that opened them. It runs in the worker's thread
    (``run_until_complete``), so coverage and the replayed tape see the call as
    they see a sync one. Only the inline executor mirrors from inside a running
    loop (the caller's); there the same loop runs on a helper thread instead.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def wait(self, awaitable: Awaitable[Any]) -> Any:
        """The result of ``awaitable``, run to completion on this worker's loop."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            if self._thread is None:
                return self._own().run_until_complete(_awaited(awaitable))
        return self._on_helper_thread(awaitable)

    def close(self) -> None:
        """Stop and close the loop (a no-op when none was needed)."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        if self._thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(5)
            self._thread = None
        if not loop.is_running():
            loop.close()

    def _own(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop

    def _on_helper_thread(self, awaitable: Awaitable[Any]) -> Any:
        loop = self._own()
        if self._thread is None:
            self._thread = threading.Thread(
                target=loop.run_forever, name="shadow-mirror-loop", daemon=True
            )
            self._thread.start()
        done: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def start() -> None:  # runs on the loop, in the caller's context (the replayed tape)
            task = loop.create_task(_awaited(awaitable))
            task.add_done_callback(lambda finished: _settle(done, finished))

        loop.call_soon_threadsafe(start, context=contextvars.copy_context())
        return done.result()


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _settle(done: concurrent.futures.Future[Any], finished: asyncio.Task[Any]) -> None:
    if finished.cancelled():
        done.cancel()
    elif (error := finished.exception()) is not None:
        done.set_exception(error)
    else:
        done.set_result(finished.result())


def _dropped(
    task: Task, reason: Reason, detail: str | None = None, *, failed: bool = True
) -> Observation:
    return Observation.about(
        task, Outcome.DROPPED, mirror_failed=failed, reason=reason, detail=detail
    )


def _unavailable(task: Task, explained: Mapping[str, Any]) -> Observation:
    return Observation.about(
        task, Outcome.SKIPPED, reason=Reason.MIRROR_UNAVAILABLE, mirror_error=explained
    )


def _with_timing(
    observation: Observation, mirror_seconds: float, compare_seconds: float, lag: float
) -> Observation:
    return replace(
        observation,
        mirror_seconds=mirror_seconds,
        compare_seconds=compare_seconds,
        lag_seconds=lag,
    )


def _explained(
    error: Exception | None,
    parameters: tuple[str, ...],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    spec: Compare,
) -> dict[str, Any] | None:
    if error is None:
        return None
    named = named_arguments(parameters, args, kwargs)
    return explain_error(error, secret_values(named, spec.sensitive), spec.sensitive)


def _redacted_arguments(
    parameters: tuple[str, ...],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    sensitive: frozenset[str],
) -> dict[str, Any]:
    redacted = redact(named_arguments(parameters, args, kwargs), sensitive)
    return dict(redacted) if isinstance(redacted, dict) else {}


def serve(
    connection: Connection,
    factories: Mapping[Side, SideFactory],
    warm: Side,
    *,
    coverage: bool = False,
    group_commit: int = 1,
    nice: int = 0,
) -> None:
    """The worker process's loop: ``(lag_bound, plans, [task, ...], report_now)`` in, one answer
    per task out.

    First builds the ``warm`` side and answers ``("ready", error_or_None)``, so
    building (opening databases) never counts against a call's deadline. Ends
    when the pipe closes or ``None`` arrives. Tasks and answers are coded by
    :class:`~shadow.runtime._observation.Wire`; each answer is written as a
    frame (:meth:`Wire.frame`) the moment it is known, so what a crash or a
    hang interrupts is the next call, never an answer already made, while the
    dispatcher reads every frame that has arrived at once. With ``coverage``, a
    :class:`CoverageReport` of what is new goes out just before the last
    answer of a batch when the batch says ``report_now`` or the last report is
    a second old (:meth:`MirrorEngine.coverage_report`), so the parent has read
    it by the time the batch is done; so does the batch's :class:`BatchBusy`
    (the worker's busy time, always). A batch of no tasks asks for the news
    alone: the answer is the report (if any) and a ``BatchBusy`` of 0 seconds.

    With ``nice`` (the ``mirror_nice`` setting), the process first lowers its
    own scheduling priority by that much, so the application's threads win the
    CPU when both want it.

    Ignores SIGINT: a Ctrl-C in the terminal reaches the whole process group,
    and the parent decides (it stops its traffic and drains this worker).
    Interrupted here, in-flight mirror calls would die as candidate errors
    that are not the candidate's, and print a traceback.
    """
    ignore_interrupts()
    if nice:
        _lower_priority(nice)
    engine = MirrorEngine(factories, coverage=coverage, group_commit=group_commit)
    connection.send(("ready", engine.prepare(warm)))
    try:
        _serve(connection, engine)
    finally:
        engine.close()


def _lower_priority(nice: int) -> None:
    # Before any thread starts: on Linux niceness is per thread, and threads
    # inherit it. Refused (a platform without nice, a sandbox) is not a reason
    # to mirror nothing: the worker runs at the parent's priority and says so.
    try:
        os.nice(nice)
    except (AttributeError, OSError) as error:
        _log.warning("shadow_mirror_nice_refused", nice=nice, error=type(error).__name__)


def _serve(connection: Connection, engine: MirrorEngine) -> None:
    wire = Wire()
    answers = connection.fileno()
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        taken = time.perf_counter()
        lag_bound, new_plans, blobs, report_now = message
        decoded = list(wire.decode(new_plans, blobs))
        if not decoded:  # asked for the coverage news alone (a flush or close)
            frames = b"".join(Wire.frame(answer) for answer in engine.coverage_alone())
            try:
                _write_all(answers, frames)
            except OSError:
                return
            continue
        tasks = [item for item in decoded if isinstance(item, Task)]
        observations = engine.run_batch(tasks, lag_bound)  # lazily, in step with the answers
        last = len(decoded) - 1
        for index, item in enumerate(decoded):
            answer = _undecodable(item) if isinstance(item, Exception) else next(observations)
            frames = Wire.frame(Wire.compact(answer))
            if index == last:
                frames = Wire.frame(BatchBusy(time.perf_counter() - taken)) + frames
                if (report := engine.coverage_report(now=report_now)) is not None:
                    frames = Wire.frame(report) + frames
            try:
                _write_all(answers, frames)
            except OSError:  # the parent is gone
                return


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def _undecodable(error: Exception) -> Observation:
    # The parent labels observations with its own copy of the task; only the
    # outcome and reason of this one matter.
    return Observation(
        "",
        "",
        Outcome.DROPPED,
        mirror_failed=True,
        reason=Reason.WORKER_ERROR,
        detail=type(error).__name__,
    )
