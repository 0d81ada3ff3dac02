"""The benchmark harness: run a legacy and a candidate callable, interleaved, and compare.

A :class:`Case` is one hot method of one service: two zero-argument callables,
the legacy arm and the candidate (SQLModel) arm, each running the method on
data that was prepared beforehand and is identical on both sides
(:func:`open_pair` builds the two SQLite files). :func:`measure` warms both arms
up, then alternates them call by call (legacy, candidate, legacy, ...) so that
drift in the machine's state (CPU frequency, page cache, other processes) hits
both arms alike, and reports the median and p99 of each arm and the ratio of
the medians. :class:`Report` renders the results as a Markdown table with a line
naming the machine and the library versions, ready to paste into
``docs/benchmarks.md``.

The candidate arm may run on a database server instead of SQLite: inside
:func:`candidate_server`, :func:`open_pair` gives each case module a fresh
database on that server (dropped when the block ends), so the same cases
measure the candidate services on PostgreSQL or MariaDB. Inside
:func:`seeded_stores`, each pair starts instead as copies of stores seeded at
scale (:mod:`bench.seeding`), so the same cases measure the methods with, say,
a million images around the case's own rows.

Garbage collection stays enabled while measuring: the allocations an ORM makes
and the collections they trigger are part of what it costs.
"""

from __future__ import annotations

import math
import os
import platform
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy
import sqlmodel
import structlog

from shadow import FixedClock, SequentialIds

if TYPE_CHECKING:
    from bench.seeding import Seeded
    from imagegen.db.legacy import LegacyDatabase

__all__ = [
    "QUICK",
    "STANDARD",
    "TARGET_RATIO",
    "ArmStats",
    "BenchPair",
    "Case",
    "CaseResult",
    "Environment",
    "Report",
    "Settings",
    "candidate_server",
    "load_average",
    "logs_to_file",
    "measure",
    "open_pair",
    "percentile",
    "seeded_stores",
]

TARGET_RATIO = 2.0
"""The SQLModel arm's median may be at most this multiple of the legacy arm's."""


@dataclass(frozen=True, slots=True)
class Case:
    """One hot method, measured on both arms.

    ``legacy`` and ``candidate`` are zero-argument callables that run the method
    once on already prepared data; their return values are ignored. A write case
    may add a row per call: both arms run equally often, so their data grows alike.
    """

    name: str
    service: str
    method: str
    legacy: Callable[[], object]
    candidate: Callable[[], object]


@dataclass(frozen=True, slots=True)
class Settings:
    """How long to measure: repetitions per arm, warm-up calls, and a time budget.

    ``budget_seconds`` bounds one case (both arms together, warm-up excluded):
    measuring stops early when it is spent, but never before ``min_repeat``
    repetitions, so a slow case still gets a usable median and p99.
    """

    repeat: int = 2000
    warmup: int = 100
    budget_seconds: float = 8.0
    min_repeat: int = 200

    def __post_init__(self) -> None:
        if self.repeat < 1 or self.warmup < 0 or self.min_repeat < 1:
            raise ValueError("repeat and min_repeat must be at least 1, warmup at least 0")
        if self.budget_seconds <= 0:
            raise ValueError("budget_seconds must be positive")


STANDARD = Settings()
"""The default run: a few seconds per case, a few minutes for every service case."""

QUICK = Settings(repeat=20, warmup=2, budget_seconds=1.0, min_repeat=5)
"""A smoke run: proves every case works, says nothing about speed."""


@dataclass(frozen=True, slots=True)
class ArmStats:
    """Latency of one arm, in microseconds."""

    median_us: float
    p99_us: float


@dataclass(frozen=True, slots=True)
class CaseResult:
    """What :func:`measure` found for one case."""

    name: str
    service: str
    method: str
    samples: int
    legacy: ArmStats
    candidate: ArmStats

    @property
    def ratio(self) -> float:
        """Candidate median over legacy median (above 1.0: SQLModel is slower)."""
        return self.candidate.median_us / self.legacy.median_us

    @property
    def meets_target(self) -> bool:
        """True when the candidate's median is within :data:`TARGET_RATIO` of legacy."""
        return self.ratio <= TARGET_RATIO


