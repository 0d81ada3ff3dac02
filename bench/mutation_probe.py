"""One mutant's verdict: run the demo's traffic, then explore, and read the evidence.

cosmic-ray runs this as its test command after planting one mutant in the
SQLModel services (``python -m bench.mutation_probe --workdir DIR --ops N
--explore-examples M --pristine DIR``). Exit status 0 means the shadow
evidence did *not* catch the mutant (it survived), 1 that it did (killed);
one JSON line on stdout says why.

The budget is fixed per mutant, and in examples rather than seconds, so a
mutant's verdict does not depend on how loaded the machine was when its turn
came: ``--ops`` demo requests (seeded), then ``--explore-examples`` call
sequences of differential exploration (seeded; ``--explore-seconds`` only
caps the time). Exploration covers the service the mutant sits in, found by
comparing the planted files with the unmutated copy in ``--pristine``, as a
developer porting that service runs ``shadow explore --service`` on it; a
mutant in a shared helper, or no mutant (the baseline), explores every service.

Caught means what a reviewer or the gate would see: a divergence or
candidate-error group in the divergence store, mirror failures (the
candidate could not even be built or run: dropped with ``worker_error``,
``worker_crash`` or ``deadline``), or tables that differ at rest when the
demo verifies the two stores after its traffic (the gate's ``data_verified``
criterion, required by the demo's policy, fails then: a write that stored
something wrong shows there even when no read brought it back; not counted
when a write was dropped, which makes the stores differ with no bug). Nothing else
counts: a queue that merely sampled reads out is not evidence of a bug.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

from imagegen.demo import DemoOptions, run_demo
from imagegen.demo.explore import ReferenceTarget
from imagegen.demo.run import STORE_FILE
from shadow.explore import explore
from shadow.runtime import DivergenceStore

__all__ = ["CORE", "main", "mutated_services", "service_of", "verdict"]

CORE = Path("imagegen/services/core")
"""The SQLModel services the benchmark mutates (relative to the code's root)."""

_FAILURE_REASONS = ("worker_error", "worker_crash", "deadline")
_SERVICE_OF_FILE = {"session_queue_batches": "session_queue"}
SHARED = "(shared helpers)"


def service_of(path: Path) -> str:
    """The service a module of :data:`CORE` implements (:data:`SHARED` for ``_helpers.py``)."""
    stem = path.stem
    return SHARED if stem.startswith("_") else _SERVICE_OF_FILE.get(stem, stem)


def mutated_services(code: Path, pristine: Path) -> list[str]:
    """Services whose files under ``code`` differ from ``pristine`` (``[]``: explore all)."""
    changed = sorted(
        service_of(path)
        for path in (code / CORE).glob("*.py")
        if (pristine / path.name).read_bytes() != path.read_bytes()
    )
    return [] if not changed or SHARED in changed else changed


def verdict(store_url: str) -> dict[str, Any]:
    """What the store at ``store_url`` holds as evidence of a bug (``caught`` plus where)."""
    store = DivergenceStore(store_url)
    try:
        groups = store.groups()
        failures = [
            drop
            for drop in store.drops()
            if any(drop.reason.startswith(reason) for reason in _FAILURE_REASONS)
        ]
    finally:
        store.close()
    return {
        "caught": bool(groups or failures),
        "groups": sorted({f"{g.service}.{g.method}:{g.outcome}" for g in groups}),
        "failures": sorted({f"{d.service}.{d.method}:{d.reason}" for d in failures}),
    }


def _watch(store_file: Path, interval: float = 1.0) -> None:
    """Exit the probe (status 1) as soon as the store holds evidence of a bug.

    Most mutants are caught in the first seconds; the rest of the demo would
    only add to the hour the benchmark takes. The mirror worker process sees
    its pipe close and ends too.
    """
    while True:
        time.sleep(interval)
        if not store_file.exists():
            continue
        try:
            found = verdict(f"sqlite:///{store_file}")
        except Exception:  # the demo is still creating the store
            continue
        if found["caught"]:
            print(json.dumps({"caught": True, "early": True, "demo": found}, sort_keys=True))
            sys.stdout.flush()
            os._exit(1)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one probe; exit 1 when the mutant was caught, 0 when it survived."""
    parser = argparse.ArgumentParser(prog="python -m bench.mutation_probe", description=__doc__)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--ops", type=int, default=800, help="demo API requests")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--explore-examples",
        type=int,
        default=96,
        help="call sequences explored after the traffic (0: traffic only)",
    )
    parser.add_argument(
        "--explore-seconds", type=float, default=20.0, help="time cap of the exploration"
    )
    parser.add_argument(
        "--pristine",
        type=Path,
        default=None,
        help=f"unmutated copy of {CORE} (default: explore every service)",
    )
    parser.add_argument(
        "--no-early-exit", action="store_true", help="run the whole demo even once caught"
    )
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    args.workdir.mkdir(parents=True, exist_ok=True)
    with (args.workdir / "probe.log").open("w", encoding="utf-8") as log:
        structlog.configure(logger_factory=structlog.WriteLoggerFactory(file=log))
        demo_dir = args.workdir / "demo"
        shutil.rmtree(demo_dir, ignore_errors=True)  # never read the previous mutant's store
        if not args.no_early_exit:
            threading.Thread(
                target=_watch, args=(demo_dir / STORE_FILE,), name="probe-watch", daemon=True
            ).start()
        # Coverage measurement changes nothing the comparison sees; off, it saves worker CPU.
        options = DemoOptions(ops=args.ops, seed=args.seed, workdir=demo_dir, coverage=False)
        result = run_demo(options)
        found: dict[str, Any] = {"demo": verdict(result.store_url)}
        if not result.drained:
            found["demo"]["failures"].append("mirror did not drain")
            found["demo"]["caught"] = True
        # With a write dropped (a dirty service) the stores differ without a bug.
        if not result.dirty and result.at_rest is not None and not result.at_rest.report.equal:
            different = [t.table for t in result.at_rest.report.tables if not t.equal]
            found["demo"]["failures"].append(f"differ at rest: {', '.join(different)}")
            found["demo"]["caught"] = True
        if args.explore_examples > 0 and not found["demo"]["caught"]:
            code = Path(__file__).resolve().parent.parent
            services = mutated_services(code, args.pristine) if args.pristine else []
            with ReferenceTarget() as target:
                explored = explore(
                    target,
                    store=result.store_url,
                    budget_seconds=args.explore_seconds,
                    seed=args.seed,
                    services=services or None,
                    max_examples=args.explore_examples,
                )
            found["explore"] = {
                **verdict(result.store_url),
                "services": services or "all",
                "rounds": explored.rounds,
                "examples": explored.examples,
                "seconds": round(explored.elapsed_seconds, 1),
            }
    caught = any(part["caught"] for part in found.values())
    print(json.dumps({"caught": caught, **found}, sort_keys=True))
    return 1 if caught else 0


if __name__ == "__main__":
    sys.exit(main())
