"""The divergence store: durable evidence for the cutover gate and the reports.

SQLAlchemy Core on any URL (a SQLite file by default). The runtime aggregates
observations in memory and writes them in one short transaction per flush
(:meth:`DivergenceStore.record`): the counters with one native upsert per table
(``ON CONFLICT`` / ``ON DUPLICATE KEY`` adding to the stored amounts; an
update-then-insert where a dialect has none), so several processes can write
the same store; SQLite runs in WAL mode with a busy
timeout and ``BEGIN IMMEDIATE`` transactions. Sensitive values never reach it:
examples are redacted before they are built. Times are stored as naive UTC
and read back as aware UTC.

Tables (all counters only ever grow):

``shadow_comparisons``  (service, method, outcome) -> ``total``, ``evidence``
    Calls per outcome (match, divergence, raced, candidate_error, skipped,
    dropped). ``evidence`` counts those made while the service was clean (no
    unreconciled dropped write): only those count for the gate.
``shadow_latency``  (service, method, side, bucket) -> ``le``, ``count``
    A fixed-bucket histogram per side (legacy | candidate) of each method:
    ``count`` calls took at most ``le`` seconds and more than the bound of
    bucket - 1 (``LATENCY_BOUNDS[bucket] == le``; bounds grow by 2^(1/8),
    about 9 %, from 10 us; the last, 1e9, catches everything longer).
    :meth:`DivergenceStore.latency` turns it into p50/p95/p99.
``shadow_groups``  fingerprint -> service, method, outcome, ``paths`` (JSON
    list of wildcarded paths), ``error_types`` (JSON list), ``count``,
    ``first_seen``, ``last_seen``, ``status`` (open | accepted | fixed),
    ``note``, ``expires_at`` (of an acceptance), ``reviewed_at``
    One row per kind of divergence. A fixed group seen again is reopened.
``shadow_examples``  id -> ``fingerprint``, ``seen_at``, ``example`` (JSON)
    The first few redacted examples of each group: arguments, differences
    (path, change, authoritative, mirror values) and error types.
``shadow_group_roots``  fingerprint -> ``root``, ``linked_at``
    "One bug, one story": a group first recorded while its service already
    had an open root group is linked to the earliest such group that either
    came from a write (the stores may have drifted since) or shares an id
    with it (an argument or differing value of their examples): the later
    group is a *consequence* shown under that root. Written once, when the
    group is first recorded; a group is never its own root, nor a root's
    child's child (links point at roots only). Every group still counts for
    the gate on its own.
``shadow_drops``  (service, method, kind, reason) -> ``count``
    Calls not mirrored: ``kind`` read | write; ``reason`` queue_full,
    breaker_open, deadline, worker_crash, unpicklable, ...
``shadow_services``  service -> ``dirty``, ``dirty_since``, ``reconciled_at``,
    ``first_comparison_at``
    Dirty state (a dropped write not yet reconciled; the dropped writes
    themselves are counted in ``shadow_drops`` with kind ``write``) and the
    soak clock (the first recorded call of the service in a mirrored mode).
``shadow_service_dirt``  service -> ``last_dirty_at``, ``cleared_as_of``
    The last write of the service that was not mirrored cleanly
    (``dirty_since`` is the first), and the instant the last clearing accounts
    for (a reconcile's time; a verification's start). A verification clears
    dirt only if it began after the last dirty write; a dirty write that
    reaches the store later than a clearing it postdates makes the service
    dirty again. A table of its own so older stores gain it by ``create_all``.
``shadow_mirror_sides``  side -> ``error``, ``since``, ``last_seen``
    A side whose implementations could not be built (its factory raised): one
    row while it is unavailable, with the redacted error. Calls are then
    ``skipped`` (reason ``mirror_unavailable``); the row goes when the stores
    are aligned again (``Runtime.align``), since writes meanwhile reached one
    store only. ``shadow status`` and the gate report it.
``shadow_mode_comparisons``  (service, method, mode, outcome) -> ``total``, ``evidence``
``shadow_mode_latency``  (service, method, mode, side, bucket) -> ``le``, ``count``
``shadow_mode_services``  (service, mode) -> ``first_comparison_at``
    The same counts, both sides' latency and soak clock, per mode the call was
    mirrored in (``shadow``: candidate mirrored; ``reverse``: legacy mirrored),
    for the calls that were mirrored. The cutover gate judges a step on the
    evidence of the mode being left only: reverse -> sqlmodel needs
    reverse-mode traffic, however much shadow-mode evidence there is. Stores
    written before these tables existed get them empty (no per-mode evidence:
    the gate stays shut until new traffic is recorded, the safe side).
``shadow_coverage_files``  (service, path) -> ``source_hash``
    The version of each candidate source file coverage was measured on
    (``runtime.coverage`` on): a report about another version of the file
    replaces what was stored for it, so line numbers never mix across versions.
``shadow_coverage``  (service, path, kind, item) -> ``hit``
    Every measurable line (``kind`` line, ``item`` "12") and branch (``kind``
    branch, ``item`` "12>14"; a negative target leaves the function) of a
    service's candidate code, and whether a compared call ever ran it: the
    union over every run and worker that wrote to this store.
"""

from __future__ import annotations

import bisect
import functools
import json
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from shadow._exceptions import ConfigError, StoreError
from shadow._upsert import add, upsert
from shadow._vocabulary import LatencySummary, Outcome, ReviewStatus
from shadow.runtime._coverage import Branch, FileCoverage
from shadow.runtime._roots import example_ids
from shadow.runtime._store_writer import StoreWriterProcess

_log = structlog.get_logger("shadow.runtime")

__all__ = [
    "LATENCY_BOUNDS",
    "ComparisonCount",
    "DivergenceStore",
    "DropCount",
    "MethodLatency",
    "ModeComparisonCount",
    "ServiceCoverage",
    "ServiceState",
    "StoreBatch",
    "StoredGroup",
    "UnavailableMirror",
]

LATENCY_BOUNDS: tuple[float, ...] = (
    *(1e-5 * 2 ** (step / 8) for step in range(8 * 24)),
    1e9,
)
"""Upper bounds (seconds) of the store's latency buckets: 10 us x 2^(k/8), then overflow."""

