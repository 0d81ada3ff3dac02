"""Benchmark: how many exploration examples a second, per reference service.

``python -m bench explore [--quick] [--repeat N] [--budget SECONDS]``

For each of the 11 reference services (``--quick``: three of them), explores
that service alone against the correct SQLModel candidate (nothing diverges,
so no time goes to shrinking) for ``--budget`` seconds, ``repeat`` times, and
reports the median examples and calls per second. An example is one generated
call sequence from a fresh copy of the seeded state, so examples per second
is what decides which bugs a fixed exploration budget can reach.

The template world is built once per service, outside the timed budget. Only
the public API is used (``ReferenceTarget``, ``shadow.explore.explore``), so
the same file measures an older checkout too (run it with that checkout's
interpreter and ``PYTHONPATH``): that is how docs/benchmarks.md compares
before and after a change.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
from collections.abc import Sequence

import hypothesis
import sqlalchemy

from imagegen.demo.explore import ReferenceTarget
from imagegen.demo.wiring import SERVICES
from shadow.explore import explore

__all__ = ["main"]

QUICK = ("app_settings", "workflows", "session_queue")


def _measure(service: str, budget: float, repeat: int) -> tuple[float, float]:
    examples: list[float] = []
    calls: list[float] = []
    with ReferenceTarget() as target:
        for run in range(repeat):
            result = explore(
                target, store=None, budget_seconds=budget, seed=run, services=[service]
            )
            examples.append(result.examples / result.elapsed_seconds)
            calls.append(sum(result.calls.values()) / result.elapsed_seconds)
    return statistics.median(examples), statistics.median(calls)


def main(argv: Sequence[str]) -> int:
    """Run the benchmark; print a Markdown table; return 0."""
    parser = argparse.ArgumentParser(prog="python -m bench explore")
    parser.add_argument("--quick", action="store_true", help="three services only")
    parser.add_argument("--repeat", type=int, default=3, help="runs per service (median)")
    parser.add_argument("--budget", type=float, default=4.0, help="seconds per run")
    options = parser.parse_args(list(argv))
    if options.repeat < 1 or options.budget <= 0:
        parser.error("--repeat and --budget must be positive")
    services = QUICK if options.quick else tuple(wiring.name for wiring in SERVICES)
    print(
        f"Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, "
        f"hypothesis {hypothesis.__version__}; {options.budget:g} s per run, "
        f"median of {options.repeat}; load average {os.getloadavg()[0]:.1f} at start\n"
    )
    print("| service | examples/s | calls/s |")
    print("|---|---:|---:|")
    for service in services:
        per_example, per_call = _measure(service, options.budget, options.repeat)
        print(f"| {service} | {per_example:.1f} | {per_call:.1f} |", flush=True)
    print(f"\nload average {os.getloadavg()[0]:.1f} at end")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
