"""Data at rest: backfill and verify throughput on one large table, and peak memory.

``python -m bench data [--rows N] [--quick] [--targets sqlite,postgresql,mariadb]``

The source is a legacy SQLite file whose ``images`` table holds N rows
(default 1,000,000), written by the legacy layer's own formats (three text
timestamp shapes, 0/1 booleans, JSON text). Per target backend:

1. **backfill**: :func:`shadow.data.backfill` copies the table into an empty
   SQLModel store (rows per second over the whole copy);
2. **verify, equal**: :func:`shadow.data.verify` compares the two, which are
   equal (rows per second of the table; both sides are read once);

and, on SQLite only, **verify, same formats**: the target against a byte copy
of itself (what a verify costs when both stores write timestamps alike).
SQLite to SQLite is compared inside SQLite (the target attached); to a server,
rows are read as tuples with canonical timestamp text and compared a chunk at
a time, and (A/B in one run) by chunk digests where the table allows
(``digests=True``, :mod:`shadow.data._digest`). The table printed at the end
is ready to paste into docs/benchmarks.md.

Peak memory is the largest resident set size above the one before the
phase, sampled every 10 ms (``/proc/self/statm``): with a chunk of 5,000 rows
it must not grow with the table. Server URLs come from
``SHADOW_TEST_POSTGRES_URL`` / ``SHADOW_TEST_MARIADB_URL`` (the tests'
defaults); each run creates and drops a database of its own there.
Run it at low priority on a shared machine: ``nice -n 10 ./dev bench data``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.harness import Environment

__all__ = ["main"]

POSTGRES_URL = os.environ.get(
    "SHADOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MARIADB_URL = os.environ.get("SHADOW_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
CHUNK = 5000
FORMATS = (
    "2026-08-19 01:13:{s:02d}.123",
    "2026-08-19 01:13:{s:02d}",
    "2026-08-19T01:13:{s:02d}.123000+00:00",
)
TARGET_VERIFY = 200_000
TARGET_BACKFILL = 50_000


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@dataclass
class Measured:
    """One phase: its rate and its peak memory above the starting point."""

    seconds: float
    rows: int
    peak_bytes: int

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def measure(rows: int, work: Callable[[], Any]) -> Measured:
    """Run ``work``, timing it and sampling the process's resident set size."""
    baseline = _rss_bytes()
    peak = baseline
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.01):
            peak = max(peak, _rss_bytes())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    try:
        work()
    finally:
        elapsed = time.perf_counter() - started
        done.set()
        sampler.join()
    return Measured(elapsed, rows, max(0, max(peak, _rss_bytes()) - baseline))


def fill_legacy(path: Path, rows: int) -> None:
    """A migrated legacy file with ``rows`` images, written with executemany in batches."""
    from imagegen.db.legacy import open_legacy  # noqa: PLC0415

    open_legacy(path).close()
    with closing(sqlite3.connect(path)) as connection:
        for start in range(0, rows, 50_000):
            connection.executemany(
                "INSERT INTO images (image_name, image_origin, image_category, width, height,"
                " metadata, starred, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (
                        f"image-{i:08d}.png",
                        "internal",
                        "general",
                        512,
                        768,
                        '{"seed": %d, "steps": 30}' % i if i % 3 else None,  # noqa: UP031
                        i % 2,
                        FORMATS[i % 3].format(s=i % 60),
                        FORMATS[(i + 1) % 3].format(s=i % 60),
                    )
                    for i in range(start, min(rows, start + 50_000))
                ),
            )
        connection.commit()


