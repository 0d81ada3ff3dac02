"""Per-call cost levers on SQLite: one point read and one write, every way of running them.

    python -m bench percall [--quick] [--repeat N] [--warmup N] [--output FILE]

The SQLModel side's point reads cost a multiple of the legacy layer's raw
``sqlite3`` reads (``./dev bench services``); this benchmark measures, in one
run and interleaved call by call, what each lever changes on the same
statement over the same data (issue 14 point 3):

* the legacy arm: ``LegacyAppSettingsService`` (``BEGIN IMMEDIATE``, the
  statement, ``COMMIT`` on one shared connection);
* the service as built (``CoreAppSettingsService.get``: on SQLite a
  :class:`~imagegen.services.core._driver_read.DriverRead`), and the same
  statement through SQLAlchemy's execution layer on the engine as
  :func:`imagegen.db.engine.create_engine` builds it;
* SQLAlchemy's documented SQLite recipe, ``BEGIN`` in a ``begin`` engine
  event (how the engine did it before; any engine event makes every execute
  dispatch events);
* the pool class: ``StaticPool``, ``SingletonThreadPool`` and ``NullPool``
  instead of the default ``QueuePool``;
* the compiled-statement cache switched off (``compiled_cache=None``): what
  the engine's cache saves;
* a ``Connection`` kept open by the thread (no pool checkout per call);
* that kept connection running the statement's SQL, compiled once, through
  ``exec_driver_sql`` (no cache-key computation, no result-type processing);
* the pooled driver connection running the compiled SQL directly inside the
  dialect's own ``BEGIN``/``ROLLBACK`` (no SQLAlchemy execution or result layer);
* for a bulk insert of 100 rows: ``executemany`` (the driver's, what the
  enqueue does) against ``insertmanyvalues`` (SQLAlchemy's batched
  ``INSERT ... VALUES`` pages, which it uses only with ``RETURNING``).

Ratios are to the legacy arm of the same case. Figures and the choices they
led to are in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.harness import (
    QUICK,
    STANDARD,
    ArmStats,
    Environment,
    Settings,
    load_average,
    open_pair,
    percentile,
)
from bench.services import _non_negative, _positive
from imagegen.db.engine import create_engine
from imagegen.db.legacy import LegacyDatabase
from imagegen.db.tables import metadata
from imagegen.services.core._upsert import upsert
from imagegen.services.core.app_settings import CoreAppSettingsService
from imagegen.services.legacy.app_settings import LegacyAppSettingsService
from shadow import FixedClock, SequentialIds

__all__ = ["main", "measure_arms"]

_KEY = "setting-25"
_BULK = 100
_settings = metadata.tables["app_settings"]
_GET = sa.select(_settings.c.value).where(_settings.c.key == sa.bindparam("key"))
_SET = upsert(_settings, ["key"], ["value"], "sqlite")


def measure_arms(arms: dict[str, Callable[[], object]], settings: Settings) -> dict[str, ArmStats]:
    """Warm every arm up, then time them in turn, call by call, within the budget."""
    for _ in range(settings.warmup):
        for arm in arms.values():
            arm()
    samples: dict[str, list[int]] = {name: [] for name in arms}
    clock = time.perf_counter_ns
    deadline = time.perf_counter() + settings.budget_seconds * len(arms) / 2
    for repetition in range(settings.repeat):
        for name, arm in arms.items():
            start = clock()
            arm()
            samples[name].append(clock() - start)
        if repetition + 1 >= settings.min_repeat and time.perf_counter() > deadline:
            break
    return {
        name: ArmStats(median_us=statistics.median(ns) / 1000, p99_us=percentile(ns, 0.99) / 1000)
        for name, ns in samples.items()
    }


def _event_recipe_engine(url: sa.URL, begin: str) -> sa.Engine:
    """SQLAlchemy's documented SQLite recipe: driver autocommit, ``BEGIN`` in an event."""
    engine = sa.create_engine(url)

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys = ON")
        dbapi_connection.execute("PRAGMA busy_timeout = 5000")

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        connection.connection.driver_connection.execute(f"BEGIN {begin}")  # type: ignore[union-attr]

    return engine


Arms = dict[str, Callable[[], object]]


