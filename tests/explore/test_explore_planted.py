"""Exploration catches a bug planted in one reference method, per service (slow).

Every one of the 11 reference services gets a case. Each case plants one bug
(tests/explore/planted_bugs.py) in one service's SQLModel candidate and explores
that service through the Python API with a small budget: the divergence must
be reported under that service and method, with a shrunk reproduction stored
beside its open group, and the gate's "no open divergence" criterion must fail
for that service until the group is reviewed (accepted), then pass.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from imagegen.demo.explore import ReferenceTarget
from shadow._sources import SystemClock
from shadow.cutover.criteria import _open_divergences
from shadow.cutover.store import load_evidence
from shadow.explore import explore
from shadow.runtime import DivergenceStore
from shadow.runtime._provenance import load_reproduction
from tests.explore.planted_bugs import PLANTED

BUDGET_EXAMPLES = 48
"""Per service, in call sequences, so the verdict does not depend on the machine's
load (an 8 s budget missed board_images and session_queue at load average 12).
``python -m bench explore`` measures examples per second."""
BUDGET_SECONDS = 300
"""Only a cap: the example budget ends each run first (seconds, even under load)."""


@pytest.mark.slow
@pytest.mark.parametrize("service", sorted(PLANTED))
def test_a_planted_bug_is_caught_under_its_service_and_method(service: str, tmp_path: Path) -> None:
    """The bug in its method is found, shrunk, stored, and blocks the gate until accepted."""
    method, _why = PLANTED[service]
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    with ReferenceTarget(candidate_factory=f"tests.explore.planted_bugs:build_{service}") as target:
        result = explore(
            target,
            store=url,
            budget_seconds=BUDGET_SECONDS,
            seed=0,
            services=[service],
            max_examples=BUDGET_EXAMPLES,
        )
    mine = [found for found in result.found if (found.service, found.method) == (service, method)]
    assert mine, f"missed: found {[(f.service, f.method) for f in result.found]}"
    store = DivergenceStore(url)
    try:
        for found in mine:
            reproduction = load_reproduction(store, found.fingerprint)
            assert reproduction is not None and reproduction.steps
            assert store.group(found.fingerprint) is not None
        clock = SystemClock()
        assert not _open_divergences([service], load_evidence(url, clock=clock)).passed
        now = datetime.now(UTC)
        for group in store.groups(service=service):
            store.accept(group.fingerprint, "planted on purpose", now + timedelta(days=1), now)
        assert _open_divergences([service], load_evidence(url, clock=clock)).passed
    finally:
        store.close()
