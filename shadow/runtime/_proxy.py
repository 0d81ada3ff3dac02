"""The proxy: an object implementing a contract, routing each call by the service's mode.

:func:`build_proxy` makes a subclass of the contract whose every declared
method goes through :meth:`ServiceProxy.call`. What a call does depends on the
service's mode (re-read from the live settings, cheaply, on every call):

* ``legacy`` / ``sqlmodel``: the one side runs; nothing else happens.
* ``shadow`` / ``reverse``: the authoritative side runs with a recording tape;
  writes (and read-writes) run under the runtime's sequencer lock together
  with their hand-off, so the mirror applies them in the same order; reads run
  outside it, are sampled, and are marked ``race_window`` when a write was
  sequenced while they ran (a mismatch is then ``raced`` and re-checked).

Everything a proxy needs from behind it (the sides' implementations, the
sequencer, read admission, the hand-off) it gets from one
:class:`~shadow.runtime._switchboard.Switchboard`; it never sees the runtime.

The caller always gets the authoritative result, or the authoritative
exception object itself, whatever the mirror does later.

A method declared ``async def`` in the contract is proxied as a coroutine
function: the caller awaits the authoritative call, and everything above holds
for it (an async write holds the sequencer across its ``await``); the worker
awaits the mirror in its own event loop. An implementation whose method is
async where the contract's is sync (or the other way round) is refused when
the proxy is built; a sync method found returning a coroutine at call time
raises :class:`~shadow.ContractError` to the caller (the coroutine is closed,
never left un-awaited).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import pickle
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from shadow._contract import MethodSpec, contract_methods
from shadow._exceptions import ContractError
from shadow._vocabulary import Mode, Side
from shadow.runtime._observation import MethodPlan, Reason, Task, error_name
from shadow.runtime._settings import ShadowSettings
from shadow.runtime._switchboard import Switchboard
from shadow.runtime._tape import begin_recording, end

__all__ = ["ServiceProxy", "build_proxy"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Route:
    mode: Mode
    implementation: Any
    authoritative: Side
    mirror: Side | None
    read_sample_rate: float


@functools.cache
def _parameters(contract: type, method: str) -> tuple[str, ...]:
    # Cached: a contract's signatures never change, and exploration builds a
    # proxy per example, where inspecting them was a third of the setup (measured).
    signature = inspect.signature(getattr(contract, method))
    return tuple(name for name in signature.parameters if name != "self")


def _plan(service: str, contract: type, spec: MethodSpec) -> MethodPlan:
    parameters = _parameters(contract, spec.name)
    is_async = inspect.iscoroutinefunction(getattr(contract, spec.name))
    return MethodPlan(service, spec.name, spec.kind, spec.compare, parameters, is_async)


def check_awaitables(
    contract: type, plans: Mapping[str, MethodPlan], implementation: Any, side: Side
) -> None:
    """Refuse an implementation whose methods are async where the contract's are not, or back.

    Only what :func:`inspect.iscoroutinefunction` can see is refused here; a
    sync method that returns a coroutine anyway is refused at its first call.
    """
    wrong = []
    for name, plan in plans.items():
        method = getattr(implementation, name, None)
        if method is None:
            continue
        if inspect.iscoroutinefunction(method) != plan.is_async:
            declared = "async def" if plan.is_async else "def (sync)"
            wrong.append(f"{name} (declared {declared})")
    if wrong:
        raise ContractError(
            f"the {side.value} implementation {type(implementation).__name__} does not match "
            f"{contract.__name__} on sync/async: {', '.join(wrong)}; declare each method "
            "in the contract as its implementations are (async def or def)",
            contract=contract.__name__,
            methods=tuple(sorted(name.split(" ")[0] for name in wrong)),
        )


def _snapshot(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes | None:
    """Pickle the arguments now, before the caller can mutate them (None if impossible)."""
    try:
        return pickle.dumps((args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return None


def _detached(value: Any) -> Any:
    """``value`` with its mutable containers copied, so the caller may change its result.

    The result is compared later, off the caller's thread; a caller appending to
    the list it got back must not turn into a divergence. Lists, dicts, sets and
    tuples are copied (pointer copies: microseconds for a page of rows), mutable
    pydantic models deep-copied, and frozen records shared: their fields cannot
    be reassigned. (A container *inside* a frozen record is the one thing left a
    caller could still change in place.)
    """
    kind = type(value)  # exact types: a NamedTuple or an OrderedDict keeps its own type
    if kind is list:
        return [_detached(item) for item in value]
    if kind is dict:
        return {key: _detached(item) for key, item in value.items()}
    if kind is tuple:
        return tuple(_detached(item) for item in value)
    if kind is set:
        return set(value)
    if isinstance(value, BaseModel) and not value.model_config.get("frozen"):
        return value.model_copy(deep=True)
    return value


class _Start:
    """When an authoritative call began, and the tape it records into (now active)."""

    __slots__ = ("started", "started_at", "tape", "token")

    def __init__(self) -> None:
        self.started_at = time.time()
        self.started = time.perf_counter()
        self.tape, self.token = begin_recording()

    def task(
        self,
        route: _Route,
        plan: MethodPlan,
        payload: bytes | None,
        result: Any,
        error: Exception | None,
    ) -> Task:
        """The call's task, now that it returned ``result`` or raised ``error``."""
        elapsed = time.perf_counter() - self.started
        finished_at = time.time()
        assert route.mirror is not None
        return Task(
            seq=0,
            plan=plan,
            mirror=route.mirror,
            payload=payload or b"",
            result=_detached(result),
            error_type=None if error is None else error_name(error),
            error=error,
            tape=self.tape,
            started_at=self.started_at,
            authoritative_seconds=elapsed,
            finished_at=finished_at,
        )