@dataclass(slots=True)
class _World:
    """The pair of databases, the services on them and what the arms opened."""

    legacy: LegacyAppSettingsService
    legacy_db: LegacyDatabase
    engine: sa.Engine
    service: CoreAppSettingsService
    opened: list[sa.Engine | sa.Connection] = field(default_factory=list)
    values: Iterator[int] = field(default_factory=itertools.count)

    def value(self) -> str:
        return str(next(self.values))

    def kept(self, **options: Any) -> sa.Connection:
        """A connection of the engine kept open until the end (``options`` set on it)."""
        connection = self.engine.connect()
        if options:
            connection.execution_options(**options)
        self.opened.append(connection)
        return connection

    def pooled_driver(self, sql: str, params: Callable[[], tuple[Any, ...]], mode: str) -> Any:
        """Run ``sql`` on a pooled driver connection inside the dialect's own transaction."""
        dialect = self.engine.dialect

        def run() -> object:
            raw = self.engine.raw_connection()
            driver: Any = raw.driver_connection
            try:
                driver.begin_mode = mode
                dialect.do_begin(raw)
                row = driver.execute(sql, params()).fetchone()
                if mode == "DEFERRED":
                    dialect.do_rollback(raw)
                else:
                    dialect.do_commit(raw)
            finally:
                driver.begin_mode = "DEFERRED"
                raw.close()
            return row

        return run

    def close(self) -> None:
        for opened in reversed(self.opened):
            if isinstance(opened, sa.Connection):
                opened.close()
            else:
                opened.dispose()
        self.legacy_db.close()
        self.engine.dispose()


def _world(workdir: Path) -> _World:
    pair = open_pair(workdir, "percall")
    legacy = LegacyAppSettingsService(pair.legacy_db, ids=SequentialIds("l"), clock=FixedClock())
    service = CoreAppSettingsService(pair.engine, ids=SequentialIds("c"), clock=FixedClock())
    for n in range(50):
        legacy.set(f"setting-{n:02d}", f"value {n}")
        service.set(f"setting-{n:02d}", f"value {n}")
    return _World(legacy=legacy, legacy_db=pair.legacy_db, engine=pair.engine, service=service)


def _sql(statement: sa.ClauseElement, engine: sa.Engine) -> str:
    return str(statement.compile(dialect=engine.dialect))


def _executed(engine: sa.Engine) -> Callable[[], object]:
    """The point read through SQLAlchemy's execution layer on ``engine``."""

    def run() -> object:
        with engine.connect() as connection:
            return connection.execute(_GET, {"key": _KEY}).scalar_one_or_none()

    return run


def _read_arms(world: _World) -> Arms:
    engine, url = world.engine, world.engine.url
    events = _event_recipe_engine(url, "DEFERRED")
    pools = {
        "StaticPool": create_engine(url, poolclass=sa.StaticPool),
        "SingletonThreadPool": create_engine(url, poolclass=sa.SingletonThreadPool),
        "NullPool (a new connection per call)": create_engine(url, poolclass=sa.NullPool),
    }
    world.opened += [events, *pools.values()]
    kept = world.kept()
    get_sql = _sql(_GET, engine)

    def kept_read() -> object:
        value = kept.execute(_GET, {"key": _KEY}).scalar_one_or_none()
        kept.rollback()
        return value

    def kept_driver_sql() -> object:
        value = kept.exec_driver_sql(get_sql, (_KEY,)).scalar_one_or_none()
        kept.rollback()
        return value

    arms: Arms = {
        "legacy (raw sqlite3)": lambda: world.legacy.get(_KEY),
        "the service as built (DriverRead on SQLite)": lambda: world.service.get(_KEY),
        "execution layer, engine as built (QueuePool, BEGIN in the dialect)": _executed(engine),
        "execution layer, BEGIN in a begin event (the documented recipe)": _executed(events),
    }
    for name, pooled in pools.items():
        arms[f"execution layer, {name}"] = _executed(pooled)
    arms["execution layer, compiled_cache=None"] = _executed(
        engine.execution_options(compiled_cache=None)
    )
    arms["execution layer, Connection kept by the thread"] = kept_read
    arms["kept Connection, compiled SQL via exec_driver_sql"] = kept_driver_sql
    arms["pooled driver connection, compiled SQL"] = world.pooled_driver(
        get_sql, lambda: (_KEY,), "DEFERRED"
    )
    return arms


