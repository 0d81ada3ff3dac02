"""Row-level verification: do two stores hold the same rows, and which keys differ?

:func:`verify` compares every table of a :class:`~shadow.data.DataSchema` on a
source (authoritative) and a target store. Per table both sides are read in
chunks of ``chunk_size`` rows in primary-key order (code-point order on every
engine, see :mod:`shadow.data._read`), each chunk starting past the same key
on both sides. A chunk is decided at the cheapest level that can decide it:

1. two SQLite files: SQLite itself compares the chunk, the target attached
   to the source connection (:mod:`shadow.data._insqlite`); an equal chunk is
   two counts and no row in Python;
2. otherwise both chunks are read as the drivers' tuples, timestamps as one
   canonical text written by each database (:mod:`shadow.data._canonical`),
   so equal chunks are equal lists: one comparison in C;
3. a chunk that differs is merged row by row by key: a key on one side only
   is *missing* on the other; a key on both sides whose values still differ
   is compared column by column through its rule (:mod:`shadow.data._rules`:
   the legacy timestamp formats, 0/1 booleans, JSON text, tolerances) and is
   *differing* if a column still differs, with the names of those columns.

This is data-diff's "digest, then look closer" with the chunk itself as the
digest: equal data costs one pass and, between SQLite files, no row transfer.
With ``digests=True`` a table on a PostgreSQL or MariaDB side is decided by
hash digests instead, where its columns and key allow
(:mod:`shadow.data._digest`): per key range the server returns a count and a
sum of row hashes, the other side computes the same (in SQL, or in Python over
a local SQLite file), equal ranges move no row off the server, and differing
ranges are bisected down to a few hundred rows that are read and merged as in
3. It is opt-in: on the benchmark's table (legacy SQLite source, PostgreSQL
target) hashing every source row in Python cost more than receiving the
server's rows (figures in docs/benchmarks.md); it pays where the wire is the
cost (a remote server, two servers). Memory holds one chunk per side.

Rows written while a verification runs can make a key look different for a
moment (the mirror applies the write a little later). ``settle`` re-reads the
keys found different after that many seconds and keeps only those still
different: online, a verification then reports only what persists.

Results carry keys and column names, never values: a differing password hash
is named, never shown.
"""

from __future__ import annotations

import bisect
import operator
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from shadow._exceptions import ConfigError
from shadow.data._canonical import canonical
from shadow.data._digest import LEAF, DigestSide, digestible
from shadow.data._insqlite import InSqlite, attachable
from shadow.data._read import ChunkReader, Key, key_getter, raw, rows_for_keys
from shadow.data._rules import ColumnRule, Exact, TableRules, _identity

__all__ = [
    "Progress",
    "RowDifference",
    "TableVerification",
    "VerificationReport",
    "verify",
    "verify_keys",
    "verify_table",
]

Progress = Callable[[str, int, int], None]
"""``progress(table, rows_done, rows_expected)``, told after each chunk."""

DEFAULT_CHUNK = 5000
DEFAULT_MAX_KEYS = 10_000


@dataclass(frozen=True, slots=True)
class RowDifference:
    """A key present on both sides whose row differs, and the columns that differ."""

    key: Key
    columns: tuple[str, ...]


def _json_key(key: Key) -> list[Any]:
    return list(key) if isinstance(key, tuple) else [key]