@contextmanager
def logs_to_file(path: Path) -> Iterator[None]:
    """structlog writes to ``path`` for the block, then is configured as before.

    The runtime's log lines go to a file, as under `shadow demo`: printing them
    would add terminal I/O to the arm being measured. The previous configuration
    comes back afterwards, so nothing later (another benchmark, a test in the
    same process) logs into the closed file.
    """
    previous = structlog.get_config() if structlog.is_configured() else None
    with path.open("w", encoding="utf-8") as log:
        structlog.configure(logger_factory=structlog.WriteLoggerFactory(file=log))
        try:
            yield
        finally:
            if previous is None:
                structlog.reset_defaults()
            else:
                structlog.configure(**previous)


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, for the line beside every figure."""
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of ``samples`` (``fraction`` in (0, 1])."""
    if not samples:
        raise ValueError("no samples")
    if not 0 < fraction <= 1:
        raise ValueError("fraction must be in (0, 1]")
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def _stats(samples_ns: Sequence[int]) -> ArmStats:
    micro = [sample / 1000 for sample in samples_ns]
    return ArmStats(median_us=statistics.median(micro), p99_us=percentile(micro, 0.99))


def measure(case: Case, settings: Settings = STANDARD) -> CaseResult:
    """Warm both arms up, then time them alternately and summarize each arm."""
    for _ in range(settings.warmup):
        case.legacy()
        case.candidate()
    clock = time.perf_counter_ns
    legacy_ns: list[int] = []
    candidate_ns: list[int] = []
    deadline = time.perf_counter() + settings.budget_seconds
    for repetition in range(settings.repeat):
        start = clock()
        case.legacy()
        middle = clock()
        case.candidate()
        end = clock()
        legacy_ns.append(middle - start)
        candidate_ns.append(end - middle)
        if repetition + 1 >= settings.min_repeat and time.perf_counter() > deadline:
            break
    return CaseResult(
        name=case.name,
        service=case.service,
        method=case.method,
        samples=len(legacy_ns),
        legacy=_stats(legacy_ns),
        candidate=_stats(candidate_ns),
    )


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


@dataclass(frozen=True, slots=True)
class Environment:
    """The machine and the versions a run measured, printed with every table."""

    cores: int
    cpu: str
    system: str
    python: str
    sqlite: str
    sqlalchemy: str
    sqlmodel: str

    @classmethod
    def current(cls) -> Environment:
        """Describe this process's machine and libraries."""
        return cls(
            cores=os.cpu_count() or 1,
            cpu=_cpu_model(),
            system=f"{platform.system()} {platform.release()}",
            python=platform.python_version(),
            sqlite=sqlite3.sqlite_version,
            sqlalchemy=sqlalchemy.__version__,
            sqlmodel=sqlmodel.__version__,
        )

    def describe(self) -> str:
        """One line: cores, CPU model, OS and versions."""
        return (
            f"Machine: {self.cores} cores, {self.cpu}, {self.system}; "
            f"Python {self.python}, SQLite {self.sqlite}, "
            f"SQLAlchemy {self.sqlalchemy}, sqlmodel {self.sqlmodel}"
        )


_COLUMNS = (
    "case",
    "legacy median µs",
    "legacy p99 µs",
    "SQLModel median µs",
    "SQLModel p99 µs",
    "ratio",
    f"≤ {TARGET_RATIO:.1f}x",
    "n",
)