def _write_arms(world: _World) -> Arms:
    events = _event_recipe_engine(world.engine.url, "IMMEDIATE")
    world.opened.append(events)
    kept = world.kept(sqlite_begin="IMMEDIATE")
    set_sql = _sql(_SET.values(key=sa.bindparam("key"), value=sa.bindparam("value")), world.engine)

    def through(connection: sa.Connection) -> None:
        connection.execute(_SET, {"key": _KEY, "value": world.value()})

    def events_set() -> None:
        with events.begin() as connection:
            through(connection)

    def kept_set() -> None:
        with kept.begin():
            through(kept)

    return {
        "legacy (raw sqlite3)": lambda: world.legacy.set(_KEY, world.value()),
        "engine as built (QueuePool, BEGIN in the dialect)": lambda: world.service.set(
            _KEY, world.value()
        ),
        "BEGIN in a begin event (the documented recipe)": events_set,
        "Connection kept by the thread": kept_set,
        "pooled driver connection, compiled SQL": world.pooled_driver(
            set_sql, lambda: (_KEY, world.value()), "IMMEDIATE"
        ),
    }


def _bulk_arms(world: _World) -> Arms:
    batches = itertools.count()
    writer = world.engine.execution_options(sqlite_begin="IMMEDIATE")

    def rows() -> list[dict[str, str]]:
        batch = next(batches)
        return [{"key": f"bulk-{batch}-{n}", "value": "v"} for n in range(_BULK)]

    def legacy_bulk() -> None:
        with world.legacy_db.transaction() as cursor:
            cursor.executemany(
                "INSERT INTO app_settings (key, value) VALUES (:key, :value)", rows()
            )

    def engine_bulk(statement: sa.Insert) -> Callable[[], None]:
        def run() -> None:
            with writer.begin() as connection:
                connection.execute(statement, rows())

        return run

    return {
        "legacy (raw sqlite3 executemany)": legacy_bulk,
        "engine, executemany (what the enqueue runs)": engine_bulk(sa.insert(_settings)),
        "engine, insertmanyvalues (with RETURNING)": engine_bulk(
            sa.insert(_settings).returning(_settings.c.key)
        ),
    }


CASES: dict[str, Callable[[_World], Arms]] = {
    "point read (app_settings.get)": _read_arms,
    "write (app_settings.set, upsert)": _write_arms,
    f"bulk insert of {_BULK} rows": _bulk_arms,
}


def _table(case: str, stats: dict[str, ArmStats]) -> list[str]:
    base = next(iter(stats.values())).median_us
    return [
        f"| {case} | median µs | p99 µs | ratio to legacy |",
        "|---|---:|---:|---:|",
        *(
            f"| {name} | {arm.median_us:.1f} | {arm.p99_us:.1f} | {arm.median_us / base:.2f}x |"
            for name, arm in stats.items()
        ),
        "",
    ]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench percall", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run: a few repetitions")
    parser.add_argument("--repeat", type=_positive, help="repetitions per arm")
    parser.add_argument("--warmup", type=_non_negative, help="warm-up calls per arm")
    parser.add_argument("--output", type=Path, help="also write the Markdown here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run every case's arms interleaved; print one Markdown table per case."""
    arguments = _parser().parse_args(argv)
    settings = QUICK if arguments.quick else STANDARD
    if arguments.repeat is not None:
        repeat = arguments.repeat
        settings = replace(settings, repeat=repeat, min_repeat=min(settings.min_repeat, repeat))
    if arguments.warmup is not None:
        settings = replace(settings, warmup=arguments.warmup)
    lines = [f"Load average (1/5/15 min) at the start: {load_average()}", ""]
    with tempfile.TemporaryDirectory(prefix="bench-percall-") as workdir:
        world = _world(Path(workdir))
        try:
            for case, arms in CASES.items():
                print(f"{case} ...", file=sys.stderr, flush=True)
                lines += _table(case, measure_arms(arms(world), settings))
        finally:
            world.close()
    lines += [
        f"Load average (1/5/15 min) at the end: {load_average()}",
        Environment.current().describe(),
        f"Settings: up to {settings.repeat} interleaved calls per arm "
        f"after {settings.warmup} warm-up calls.",
    ]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if arguments.output is not None:
        arguments.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
