"""Exploration now reaches the mutation benchmark's first blind spots (slow).

Each bug of :data:`tests.explore.blind_spots.BLIND_SPOTS` survived a run of
``./dev bench mutation`` with exploration; after the fix named beside it
(a seeded state or a strategy) exploration of that service alone, on the
benchmark's budget of call sequences, reports it under the right method.
"""

from __future__ import annotations

import pytest

from imagegen.demo.explore import ReferenceTarget
from shadow.explore import explore
from tests.explore.blind_spots import BLIND_SPOTS

BUDGET_EXAMPLES = 96
"""The mutation benchmark's default budget per mutant (bench/mutation.py)."""


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BLIND_SPOTS))
def test_a_former_blind_spot_is_now_caught(name: str) -> None:
    """The planted bug is reported under its service and method within the budget."""
    service, method, _wrong, _reached_by = BLIND_SPOTS[name]
    with ReferenceTarget(candidate_factory=f"tests.explore.blind_spots:build_{name}") as target:
        result = explore(
            target,
            store=None,
            budget_seconds=300,
            seed=0,
            services=[service],
            max_examples=BUDGET_EXAMPLES,
        )
    assert (service, method) in {(found.service, found.method) for found in result.found}
