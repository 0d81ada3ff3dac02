"""What captured nondeterminism costs: each patched source, raw, passed through, recorded, replayed.

``capture_nondeterminism`` patches ``os.urandom`` (behind ``uuid.uuid4``),
``time.time``, ``datetime.now`` and ``random`` for the whole process. This
measures, per call of each source, the unpatched cost, the cost outside any
proxied call (one context-variable read more), while recording (inside an
authoritative call) and while replaying (inside its mirrored call). A proxied
call pays ``draws x (recorded - raw)`` on its authoritative side; one that
draws nothing pays nothing. The measuring runs in a child interpreter, so the
patches never leak into other benchmarks of the same ``./dev bench`` run.

    ./dev bench capture [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import timeit
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

__all__ = ["main"]

bound_datetime = datetime
"""The class as an application module binds it (``from datetime import datetime``)."""

_SOURCES = {
    "uuid.uuid4()": "import uuid; f = uuid.uuid4",
    "time.time()": "import time; f = time.time",
    # A name bound by `from datetime import datetime`, as application modules bind it:
    # the rebound class after install (the datetime module's own attribute stays real).
    "datetime.now(UTC)": (
        "import functools; from datetime import UTC; f = functools.partial(bound_datetime.now, UTC)"
    ),
    "random.random()": "import random; f = random.random",
}


def _per_call_ns(function: Callable[[], object], number: int) -> float:
    best = min(timeit.repeat(function, number=number, repeat=5))
    return best / number * 1e9


def _child(number: int) -> dict[str, dict[str, float]]:
    from shadow.runtime import _capture  # noqa: PLC0415 -- patches only this child
    from shadow.runtime._tape import recording, replaying  # noqa: PLC0415

    def source(setup: str) -> Callable[[], object]:
        space: dict[str, Any] = {"bound_datetime": globals()["bound_datetime"]}
        exec(setup, space)
        function: Callable[[], object] = space["f"]
        return function

    figures = {
        name: {"raw": _per_call_ns(source(setup), number)} for name, setup in _SOURCES.items()
    }
    _capture.install()  # also rebinds this module's bound_datetime, as an application's name
    for name, setup in _SOURCES.items():
        function = source(setup)
        figures[name]["outside a call"] = _per_call_ns(function, number)
        with recording() as tape:
            figures[name]["recording"] = _per_call_ns(function, number)
        with replaying(tape):  # exactly as many values as were recorded
            figures[name]["replaying"] = _per_call_ns(function, number)
    return figures


def main(argv: Sequence[str]) -> int:
    """Run the measurement in a child interpreter and print a Markdown table."""
    parser = argparse.ArgumentParser(prog="bench capture")
    parser.add_argument("--quick", action="store_true", help="fewer calls per round")
    parser.add_argument("--repeat", type=int, default=1, help="ignored (one run)")
    parser.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    options = parser.parse_args(list(argv))
    if options.child:
        print(json.dumps(_child(options.child)))
        return 0
    number = 20_000 if options.quick else 200_000
    done = subprocess.run(
        [sys.executable, "-m", "bench.capture", "--child", str(number)],
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(done.stdout)
    load = os.getloadavg()
    print(f"captured nondeterminism, ns per call (best of 5 x {number}; load {load[0]:.2f})\n")
    columns = ["raw", "outside a call", "recording", "replaying"]
    print("| source | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for name, row in figures.items():
        print(f"| `{name}` | " + " | ".join(f"{row[column]:.0f}" for column in columns) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
