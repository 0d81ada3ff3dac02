"""Test seams for projects that put shadow in front of their services.

Use these in your own test suite to run your legacy and candidate
implementations side by side on every test, deterministically:

* :func:`shadow_runtime` builds a :class:`~shadow.runtime.Runtime` whose
  mirror runs in the caller's thread right after each authoritative call
  (``worker="inline"``), with an in-memory store and a private metrics
  registry, so a test sees every comparison before the call returns;
* ``strict=True`` (the default) makes any divergence or candidate error raise
  :class:`shadow.DivergenceError` from the call that caused it;
* :func:`capture_comparisons` collects every :class:`~shadow.runtime.Observation`
  made inside a ``with`` block, for assertions.

Example::

    runtime = shadow_runtime(legacy=build_legacy, candidate=build_candidate)
    users = runtime.proxy(UsersContract, "users")
    with capture_comparisons(runtime) as seen:
        users.create(...)
    assert [item.outcome.value for item in seen] == ["match"]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from prometheus_client import CollectorRegistry

from shadow._exceptions import DivergenceError
from shadow._sources import Clock, IdSource
from shadow.runtime import (
    Mode,
    Observation,
    Outcome,
    Runtime,
    ServiceSettings,
    ShadowSettings,
    SideFactory,
    WorkerKind,
)

__all__ = ["capture_comparisons", "raise_on_divergence", "shadow_runtime", "strict"]

_FAILING = frozenset({Outcome.DIVERGENCE, Outcome.CANDIDATE_ERROR})


def raise_on_divergence(observation: Observation) -> None:
    """An observer that raises :class:`DivergenceError` for a divergence or candidate error.

    The message names the service, method, outcome, fingerprint and differing
    paths (or error types), never a value.
    """
    if observation.outcome not in _FAILING:
        return
    where = ", ".join(observation.paths) or " vs ".join(observation.error_types)
    raise DivergenceError(
        f"{observation.service}.{observation.method}: {observation.outcome.value} "
        f"at {where} (fingerprint {observation.fingerprint})",
        service=observation.service,
        method=observation.method,
        outcome=observation.outcome.value,
        fingerprint=observation.fingerprint,
        paths=observation.paths,
        error_types=observation.error_types,
        observation=observation,
    )


@contextmanager
def strict(runtime: Runtime) -> Iterator[Runtime]:
    """Within the block, any divergence or candidate error raises DivergenceError."""
    runtime.recorder.add_observer(raise_on_divergence)
    try:
        yield runtime
    finally:
        runtime.recorder.remove_observer(raise_on_divergence)


@contextmanager
def capture_comparisons(runtime: Runtime) -> Iterator[list[Observation]]:
    """Collect every observation the runtime makes within the block.

    With an inline runtime the list is complete as soon as each call returns;
    with a queued worker, call ``runtime.flush()`` before asserting.
    """
    seen: list[Observation] = []
    collect = seen.append  # one bound method, so the same object is removed again
    runtime.recorder.add_observer(collect)
    try:
        yield seen
    finally:
        runtime.recorder.remove_observer(collect)


def shadow_runtime(
    *,
    legacy: SideFactory | Callable[..., Mapping[str, Any]],
    candidate: SideFactory | Callable[..., Mapping[str, Any]],
    modes: Mapping[str, Mode | str] | None = None,
    default_mode: Mode | str = Mode.SHADOW,
    strict: bool = True,
    ids: IdSource | None = None,
    clock: Clock | None = None,
    **settings: Any,
) -> Runtime:
    """A runtime for tests: inline mirroring, in-memory store, private registry.

    ``legacy`` and ``candidate`` are factories (or plain callables taking
    ``ids=`` and ``clock=`` and returning ``{service: implementation}``).
    ``modes`` sets the mode per service (``default_mode`` for the rest).
    Extra keyword arguments are :class:`~shadow.runtime.ShadowSettings` fields.
    """
    configured = ShadowSettings(
        worker=WorkerKind.INLINE,
        store_url="sqlite://",
        default_mode=Mode(default_mode),
        services={name: ServiceSettings(mode=Mode(mode)) for name, mode in (modes or {}).items()},
        **settings,
    )
    runtime = Runtime(
        configured,
        legacy=legacy if isinstance(legacy, SideFactory) else SideFactory(legacy),
        candidate=candidate if isinstance(candidate, SideFactory) else SideFactory(candidate),
        registry=CollectorRegistry(),
        ids=ids,
        clock=clock,
        observers=(raise_on_divergence,) if strict else (),
    )
    return runtime