@dataclass(frozen=True)
class TableVerification:
    """What verifying one table found.

    The key lists hold at most ``max_keys`` entries each (the counts are
    always exact); ``truncated`` says when one was cut. Keys are scalars for
    one-column keys and tuples for composite ones.
    """

    table: str
    key_columns: tuple[str, ...]
    source_rows: int
    target_rows: int
    missing_on_target: tuple[Key, ...]
    """Keys on the source only (the target lost or never got them)."""
    missing_on_source: tuple[Key, ...]
    """Keys on the target only (extra rows the authoritative side does not have)."""
    differing: tuple[RowDifference, ...]
    missing_on_target_count: int
    missing_on_source_count: int
    differing_count: int
    declared: Mapping[str, str]
    """Columns not compared exactly, and how they are treated (never silent)."""
    started_at: datetime
    finished_at: datetime
    truncated: bool = False

    @property
    def equal(self) -> bool:
        """True when nothing is missing on either side and no row differs."""
        return not (
            self.missing_on_target_count or self.missing_on_source_count or self.differing_count
        )

    @property
    def compared(self) -> int:
        """Rows compared: keys seen on either side."""
        return self.source_rows + self.missing_on_source_count

    @property
    def seconds(self) -> float:
        """Wall time of the verification."""
        return (self.finished_at - self.started_at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (keys as lists of values)."""
        return {
            "table": self.table,
            "equal": self.equal,
            "key_columns": list(self.key_columns),
            "compared": self.compared,
            "source_rows": self.source_rows,
            "target_rows": self.target_rows,
            "missing_on_target": self.missing_on_target_count,
            "missing_on_source": self.missing_on_source_count,
            "differing": self.differing_count,
            "missing_on_target_keys": [_json_key(k) for k in self.missing_on_target],
            "missing_on_source_keys": [_json_key(k) for k in self.missing_on_source],
            "differing_rows": [
                {"key": _json_key(d.key), "columns": list(d.columns)} for d in self.differing
            ],
            "truncated": self.truncated,
            "declared": dict(self.declared),
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class VerificationReport:
    """A verification of several tables, source against target."""

    source: str
    target: str
    tables: tuple[TableVerification, ...] = field(default=())

    @property
    def equal(self) -> bool:
        """True when every table is equal."""
        return all(table.equal for table in self.tables)

    def table(self, name: str) -> TableVerification:
        """The result for table ``name``."""
        for table in self.tables:
            if table.table == name:
                return table
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data."""
        return {
            "source": self.source,
            "target": self.target,
            "equal": self.equal,
            "tables": [table.to_dict() for table in self.tables],
        }


class _Findings:
    """Keys found so far for one table, capped at ``max_keys`` per kind."""

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        self.missing_on_target: list[Key] = []
        self.missing_on_source: list[Key] = []
        self.differing: list[RowDifference] = []
        self.counts = [0, 0, 0]
        self.source_rows = 0
        self.target_rows = 0

    def lost(self, key: Key) -> None:
        self.counts[0] += 1
        if len(self.missing_on_target) < self.max_keys:
            self.missing_on_target.append(key)

    def extra(self, key: Key) -> None:
        self.counts[1] += 1
        if len(self.missing_on_source) < self.max_keys:
            self.missing_on_source.append(key)

    def differs(self, key: Key, columns: tuple[str, ...]) -> None:
        self.counts[2] += 1
        if len(self.differing) < self.max_keys:
            self.differing.append(RowDifference(key, columns))

    def result(
        self, rules: TableRules, started: datetime, clock: Callable[[], datetime]
    ) -> TableVerification:
        return TableVerification(
            table=rules.name,
            key_columns=tuple(c.name for c in rules.key),
            source_rows=self.source_rows,
            target_rows=self.target_rows,
            missing_on_target=tuple(self.missing_on_target),
            missing_on_source=tuple(self.missing_on_source),
            differing=tuple(self.differing),
            missing_on_target_count=self.counts[0],
            missing_on_source_count=self.counts[1],
            differing_count=self.counts[2],
            declared=rules.declared(),
            started_at=started,
            finished_at=clock(),
            truncated=any(count > self.max_keys for count in self.counts),
        )


class _RowComparer:
    """Column-by-column comparison of two raw rows, through the table's rules.

    Columns compared as the driver returns them are checked together first
    (one C-level tuple comparison); only the columns with a normalizer or a
    tolerance are looked at one by one.
    """

    def __init__(self, rules: TableRules) -> None:
        columns = rules.compared
        self.names = tuple(c.name for c in columns)
        self.rules = tuple(rules.rule(c) for c in columns)
        self.width = len(rules.key)
        value_indexes = range(self.width, len(columns))
        self.plain = tuple(i for i in value_indexes if _plain(self.rules[i]))
        self.special = tuple(i for i in value_indexes if not _plain(self.rules[i]))
        self.plain_values = (
            operator.itemgetter(*self.plain, 0) if self.plain else operator.itemgetter(0)
        )

    def differing_columns(self, left: Sequence[Any], right: Sequence[Any]) -> tuple[str, ...]:
        differing = []
        if self.plain_values(left) != self.plain_values(right):
            differing += [i for i in self.plain if left[i] != right[i]]
        for index in self.special:
            a, b = left[index], right[index]
            if a == b:
                continue
            rule = self.rules[index]
            if not rule.same(rule.normalize(a), rule.normalize(b)):
                differing.append(index)
        return tuple(self.names[i] for i in sorted(differing))


def _plain(rule: ColumnRule) -> bool:
    return isinstance(rule, Exact) and rule.normalizer is _identity


def _now() -> datetime:
    return datetime.now(UTC)


def _merge(
    source: Iterator[Sequence[Any]],
    target: Iterator[Sequence[Any]],
    comparer: _RowComparer,
    findings: _Findings,
) -> None:
    """Merge two key-ordered row streams, recording what differs."""
    get_key = key_getter(comparer.width)
    s = next(source, None)
    t = next(target, None)
    # Keys are Any: ``ks``/``kt`` are only read while their row is not None.
    ks: Any = get_key(s) if s is not None else None
    kt: Any = get_key(t) if t is not None else None
    while s is not None or t is not None:
        if t is None or (s is not None and ks < kt):
            findings.lost(ks)
            findings.source_rows += 1
            s = next(source, None)
            ks = get_key(s) if s is not None else None
        elif s is None or kt < ks:
            findings.extra(kt)
            findings.target_rows += 1
            t = next(target, None)
            kt = get_key(t) if t is not None else None
        else:
            if s != t:
                columns = comparer.differing_columns(s, t)
                if columns:
                    findings.differs(ks, columns)
            findings.source_rows += 1
            findings.target_rows += 1
            s = next(source, None)
            ks = get_key(s) if s is not None else None
            t = next(target, None)
            kt = get_key(t) if t is not None else None


def _selected(rules: TableRules, dialect: sa.Dialect) -> list[sa.ColumnElement[Any]]:
    """The compared columns as read for comparison: timestamps as canonical text."""
    selected = []
    for column in rules.compared:
        text = canonical(column, dialect)
        selected.append(raw(column) if text is None else text)
    return selected


def _compare_chunks(
    source: ChunkReader,
    target: ChunkReader,
    comparer: _RowComparer,
    findings: _Findings,
    *,
    size: int,
    tick: Callable[[int], None],
    in_sqlite: InSqlite | None = None,
) -> None:
    """Both sides chunk by chunk past the same key; equal chunks cost one list comparison.

    When two chunks differ, the rows both sides are known to hold up to the
    smaller of their last keys (everything, at the end of a side) are merged
    row by row; the next chunk starts past that key on both sides.
    """
    get_key = key_getter(comparer.width)
    after: Key | None = None
    while True:
        equal = in_sqlite.equal_chunk(after) if in_sqlite is not None else None
        if equal is not None:
            rows, last = equal
            findings.source_rows += rows
            findings.target_rows += rows
            tick(findings.source_rows)
            if last is None:
                return
            after = last
            continue
        left = source.chunk(after)
        right = target.chunk(after)
        if not left and not right:
            return
        if left == right:
            findings.source_rows += len(left)
            findings.target_rows += len(right)
            tick(findings.source_rows)
            if len(left) < size:
                return
            after = get_key(left[-1])
            continue
        ends = [get_key(rows[-1]) for rows in (left, right) if len(rows) == size]
        bound = min(ends) if ends else None
        if bound is not None:
            left = left[: bisect.bisect_right(left, bound, key=get_key)]
            right = right[: bisect.bisect_right(right, bound, key=get_key)]
        _merge(iter(left), iter(right), comparer, findings)
        tick(findings.source_rows)
        if bound is None:
            return
        after = bound


def _compare_digests(
    source: DigestSide,
    target: DigestSide,
    comparer: _RowComparer,
    findings: _Findings,
    *,
    size: int,
    tick: Callable[[int], None],
) -> None:
    """Key ranges of ``size`` source rows decided by digests, bisected where they differ."""

    def decide(after: Key | None, upto: Key | None) -> None:
        ours, theirs = source.digest(after, upto), target.digest(after, upto)
        if ours == theirs:
            findings.source_rows += ours[0]
            findings.target_rows += theirs[0]
            return
        if ours[0] <= LEAF and theirs[0] <= LEAF:
            left, right = source.rows(after, upto), target.rows(after, upto)
            _merge(iter(left), iter(right), comparer, findings)
            return
        larger, rows = (source, ours[0]) if ours[0] >= theirs[0] else (target, theirs[0])
        middle = larger.nth_key(after, upto, rows // 2 - 1)
        decide(after, middle)
        decide(middle, upto)

    after: Key | None = None
    while True:
        upto = source.nth_key(after, None, size - 1)
        decide(after, upto)  # upto None: the rest of both tables
        tick(findings.source_rows)
        if upto is None:
            return
        after = upto


def verify_table(
    source: sa.Engine,
    target: sa.Engine,
    rules: TableRules,
    *,
    chunk_size: int = DEFAULT_CHUNK,
    max_keys: int = DEFAULT_MAX_KEYS,
    settle: float | None = None,
    progress: Progress | None = None,
    clock: Callable[[], datetime] = _now,
    digests: bool = False,
    on_server_rows: Callable[[int], None] | None = None,
) -> TableVerification:
    """Compare one table on ``source`` and ``target`` (see the module docstring).

    ``digests=True`` decides a server table's chunks by digests where it can
    (:mod:`shadow.data._digest`; opt-in: on the benchmark's table it was slower
    than the row path, docs/benchmarks.md);
    ``on_server_rows(n)`` is told how many rows the digest path read from a
    server side (its instrument: zero for equal tables).
    """
    if chunk_size < 1:
        raise ConfigError("the chunk size must be at least 1")
    started = clock()
    findings = _Findings(max_keys)
    path = attachable(source, target)
    use_digests = digests and path is None and digestible(rules, (source, target))
    with source.connect() as reader, target.connect() as other:
        expected = reader.execute(sa.select(sa.func.count()).select_from(rules.table)).scalar_one()

        def tick(done: int) -> None:
            if progress is not None:
                progress(rules.name, done, expected)

        if use_digests:
            sides = [
                DigestSide(
                    connection,
                    rules,
                    _selected(rules, connection.dialect),
                    on_server_rows if connection.dialect.name != "sqlite" else None,
                )
                for connection in (reader, other)
            ]
            _compare_digests(
                sides[0], sides[1], _RowComparer(rules), findings, size=chunk_size, tick=tick
            )
            return _finish(source, target, rules, findings, started, clock=clock, settle=settle)
        left = ChunkReader(reader, rules, _selected(rules, reader.dialect), size=chunk_size)
        right = ChunkReader(other, rules, _selected(rules, other.dialect), size=chunk_size)
        in_sqlite = InSqlite(source, rules, path, size=chunk_size) if path else None
        try:
            _compare_chunks(
                left,
                right,
                _RowComparer(rules),
                findings,
                size=chunk_size,
                tick=tick,
                in_sqlite=in_sqlite,
            )
        finally:
            left.close()
            right.close()
            if in_sqlite is not None:
                in_sqlite.close()
        tick(findings.source_rows)
    return _finish(source, target, rules, findings, started, clock=clock, settle=settle)


def _finish(
    source: sa.Engine,
    target: sa.Engine,
    rules: TableRules,
    findings: _Findings,
    started: datetime,
    *,
    clock: Callable[[], datetime],
    settle: float | None,
) -> TableVerification:
    result = findings.result(rules, started, clock)
    if settle is not None and not result.equal and not result.truncated:
        time.sleep(settle)
        recheck = verify_keys(source, target, rules, _listed_keys(result), clock=clock)
        result = _settled(result, recheck)
    return result


def _listed_keys(result: TableVerification) -> list[Key]:
    return [
        *result.missing_on_target,
        *result.missing_on_source,
        *(d.key for d in result.differing),
    ]


def _settled(first: TableVerification, recheck: TableVerification) -> TableVerification:
    """The first pass's counts corrected by a re-check of its listed keys."""
    return TableVerification(
        table=first.table,
        key_columns=first.key_columns,
        source_rows=first.source_rows
        - first.missing_on_target_count
        + recheck.missing_on_target_count,
        target_rows=first.target_rows
        - first.missing_on_source_count
        + recheck.missing_on_source_count,
        missing_on_target=recheck.missing_on_target,
        missing_on_source=recheck.missing_on_source,
        differing=recheck.differing,
        missing_on_target_count=recheck.missing_on_target_count,
        missing_on_source_count=recheck.missing_on_source_count,
        differing_count=recheck.differing_count,
        declared=first.declared,
        started_at=first.started_at,
        finished_at=recheck.finished_at,
    )


def verify_keys(
    source: sa.Engine,
    target: sa.Engine,
    rules: TableRules,
    keys: Iterable[Key],
    *,
    chunk_size: int = DEFAULT_CHUNK,
    clock: Callable[[], datetime] = _now,
) -> TableVerification:
    """Compare only the rows of ``keys`` (a re-check after a repair or a settle).

    ``source_rows`` / ``target_rows`` count the given keys found on each side.
    """
    started = clock()
    wanted = sorted(set(keys))
    comparer = _RowComparer(rules)
    columns = rules.compared
    findings = _Findings(max(len(wanted), 1))
    with source.connect() as reader, target.connect() as other:
        for start in range(0, len(wanted), chunk_size):
            chunk = wanted[start : start + chunk_size]
            left = rows_for_keys(reader, rules, columns, chunk)
            right = rows_for_keys(other, rules, columns, chunk)
            for key in chunk:
                s, t = left.get(key), right.get(key)
                findings.source_rows += s is not None
                findings.target_rows += t is not None
                if s is None and t is None:
                    continue
                if t is None:
                    findings.lost(key)
                elif s is None:
                    findings.extra(key)
                elif s != t:
                    differing = comparer.differing_columns(s, t)
                    if differing:
                        findings.differs(key, differing)
    return findings.result(rules, started, clock)


def verify(
    source: sa.Engine,
    target: sa.Engine,
    tables: Sequence[TableRules],
    *,
    chunk_size: int = DEFAULT_CHUNK,
    max_keys: int = DEFAULT_MAX_KEYS,
    settle: float | None = None,
    progress: Progress | None = None,
    digests: bool = False,
) -> VerificationReport:
    """Verify every table of ``tables``; the report names the stores by masked URL."""
    results = tuple(
        verify_table(
            source,
            target,
            rules,
            chunk_size=chunk_size,
            max_keys=max_keys,
            settle=settle,
            progress=progress,
            digests=digests,
        )
        for rules in tables
    )
    return VerificationReport(_masked(source), _masked(target), results)


def _masked(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=True)
