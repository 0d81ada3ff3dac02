"""The adoption guide's example: A/A clean, the port clean, a planted bug caught, glue counted.

Its contract mixes sync methods with async ones (``rename``, ``search``): every
run checks that the async calls were mirrored and compared, not only the sync ones.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from boards_app.run import run

from shadow.runtime import DivergenceStore
from tests.examples.conftest import EXAMPLES

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "adopting.md"
WORKERS = ["thread", "process"]
ASYNC_METHODS = ("rename", "search")
CALLS = 400  # 200 user steps, each a get_ids and one action


def by_method(workdir: Path, outcome: str) -> Counter[str]:
    """How many calls of each method had ``outcome``, from the run's divergence store."""
    store = DivergenceStore(f"sqlite:///{workdir / 'divergences.db'}")
    try:
        found: Counter[str] = Counter()
        for count in store.comparison_counts():
            if count.outcome == outcome:
                found[count.method] += count.total
        return found
    finally:
        store.close()


def assert_every_call_matched(workdir: Path, outcomes: Counter[str]) -> None:
    """Every call of the traffic compared equal, the async methods' among them."""
    assert outcomes["match"] == CALLS, outcomes
    matched = by_method(workdir, "match")
    assert all(matched[method] > 0 for method in ASYNC_METHODS), matched  # awaited and mirrored


@pytest.fixture(params=WORKERS)
def worker(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The example's settings leave the worker to the environment (SHADOW_WORKER)."""
    monkeypatch.setenv("SHADOW_WORKER", request.param)
    return str(request.param)


def test_a_a_runs_with_zero_divergences(tmp_path: Path, worker: str) -> None:
    outcomes = run(tmp_path, candidate="aa")
    assert_every_call_matched(tmp_path, outcomes)  # every call compared, async ones too...
    assert set(outcomes) == {"match", "groups"} and outcomes["groups"] == 0  # ...and equal


def test_the_port_runs_with_zero_divergences(tmp_path: Path, worker: str) -> None:
    outcomes = run(tmp_path, candidate="orm")
    assert_every_call_matched(tmp_path, outcomes)
    assert set(outcomes) == {"match", "groups"} and outcomes["groups"] == 0, outcomes


def test_the_planted_bug_is_caught(tmp_path: Path, worker: str) -> None:
    """The bug sits in the async ``rename``: its mirrored calls diverge on the stored name."""
    outcomes = run(tmp_path, candidate="planted")
    assert outcomes["divergence"] > 0 and outcomes["groups"] >= 1, outcomes
    store = DivergenceStore(f"sqlite:///{tmp_path / 'divergences.db'}")
    try:
        groups = store.groups()
    finally:
        store.close()
    [renamed] = [group for group in groups if group.method == "rename"]
    assert renamed.paths == ("root['board_name']",) and renamed.root is None
    # Every other group is a read of the stripped name: a consequence of the rename's.
    assert all(group.root == renamed.fingerprint for group in groups if group is not renamed)


def test_the_glue_is_under_60_lines_as_the_guide_counts_it() -> None:
    glue = (EXAMPLES / "boards_app" / "shadowing.py").read_text().splitlines()
    # The lines of run.py that touch the runtime (the rest is the application and its summary).
    in_run = [
        line
        for line in (EXAMPLES / "boards_app" / "run.py").read_text().splitlines()
        if "runtime" in line and "DivergenceStore" not in line
    ]
    text = GUIDE.read_text()
    claim = re.search(
        r"`shadowing.py` is (\d+) lines.*?plus (\d+) in `run.py`: (\d+) in all", text, re.S
    )
    assert claim is not None
    assert [int(number) for number in claim.groups()] == [
        len(glue),
        len(in_run),
        len(glue) + len(in_run),
    ]
    assert len(glue) + len(in_run) < 60


def test_the_guide_shows_the_glue_as_it_is() -> None:
    """Steps 1 to 3 of the guide quote shadowing.py verbatim, so the guide cannot go stale."""
    glue = (EXAMPLES / "boards_app" / "shadowing.py").read_text()
    steps = re.findall(r"^## [123]\. .*?(?=^## )", GUIDE.read_text(), re.S | re.M)
    blocks = [block for step in steps for block in re.findall(r"```python\n(.*?)```", step, re.S)]
    assert len(blocks) == 3
    assert all(block in glue for block in blocks)