@dataclass(slots=True)
class Report:
    """The results of one run, with the environment and the settings they came from."""

    environment: Environment
    settings: Settings
    results: list[CaseResult] = field(default_factory=list)

    @property
    def all_meet_target(self) -> bool:
        """True when every case's median ratio is within :data:`TARGET_RATIO`."""
        return all(result.meets_target for result in self.results)

    def rows(self) -> list[tuple[str, ...]]:
        """The table's rows as text cells, in :data:`_COLUMNS` order."""
        return [
            (
                f"{result.service}.{result.method} ({result.name})",
                f"{result.legacy.median_us:.1f}",
                f"{result.legacy.p99_us:.1f}",
                f"{result.candidate.median_us:.1f}",
                f"{result.candidate.p99_us:.1f}",
                f"{result.ratio:.2f}x",
                "yes" if result.meets_target else "NO",
                str(result.samples),
            )
            for result in self.results
        ]

    def render_markdown(self) -> str:
        """A Markdown table of every case plus the machine/versions and settings lines."""
        rows = self.rows()
        widths = [
            max([len(header), *(len(row[index]) for row in rows)])
            for index, header in enumerate(_COLUMNS)
        ]

        def line(cells: Sequence[str]) -> str:
            padded = (cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
            return "| " + " | ".join(padded) + " |"

        lines = [line(_COLUMNS), "|" + "|".join("-" * (width + 2) for width in widths) + "|"]
        lines.extend(line(row) for row in rows)
        lines.append("")
        lines.append(self.environment.describe())
        lines.append(
            f"Settings: up to {self.settings.repeat} interleaved repetitions per arm "
            f"(at least {self.settings.min_repeat}, budget {self.settings.budget_seconds:g} s "
            f"per case) after {self.settings.warmup} warm-up calls."
        )
        return "\n".join(lines) + "\n"

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return {
            "environment": {
                name: getattr(self.environment, name) for name in Environment.__slots__
            },
            "settings": {name: getattr(self.settings, name) for name in Settings.__slots__},
            "results": [
                {
                    "name": result.name,
                    "service": result.service,
                    "method": result.method,
                    "samples": result.samples,
                    "legacy_median_us": result.legacy.median_us,
                    "legacy_p99_us": result.legacy.p99_us,
                    "candidate_median_us": result.candidate.median_us,
                    "candidate_p99_us": result.candidate.p99_us,
                    "ratio": result.ratio,
                    "meets_target": result.meets_target,
                }
                for result in self.results
            ],
        }


@dataclass(slots=True)
class BenchPair:
    """Two fresh SQLite databases with the same schema and seed rows, one per arm.

    Build each side's service with its own id source and clock from
    :meth:`sources`: identically seeded, so seeding both sides with the same
    calls yields the same ids and rows.
    """

    legacy_db: LegacyDatabase
    engine: sqlalchemy.Engine
    id_prefix: str = "bench"

    def sources(self) -> tuple[SequentialIds, FixedClock]:
        """A fresh id source and clock, identical for every call with this pair."""
        return SequentialIds(self.id_prefix), FixedClock()

    def close(self) -> None:
        """Close the legacy connection and dispose of the engine's pool."""
        self.legacy_db.close()
        self.engine.dispose()


@dataclass(slots=True)
class _Server:
    """The server the candidate arm runs on, and what was opened on it."""

    url: sqlalchemy.URL
    databases: list[str] = field(default_factory=list)
    pairs: list[BenchPair] = field(default_factory=list)


_server: _Server | None = None


def _admin(url: sqlalchemy.URL, statement: str) -> None:
    engine = sqlalchemy.create_engine(
        url, isolation_level="AUTOCOMMIT", poolclass=sqlalchemy.NullPool
    )
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text(statement))
    finally:
        engine.dispose()


@contextmanager
def candidate_server(url: str | None) -> Iterator[None]:
    """Run the candidate arm of every :func:`open_pair` in the block on the server at ``url``.

    ``url`` names a database the user may create databases from (PostgreSQL
    ``postgresql+psycopg://...`` or MariaDB ``mysql+pymysql://...``); ``None``
    keeps SQLite. Each pair gets its own database, dropped at the end.
    """
    global _server  # noqa: PLW0603 -- one benchmark run at a time, scoped by this block
    if url is None:
        yield
        return
    from imagegen.db.engine import parse_url  # noqa: PLC0415

    server = _Server(url=parse_url(url))
    _server = server
    try:
        yield
    finally:
        _server = None
        for pair in server.pairs:
            pair.close()
        for database in server.databases:
            _admin(server.url, f"DROP DATABASE IF EXISTS {database}")


