"""The exploration engine: hypothesis generates call sequences, the runtime compares them.

:func:`explore` runs rounds of a hypothesis test until its budget is spent.
Each example of a round is one call sequence: a :class:`Session` over fresh
sides (both starting from the target's template state), then steps drawn one
by one (a method of the explored services, then its arguments from
:mod:`shadow.explore._strategies`, using the pools of values earlier calls
returned). The first divergence or candidate error with a fingerprint not yet
reproduced ends the example by raising an exception of a class of its own,
so hypothesis shrinks each kind of divergence separately
(``report_multiple_bugs``) to the shortest sequence that still shows it.

What counts as evidence: every example in which all calls matched is
published to the divergence store (marked ``exploration``); examples that
diverged are not (hypothesis runs the same failure many times while it
shrinks); instead, each shrunk reproduction is replayed once more through a
fresh session and *that* is published, so every found divergence lands in
its group, counted once, with its reproduction stored beside it.

Choices where the issue is silent: the budget is wall time, checked between
rounds (a shrink still running when it is spent ends
early, keeping the shortest sequence found so far), optionally also a number
of examples (``max_examples``: the same sequences whatever the machine's
load, for a benchmark that must compare like with like); rounds are seeded from
``seed`` and their number, so a run with the same seed and enough budget
finds the same sequences; the process runs in a non-UTC time zone (``TZ``)
while exploring, and the implementations get a clock in another one.
"""

from __future__ import annotations

import os
import time
import typing
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException
from hypothesis.internal.conjecture import engine as hypothesis_engine
from pydantic import BaseModel

from shadow._contract import contract_methods
from shadow._exceptions import ConfigError, DivergenceError
from shadow._inputs import contract_inputs
from shadow.explore._pools import Pools
from shadow.explore._session import Call, Rule, Session, publish_batch
from shadow.explore._steps import decode_arguments, encode_steps
from shadow.explore._strategies import PoolView, method_arguments
from shadow.explore._target import Target, load_target
from shadow.runtime import DivergenceStore, Observation
from shadow.runtime._provenance import save_reproduction
from shadow.runtime._store import StoreBatch

__all__ = ["EXPLORE_PROCESS_ZONE", "ExploreResult", "Found", "explore", "replay_steps"]

EXPLORE_PROCESS_ZONE = "America/St_Johns"
"""The process time zone (``TZ``) while exploring: UTC-03:30 or -02:30, never UTC."""

_EXAMPLES_PER_ROUND = 12
_MAX_STEPS = 24
_REPLAY_BUDGET_SHARE = 0.25
_MIN_SHRINK_SECONDS = 3


@dataclass(frozen=True, slots=True)
class Found:
    """A divergence exploration found, with its shrunk, redacted reproduction."""

    service: str
    method: str
    fingerprint: str
    outcome: str
    paths: tuple[str, ...]
    error_types: tuple[str, ...]
    steps: tuple[Mapping[str, Any], ...]
    reproduces_redacted: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready)."""
        return {
            "service": self.service,
            "method": self.method,
            "fingerprint": self.fingerprint,
            "outcome": self.outcome,
            "paths": list(self.paths),
            "error_types": list(self.error_types),
            "steps": [dict(step) for step in self.steps],
            "reproduces_redacted": self.reproduces_redacted,
        }


@dataclass(frozen=True, slots=True)
class ExploreResult:
    """What one exploration did and found."""

    seed: int
    budget_seconds: float
    elapsed_seconds: float
    rounds: int
    examples: int
    calls: Mapping[str, int]
    """Calls made per ``service.method`` (all examples, shrinking included)."""
    uncovered: tuple[str, ...]
    """``service.method`` of explored methods never called (budget too small)."""
    found: tuple[Found, ...]

    @property
    def ok(self) -> bool:
        """Nothing diverged."""
        return not self.found

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready)."""
        return {
            "ok": self.ok,
            "seed": self.seed,
            "budget_seconds": self.budget_seconds,
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "rounds": self.rounds,
            "examples": self.examples,
            "calls": dict(self.calls),
            "uncovered": list(self.uncovered),
            "found": [found.to_dict() for found in self.found],
        }


class _Divergent(Exception):
    """Raised to hypothesis when an example diverges (one subclass per fingerprint)."""

    observation: Observation
    calls: list[Call]
    pools_before: list[Pools]


_KINDS: dict[str, type[_Divergent]] = {}


def _kind(fingerprint: str) -> type[_Divergent]:
    found = _KINDS.get(fingerprint)
    if found is None:
        found = type(f"Divergence_{fingerprint}", (_Divergent,), {})
        _KINDS[fingerprint] = found
    return found


