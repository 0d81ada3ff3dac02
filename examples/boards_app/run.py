"""Run the boards application behind shadow and say what it found.

``python -m boards_app.run WORKDIR [--candidate orm|aa|planted]`` (from ``examples/``):
``orm`` compares the port with the legacy implementation, ``aa`` runs the legacy
implementation on both sides (the noise check), ``planted`` the port with one
planted bug. Prints the outcome counts; exits 1 when anything diverged.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from collections import Counter
from pathlib import Path

from boards_app.app import start_up, user_session
from boards_app.orm_storage import OrmBoardRecordStorage
from boards_app.shadowing import SIDE, shadowed
from boards_app.sqlite_storage import SqliteBoardRecordStorage
from boards_app.storage import BoardRecordStorageBase
from shadow.runtime import DivergenceStore

CANDIDATES = {
    "orm": (SIDE, True),
    "aa": (SIDE, False),
    "planted": ("boards_app.planted:candidate", True),
}


def run(workdir: Path, *, candidate: str = "orm", steps: int = 200, seed: int = 7) -> Counter[str]:
    """One run on fresh stores in ``workdir``: the outcome counts, and ``groups`` found."""
    workdir.mkdir(parents=True, exist_ok=True)
    for name in ("legacy.db", "candidate.db", "divergences.db"):
        (workdir / name).unlink(missing_ok=True)
    # The application starts as it always does: its migrations, its start-up writes.
    legacy = SqliteBoardRecordStorage(str(workdir / "legacy.db"))
    start_up(legacy)
    target, orm = CANDIDATES[candidate]
    if orm:  # the candidate store's migration (its schema)
        OrmBoardRecordStorage(f"sqlite:///{workdir / 'candidate.db'}")
    else:
        SqliteBoardRecordStorage(str(workdir / "candidate.db"))
    with shadowed(str(workdir), target, orm) as runtime:
        boards = runtime.proxy(BoardRecordStorageBase, "boards")  # type: ignore[type-abstract]
        runtime.align()  # the start-up writes reached the legacy store only
        asyncio.run(user_session(boards, random.Random(seed), steps))
    return summary(f"sqlite:///{workdir / 'divergences.db'}")


def summary(store_url: str) -> Counter[str]:
    """What ``shadow report`` would tell: outcomes by count, and how many groups."""
    store = DivergenceStore(store_url)
    try:
        outcomes: Counter[str] = Counter()
        for count in store.comparison_counts():
            outcomes[count.outcome] += count.total
        outcomes["groups"] = len(store.groups())
        return outcomes
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--candidate", choices=sorted(CANDIDATES), default="orm")
    options = parser.parse_args()
    outcomes = run(options.workdir, candidate=options.candidate)
    print(", ".join(f"{name}: {total}" for name, total in sorted(outcomes.items())))
    sys.exit(1 if outcomes["divergence"] or outcomes["candidate_error"] else 0)


if __name__ == "__main__":
    main()
