"""After the last promotion: the demo's whole traffic on SQLModel against all of it on legacy.

The demo (:func:`imagegen.demo.run_demo`, its API threads and queue worker in
this process) runs with every service in ``legacy`` mode (raw sqlite3 on the
legacy file) and with every service in ``sqlmodel`` mode (the SQLModel
services alone, no mirror), the two arms interleaved round by round so that
the machine's drift hits both alike:

* **sqlite**: the SQLModel services on a SQLite file, 4 API threads in both
  arms (the demo's default). Targets (issue 14): caller p50 <= 1.3x legacy,
  saturated throughput >= 0.8x legacy.
* **postgresql**: the SQLModel services on PostgreSQL, 8 API threads, against
  legacy SQLite with the same 8 threads: what moving off one SQLite file
  buys at saturation (the migration's reason; measured, no target). The
  server comes from ``SHADOW_TEST_POSTGRES_URL`` (the tests' default); a
  database of its own is created there and dropped afterwards.

Each run is measured twice: **paced** (``--rate`` requests/s over all
threads: caller p50 and p99 per request) and **saturated** (as fast as the
threads go: requests/s). Every round prints its one-minute load average, and
each figure's spread (min / median / max over the rounds).

``--seeded IMAGES`` runs the same on stores seeded at scale (:mod:`bench.seeding`:
IMAGES images, a hundredth as many boards, a tenth as many finished queue
items, a thousandth as many users; ``--seeded 1000000`` is issue 14's
production scale), kept in ``--seeded-dir DIR`` and reused by later runs when
given; every run starts its stores as file copies of them (a PostgreSQL
candidate gets the legacy rows copied in instead, minutes at production
scale). Copies are not timed. On a seeded store the demo's tour is not run
(:attr:`imagegen.demo.DemoOptions.tour`): its bulk calls would empty the
seeded intermediates and queue first, and take minutes; the traffic knows the
seeded users, boards, recent images and batches instead. (The tour is never
timed: the figures are the API requests' alone.)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench import seeding
from bench.harness import Environment, fresh_database, logs_to_file, percentile
from bench.seeding import Seeded
from imagegen.demo import DemoOptions, run_demo
from shadow.runtime import Mode

__all__ = ["main"]

POSTGRES_URL = os.environ.get(
    "SHADOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TARGET_P50 = 1.3
TARGET_THROUGHPUT = 0.8
ARMS = (Mode.LEGACY, Mode.SQLMODEL)


@dataclass(frozen=True)
class Backend:
    """Where the SQLModel arm's store lives, and how many API threads drive the traffic."""

    name: str
    threads: int
    judged: bool
    """Whether issue 14's SQLite targets apply."""


BACKENDS = {
    "sqlite": Backend("sqlite", 4, judged=True),
    "postgresql": Backend("postgresql", 8, judged=False),
}


@dataclass(frozen=True)
class Run:
    """One demo run's caller-side figures."""

    p50: float
    p99: float
    throughput: float
    load: float
    """One-minute load average when the run started."""


def _run(options: DemoOptions) -> Run:
    load = os.getloadavg()[0]
    result = run_demo(options)
    latencies = sorted(result.request_latencies)
    return Run(
        p50=statistics.median(latencies),
        p99=percentile(latencies, 0.99),
        throughput=len(latencies) / result.api_seconds if result.api_seconds else 0.0,
        load=load,
    )


@contextmanager
def _candidate_url(backend: Backend) -> Iterator[str | None]:
    """None for SQLite (the demo's own candidate file); a fresh PostgreSQL database otherwise."""
    if backend.name == "sqlite":
        yield None
        return
    with fresh_database(POSTGRES_URL, "aftercutover") as url:
        yield url


def _measure(
    backend: Backend, rounds: int, ops: tuple[int, int], rate: float, root: Path,
    *, seeded: Seeded | None,
) -> dict[str, dict[Mode, list[Run]]]:  # fmt: skip
    """Paced and saturated runs of both arms, interleaved round by round."""
    runs: dict[str, dict[Mode, list[Run]]] = {
        kind: {mode: [] for mode in ARMS} for kind in ("paced", "saturated")
    }
    with _candidate_url(backend) as url:
        for round_ in range(rounds):
            for kind, count, paced_at in (("paced", ops[0], rate), ("saturated", ops[1], None)):
                for mode in ARMS:
                    workdir = root / f"{backend.name}-{kind}-{mode.value}-{round_}"
                    options = DemoOptions(
                        ops=count,
                        mode=mode,
                        rate=paced_at,
                        threads=backend.threads,
                        workdir=workdir,
                        candidate_url=url,
                        legacy_template=None if seeded is None else seeded.legacy,
                        # A server candidate gets the legacy rows copied in, as always.
                        candidate_template=None if seeded is None or url else seeded.sqlmodel,
                        tour=seeded is None,
                        coverage=False,
                    )
                    runs[kind][mode].append(_run(options))
    return runs


def _ratio(legacy: float, sqlmodel: float) -> float:
    return sqlmodel / legacy if legacy else float("inf")