def _rules(target: Target, services: Sequence[str]) -> list[Rule]:
    rules = []
    for service in services:
        contract = target.contracts[service]
        inputs = contract_inputs(contract)
        for name, spec in sorted(contract_methods(contract).items()):
            rules.append(
                Rule(
                    service,
                    name,
                    getattr(contract, name),
                    inputs,
                    spec.compare,
                    spec.kind.mutates,
                )
            )
    return rules


def _harvested(contract: type) -> set[str]:
    return {pool for arg in contract_inputs(contract).values() if (pool := arg.pool)}


def _produces(rule: Rule, pools: set[str]) -> bool:
    """True when ``rule`` (a write) can put a value into one of ``pools``."""
    if not rule.mutates:
        return False
    wanted = {
        name for arg in rule.inputs.values() if arg.pool in pools for name in arg.harvested_names()
    }
    if any(arg.keep and arg.pool in pools for arg in rule.inputs.values()):
        return True
    return bool(wanted & _field_names(typing.get_type_hints(rule.function).get("return")))


def _field_names(annotation: Any, depth: int = 0) -> set[str]:
    if annotation is None or depth > 4:
        return set()
    names: set[str] = set()
    for item in typing.get_args(annotation):
        names |= _field_names(item, depth + 1)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, info in annotation.model_fields.items():
            names.add(name)
            names |= _field_names(info.annotation, depth + 1)
    return names


def _choose(target: Target, services: Sequence[str] | None) -> tuple[list[str], list[Rule]]:
    available = list(target.contracts)
    chosen = list(services) if services else available
    unknown = [name for name in chosen if name not in target.contracts]
    if unknown:
        raise ConfigError(
            f"no such service: {', '.join(unknown)} (known: {', '.join(sorted(available))})"
        )
    rules = _rules(target, chosen)
    # Supporting writes of other services, so the chosen ones can use ids that exist.
    wanted = set().union(*(_harvested(target.contracts[name]) for name in chosen))
    others = [name for name in available if name not in chosen]
    support = [rule for rule in _rules(target, others) if _produces(rule, wanted)]
    used = sorted({rule.service for rule in rules + support})
    # The explored methods are drawn three times as often as the supporting ones.
    return used, rules * 3 + support if support else rules


@contextmanager
def _process_zone(zone: str) -> Iterator[None]:
    """Run the block with ``TZ=zone`` (where the platform can switch zones)."""
    if not hasattr(time, "tzset"):
        yield
        return
    previous = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = previous
        time.tzset()


def _starting_pools(target: Target, rules: Sequence[Rule]) -> Pools:
    pools = Pools({rule.service: rule.inputs for rule in rules})
    for name, values in target.initial_pools().items():
        for value in values:
            pools.add(name, value)
    return pools


class _PoolHandle:
    """The pools of the example running now (the strategies look them up when drawing)."""

    def __init__(self, pools: Pools) -> None:
        self.current = pools

    def values(self, pool: str) -> Sequence[Any]:
        return self.current.values(pool)


@dataclass
class _Run:
    target: Target
    store: DivergenceStore | None
    services: list[str]
    rules: list[Rule]
    start: Pools
    deadline: float
    shrink_deadline: float = 0.0
    reproduced: set[str] = field(default_factory=set)
    examples: int = 0
    calls: dict[str, int] = field(default_factory=dict)
    pending: StoreBatch = field(default_factory=lambda: StoreBatch(examples_per_group=1))
    """Counts of clean examples not yet written (written once per round: :meth:`flush`)."""

    def __post_init__(self) -> None:
        self.handle = _PoolHandle(self.start.copy())
        view: PoolView = self.handle
        self.arguments = {
            (rule.service, rule.method): method_arguments(rule.function, rule.inputs, view)
            for rule in self.rules
        }

    def draw_arguments(self, data: st.DataObject, rule: Rule) -> dict[str, Any]:
        arguments: dict[str, Any] = {}
        for name, _annotation, has_default, strategy in self.arguments[(rule.service, rule.method)]:
            if has_default and not data.draw(st.booleans(), label=f"{name} given"):
                continue
            arguments[name] = data.draw(strategy, label=name)
        return arguments

    def example(self, data: st.DataObject) -> None:
        """One generated call sequence (the body of the hypothesis test)."""
        pools = self.start.copy()
        self.handle.current = pools
        pools_before: list[Pools] = []
        clean = True
        with self.target.sides() as (legacy, candidate):
            session = Session(legacy, candidate, self.target.contracts, self.services)
            try:
                self.examples += 1
                for _ in range(_MAX_STEPS):
                    # About one sequence in ten ends at each step; shrinking pulls
                    # the draw to 0, which ends it: shorter sequences first.
                    if data.draw(st.integers(0, 255), label="more") < 24 and session.calls:
                        break
                    rule = data.draw(st.sampled_from(self.rules), label="call")
                    arguments = self.draw_arguments(data, rule)
                    pools_before.append(pools.copy())
                    call = self._call(session, pools, rule, arguments)
                    failing = call.failing
                    if failing is None:
                        continue
                    clean = False
                    fingerprint = failing.fingerprint or "unknown"
                    if fingerprint in self.reproduced:
                        break  # already shrunk and stored: end this example quietly
                    error = _kind(fingerprint)(f"{failing.service}.{failing.method} diverged")
                    error.observation = failing
                    error.calls = list(session.calls)
                    error.pools_before = pools_before
                    raise error
            finally:
                session.close()
                if clean and self.store is not None:
                    session.publish(self.store, self.pending)

    def flush(self) -> None:
        """Write the counts of the clean examples run since the last flush."""
        if self.store is not None and self.pending:
            publish_batch(self.store, self.pending)
        self.pending = StoreBatch(examples_per_group=1)

    def _call(self, session: Session, pools: Pools, rule: Rule, arguments: dict[str, Any]) -> Call:
        call = session.call(rule, arguments)
        key = f"{rule.service}.{rule.method}"
        self.calls[key] = self.calls.get(key, 0) + 1
        if call.error is None:
            pools.harvest(rule.service, call.result)
            pools.keep(rule.inputs, arguments)
        return call