_RAN_BOTH_SIDES = frozenset(outcome for outcome in Outcome if outcome.ran_both_sides)
"""The first of these outcomes starts a service's soak clock (members equal their strings)."""

_TIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
_NAME = 120

metadata = sa.MetaData()

comparisons = sa.Table(
    "shadow_comparisons",
    metadata,
    sa.Column("service", sa.String(_NAME), primary_key=True),
    sa.Column("method", sa.String(_NAME), primary_key=True),
    sa.Column("outcome", sa.String(32), primary_key=True),
    sa.Column("total", sa.BigInteger, nullable=False),
    sa.Column("evidence", sa.BigInteger, nullable=False),
)
latency = sa.Table(
    "shadow_latency",
    metadata,
    sa.Column("service", sa.String(_NAME), primary_key=True),
    sa.Column("method", sa.String(_NAME), primary_key=True),
    sa.Column("side", sa.String(16), primary_key=True),
    sa.Column("bucket", sa.Integer, primary_key=True),
    sa.Column("le", sa.Double, nullable=False),
    sa.Column("count", sa.BigInteger, nullable=False),
)
groups = sa.Table(
    "shadow_groups",
    metadata,
    sa.Column("fingerprint", sa.String(64), primary_key=True),
    sa.Column("service", sa.String(_NAME), nullable=False),
    sa.Column("method", sa.String(_NAME), nullable=False),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("paths", sa.Text, nullable=False),
    sa.Column("error_types", sa.Text, nullable=False),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Column("first_seen", _TIME, nullable=False),
    sa.Column("last_seen", _TIME, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("expires_at", _TIME),
    sa.Column("reviewed_at", _TIME),
)
roots = sa.Table(
    "shadow_group_roots",
    metadata,
    sa.Column("fingerprint", sa.String(64), primary_key=True),
    sa.Column("root", sa.String(64), nullable=False, index=True),
    sa.Column("linked_at", _TIME, nullable=False),
)
examples = sa.Table(
    "shadow_examples",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("fingerprint", sa.String(64), nullable=False, index=True),
    sa.Column("seen_at", _TIME, nullable=False),
    sa.Column("example", sa.Text, nullable=False),
)
drops = sa.Table(
    "shadow_drops",
    metadata,
    sa.Column("service", sa.String(_NAME), primary_key=True),
    sa.Column("method", sa.String(_NAME), primary_key=True),
    sa.Column("kind", sa.String(8), primary_key=True),
    sa.Column("reason", sa.String(64), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
)
services = sa.Table(
    "shadow_services",
    metadata,
    sa.Column("service", sa.String(_NAME), primary_key=True),
    sa.Column("dirty", sa.Boolean, nullable=False),
    sa.Column("dirty_since", _TIME),
    sa.Column("reconciled_at", _TIME),
    sa.Column("first_comparison_at", _TIME),
)
service_dirt = sa.Table(
    "shadow_service_dirt",
    metadata,
    sa.Column("service", sa.String(_NAME), primary_key=True),
    sa.Column("last_dirty_at", _TIME),
    sa.Column("cleared_as_of", _TIME),
)
mirror_sides = sa.Table(
    "shadow_mirror_sides",
    metadata,
    sa.Column("side", sa.String(16), primary_key=True),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("since", _TIME, nullable=False),
    sa.Column("last_seen", _TIME, nullable=False),
)
mode_comparisons = sa.Table(
    "shadow_mode_comparisons",
    metadata,
    sa.Column("service", sa.String(_NAME), primary_key=True),
    sa.Column("method", sa.String(_NAME), primary_key=True),
    sa.Column("mode", sa.String(16), primary_key=True),
    sa.Column("outcome", sa.String(32), primary_key=True),
    sa.Column("total", sa.BigInteger, nullable=False),
    sa.Column("evidence", sa.BigInteger, nullable=False),
)
mode_latency = sa.Table(
    "shadow_mode_latency",
    metadata,
    sa.Column("service", sa.String(_NAME), primary_key=True),
    sa.Column("method", sa.String(_NAME), primary_key=True),
    sa.Column("mode", sa.String(16), primary_key=True),
    sa.Column("side", sa.String(16), primary_key=True),
    sa.Column("bucket", sa.Integer, primary_key=True),
    sa.Column("le", sa.Double, nullable=False),
    sa.Column("count", sa.BigInteger, nullable=False),
)
mode_services = sa.Table(
    "shadow_mode_services",
    metadata,
    sa.Column("service", sa.String(_NAME), primary_key=True),
    sa.Column("mode", sa.String(16), primary_key=True),
    sa.Column("first_comparison_at", _TIME, nullable=False),
)
coverage_files = sa.Table(
    "shadow_coverage_files",
    metadata,
    sa.Column("service", sa.String(_NAME), primary_key=True),
    sa.Column("path", sa.String(255), primary_key=True),
    sa.Column("source_hash", sa.String(32), nullable=False),
)
coverage_items = sa.Table(
    "shadow_coverage",
    metadata,
    sa.Column("service", sa.String(_NAME), primary_key=True),
    sa.Column("path", sa.String(255), primary_key=True),
    sa.Column("kind", sa.String(8), primary_key=True),
    sa.Column("item", sa.String(32), primary_key=True),
    sa.Column("hit", sa.Boolean, nullable=False),
)


@dataclass(frozen=True, slots=True)
class StoredGroup:
    """A divergence group as stored (``examples`` only filled by ``group()``)."""

    fingerprint: str
    service: str
    method: str
    outcome: str
    paths: tuple[str, ...]
    error_types: tuple[str, ...]
    count: int
    first_seen: datetime
    last_seen: datetime
    status: str
    note: str | None
    expires_at: datetime | None
    reviewed_at: datetime | None
    examples: tuple[Mapping[str, Any], ...] = ()
    root: str | None = None
    """The fingerprint of the root group this one is a consequence of, if any."""


@dataclass(frozen=True, slots=True)
class UnavailableMirror:
    """A side that could not be built: calls mirrored to it are skipped."""

    side: str
    error: str
    since: datetime
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class ComparisonCount:
    """Calls of one method with one outcome; ``evidence`` made while the service was clean."""

    service: str
    method: str
    outcome: str
    total: int
    evidence: int


@dataclass(frozen=True, slots=True)
class ModeComparisonCount:
    """Calls of one method mirrored in one mode, with one outcome."""

    service: str
    method: str
    mode: str
    outcome: str
    total: int
    evidence: int


@dataclass(frozen=True, slots=True)
class MethodLatency:
    """The latency summary of one side of one method, as stored.

    ``mode`` is set for the per-mode summaries (:meth:`DivergenceStore.mode_latency`).
    """

    service: str
    method: str
    side: str
    summary: LatencySummary
    mode: str | None = None


@dataclass(frozen=True, slots=True)
class DropCount:
    """Calls of one method not mirrored for one reason."""

    service: str
    method: str
    kind: str
    reason: str
    count: int


@dataclass(frozen=True, slots=True)
class ServiceState:
    """Dirty state and the first comparison of one service."""

    service: str
    dirty: bool
    dirty_since: datetime | None
    reconciled_at: datetime | None
    first_comparison_at: datetime | None


@dataclass(frozen=True, slots=True)
class ServiceCoverage:
    """How much of one service's candidate code compared calls have run (all runs together)."""

    service: str
    lines: int
    """Measurable lines (statements inside function bodies)."""
    lines_hit: int
    branches: int
    branches_hit: int
    missing: Mapping[str, tuple[int, ...]]
    """Lines never run, per source file (only files with some)."""

    @property
    def share(self) -> float:
        """Lines and branches run over lines and branches measurable (coverage.py's total)."""
        measurable = self.lines + self.branches
        return (self.lines_hit + self.branches_hit) / measurable if measurable else 0.0


@dataclass(slots=True)
class _CoverageDelta:
    source_hash: str
    measurable_lines: frozenset[int] | None
    measurable_branches: frozenset[Branch] | None
    lines: set[int]
    branches: set[Branch]


@dataclass(slots=True)
class _GroupDelta:
    service: str
    method: str
    outcome: str
    paths: tuple[str, ...]
    error_types: tuple[str, ...]
    count: int
    first_seen: datetime
    last_seen: datetime
    examples: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class StoreBatch:
    """Observations aggregated in memory between two flushes (one transaction each)."""

    examples_per_group: int = 3
    counts: dict[tuple[str, str, str], list[int]] = field(default_factory=dict)
    latency: dict[tuple[str, str, str, int], int] = field(default_factory=dict)
    groups: dict[str, _GroupDelta] = field(default_factory=dict)
    drops: dict[tuple[str, str, str, str], int] = field(default_factory=dict)
    first_comparisons: dict[str, datetime] = field(default_factory=dict)
    mode_counts: dict[tuple[str, str, str, str], list[int]] = field(default_factory=dict)
    mode_latency: dict[tuple[str, str, str, str, int], int] = field(default_factory=dict)
    mode_first: dict[tuple[str, str], datetime] = field(default_factory=dict)
    coverage: dict[tuple[str, str], _CoverageDelta] = field(default_factory=dict)
    service_marks: list[tuple[str, bool, datetime]] = field(default_factory=list)
    """Dirty (True) and clean (False) transitions of services, in the order they happened.

    They travel with the batch, so a failed write keeps them for the next try
    (dirty state is never lost), and marking a service dirty never touches the
    store from the thread that saw the dropped write. A service already dirty
    sends a dirty mark again for its latest unclean write (its last-dirty time)."""
    side_marks: list[tuple[str, str | None, datetime]] = field(default_factory=list)
    """Sides found unavailable (with the error) or aligned again (None), in order."""

    def __bool__(self) -> bool:
        return bool(
            self.counts
            or self.latency
            or self.groups
            or self.drops
            or self.mode_counts
            or self.mode_latency
            or self.coverage
            or self.service_marks
            or self.side_marks
        )

    def add_mode_outcome(
        self, service: str, method: str, mode: str, outcome: str, *, evidence: bool, at: datetime
    ) -> None:
        """Count one mirrored call's outcome under the mode it was mirrored in."""
        entry = self.mode_counts.setdefault((service, method, mode, outcome), [0, 0])
        entry[0] += 1
        if evidence:
            entry[1] += 1
        if outcome in _RAN_BOTH_SIDES:
            self.mode_first.setdefault((service, mode), at)

    def add_mode_latency(
        self, service: str, method: str, mode: str, side: str, seconds: float
    ) -> None:
        """Count one side's duration of a mirrored call under its mode."""
        bucket = min(bisect.bisect_left(LATENCY_BOUNDS, seconds), len(LATENCY_BOUNDS) - 1)
        key = (service, method, mode, side, bucket)
        self.mode_latency[key] = self.mode_latency.get(key, 0) + 1

    def add_coverage(self, file: FileCoverage) -> None:
        """Fold one file's coverage news in (a newer version of the file replaces an older)."""
        key = (file.service, file.path)
        delta = self.coverage.get(key)
        if delta is None or delta.source_hash != file.source_hash:
            self.coverage[key] = _CoverageDelta(
                file.source_hash,
                file.measurable_lines,
                file.measurable_branches,
                set(file.lines),
                set(file.branches),
            )
            return
        if delta.measurable_lines is None:
            delta.measurable_lines = file.measurable_lines
            delta.measurable_branches = file.measurable_branches
        delta.lines |= file.lines
        delta.branches |= file.branches

    def add_outcome(
        self, service: str, method: str, outcome: str, *, evidence: bool, at: datetime
    ) -> None:
        """Count one call's outcome."""
        entry = self.counts.setdefault((service, method, outcome), [0, 0])
        entry[0] += 1
        if evidence:
            entry[1] += 1
        if outcome in _RAN_BOTH_SIDES:
            self.first_comparisons.setdefault(service, at)

    def add_latency(self, service: str, method: str, side: str, seconds: float) -> None:
        """Count one call's duration into its bucket."""
        bucket = min(bisect.bisect_left(LATENCY_BOUNDS, seconds), len(LATENCY_BOUNDS) - 1)
        key = (service, method, side, bucket)
        self.latency[key] = self.latency.get(key, 0) + 1

    def add_drop(self, service: str, method: str, kind: str, reason: str) -> None:
        """Count one call that was not mirrored."""
        key = (service, method, kind, reason)
        self.drops[key] = self.drops.get(key, 0) + 1

    def add_divergence(
        self,
        fingerprint: str,
        *,
        service: str,
        method: str,
        outcome: str,
        paths: tuple[str, ...],
        error_types: tuple[str, ...],
        at: datetime,
        example: dict[str, Any],
    ) -> None:
        """Count one divergence into its group, keeping its example if the batch has room."""
        delta = self.groups.get(fingerprint)
        if delta is None:
            delta = _GroupDelta(service, method, outcome, paths, error_types, 0, at, at)
            self.groups[fingerprint] = delta
        delta.count += 1
        delta.last_seen = at
        if len(delta.examples) < self.examples_per_group:
            delta.examples.append(example)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _create_engine(url: str, busy_timeout: float = 30.0) -> Engine:
    try:
        parsed = sa.engine.make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a non-numeric port
        raise ConfigError(f"store_url {url!r} is not a valid SQLAlchemy URL") from None
    try:
        if parsed.get_backend_name() != "sqlite":
            return sa.create_engine(parsed, pool_pre_ping=True)
        memory = parsed.database in (None, "", ":memory:")
        engine = sa.create_engine(
            parsed,
            connect_args={"check_same_thread": False, "timeout": busy_timeout},
            **({"poolclass": StaticPool} if memory else {}),
        )
    except (NoSuchModuleError, ImportError) as error:
        raise ConfigError(f"store_url {url!r}: no driver for it ({error})") from None

    @sa.event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Transactions are begun explicitly (below) so they take the write lock
        # up front: two processes never deadlock upgrading a read lock.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class DivergenceStore:
    """Durable comparison evidence; see the module docstring for the tables."""

    def __init__(self, url: str, *, busy_timeout: float = 30.0) -> None:
        """Open (creating its tables if needed) the store at ``url``.

        ``busy_timeout`` is how long a SQLite store waits for a lock held by
        another process before a write fails (and is retried by the runtime).
        """
        self.url = url
        self._busy_timeout = busy_timeout
        self._engine = _create_engine(url, busy_timeout)
        try:
            metadata.create_all(self._engine)
        except SQLAlchemyError as error:
            raise StoreError(
                f"cannot open the divergence store: {error.__class__.__name__}: {error}"
            ) from None
        self._file = _sqlite_file(self._engine)
        self._identity = _identity(self._file)
        self._writer: StoreWriterProcess | None = None

    @property
    def in_memory(self) -> bool:
        """True for an in-memory SQLite store (no other process can open it)."""
        url = self._engine.url
        return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")

    def write_from_process(self, *, start: bool = True) -> None:
        """Record batches from a process of its own from now on (:mod:`._store_writer`).

        ``start``: start that process now, else at the first batch. Reads stay
        in this process. Not for an in-memory store (the process would open
        another one).
        """
        if self.in_memory:
            raise ConfigError("an in-memory divergence store cannot be written from a process")
        if self._writer is None:
            self._writer = StoreWriterProcess(
                self.url, busy_timeout=self._busy_timeout, start=start
            )

    def wait_ready(self, timeout: float) -> bool:
        """Wait until the writer process (if any) has opened the store; False on timeout."""
        return True if self._writer is None else self._writer.wait_ready(timeout)

    def _check_file(self) -> None:
        """Refuse to write when the SQLite file was deleted or replaced since it was opened.

        An open connection keeps writing to a deleted file's inode without an
        error: evidence nobody can ever read. Refusing keeps the batch in the
        runtime (retried, counted, logged) instead.
        """
        if self._file is not None and _identity(self._file) != self._identity:
            _log.error("shadow_store_file_missing", path=str(self._file))
            raise StoreError(f"the divergence store file {self._file} was deleted or replaced")

    def close(self) -> None:
        """Release the store's connections (and stop its writer process, if any)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
        self._engine.dispose()

    @property
    def engine(self) -> Engine:
        """The store's engine, for the provenance tables (:mod:`shadow.runtime._provenance`)."""
        return self._engine

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        self._check_file()
        try:
            with self._engine.begin() as connection:
                yield connection
        except SQLAlchemyError as error:
            raise StoreError(
                f"divergence store write failed: {error.__class__.__name__}"
            ) from error

    # -- writing -----------------------------------------------------------------------

    def record(self, batch: StoreBatch) -> None:
        """Add an aggregated batch of observations, in one transaction."""
        if not batch and not batch.first_comparisons:
            return
        if self._writer is not None:
            self._check_file()  # here, so its log line comes from this process
            self._writer.record(batch)
            return
        with self._transaction() as connection:
            _accumulate(
                connection,
                comparisons,
                [
                    {
                        "service": service,
                        "method": method,
                        "outcome": outcome,
                        "total": total,
                        "evidence": evidence,
                    }
                    for (service, method, outcome), (total, evidence) in batch.counts.items()
                ],
                ("total", "evidence"),
            )
            _accumulate(
                connection,
                latency,
                [
                    {
                        "service": service,
                        "method": method,
                        "side": side,
                        "bucket": bucket,
                        "le": LATENCY_BOUNDS[bucket],
                        "count": count,
                    }
                    for (service, method, side, bucket), count in batch.latency.items()
                ],
                ("count",),
            )
            _accumulate(
                connection,
                drops,
                [
                    {
                        "service": service,
                        "method": method,
                        "kind": kind,
                        "reason": reason,
                        "count": count,
                    }
                    for (service, method, kind, reason), count in batch.drops.items()
                ],
                ("count",),
            )
            for fingerprint, delta in batch.groups.items():
                self._record_group(connection, fingerprint, delta, batch.examples_per_group)
            _accumulate(
                connection,
                mode_comparisons,
                [
                    {
                        "service": service,
                        "method": method,
                        "mode": mode,
                        "outcome": outcome,
                        "total": total,
                        "evidence": evidence,
                    }
                    for (service, method, mode, outcome), (total, evidence) in (
                        batch.mode_counts.items()
                    )
                ],
                ("total", "evidence"),
            )
            _accumulate(
                connection,
                mode_latency,
                [
                    {
                        "service": service,
                        "method": method,
                        "mode": mode,
                        "side": side,
                        "bucket": bucket,
                        "le": LATENCY_BOUNDS[bucket],
                        "count": count,
                    }
                    for (service, method, mode, side, bucket), count in batch.mode_latency.items()
                ],
                ("count",),
            )
            for (service, mode), at in batch.mode_first.items():
                exists = connection.execute(
                    sa.select(mode_services.c.service).where(
                        mode_services.c.service == service, mode_services.c.mode == mode
                    )
                ).first()
                if exists is None:
                    _insert_or_retry(
                        connection,
                        sa.insert(mode_services).values(
                            service=service, mode=mode, first_comparison_at=_naive(at)
                        ),
                        lambda: None,
                    )
            for (service, path), file_delta in batch.coverage.items():
                _record_coverage(connection, service, path, file_delta)
            for service, at in batch.first_comparisons.items():
                _ensure_service(connection, service)
                connection.execute(
                    sa.update(services)
                    .where(services.c.service == service, services.c.first_comparison_at.is_(None))
                    .values(first_comparison_at=_naive(at))
                )
            for service, dirty, at in batch.service_marks:
                _set_dirty(connection, service, dirty=dirty, at=at)
            for side, error, at in batch.side_marks:
                _mark_side(connection, side, error, at)

    def _record_group(
        self, connection: Connection, fingerprint: str, delta: _GroupDelta, keep: int
    ) -> None:
        reopened = sa.case(
            (groups.c.status == ReviewStatus.FIXED.value, ReviewStatus.OPEN.value),
            else_=groups.c.status,
        )
        update = (
            sa.update(groups)
            .where(groups.c.fingerprint == fingerprint)
            .values(
                count=groups.c.count + delta.count,
                last_seen=_naive(delta.last_seen),
                status=reopened,
            )
        )
        if not connection.execute(update).rowcount:
            _insert_or_retry(
                connection,
                sa.insert(groups).values(
                    fingerprint=fingerprint,
                    service=delta.service,
                    method=delta.method,
                    outcome=delta.outcome,
                    paths=json.dumps(list(delta.paths)),
                    error_types=json.dumps(list(delta.error_types)),
                    count=delta.count,
                    first_seen=_naive(delta.first_seen),
                    last_seen=_naive(delta.last_seen),
                    status=ReviewStatus.OPEN.value,
                ),
                lambda: connection.execute(update),
            )
            root = _find_root(connection, fingerprint, delta)
            if root is not None:
                connection.execute(
                    sa.insert(roots).values(
                        fingerprint=fingerprint, root=root, linked_at=_naive(delta.first_seen)
                    )
                )
        stored = connection.execute(
            sa.select(sa.func.count()).where(examples.c.fingerprint == fingerprint)
        ).scalar_one()
        for example in delta.examples[: max(0, keep - stored)]:
            connection.execute(
                sa.insert(examples).values(
                    fingerprint=fingerprint,
                    seen_at=_naive(datetime.fromisoformat(example["seen_at"])),
                    example=json.dumps(example, sort_keys=True, default=str),
                )
            )

    def mark_dirty(self, service: str, at: datetime) -> None:
        """Record that ``service`` has dropped writes (its comparisons stop counting)."""
        with self._transaction() as connection:
            _set_dirty(connection, service, dirty=True, at=at)

    def mark_clean(self, service: str, at: datetime) -> None:
        """Record that ``service`` was reconciled at ``at``."""
        with self._transaction() as connection:
            _set_dirty(connection, service, dirty=False, at=at)

    def mark_verified(self, service: str, *, started: datetime, at: datetime) -> bool:
        """Clear dirty ``service`` after a verification (begun at ``started``) found it equal.

        Records ``at`` as its ``reconciled_at``. A service with a write not
        mirrored cleanly after ``started`` (its first or any later one) stays
        dirty: the verification could not have seen that write. Returns True
        when this call cleared it.
        """
        last = (
            sa.select(service_dirt.c.last_dirty_at)
            .where(service_dirt.c.service == service)
            .scalar_subquery()
        )
        with self._transaction() as connection:
            _ensure_service(connection, service)
            result = connection.execute(
                sa.update(services)
                .where(
                    services.c.service == service,
                    services.c.dirty.is_(True),
                    sa.or_(
                        services.c.dirty_since.is_(None), services.c.dirty_since <= _naive(started)
                    ),
                    sa.or_(last.is_(None), last <= _naive(started)),
                )
                .values(dirty=False, dirty_since=None, reconciled_at=_naive(at))
            )
            if result.rowcount:
                _touch_dirt(connection, service, cleared_as_of=started)
            return bool(result.rowcount)

    # -- review ------------------------------------------------------------------------

    def accept(
        self, fingerprint: str, note: str, expires_at: datetime | None, at: datetime
    ) -> None:
        """Accept a group (it stops blocking the gate until ``expires_at``), with a note."""
        self._review(
            fingerprint, at, status=ReviewStatus.ACCEPTED.value, note=note, expires_at=expires_at
        )

    def reopen(self, fingerprint: str, at: datetime) -> None:
        """Put a group back to open."""
        self._review(fingerprint, at, status=ReviewStatus.OPEN.value, expires_at=None)

    def mark_fixed(self, fingerprint: str, at: datetime, note: str | None = None) -> None:
        """Mark a group fixed; it is reopened if the divergence is seen again."""
        values: dict[str, Any] = {"status": ReviewStatus.FIXED.value, "expires_at": None}
        if note is not None:
            values["note"] = note
        self._review(fingerprint, at, **values)

    def _review(self, fingerprint: str, at: datetime, **values: Any) -> None:
        if isinstance(values.get("expires_at"), datetime):
            values["expires_at"] = _naive(values["expires_at"])
        with self._transaction() as connection:
            updated = connection.execute(
                sa.update(groups)
                .where(groups.c.fingerprint == fingerprint)
                .values(reviewed_at=_naive(at), **values)
            )
            if not updated.rowcount:
                raise StoreError(f"no divergence group {fingerprint!r}", fingerprint=fingerprint)

    # -- reading -----------------------------------------------------------------------

    def _rows(self, statement: sa.Select[Any]) -> list[sa.Row[Any]]:
        try:
            with self._engine.connect() as connection:
                return list(connection.execute(statement))
        except SQLAlchemyError as error:
            raise StoreError(f"divergence store read failed: {error.__class__.__name__}") from error

    def groups(self, *, status: str | None = None, service: str | None = None) -> list[StoredGroup]:
        """Divergence groups, most frequent first, optionally filtered."""
        statement = (
            sa.select(groups, roots.c.root)
            .outerjoin(roots, roots.c.fingerprint == groups.c.fingerprint)
            .order_by(groups.c.count.desc(), groups.c.fingerprint)
        )
        if status is not None:
            statement = statement.where(groups.c.status == str(status))
        if service is not None:
            statement = statement.where(groups.c.service == service)
        return [_group(row) for row in self._rows(statement)]

    def group(self, fingerprint: str) -> StoredGroup | None:
        """One group with its stored examples, or None."""
        found = self._rows(
            sa.select(groups, roots.c.root)
            .outerjoin(roots, roots.c.fingerprint == groups.c.fingerprint)
            .where(groups.c.fingerprint == fingerprint)
        )
        if not found:
            return None
        stored = self._rows(
            sa.select(examples.c.example)
            .where(examples.c.fingerprint == fingerprint)
            .order_by(examples.c.id)
        )
        return _group(found[0], tuple(json.loads(row.example) for row in stored))

    def comparison_counts(self) -> list[ComparisonCount]:
        """Calls per service, method and outcome."""
        rows = self._rows(
            sa.select(comparisons).order_by(
                comparisons.c.service, comparisons.c.method, comparisons.c.outcome
            )
        )
        return [
            ComparisonCount(row.service, row.method, row.outcome, row.total, row.evidence)
            for row in rows
        ]

    def latency(self) -> list[MethodLatency]:
        """p50/p95/p99 per service, method and side (interpolated within buckets)."""
        rows = self._rows(
            sa.select(latency).order_by(
                latency.c.service, latency.c.method, latency.c.side, latency.c.bucket
            )
        )
        buckets: dict[tuple[str, str, str], list[tuple[int, int]]] = {}
        for row in rows:
            buckets.setdefault((row.service, row.method, row.side), []).append(
                (row.bucket, row._mapping["count"])
            )
        return [
            _summary(service, method, side, histogram, None)
            for (service, method, side), histogram in buckets.items()
        ]

    def mode_comparison_counts(self) -> list[ModeComparisonCount]:
        """Mirrored calls per service, method, mode and outcome."""
        table = mode_comparisons
        rows = self._rows(
            sa.select(table).order_by(
                table.c.service, table.c.method, table.c.mode, table.c.outcome
            )
        )
        return [
            ModeComparisonCount(
                row.service, row.method, row.mode, row.outcome, row.total, row.evidence
            )
            for row in rows
        ]

    def mode_latency(self) -> list[MethodLatency]:
        """Like :meth:`latency`, per mode, for mirrored calls only (both sides of each)."""
        table = mode_latency
        rows = self._rows(
            sa.select(table).order_by(
                table.c.service, table.c.method, table.c.mode, table.c.side, table.c.bucket
            )
        )
        buckets: dict[tuple[str, str, str, str], list[tuple[int, int]]] = {}
        for row in rows:
            buckets.setdefault((row.service, row.method, row.mode, row.side), []).append(
                (row.bucket, row._mapping["count"])
            )
        return [
            _summary(service, method, side, histogram, mode)
            for (service, method, mode, side), histogram in buckets.items()
        ]

    def mode_first_comparisons(self) -> dict[tuple[str, str], datetime]:
        """(service, mode) -> when its first comparison in that mode was recorded."""
        rows = self._rows(sa.select(mode_services))
        return {
            (row.service, row.mode): _aware(row.first_comparison_at) or datetime.min for row in rows
        }

    def drops(self) -> list[DropCount]:
        """Calls not mirrored, per service, method, kind and reason."""
        rows = self._rows(
            sa.select(drops).order_by(drops.c.service, drops.c.method, drops.c.reason)
        )
        return [
            DropCount(row.service, row.method, row.kind, row.reason, row._mapping["count"])
            for row in rows
        ]

    def services(self) -> list[ServiceState]:
        """Dirty state and first comparison per service."""
        rows = self._rows(sa.select(services).order_by(services.c.service))
        return [
            ServiceState(
                row.service,
                bool(row.dirty),
                _aware(row.dirty_since),
                _aware(row.reconciled_at),
                _aware(row.first_comparison_at),
            )
            for row in rows
        ]

    def coverage(self) -> list[ServiceCoverage]:
        """Per service, how much of its candidate code compared calls ran (by service name)."""
        rows = self._rows(
            sa.select(coverage_items).order_by(
                coverage_items.c.service, coverage_items.c.path, coverage_items.c.kind
            )
        )
        totals: dict[str, list[int]] = {}
        missing: dict[str, dict[str, list[int]]] = {}
        for row in rows:
            entry = totals.setdefault(row.service, [0, 0, 0, 0])
            offset = 0 if row.kind == "line" else 2
            entry[offset] += 1
            if row.hit:
                entry[offset + 1] += 1
            elif row.kind == "line":
                missing.setdefault(row.service, {}).setdefault(row.path, []).append(int(row.item))
        return [
            ServiceCoverage(
                service,
                lines=counts[0],
                lines_hit=counts[1],
                branches=counts[2],
                branches_hit=counts[3],
                missing={
                    path: tuple(sorted(lines))
                    for path, lines in sorted(missing.get(service, {}).items())
                },
            )
            for service, counts in totals.items()
        ]

    def unavailable_mirrors(self) -> list[UnavailableMirror]:
        """Sides whose implementations could not be built, and why (redacted)."""
        with self._engine.connect() as connection:
            rows = connection.execute(sa.select(mirror_sides).order_by(mirror_sides.c.side))
            return [
                UnavailableMirror(
                    row.side,
                    row.error,
                    _aware(row.since) or row.since,
                    _aware(row.last_seen) or row.last_seen,
                )
                for row in rows
            ]

    def dirty_services(self) -> frozenset[str]:
        """Services with a dropped write not yet reconciled."""
        return frozenset(state.service for state in self.services() if state.dirty)

    def first_comparison_at(self) -> datetime | None:
        """When the first comparison of any service was recorded (the soak clock)."""
        found = [
            state.first_comparison_at for state in self.services() if state.first_comparison_at
        ]
        return min(found) if found else None


def _mark_side(connection: Connection, side: str, error: str | None, at: datetime) -> None:
    if error is None:
        connection.execute(sa.delete(mirror_sides).where(mirror_sides.c.side == side))
        return
    update = (
        sa.update(mirror_sides)
        .where(mirror_sides.c.side == side)
        .values(error=error, last_seen=_naive(at))
    )
    if not connection.execute(update).rowcount:
        _insert_or_retry(
            connection,
            sa.insert(mirror_sides).values(
                side=side, error=error, since=_naive(at), last_seen=_naive(at)
            ),
            lambda: connection.execute(update),
        )


_Z95 = 1.959963984540054
"""Two-sided 95 % normal quantile, for the order-statistic bounds of a p95."""


def _summary(
    service: str, method: str, side: str, histogram: list[tuple[int, int]], mode: str | None
) -> MethodLatency:
    """Quantiles of a histogram, with distribution-free 95 % bounds on the p95."""
    total = sum(count for _, count in histogram)
    spread = _Z95 * math.sqrt(0.95 * 0.05 / total) if total else 0.0
    summary = LatencySummary(
        total,
        _quantile(histogram, 0.50),
        _quantile(histogram, 0.95),
        _quantile(histogram, 0.99),
        p95_low=_quantile(histogram, max(0.0, 0.95 - spread)),
        p95_high=_quantile(histogram, min(1.0, 0.95 + spread)),
    )
    return MethodLatency(service, method, side, summary, mode)


def _quantile(histogram: list[tuple[int, int]], q: float) -> float:
    """The ``q`` quantile of a bucket histogram, interpolated linearly inside its bucket."""
    total = sum(count for _, count in histogram)
    wanted = q * total
    seen = 0
    for bucket, count in histogram:
        if seen + count >= wanted:
            lower = LATENCY_BOUNDS[bucket - 1] if bucket > 0 else 0.0
            if bucket == len(LATENCY_BOUNDS) - 1:
                return lower  # the overflow bucket has no upper bound worth reporting
            return lower + (LATENCY_BOUNDS[bucket] - lower) * (wanted - seen) / count
        seen += count
    return LATENCY_BOUNDS[histogram[-1][0]]


def _group(row: sa.Row[Any], stored_examples: tuple[Mapping[str, Any], ...] = ()) -> StoredGroup:
    return StoredGroup(
        fingerprint=row.fingerprint,
        service=row.service,
        method=row.method,
        outcome=row.outcome,
        paths=tuple(json.loads(row.paths)),
        error_types=tuple(json.loads(row.error_types)),
        count=row._mapping["count"],
        first_seen=_aware(row.first_seen) or datetime.min.replace(tzinfo=UTC),
        last_seen=_aware(row.last_seen) or datetime.min.replace(tzinfo=UTC),
        status=row.status,
        note=row.note,
        expires_at=_aware(row.expires_at),
        reviewed_at=_aware(row.reviewed_at),
        examples=stored_examples,
        root=row._mapping.get("root"),
    )


def _find_root(connection: Connection, fingerprint: str, delta: _GroupDelta) -> str | None:
    """The root group a newly recorded group is a consequence of (see ``shadow_group_roots``).

    Candidates are the service's open groups first seen no later than the new
    one that are not consequences themselves, earliest first; the first that
    came from a write, or shares an id with the new group's examples, is it.
    """
    candidates = connection.execute(
        sa.select(groups.c.fingerprint)
        .outerjoin(roots, roots.c.fingerprint == groups.c.fingerprint)
        .where(
            groups.c.service == delta.service,
            groups.c.status == ReviewStatus.OPEN.value,
            groups.c.fingerprint != fingerprint,
            groups.c.first_seen <= _naive(delta.first_seen),
            roots.c.root.is_(None),
        )
        .order_by(groups.c.first_seen, groups.c.fingerprint)
    ).all()
    if not candidates:
        return None
    wanted = set().union(*(example_ids(example) for example in delta.examples))
    for (candidate,) in candidates:
        stored = [
            json.loads(text)
            for (text,) in connection.execute(
                sa.select(examples.c.example).where(examples.c.fingerprint == candidate)
            )
        ]
        if any(example.get("write") for example in stored):
            return str(candidate)
        if wanted and wanted & set().union(*(example_ids(example) for example in stored)):
            return str(candidate)
    return None


def _accumulate(
    connection: Connection, table: sa.Table, rows: list[dict[str, Any]], amounts: tuple[str, ...]
) -> None:
    """Add each row's ``amounts`` to the stored row with the same key, creating it if missing.

    On SQLite, PostgreSQL and MariaDB this is one native upsert run as an
    executemany: atomic per row (processes adding to the same counter never
    lose an increment) and cheap, since the statement is built once per table
    and dialect. A flush used to build an UPDATE (and maybe an INSERT) per row,
    which took a third of the calling process's CPU under load (measured).
    """
    if not rows:
        return
    statement = _upsert(connection.dialect.name, table, amounts)
    if statement is not None:
        connection.execute(statement, rows)
        return
    keys = [column.name for column in table.primary_key]
    for row in rows:
        _upsert_add(
            connection,
            table,
            {name: row[name] for name in keys},
            {name: row[name] for name in amounts},
            {
                name: value
                for name, value in row.items()
                if name not in keys and name not in amounts
            },
        )


@functools.cache
def _upsert(dialect: str, table: sa.Table, amounts: tuple[str, ...]) -> sa.Insert | None:
    """The native add-or-insert statement for ``dialect``, or None where there is none."""
    keys = [column.name for column in table.primary_key]
    return upsert(table, keys, dict.fromkeys(amounts, add), dialect)


def _upsert_add(
    connection: Connection,
    table: sa.Table,
    keys: dict[str, Any],
    amounts: dict[str, int],
    extra: dict[str, Any] | None = None,
) -> None:
    """Add ``amounts`` to the row at ``keys``, creating it (with ``extra``) if missing.

    A portable upsert: UPDATE first, INSERT when no row matched.
    """
    where = sa.and_(*(table.c[name] == value for name, value in keys.items()))
    increments = {name: table.c[name] + amount for name, amount in amounts.items()}
    if connection.execute(sa.update(table).where(where).values(increments)).rowcount:
        return
    _insert_or_retry(
        connection,
        sa.insert(table).values(**keys, **amounts, **(extra or {})),
        lambda: connection.execute(sa.update(table).where(where).values(increments)),
    )


def _insert_or_retry(connection: Connection, statement: Any, retry: Any) -> None:
    # Another process may insert the same key between our UPDATE and INSERT; a
    # savepoint keeps the transaction usable (PostgreSQL aborts it otherwise).
    try:
        with connection.begin_nested():
            connection.execute(statement)
    except IntegrityError:
        retry()


def _sqlite_file(engine: Engine) -> Path | None:
    """The file of a SQLite store on disk (None for memory and server stores)."""
    if engine.url.get_backend_name() != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None
    database = str(engine.url.database)
    if database.startswith("file:"):
        return None  # a URI filename: leave it to SQLite
    return Path(database).resolve()


def _identity(path: Path | None) -> tuple[int, int] | None:
    if path is None:
        return None
    try:
        status = path.stat()
    except OSError:
        return None
    return (status.st_dev, status.st_ino)


def _set_dirty(connection: Connection, service: str, *, dirty: bool, at: datetime) -> None:
    """Mark ``service`` dirty since ``at`` (kept if already dirty), or clean (reconciled at).

    A dirty mark older than what the last clearing accounts for (a reconcile
    after it, a verification begun after it) only moves the last-dirty time.
    """
    _ensure_service(connection, service)
    if dirty:
        cleared = _touch_dirt(connection, service, last_dirty_at=at)
        if cleared is not None and _naive(at) < cleared:
            return
        values: dict[str, Any] = {
            "dirty": True,
            "dirty_since": sa.func.coalesce(services.c.dirty_since, _naive(at)),
        }
    else:
        values = {"dirty": False, "dirty_since": None, "reconciled_at": _naive(at)}
        _touch_dirt(connection, service, cleared_as_of=at)
    connection.execute(sa.update(services).where(services.c.service == service).values(**values))


def _touch_dirt(
    connection: Connection,
    service: str,
    *,
    last_dirty_at: datetime | None = None,
    cleared_as_of: datetime | None = None,
) -> datetime | None:
    """Move ``service``'s dirt times forward (never back); its ``cleared_as_of`` after."""
    table = service_dirt
    given = {
        name: _naive(moment)
        for name, moment in (("last_dirty_at", last_dirty_at), ("cleared_as_of", cleared_as_of))
        if moment is not None
    }
    current = connection.execute(sa.select(table).where(table.c.service == service)).first()
    if current is None:
        _insert_or_retry(
            connection,
            sa.insert(table).values(service=service, **given),
            lambda: _touch_dirt(
                connection, service, last_dirty_at=last_dirty_at, cleared_as_of=cleared_as_of
            ),
        )
        return given.get("cleared_as_of")
    newer = {
        name: moment
        for name, moment in given.items()
        if getattr(current, name) is None or getattr(current, name) < moment
    }
    if newer:
        connection.execute(sa.update(table).where(table.c.service == service).values(**newer))
    cleared: datetime | None = newer.get("cleared_as_of", current.cleared_as_of)
    return cleared


def _ensure_service(connection: Connection, service: str) -> None:
    exists = connection.execute(
        sa.select(services.c.service).where(services.c.service == service)
    ).first()
    if exists is None:
        _insert_or_retry(
            connection,
            sa.insert(services).values(service=service, dirty=False),
            lambda: None,
        )


def _coverage_keys(delta: _CoverageDelta) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(measurable, hit) items of a delta as (kind, item) keys."""
    measurable = [("line", str(line)) for line in delta.measurable_lines or ()]
    measurable += [("branch", f"{a}>{b}") for a, b in delta.measurable_branches or ()]
    hits = [("line", str(line)) for line in delta.lines]
    hits += [("branch", f"{a}>{b}") for a, b in delta.branches]
    return measurable, hits


def _record_coverage(
    connection: Connection, service: str, path: str, delta: _CoverageDelta
) -> None:
    """Merge one file's coverage into the store: measurable items once, hits only ever set."""
    where = sa.and_(coverage_items.c.service == service, coverage_items.c.path == path)
    stored = connection.execute(
        sa.select(coverage_files.c.source_hash).where(
            coverage_files.c.service == service, coverage_files.c.path == path
        )
    ).scalar_one_or_none()
    measurable, hits = _coverage_keys(delta)
    if stored != delta.source_hash:
        if delta.measurable_lines is None:
            return  # hits about a version of the file this store does not describe
        connection.execute(sa.delete(coverage_items).where(where))
        if stored is None:
            _insert_or_retry(
                connection,
                sa.insert(coverage_files).values(
                    service=service, path=path, source_hash=delta.source_hash
                ),
                lambda: None,
            )
        connection.execute(
            sa.update(coverage_files)
            .where(coverage_files.c.service == service, coverage_files.c.path == path)
            .values(source_hash=delta.source_hash)
        )
    if measurable:
        existing = {
            (row.kind, row.item)
            for row in connection.execute(
                sa.select(coverage_items.c.kind, coverage_items.c.item).where(where)
            )
        }
        new = [
            {"service": service, "path": path, "kind": kind, "item": item, "hit": False}
            for kind, item in measurable
            if (kind, item) not in existing
        ]
        if new:
            try:
                with connection.begin_nested():
                    connection.execute(sa.insert(coverage_items), new)
            except IntegrityError:  # another worker inserted some meanwhile: one by one
                for row in new:
                    _insert_or_retry(
                        connection, sa.insert(coverage_items).values(**row), lambda: None
                    )
    if hits:
        connection.execute(
            sa.update(coverage_items)
            .where(
                coverage_items.c.service == sa.bindparam("b_service"),
                coverage_items.c.path == sa.bindparam("b_path"),
                coverage_items.c.kind == sa.bindparam("b_kind"),
                coverage_items.c.item == sa.bindparam("b_item"),
            )
            .values(hit=True),
            [
                {"b_service": service, "b_path": path, "b_kind": kind, "b_item": item}
                for kind, item in hits
            ],
        )
