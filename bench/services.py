"""Service benchmark: every case in :mod:`bench.cases`, legacy against SQLModel.

    python -m bench services [SERVICE ...] [--quick] [--repeat N] [--warmup N]
                             [--candidate-url URL] [--autocommit-reads DIALECTS]
                             [--seeded IMAGES [--seeded-dir DIR]]
                             [--output FILE] [--json FILE]

Each case module builds its own pair of SQLite databases in a temporary
directory (with ``--candidate-url``, the candidate's database is a fresh one on
that PostgreSQL or MariaDB server instead), then every case it returns is
measured by :func:`bench.harness.measure`. ``--autocommit-reads`` replaces the
Core services' read policy (:data:`imagegen.services.core._base.AUTOCOMMIT_READS`)
for the run: a comma-separated list of dialects, or ``none``; it is how the
policy's alternatives are measured. ``--seeded IMAGES`` starts every case
module's pair of SQLite files as copies of stores seeded at that scale
(:mod:`bench.seeding`; ``--seeded 1000000`` is issue 14's production scale,
kept in ``--seeded-dir`` and reused), so each method is measured with the
seeded rows around the case's own: the per-method medians at scale, beside
the ones on small stores.
The Markdown table goes to stdout (and to ``--output``); progress goes to stderr.
The exit status is 0 when every case ran, 1 when a case failed to build or run;
a median ratio above the target is reported in the table, not as a failure.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import bench.cases
from bench import seeding
from bench.harness import (
    QUICK,
    STANDARD,
    Case,
    Environment,
    Report,
    Settings,
    candidate_server,
    load_average,
    measure,
    seeded_stores,
)

__all__ = ["case_modules", "main", "run"]

CaseFactory = Callable[[Path], list[Case]]


def case_modules() -> dict[str, CaseFactory]:
    """The ``cases`` function of every module in :mod:`bench.cases`, by module name."""
    factories: dict[str, CaseFactory] = {}
    for info in sorted(pkgutil.iter_modules(bench.cases.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"bench.cases.{info.name}")
        factory = getattr(module, "cases", None)
        if callable(factory):
            factories[info.name] = factory
    return factories


def run(
    factories: dict[str, CaseFactory],
    settings: Settings,
    progress: Callable[[str], None] = lambda _message: None,
) -> tuple[Report, list[str]]:
    """Build and measure every case; return the report and one line per failure."""
    report = Report(environment=Environment.current(), settings=settings)
    failures: list[str] = []
    for module_name, factory in factories.items():
        with tempfile.TemporaryDirectory(prefix=f"bench-{module_name}-") as workdir:
            try:
                cases = factory(Path(workdir))
            except Exception as error:  # one broken module must not stop the run
                failures.append(f"{module_name}: building cases failed: {_describe(error)}")
                continue
            for case in cases:
                progress(f"{case.service}.{case.method} ({case.name}) ...")
                try:
                    report.results.append(measure(case, settings))
                except Exception as error:  # report it and go on to the next case
                    failures.append(f"{module_name}: case {case.name} failed: {_describe(error)}")
    return report, failures


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more: {value}")
    return value


_DIALECTS = ("sqlite", "postgresql", "mysql", "mariadb")


def _dialects(text: str) -> frozenset[str]:
    if text.strip() == "none":
        return frozenset()
    names = frozenset(name.strip() for name in text.split(",") if name.strip())
    unknown = sorted(names - set(_DIALECTS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"not a dialect list: {text!r} (use none, or some of {', '.join(_DIALECTS)})"
        )
    return names


@contextmanager
def _read_policy(dialects: frozenset[str] | None) -> Iterator[None]:
    """Replace the Core services' read policy for the block (``None``: keep it)."""
    from imagegen.services.core import _base  # noqa: PLC0415

    kept = _base.AUTOCOMMIT_READS
    if dialects is not None:
        _base.AUTOCOMMIT_READS = dialects
    try:
        yield
    finally:
        _base.AUTOCOMMIT_READS = kept


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench services",
        description="Legacy sqlite3 vs SQLModel on the same SQLite data, per hot method.",
    )
    parser.add_argument(
        "services", nargs="*", metavar="SERVICE", help="case modules to run (default: all)"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: a few repetitions")
    parser.add_argument("--repeat", type=_positive, help="repetitions per arm")
    parser.add_argument("--warmup", type=_non_negative, help="warm-up calls per arm")
    parser.add_argument(
        "--candidate-url",
        metavar="URL",
        help="run the candidate arm on this PostgreSQL or MariaDB server (default: SQLite)",
    )
    parser.add_argument(
        "--autocommit-reads",
        type=_dialects,
        metavar="DIALECTS",
        help="read policy to measure: comma-separated dialects whose reads autocommit, or none",
    )
    seeding.add_arguments(parser)
    parser.add_argument("--output", type=Path, help="also write the Markdown table here")
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    return parser


def _settings(arguments: argparse.Namespace) -> Settings:
    settings = QUICK if arguments.quick else STANDARD
    if arguments.repeat is not None:
        settings = replace(
            settings, repeat=arguments.repeat, min_repeat=min(settings.min_repeat, arguments.repeat)
        )
    if arguments.warmup is not None:
        settings = replace(settings, warmup=arguments.warmup)
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    """Run the service benchmark; see the module docstring for the options."""
    parser = _parser()
    arguments = parser.parse_args(argv)
    seeding.check_arguments(parser, arguments)
    if arguments.seeded is not None and arguments.candidate_url is not None:
        parser.error("--seeded runs on SQLite stores: not with --candidate-url")
    factories = case_modules()
    unknown = [name for name in arguments.services if name not in factories]
    if unknown:
        parser.error(
            f"unknown service case module(s): {', '.join(unknown)} "
            f"(available: {', '.join(factories) or 'none'})"
        )
    if arguments.services:
        factories = {name: factories[name] for name in arguments.services}

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    from imagegen.db.engine import safe_url  # noqa: PLC0415
    from imagegen.services.core import _base  # noqa: PLC0415
    from shadow._exceptions import ConfigError  # noqa: PLC0415

    try:
        with tempfile.TemporaryDirectory(prefix="bench-seeded-") as scratch:
            stores = None
            if arguments.seeded is not None:
                stores = seeding.seeded(arguments.seeded, arguments.seeded_dir or Path(scratch))
            with (
                candidate_server(arguments.candidate_url),
                seeded_stores(stores),
                _read_policy(arguments.autocommit_reads),
            ):
                load_before = load_average()
                report, failures = run(factories, _settings(arguments), progress)
                policy = ", ".join(sorted(_base.AUTOCOMMIT_READS)) or "none"
    except ConfigError as error:
        print(f"bench: error: {error}", file=sys.stderr)
        return 2
    candidate = "SQLite" if arguments.candidate_url is None else safe_url(arguments.candidate_url)
    size = "each case's own rows" if stores is None else f"{stores.describe()}, and each case's own"
    table = report.render_markdown() + (
        f"Data: {size}.\n"
        f"Candidate database: {candidate}; autocommit reads on: {policy}.\n"
        f"Load average (1/5/15 min): {load_before} at the start, {load_average()} at the end.\n"
    )
    print(table, end="")
    try:
        if arguments.output is not None:
            arguments.output.write_text(table, encoding="utf-8")
        if arguments.json is not None:
            arguments.json.write_text(json.dumps(report.as_dict(), indent=2), encoding="utf-8")
    except OSError as error:
        print(f"bench: error: cannot write results: {error}", file=sys.stderr)
        return 2
    for failure in failures:
        print(f"bench: error: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
