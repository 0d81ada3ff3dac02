"""Read-policy benchmark: the Core services' reads in a transaction against in autocommit.

    python -m bench read_policy --candidate-url URL [--quick] [--repeat N]
                                [--warmup N] [--output FILE]

One Core database (a fresh database on the PostgreSQL or MariaDB server at
``--candidate-url``) holds the boards cases' data (20 users,
300 boards shared and filed with 3,000 images) and 50 settings. Two sets of
the same services read it: one built with no dialect in
:data:`imagegen.services.core._base.AUTOCOMMIT_READS` (every read opens and
ends a transaction: ``BEGIN``, ``SELECT``, ``ROLLBACK``), one with the
database's dialect in it (the read runs in autocommit mode). The two arms
alternate call by call (:func:`bench.harness.measure`), so the machine's load
hits both alike; the ratio is autocommit over transactional, below 1.0 when
autocommit is faster. This is how the policy in ``_base`` was chosen
(figures in docs/benchmarks.md).

SQLite is not a candidate, so there is nothing to measure there: its engine
already runs the driver in autocommit and SQLAlchemy's ``BEGIN`` is what
gives a read its snapshot; ``isolation_level="AUTOCOMMIT"`` still begins (the
engine's ``begin`` hook runs) and, on the connection's return to the pool,
resets the driver to its implicit-transaction mode, which breaks the engine's
transaction handling for every later checkout.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import sqlalchemy as sa

from bench.cases.boards import USERS, _fill, _images
from bench.harness import (
    QUICK,
    STANDARD,
    Case,
    CaseResult,
    Environment,
    Settings,
    candidate_server,
    measure,
    open_pair,
)
from imagegen.db.tables import metadata
from imagegen.services.contracts.boards import BoardOrder, Direction
from imagegen.services.core import _base
from imagegen.services.core.app_settings import CoreAppSettingsService
from imagegen.services.core.board_images import CoreBoardImagesService
from imagegen.services.core.boards import CoreBoardsService
from imagegen.services.core.users import CoreUsersService
from imagegen.services.passwords import PasswordHasher
from shadow import FixedClock, SequentialIds

__all__ = ["main", "read_policy_cases"]

SETTINGS = 50


@dataclass(frozen=True, slots=True)
class _Services:
    settings: CoreAppSettingsService
    users: CoreUsersService
    boards: CoreBoardsService
    links: CoreBoardImagesService


@contextmanager
def _policy(dialects: frozenset[str]) -> Iterator[None]:
    kept = _base.AUTOCOMMIT_READS
    _base.AUTOCOMMIT_READS = dialects
    try:
        yield
    finally:
        _base.AUTOCOMMIT_READS = kept


def _services(pair_engine: sa.Engine, dialects: frozenset[str]) -> _Services:
    ids, clock = SequentialIds("policy"), FixedClock()
    with _policy(dialects):
        return _Services(
            settings=CoreAppSettingsService(pair_engine, ids=ids, clock=clock),
            users=CoreUsersService(
                pair_engine, ids=ids, clock=clock, passwords=PasswordHasher(cost=2)
            ),
            boards=CoreBoardsService(pair_engine, ids=ids, clock=clock),
            links=CoreBoardImagesService(pair_engine, ids=ids, clock=clock),
        )


def read_policy_cases(workdir: Path) -> tuple[str, list[Case]]:
    """The database's dialect and the read cases, transactional arm against autocommit arm."""
    pair = open_pair(workdir, "read_policy")
    engine = pair.engine
    dialect = engine.dialect.name
    with engine.begin() as conn:
        conn.execute(metadata.tables["images"].insert(), _images())
    transactional = _services(engine, frozenset())
    autocommit = _services(engine, frozenset({dialect}))
    user_ids = [
        transactional.users.create(f"u{n}@example.com", None, "pw").user_id for n in range(USERS)
    ]
    board_ids = _fill(transactional.boards, transactional.links, user_ids)
    for n in range(SETTINGS):
        transactional.settings.set(f"setting-{n:02d}", f"value {n}")
    viewer, board = user_ids[3], board_ids[42]

    def arms(call: Callable[[_Services], object]) -> tuple[Callable[[], object], ...]:
        return (lambda: call(transactional), lambda: call(autocommit))

    reads: list[tuple[str, str, str, Callable[[_Services], object]]] = [
        ("one key", "app_settings", "get", lambda s: s.settings.get("setting-25")),
        ("get by id", "users", "get", lambda s: s.users.get(viewer)),
        ("get by key", "boards", "get", lambda s: s.boards.get(board)),
        (
            "page of 50, non-admin",
            "boards",
            "get_many",
            lambda s: s.boards.get_many(
                viewer, False, BoardOrder.BOARD_NAME, Direction.ASC, offset=0, limit=50
            ),
        ),
        (
            "count",
            "board_images",
            "get_image_count_for_board",
            lambda s: s.links.get_image_count_for_board(board),
        ),
    ]
    cases = [Case(name, service, method, *arms(call)) for name, service, method, call in reads]
    return dialect, cases