class ServiceProxy:
    """Routes the calls of one service; the generated contract subclass delegates here."""

    def __init__(self, board: Switchboard, contract: type, service: str) -> None:
        self._board = board
        self.contract = contract
        self.service = service
        self.plans = {
            name: _plan(service, contract, spec)
            for name, spec in contract_methods(contract).items()
        }
        self._settings: ShadowSettings | None = None
        self._route_cache: _Route | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        """The event loop of the latest async call: raced async reads are re-checked on it."""
        self._rechecking: set[asyncio.Task[Any]] = set()
        self._route()

    # -- routing ----------------------------------------------------------------------------

    def _route(self) -> _Route:
        settings = self._board.settings
        cached = self._route_cache
        if settings is self._settings and cached is not None:
            return cached
        return self._reroute(settings)

    def _reroute(self, settings: ShadowSettings) -> _Route:
        with self._board.sequencer.exclusive():
            if settings is self._settings and self._route_cache is not None:
                return self._route_cache
            mode = settings.effective_mode(self.service)
            previous = self._route_cache
            try:
                implementation = self._board.implementation(mode.authoritative, self.service)
                check_awaitables(self.contract, self.plans, implementation, mode.authoritative)
            except Exception as error:
                if previous is None:
                    raise  # building the proxy: the caller should hear about it
                # A live change to a side that cannot be built: keep serving as before.
                self._board.log.error(
                    "shadow_mode_change_failed",
                    service=self.service,
                    mode=mode.value,
                    error=f"{type(error).__name__}: {error}",
                )
                self._settings = settings
                return previous
            if previous is None:
                self._board.started(self.service, self.plans, mode, self.recheck)
            elif previous.mode is not mode:
                self._board.mode_changed(self.service, previous.mode, mode)
            route = _Route(
                mode=mode,
                implementation=implementation,
                authoritative=mode.authoritative,
                mirror=mode.mirror,
                read_sample_rate=settings.service(self.service).read_sample_rate,
            )
            self._route_cache = route
            self._settings = settings
            return route

    # -- calls ------------------------------------------------------------------------------

    def call(self, plan: MethodPlan, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run one contract call under the service's current mode."""
        route = self._route()
        if route.mirror is None:
            return getattr(route.implementation, plan.method)(*args, **kwargs)
        if plan.kind.mutates:
            return self._write(route, plan, args, kwargs)
        rate = route.read_sample_rate * self._board.read_admission()
        if rate < 1.0 and random.random() >= rate:
            reason = Reason.SAMPLED if rate == route.read_sample_rate else Reason.ADAPTIVE
            return self._unmirrored_read(route, plan, args, kwargs, reason)
        result, error = self._read(route, plan, args, kwargs, recheck=False)
        if error is not None:
            raise error
        return result

    async def call_async(
        self, plan: MethodPlan, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """:meth:`call` for an ``async def`` method: the same routing, awaited."""
        route = self._route()
        if route.mirror is None:
            return await getattr(route.implementation, plan.method)(*args, **kwargs)
        self._loop = asyncio.get_running_loop()
        if plan.kind.mutates:
            return await self._write_async(route, plan, args, kwargs)
        rate = route.read_sample_rate * self._board.read_admission()
        if rate < 1.0 and random.random() >= rate:
            reason = Reason.SAMPLED if rate == route.read_sample_rate else Reason.ADAPTIVE
            started = time.perf_counter()
            try:
                return await getattr(route.implementation, plan.method)(*args, **kwargs)
            finally:
                seconds = time.perf_counter() - started
                self._board.skipped(plan, route.authoritative, reason, seconds)
        result, error = await self._read_async(route, plan, args, kwargs, recheck=False)
        if error is not None:
            raise error
        return result

    async def _write_async(
        self, route: _Route, plan: MethodPlan, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        sequencer = self._board.sequencer
        payload = _snapshot(args, kwargs)
        async with sequencer.async_writes():
            await sequencer.acquire_async()
            try:
                with sequencer.writing_call():
                    result, error, task = await self._execute_async(
                        route, plan, args, kwargs, payload
                    )
                with sequencer.handoff:  # held for microseconds: reads' hand-offs only
                    task.seq = sequencer.written()
                    self._board.hand_off(task)
            finally:
                sequencer.lock.release()
        if error is not None:
            raise error
        return result

    async def _read_async(
        self,
        route: _Route,
        plan: MethodPlan,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        recheck: bool,
    ) -> tuple[Any, Exception | None]:
        writes_before = self._board.sequencer.writes
        payload = _snapshot(args, kwargs)
        result, error, task = await self._execute_async(route, plan, args, kwargs, payload)
        self._hand_off_read(task, writes_before, recheck=recheck)
        return result, error

    def _unmirrored_read(
        self,
        route: _Route,
        plan: MethodPlan,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        reason: Reason,
    ) -> Any:
        started = time.perf_counter()
        try:
            return getattr(route.implementation, plan.method)(*args, **kwargs)
        finally:
            self._board.skipped(plan, route.authoritative, reason, time.perf_counter() - started)

    def _write(
        self, route: _Route, plan: MethodPlan, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        sequencer = self._board.sequencer
        # Pickled before the lock: the lock keeps the mirror in commit order,
        # and everything done while holding it delays every other call.
        payload = _snapshot(args, kwargs)
        with sequencer.lock:
            with sequencer.writing_call():
                result, error, task = self._execute(route, plan, args, kwargs, payload)
            with sequencer.handoff:
                task.seq = sequencer.written()
                self._board.hand_off(task)
        if error is not None:
            raise error
        return result

    def _read(
        self,
        route: _Route,
        plan: MethodPlan,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        recheck: bool,
    ) -> tuple[Any, Exception | None]:
        writes_before = self._board.sequencer.writes
        result, error, task = self._execute(route, plan, args, kwargs, _snapshot(args, kwargs))
        self._hand_off_read(task, writes_before, recheck=recheck)
        return result, error

    def _hand_off_read(self, task: Task, writes_before: int, *, recheck: bool) -> None:
        """Hand a read's task to the mirror, raced if a write committed while it ran.

        Only the hand-off lock is held, for the hand-off alone: the read takes
        its place in commit order without waiting for writes, neither while it
        runs nor for a write in flight when it ends (it is numbered before it).
        """
        sequencer = self._board.sequencer
        task.recheck = recheck
        with sequencer.handoff:
            task.race_window = sequencer.raced(writes_before)
            task.seq = sequencer.advance(write=False)
            self._board.hand_off(task)

    def _execute(
        self,
        route: _Route,
        plan: MethodPlan,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        payload: bytes | None,
    ) -> tuple[Any, Exception | None, Task]:
        """Run the authoritative call with a recording tape; build its task.

        ``payload`` is the arguments as pickled *before* the call, so the mirror
        gets what the caller passed even if the implementation mutates them.
        """
        method = getattr(route.implementation, plan.method)
        result: Any = None
        error: Exception | None = None
        start = _Start()
        try:
            result = method(*args, **kwargs)
        except Exception as raised:
            error = raised
        finally:
            end(start.token)
        if inspect.iscoroutine(result):
            result.close()
            raise self._coroutine_from_sync(plan, route.authoritative)
        return result, error, start.task(route, plan, payload, result, error)

    async def _execute_async(
        self,
        route: _Route,
        plan: MethodPlan,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        payload: bytes | None,
    ) -> tuple[Any, Exception | None, Task]:
        """:meth:`_execute` for an ``async def`` method: the authoritative call is awaited."""
        method = getattr(route.implementation, plan.method)
        result: Any = None
        error: Exception | None = None
        # The tape is a context variable: set in this task's context, the
        # awaited call (and any task it creates) draws through it.
        start = _Start()
        try:
            result = await method(*args, **kwargs)
        except Exception as raised:
            error = raised
        finally:
            end(start.token)
        return result, error, start.task(route, plan, payload, result, error)

    def _coroutine_from_sync(self, plan: MethodPlan, side: Side) -> ContractError:
        return ContractError(
            f"{self.contract.__name__}.{plan.method} is declared sync but the {side.value} "
            "implementation returned a coroutine: declare it async def in the contract "
            "(the coroutine was closed, not run)",
            contract=self.contract.__name__,
            methods=(plan.method,),
        )

    def recheck(self, task: Task) -> None:
        """Run a raced read again on both sides (from the runtime's recheck thread)."""
        route = self._route()
        if route.mirror is None or not task.payload:
            return
        args, kwargs = pickle.loads(task.payload)
        if not task.plan.is_async:
            self._read(route, task.plan, args, kwargs, recheck=True)
            return
        # An async read runs again on the caller's event loop (its connections live there).
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        again = self._read_async(route, task.plan, args, kwargs, recheck=True)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:  # the inline executor, inside the call that raced
            pending = loop.create_task(again)
            self._rechecking.add(pending)  # keep a reference until it is done
            pending.add_done_callback(self._rechecking.discard)
            return
        try:
            asyncio.run_coroutine_threadsafe(again, loop)
        except RuntimeError:  # the loop closed meanwhile
            again.close()


def build_proxy(board: Switchboard, contract: type[T], service: str) -> T:
    """An instance of a generated subclass of ``contract`` whose methods go through a proxy."""
    proxy = ServiceProxy(board, contract, service)
    namespace: dict[str, Any] = {
        "__slots__": (),
        "__doc__": f"Shadow proxy of {contract.__name__} for service {service!r}.",
        "__repr__": lambda self: f"<shadow proxy {contract.__name__} service={service!r}>",
    }
    for name, plan in proxy.plans.items():
        forwarder = _async_forwarder if plan.is_async else _forwarder
        namespace[name] = forwarder(proxy, plan, getattr(contract, name))
    generated = type(f"{contract.__name__}ShadowProxy", (contract,), namespace)
    # Every declared method is implemented above; private abstract helpers the
    # proxy never calls must not stop it from being instantiated.
    generated.__abstractmethods__ = frozenset()  # type: ignore[attr-defined]
    instance: T = object.__new__(generated)
    return instance


def _forwarder(proxy: ServiceProxy, plan: MethodPlan, declared: Any) -> Any:
    @functools.wraps(declared)
    def forward(self: Any, *args: Any, **kwargs: Any) -> Any:
        return proxy.call(plan, args, kwargs)

    # functools.wraps copies __isabstractmethod__; the forwarder is concrete.
    forward.__isabstractmethod__ = False  # type: ignore[attr-defined]
    return forward


def _async_forwarder(proxy: ServiceProxy, plan: MethodPlan, declared: Any) -> Any:
    @functools.wraps(declared)
    async def forward(self: Any, *args: Any, **kwargs: Any) -> Any:
        return await proxy.call_async(plan, args, kwargs)

    forward.__isabstractmethod__ = False  # type: ignore[attr-defined]
    return forward