@contextmanager
def fresh_database(server_url: str, name: str) -> Iterator[str]:
    """A new, empty database ``shadow_bench_NAME_PID`` on the server, dropped afterwards.

    ``server_url`` is a database the user may create databases from (PostgreSQL or
    MariaDB); the URL of the new one is yielded as a string (password kept).
    """
    from imagegen.db.engine import parse_url  # noqa: PLC0415

    server = parse_url(server_url)
    database = f"shadow_bench_{name}_{os.getpid()}"
    _admin(server, f"DROP DATABASE IF EXISTS {database}")
    _admin(server, f"CREATE DATABASE {database}")
    try:
        yield server.set(database=database).render_as_string(hide_password=False)
    finally:
        # PostgreSQL refuses to drop a database a pooled connection still holds.
        force = " WITH (FORCE)" if server.get_backend_name() == "postgresql" else ""
        _admin(server, f"DROP DATABASE IF EXISTS {database}{force}")


_template: Seeded | None = None


@contextmanager
def seeded_stores(stores: Seeded | None) -> Iterator[None]:
    """Every :func:`open_pair` in the block starts as copies of ``stores`` (None: empty stores).

    SQLite only: a server candidate would need the seeded rows copied in for
    every case module (minutes each at production scale).
    """
    global _template  # noqa: PLW0603 -- one benchmark run at a time, scoped by this block
    if stores is not None and _server is not None:
        from shadow._exceptions import ConfigError  # noqa: PLC0415

        raise ConfigError("seeded stores are SQLite files: not with a server candidate")
    _template = stores
    try:
        yield
    finally:
        _template = None


def _candidate_url(workdir: Path, name: str) -> str | sqlalchemy.URL:
    if _server is None:
        return f"sqlite:///{workdir / f'orm-{name}.sqlite'}"
    database = f"shadow_bench_{name}_{os.getpid()}"
    _admin(_server.url, f"DROP DATABASE IF EXISTS {database}")
    _admin(_server.url, f"CREATE DATABASE {database}")
    _server.databases.append(database)
    return _server.url.set(database=database)


def open_pair(workdir: Path, name: str = "bench") -> BenchPair:
    """Create ``legacy-NAME.sqlite`` and ``orm-NAME.sqlite`` in ``workdir``, migrated.

    The legacy file goes through the legacy migrator, the other through the
    SQLModel engine factory and Alembic (inside :func:`candidate_server`: a fresh
    database on the server instead of ``orm-NAME.sqlite``). The one seed value
    that each side draws at random (the jwt secret) is copied from legacy to the
    SQLModel database so the two hold identical rows.
    """
    # Imported here so the harness (and its report code) loads without the db layer.
    from imagegen.db.engine import create_engine, create_schema  # noqa: PLC0415
    from imagegen.db.legacy import open_legacy  # noqa: PLC0415
    from imagegen.db.tables import metadata  # noqa: PLC0415

    workdir.mkdir(parents=True, exist_ok=True)
    if _template is not None:
        from bench.seeding import copy_store  # noqa: PLC0415

        # Copies: the seeded files are kept for later runs.
        copy_store(_template.legacy, workdir / f"legacy-{name}.sqlite")
        copy_store(_template.sqlmodel, workdir / f"orm-{name}.sqlite")
    legacy_db = open_legacy(workdir / f"legacy-{name}.sqlite")
    engine = create_engine(_candidate_url(workdir, name))
    create_schema(engine)
    with legacy_db.transaction() as cursor:
        row = cursor.execute("SELECT value FROM app_settings WHERE key = 'jwt_secret'").fetchone()
    if row is not None:
        # Built from the table, not written as SQL: ``key`` is a reserved word on MariaDB.
        settings = metadata.tables["app_settings"]
        with engine.begin() as connection:
            connection.execute(
                settings.update().where(settings.c.key == "jwt_secret").values(value=row[0])
            )
    pair = BenchPair(legacy_db=legacy_db, engine=engine, id_prefix=name)
    if _server is not None:
        _server.pairs.append(pair)
    return pair