def _render(dialect: str, results: list[CaseResult], settings: Settings, database: str) -> str:
    header = (
        "| case | transactional median µs | p99 µs | autocommit median µs | p99 µs | ratio | n |"
    )
    lines = [header, "|---|---|---|---|---|---|---|"]
    for result in results:
        lines.append(
            f"| {result.service}.{result.method} ({result.name}) "
            f"| {result.legacy.median_us:.1f} | {result.legacy.p99_us:.1f} "
            f"| {result.candidate.median_us:.1f} | {result.candidate.p99_us:.1f} "
            f"| {result.ratio:.2f}x | {result.samples} |"
        )
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    lines += [
        "",
        Environment.current().describe(),
        f"Database: {database} (dialect {dialect}); load average before the run: {load}.",
        f"Settings: up to {settings.repeat} interleaved repetitions per arm "
        f"(at least {settings.min_repeat}, budget {settings.budget_seconds:g} s per case) "
        f"after {settings.warmup} warm-up calls.",
    ]
    return "\n".join(lines) + "\n"


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run the read-policy benchmark; see the module docstring for the options."""
    parser = argparse.ArgumentParser(prog="python -m bench read_policy", description=__doc__)
    parser.add_argument(
        "--candidate-url", metavar="URL", required=True, help="a PostgreSQL or MariaDB server"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: a few repetitions")
    parser.add_argument("--repeat", type=_positive, help="repetitions per arm")
    parser.add_argument("--warmup", type=_positive, help="warm-up calls per arm")
    parser.add_argument("--output", type=Path, help="also write the Markdown table here")
    arguments = parser.parse_args(argv)
    settings = QUICK if arguments.quick else STANDARD
    if arguments.repeat is not None:
        settings = replace(
            settings, repeat=arguments.repeat, min_repeat=min(settings.min_repeat, arguments.repeat)
        )
    if arguments.warmup is not None:
        settings = replace(settings, warmup=arguments.warmup)

    from imagegen.db.engine import safe_url  # noqa: PLC0415
    from shadow._exceptions import ConfigError  # noqa: PLC0415

    database = safe_url(arguments.candidate_url)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="bench-read-policy-") as workdir,
            candidate_server(arguments.candidate_url),
        ):
            dialect, cases = read_policy_cases(Path(workdir))
            results = []
            for case in cases:
                print(
                    f"{case.service}.{case.method} ({case.name}) ...", file=sys.stderr, flush=True
                )
                results.append(measure(case, settings))
    except ConfigError as error:
        print(f"bench: error: {error}", file=sys.stderr)
        return 2
    table = _render(dialect, results, settings, database)
    print(table, end="")
    if arguments.output is not None:
        try:
            arguments.output.write_text(table, encoding="utf-8")
        except OSError as error:
            print(f"bench: error: cannot write results: {error}", file=sys.stderr)
            return 2
    return 0
