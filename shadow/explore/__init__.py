"""Differential exploration: generated call sequences through the shadow runtime.

Traffic compares only what callers happen to send. :func:`explore` generates
call sequences for every declared method of every contract of a
:class:`Target` with hypothesis, from the methods' annotations and the edge
classes and pools the contracts declare (:func:`shadow.explore_inputs`,
:class:`shadow.Arg`), runs them through the same runtime as traffic (proxies,
mirror, comparison, divergence store), and shrinks every divergence it finds
to the shortest call sequence that shows it. The reproduction is stored with
the divergence group (redacted), shown by ``shadow divergences show`` and
exported as a pytest test by ``shadow divergences export``.

Example::

    result = explore(my_target, store="sqlite:///divergences.sqlite3", budget_seconds=60)
    for found in result.found:
        print(found.service, found.method, found.fingerprint, len(found.steps))
"""

from __future__ import annotations

from shadow._inputs import Arg, contract_inputs, explore_inputs
from shadow.explore._engine import (
    EXPLORE_PROCESS_ZONE,
    ExploreResult,
    Found,
    explore,
    replay_steps,
)
from shadow.explore._session import EXPLORE_CLOCK_ZONE, ZonedClock
from shadow.explore._steps import export_test
from shadow.explore._strategies import EDGE_STRINGS
from shadow.explore._target import Target, load_target

__all__ = [
    "EDGE_STRINGS",
    "EXPLORE_CLOCK_ZONE",
    "EXPLORE_PROCESS_ZONE",
    "Arg",
    "ExploreResult",
    "Found",
    "Target",
    "ZonedClock",
    "contract_inputs",
    "explore",
    "explore_inputs",
    "export_test",
    "load_target",
    "replay_steps",
]