@contextmanager
def target_store(backend: str, workdir: Path) -> Iterator[sa.Engine]:
    """An empty SQLModel store on ``backend``, dropped afterwards."""
    from imagegen.db.engine import create_engine, create_schema  # noqa: PLC0415

    if backend == "sqlite":
        engine = create_engine(f"sqlite:///{workdir / 'target.sqlite3'}")
        create_schema(engine)
        try:
            yield engine
        finally:
            engine.dispose()
        return
    server = sa.engine.make_url(POSTGRES_URL if backend == "postgresql" else MARIADB_URL)
    name = f"shadow_bench_data_{os.getpid()}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    engine = create_engine(server.set(database=name).render_as_string(hide_password=False))
    try:
        create_schema(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        admin.dispose()


def _mib(value: int) -> str:
    return f"{value / 2**20:.0f}"


def run(rows: int, backends: Sequence[str]) -> list[tuple[str, str, Measured, int]]:
    """Every phase on every backend: (target, phase, measurement, target rate)."""
    from imagegen.cutover import reference_data_schema  # noqa: PLC0415
    from imagegen.db.engine import create_engine  # noqa: PLC0415
    from shadow.data import backfill, verify  # noqa: PLC0415

    tables = reference_data_schema().tables(["images"])
    results: list[tuple[str, str, Measured, int]] = []
    with tempfile.TemporaryDirectory(prefix="bench-data-") as scratch:
        workdir = Path(scratch)
        legacy = workdir / "legacy.sqlite3"
        fill_legacy(legacy, rows)
        source = create_engine(f"sqlite:///{legacy}")
        for backend in backends:
            with target_store(backend, workdir) as target:

                def copy_all(t: sa.Engine = target) -> None:
                    backfill(source, t, tables, chunk_size=CHUNK)

                copy = measure(rows, copy_all)
                results.append((backend, "backfill", copy, TARGET_BACKFILL))

                def check(t: sa.Engine = target) -> None:
                    assert verify(source, t, tables, chunk_size=CHUNK).equal

                results.append((backend, "verify, equal", measure(rows, check), TARGET_VERIFY))
                if backend != "sqlite":

                    def digested(t: sa.Engine = target) -> None:
                        assert verify(source, t, tables, chunk_size=CHUNK, digests=True).equal

                    phase = "verify, equal, digests"
                    results.append((backend, phase, measure(rows, digested), TARGET_VERIFY))
                    results.append(
                        (backend, "verify, equal (again)", measure(rows, check), TARGET_VERIFY)
                    )
                if backend == "sqlite":
                    target.dispose()
                    twin_path = workdir / "twin.sqlite3"
                    shutil.copyfile(workdir / "target.sqlite3", twin_path)
                    twin = create_engine(f"sqlite:///{twin_path}")

                    def same(t: sa.Engine = target, other: sa.Engine = twin) -> None:
                        assert verify(t, other, tables, chunk_size=CHUNK).equal

                    results.append(
                        ("sqlite", "verify, same formats", measure(rows, same), TARGET_VERIFY)
                    )
                    twin.dispose()
        source.dispose()
    return results


def render(
    rows: int, results: list[tuple[str, str, Measured, int]], load: tuple[float, float]
) -> str:
    """A Markdown table ready for docs/benchmarks.md."""
    lines = [
        f"Table `images`, {rows:,} rows, chunk {CHUNK:,}; source: legacy SQLite file.",
        "",
        "| target | phase | seconds | rows/s | target rows/s | peak memory MiB |",
        "|---|---|---|---|---|---|",
    ]
    for backend, phase, measured, target in results:
        mark = "met" if measured.rate >= target else "missed"
        lines.append(
            f"| {backend} | {phase} | {measured.seconds:.1f} | {measured.rate:,.0f} |"
            f" {target:,} ({mark}) | {_mib(measured.peak_bytes)} |"
        )
    lines += [
        "",
        Environment.current().describe(),
        f"Load average (1 min) before / after: {load[0]:.2f} / {load[1]:.2f}",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    """Entry point of ``python -m bench data``."""
    parser = argparse.ArgumentParser(prog="bench data", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 rows, SQLite only")
    parser.add_argument("--repeat", type=int, default=1, help="accepted for `bench` (one run)")
    parser.add_argument("--targets", default="sqlite,postgresql,mariadb")
    options = parser.parse_args(list(argv))
    rows = 100_000 if options.quick else options.rows
    backends = ["sqlite"] if options.quick else options.targets.split(",")
    unknown = set(backends) - {"sqlite", "postgresql", "mariadb"}
    if unknown:
        print(f"bench data: error: unknown targets {sorted(unknown)}")
        return 2
    before = os.getloadavg()[0]
    results = run(rows, backends)
    print(render(rows, results, (before, os.getloadavg()[0])))
    return 0