def _spread(values: Sequence[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def _summary(backend: Backend, runs: dict[str, dict[Mode, list[Run]]]) -> tuple[list[str], int]:
    """The backend's rows of the main table, and 1 when a judged target is missed."""
    paced, saturated = runs["paced"], runs["saturated"]

    def median(kind: dict[Mode, list[Run]], mode: Mode, field: str, scale: float) -> float:
        return statistics.median(float(getattr(run, field)) * scale for run in kind[mode])

    measures = (
        ("paced caller p50 (ms)", paced, "p50", 1000.0, TARGET_P50, True),
        ("paced caller p99 (ms)", paced, "p99", 1000.0, None, True),
        ("saturated throughput (req/s)", saturated, "throughput", 1.0, TARGET_THROUGHPUT, False),
    )
    rows, status = [], 0
    store = "SQLite" if backend.name == "sqlite" else "PostgreSQL"
    for name, kind, field, scale, target, lower_is_better in measures:
        legacy = median(kind, Mode.LEGACY, field, scale)
        sqlmodel = median(kind, Mode.SQLMODEL, field, scale)
        ratio = _ratio(legacy, sqlmodel)
        shown, verdict = "", ""
        if target is not None and backend.judged:
            met = ratio <= target if lower_is_better else ratio >= target
            status |= 0 if met else 1
            shown = f"{'<=' if lower_is_better else '>='} {target:.2f}x"
            verdict = "yes" if met else "no"
        rows.append(
            f"| {store}, {backend.threads} threads | {name} | {legacy:,.2f} | {sqlmodel:,.2f} "
            f"| {ratio:.2f}x | {shown} | {verdict} |"
        )
    return rows, status


def _rounds(backend: Backend, runs: dict[str, dict[Mode, list[Run]]]) -> list[str]:
    lines = []
    paced, saturated = runs["paced"], runs["saturated"]
    for index, (pl, ps, sl, ss) in enumerate(
        zip(
            paced[Mode.LEGACY],
            paced[Mode.SQLMODEL],
            saturated[Mode.LEGACY],
            saturated[Mode.SQLMODEL],
            strict=True,
        )
    ):
        lines.append(
            f"| {backend.name} | {index + 1} | {pl.load:.1f} / {sl.load:.1f} "
            f"| {pl.p50 * 1000:.2f} | {ps.p50 * 1000:.2f} | {pl.p99 * 1000:.2f} "
            f"| {ps.p99 * 1000:.2f} | {sl.throughput:.0f} | {ss.throughput:.0f} |"
        )
    return lines


def _spreads(backend: Backend, runs: dict[str, dict[Mode, list[Run]]]) -> list[str]:
    lines = []
    for mode in ARMS:
        paced, saturated = runs["paced"][mode], runs["saturated"][mode]
        lines.append(
            f"- {backend.name}, {mode.value}: paced p50 ms {_spread([r.p50 * 1000 for r in paced])}"
            f"; p99 ms {_spread([r.p99 * 1000 for r in paced])}"
            f"; saturated req/s {_spread([r.throughput for r in saturated])}"
        )
    return lines


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench aftercutover", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--repeat", type=int, default=None, help="interleaved rounds per arm")
    parser.add_argument("--rate", type=float, default=150.0, help="paced requests per second")
    parser.add_argument(
        "--backends", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql"
    )
    seeding.add_arguments(parser)
    args = parser.parse_args(list(argv))
    seeding.check_arguments(parser, args)
    chosen = [name.strip() for name in args.backends.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(BACKENDS))
    if unknown or not chosen:
        print(f"bench aftercutover: error: unknown backends {unknown}", file=sys.stderr)
        return 2
    rounds = args.repeat or (1 if args.quick else 3)
    ops = (200, 300) if args.quick else (1500, 3000)

    status = 0
    summary: list[str] = []
    per_round: list[str] = []
    spreads: list[str] = []
    with tempfile.TemporaryDirectory(prefix="shadow-bench-aftercutover-") as scratch:
        root = Path(scratch)
        with logs_to_file(root / "shadow.log"):
            seeded = None
            if args.seeded is not None:
                seeded = seeding.seeded(args.seeded, args.seeded_dir or root)
            for name in chosen:
                backend = BACKENDS[name]
                runs = _measure(backend, rounds, ops, args.rate, root, seeded=seeded)
                rows, missed = _summary(backend, runs)
                status |= missed
                summary += rows
                per_round += _rounds(backend, runs)
                spreads += _spreads(backend, runs)

    size = "empty stores (the demo's own data only)" if seeded is None else seeded.describe()
    print(
        f"{rounds} interleaved round(s) per arm on {size}; paced at {args.rate:g} requests/s, "
        f"{ops[0]} requests per paced run, {ops[1]} per saturated run; 1 queue worker.\n"
    )
    print("| store, API threads | measure | legacy (SQLite) | sqlmodel | ratio | target | met |")
    print("|---|---|---:|---:|---:|---:|:---:|")
    print("\n".join(summary))
    print("\nper round (load average at the paced / saturated run's start):\n")
    print(
        "| backend | round | load | legacy p50 ms | sqlmodel p50 ms | legacy p99 ms "
        "| sqlmodel p99 ms | legacy req/s | sqlmodel req/s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(per_round))
    print("\nspread over the rounds (min / median / max):\n")
    print("\n".join(spreads))
    print(f"\n{Environment.current().describe()}")
    return status
