"""``python -m bench [NAME] [OPTIONS]``: run every benchmark module, or one by name.

The benchmark modules are ``bench/<name>.py`` files defining
``main(argv: Sequence[str]) -> int``; those in :data:`MODULES` that exist are
run in that order. Options after the name (``--quick``, ``--repeat N``, ...)
go to the module; with no name they go to every module, so each module
should accept at least ``--quick`` and ``--repeat N``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Sequence

__all__ = ["BY_NAME_ONLY", "MODULES", "available", "main"]

MODULES = (
    "services",
    "percall",
    "queue",
    "comparison",
    "overhead",
    "headroom",
    "aftercutover",
    "capture",
    "metrics",
    "coverage",
    "data",
    "explore",
)
"""Benchmark modules in the order a full run executes them."""

BY_NAME_ONLY = ("read_policy", "mutation")
"""Benchmark modules a full run leaves out: ``read_policy`` needs a database server
(``--candidate-url``), ``mutation`` takes about an hour."""


def available(names: Sequence[str] = MODULES) -> list[str]:
    """The benchmark modules of ``names`` that exist in this checkout."""
    return [name for name in names if importlib.util.find_spec(f"bench.{name}") is not None]


def _entry_point(name: str) -> Callable[[Sequence[str]], int]:
    module = importlib.import_module(f"bench.{name}")
    entry: Callable[[Sequence[str]], int] = module.main
    return entry


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to one benchmark module, or run all of them; return the worst status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    present = available()
    if arguments and not arguments[0].startswith("-"):
        name, rest = arguments[0], arguments[1:]
        runnable = present + available(BY_NAME_ONLY)
        if name not in runnable:
            print(
                f"bench: error: unknown benchmark {name!r} (available: {', '.join(runnable)})",
                file=sys.stderr,
            )
            return 2
        return _entry_point(name)(rest)
    if arguments in (["-h"], ["--help"]):
        print(__doc__)
        return 0
    status = 0
    for name in present:
        print(f"## {name}\n", flush=True)
        status = max(status, _entry_point(name)(arguments))
        print(flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