def _errors(raised: BaseException) -> list[_Divergent]:
    if isinstance(raised, _Divergent):
        return [raised]
    if isinstance(raised, BaseExceptionGroup):
        return [found for inner in raised.exceptions for found in _errors(inner)]
    return []


def _round(run: _Run, seed_value: int) -> list[_Divergent]:
    @settings(
        max_examples=_EXAMPLES_PER_ROUND,
        deadline=None,
        database=None,
        phases=(Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=True,
        verbosity=Verbosity.quiet,
        print_blob=False,
    )
    @seed(seed_value)
    @given(st.data())
    def round_test(data: st.DataObject) -> None:
        run.example(data)

    # Hypothesis has no time limit of its own for shrinking but a five-minute
    # safety stop; lowering it to what is left of the budget ends a long shrink
    # with the shortest sequence found so far (documented behaviour of the stop).
    saved = hypothesis_engine.MAX_SHRINKING_SECONDS
    hypothesis_engine.MAX_SHRINKING_SECONDS = max(
        _MIN_SHRINK_SECONDS, int(run.shrink_deadline - time.monotonic())
    )
    try:
        round_test()
    except BaseException as raised:
        found = _errors(raised)  # a flaky failure still carries the divergences it saw
        if found:
            return found
        if isinstance(raised, HypothesisException):
            return []  # a verdict on generation (health, flakiness), not a divergence
        raise
    finally:
        hypothesis_engine.MAX_SHRINKING_SECONDS = saved
    return []


def _replay(
    run: _Run, steps: Sequence[Mapping[str, Any]], *, publish: bool
) -> tuple[list[Call], Pools]:
    """Run stored ``steps`` in a fresh session; publish it to the store if asked."""
    by_name = {(rule.service, rule.method): rule for rule in run.rules}
    by_name.update({(rule.service, rule.method): rule for rule in _rules(run.target, run.services)})
    pools = run.start.copy()
    with run.target.sides() as (legacy, candidate):
        session = Session(legacy, candidate, run.target.contracts, run.services)
        try:
            for step in steps:
                rule = by_name[(step["service"], step["method"])]
                arguments = decode_arguments(rule, step["arguments"], pools)
                run._call(session, pools, rule, arguments)
        finally:
            session.close()
            if publish and run.store is not None:
                session.publish(run.store)
    return session.calls, pools


def _shows(calls: Sequence[Call], fingerprint: str) -> bool:
    return any(
        observation.fingerprint == fingerprint
        for call in calls
        for observation in call.observations
    )


def _record(run: _Run, error: _Divergent, seed_value: int) -> Found:
    observation = error.observation
    fingerprint = observation.fingerprint or "unknown"
    steps = encode_steps(error.calls, error.pools_before)
    # The stored steps are redacted: check that they still show the divergence.
    try:
        calls, _ = _replay(run, steps, publish=True)
        reproduces = _shows(calls, fingerprint)
    except Exception:  # a stand-in the method's types refuse: the raw sequence is the evidence
        reproduces = False
    if run.store is not None:
        save_reproduction(
            run.store,
            fingerprint=fingerprint,
            service=observation.service,
            method=observation.method,
            steps=steps,
            target=run.target.describe(),
            seed=seed_value,
            reproduces_redacted=reproduces,
        )
        if not reproduces:  # the unredacted sequence is the evidence then
            _replay_raw(run, error.calls)
    run.reproduced.add(fingerprint)
    return Found(
        service=observation.service,
        method=observation.method,
        fingerprint=fingerprint,
        outcome=observation.outcome.value,
        paths=observation.paths,
        error_types=observation.error_types,
        steps=tuple(steps),
        reproduces_redacted=reproduces,
    )


def _replay_raw(run: _Run, calls: Sequence[Call]) -> None:
    with run.target.sides() as (legacy, candidate):
        session = Session(legacy, candidate, run.target.contracts, run.services)
        try:
            for call in calls:
                session.call(call.rule, call.arguments)
        finally:
            session.close()
            if run.store is not None:
                session.publish(run.store)


def explore(
    target: Target,
    *,
    store: DivergenceStore | str | None,
    budget_seconds: float,
    seed: int = 0,
    services: Sequence[str] | None = None,
    max_examples: int | None = None,
) -> ExploreResult:
    """Explore ``target`` for ``budget_seconds``; record evidence and reproductions in ``store``.

    ``store`` is a :class:`DivergenceStore` or its URL (``None``: find, record
    nothing). ``services`` limits the explored methods to those services'
    (writes of other services that produce the ids they use are called too).
    ``max_examples`` also ends the run once that many call sequences were
    generated (whole rounds of 12, shrinking not counted), so two runs with
    the same seed try the same sequences however loaded the machine is, as
    long as the time budget does not end them first.
    Raises :class:`ConfigError` for an unknown service or a non-positive budget.
    """
    if budget_seconds <= 0:
        raise ConfigError("the exploration budget must be a positive number of seconds")
    if max_examples is not None and max_examples < 1:
        raise ConfigError("the exploration's example budget must be at least 1")
    used, rules = _choose(target, services)
    opened = DivergenceStore(store) if isinstance(store, str) else None
    started = time.monotonic()
    run = _Run(
        target=target,
        store=opened or (store if isinstance(store, DivergenceStore) else None),
        services=used,
        rules=rules,
        start=_starting_pools(target, rules),
        deadline=started + budget_seconds * (1 - _REPLAY_BUDGET_SHARE),
        shrink_deadline=started + budget_seconds * (1 - _REPLAY_BUDGET_SHARE / 2),
    )
    found: list[Found] = []
    rounds = generated = 0
    try:
        with _process_zone(EXPLORE_PROCESS_ZONE):
            while time.monotonic() < run.deadline and (
                max_examples is None or generated < max_examples
            ):
                seed_value = seed * 1_000_003 + rounds
                rounds += 1
                for error in _round(run, seed_value):
                    fingerprint = error.observation.fingerprint or "unknown"
                    if fingerprint not in run.reproduced:
                        found.append(_record(run, error, seed_value))
                generated += _EXAMPLES_PER_ROUND
                run.flush()
    finally:
        run.flush()
        if opened is not None:
            opened.close()
    explored = {
        f"{rule.service}.{rule.method}" for rule in rules if rule.service in (services or used)
    }
    return ExploreResult(
        seed=seed,
        budget_seconds=budget_seconds,
        elapsed_seconds=time.monotonic() - started,
        rounds=rounds,
        examples=run.examples,
        calls=dict(sorted(run.calls.items())),
        uncovered=tuple(sorted(name for name in explored if name not in run.calls)),
        found=tuple(found),
    )


def replay_steps(
    target: Target | Mapping[str, Any],
    steps: Sequence[Mapping[str, Any]],
    *,
    strict: bool = True,
) -> list[Observation]:
    """Replay stored ``steps`` against ``target`` (or its description); return the observations.

    With ``strict`` a divergence or candidate error raises
    :class:`~shadow.DivergenceError` naming its service, method and fingerprint:
    what an exported reproduction test relies on.
    """
    built = target if isinstance(target, Target) else load_target(target)
    try:
        rules = _rules(built, sorted(built.contracts))
        run = _Run(
            target=built,
            store=None,
            services=sorted(built.contracts),
            rules=rules,
            start=_starting_pools(built, rules),
            deadline=0.0,
        )
        with _process_zone(EXPLORE_PROCESS_ZONE):
            calls, _ = _replay(run, steps, publish=False)
    finally:
        if not isinstance(target, Target):
            built.close()
    observations = [observation for call in calls for observation in call.observations]
    if strict:
        for call in calls:
            failing = call.failing
            if failing is not None:
                raise DivergenceError(
                    f"{failing.service}.{failing.method}: {failing.outcome.value} at "
                    f"{', '.join(failing.paths) or ' vs '.join(failing.error_types)} "
                    f"(fingerprint {failing.fingerprint})",
                    service=failing.service,
                    method=failing.method,
                    outcome=failing.outcome.value,
                    fingerprint=failing.fingerprint,
                    paths=failing.paths,
                    error_types=failing.error_types,
                    observation=failing,
                )
    return observations
