"""What measuring the candidate's coverage costs: the demo with ``coverage`` off and on.

Arms interleaved (off, on, off, on, ...) so the machine's drift hits both
alike, same process layout as ``shadow demo`` (mirror worker in its own
process, where coverage.py runs):

* **paced**: requests at a fixed rate; the caller's p50 and p99 request
  latency per arm. Coverage runs in the worker process, so the caller should
  not see it (target: p50 and p99 within 1.10x).
* **saturated**: requests as fast as the threads go; the mirror's
  throughput (compared calls per second of the run, the final drain included)
  and the candidate's own p50 call time as the worker measures it, the part
  coverage.py's tracer slows down.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

from bench.harness import Environment, percentile
from imagegen.demo import DemoOptions, run_demo
from shadow.runtime import DivergenceStore

__all__ = ["main"]

_COMPARED = ("match", "divergence", "candidate_error", "raced")


@dataclass(frozen=True)
class Arm:
    """One run's figures."""

    p50: float
    p99: float
    mirror_throughput: float
    candidate_p50: float
    compared: int


def _run(coverage: bool, ops: int, rate: float | None, workdir: Path) -> Arm:
    result = run_demo(DemoOptions(ops=ops, rate=rate, workdir=workdir, coverage=coverage))
    store = DivergenceStore(result.store_url)
    try:
        candidate = [
            (item.summary.count, item.summary.p50)
            for item in store.latency()
            if item.side == "candidate"
        ]
    finally:
        store.close()
    compared = sum(s.outcomes.get(name, 0) for s in result.services for name in _COMPARED)
    weight = sum(count for count, _ in candidate)
    latencies = sorted(result.request_latencies)
    return Arm(
        p50=statistics.median(latencies),
        p99=percentile(latencies, 0.99),
        mirror_throughput=compared / result.elapsed_seconds if result.elapsed_seconds else 0.0,
        # A call-weighted mean of the per-method medians: one number per run.
        candidate_p50=sum(count * p50 for count, p50 in candidate) / weight if weight else 0.0,
        compared=compared,
    )


def _interleaved(rounds: int, ops: int, rate: float | None, root: Path) -> dict[bool, list[Arm]]:
    arms: dict[bool, list[Arm]] = {False: [], True: []}
    for round_ in range(rounds):
        for coverage in (False, True):
            arms[coverage].append(_run(coverage, ops, rate, root / f"{coverage}-{round_}"))
    return arms


def _median(arms: list[Arm], name: str) -> float:
    return float(statistics.median(getattr(arm, name) for arm in arms))


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench coverage", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--repeat", type=int, default=None, help="interleaved rounds per arm")
    parser.add_argument("--rate", type=float, default=100.0, help="paced requests per second")
    args = parser.parse_args(list(argv))
    rounds = args.repeat or (1 if args.quick else 3)
    paced_ops = 200 if args.quick else 1000
    saturated_ops = 300 if args.quick else 2000

    print(
        f"load average (1/5/15 min) at the start: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    with tempfile.TemporaryDirectory(prefix="shadow-bench-coverage-") as scratch:
        root = Path(scratch)
        log = (root / "shadow.log").open("w", encoding="utf-8")
        structlog.configure(logger_factory=structlog.WriteLoggerFactory(file=log))
        paced = _interleaved(rounds, paced_ops, args.rate, root / "paced")
        saturated = _interleaved(rounds, saturated_ops, None, root / "saturated")
        log.close()

    print(
        f"{rounds} interleaved round(s) per arm; paced at {args.rate:g} requests/s, "
        f"{paced_ops} requests per paced run, {saturated_ops} per saturated run.\n"
    )
    print("| measure | coverage off | coverage on | ratio | target | met |")
    print("|---|---:|---:|---:|---:|:---:|")
    status = 0
    rows = [
        ("paced caller p50 (ms)", paced, "p50", 1000.0, 1.10),
        ("paced caller p99 (ms)", paced, "p99", 1000.0, 1.10),
        ("saturated candidate call p50 (ms)", saturated, "candidate_p50", 1000.0, None),
        ("saturated mirror throughput (calls/s)", saturated, "mirror_throughput", 1.0, None),
    ]
    for name, arms, field, scale, target in rows:
        off, on = _median(arms[False], field) * scale, _median(arms[True], field) * scale
        ratio = on / off if off else float("inf")
        if target is None:
            print(f"| {name} | {off:.3f} | {on:.3f} | {ratio:.2f}x | (stated) | - |")
            continue
        met = ratio <= target
        status |= 0 if met else 1
        print(
            f"| {name} | {off:.3f} | {on:.3f} | {ratio:.2f}x | <= {target:.2f}x "
            f"| {'yes' if met else 'no'} |"
        )
    print(f"\n{Environment.current().describe()}")
    print(
        f"load average (1/5/15 min) at the end: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    return status
