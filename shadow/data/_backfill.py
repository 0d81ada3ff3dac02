"""Online backfill: copy a live store's rows into the target while dual-writes go on.

:func:`backfill` copies every table of a schema, parents before children, in
primary-key chunks: read ``chunk_size`` rows of the source past the last key
copied, write them to the target in one transaction, record the last key in a
checkpoint file, and go on. The run can stop at any point (a crash, Ctrl-C)
and the next run with the same checkpoint continues after the last chunk
committed; a chunk committed but not yet checkpointed is copied again, which
changes nothing (below).

The rule that keeps newer rows: **copy if absent, then verify.** While the
backfill runs, the runtime keeps mirroring every write to the target, and a
mirrored write is always at least as new as a copied row. So a chunk only
inserts rows whose key the target does not have yet; it never overwrites a
row that is there, whoever wrote it. What this cannot see: a row updated or
deleted on the source after the backfill read it and before the mirrored
write of that change reached the target (the mirrored update found no row to
change, then the older copy arrived). :func:`~shadow.data.verify` after the
mirror has caught up finds exactly those keys, and
:func:`~shadow.data.repair` copies their current, authoritative rows.

Autoincrement counters are raised on the target before a table is copied and
after it: the target must hand out the same next id as the source, or a
mirrored insert gets a different id there. Raise them before dual-writing
starts (``backfill`` with ``counters_only``) so the first mirrored insert gets
the right one.

A throttle caps the copy rate (rows per second over the run), so the
backfill leaves the authoritative store room for its own traffic.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from shadow._exceptions import ConfigError
from shadow.data._insqlite import CopyInSqlite, sqlite_file
from shadow.data._read import ChunkReader, Key, key_getter
from shadow.data._rules import TableRules
from shadow.data._write import InsertIfAbsent, RowCopier, next_counter, sync_counter

__all__ = ["BackfillReport", "Checkpoint", "TableBackfill", "backfill", "sync_counters"]

Progress = Callable[[str, int, int], None]
"""``progress(table, rows_done, rows_expected)``, told after each chunk."""

DEFAULT_CHUNK = 5000


@dataclass
class _TableMark:
    after: Key | None = None
    copied: int = 0
    done: bool = False


def _to_json(key: Key | None) -> Any:
    return list(key) if isinstance(key, tuple) else key


def _from_json(value: Any) -> Key | None:
    return tuple(value) if isinstance(value, list) else value


class Checkpoint:
    """Where a backfill stands, per table: the last key copied, kept in a JSON file.

    The file names the source and target it belongs to; resuming with other
    stores is refused, so a checkpoint never skips rows of a different copy.
    It is replaced atomically after every chunk (written beside, then
    renamed), so a crash leaves the previous or the new state, never half.
    """

    def __init__(self, path: Path | None, source: str, target: str) -> None:
        self.path = path
        self.source = source
        self.target = target
        self.tables: dict[str, _TableMark] = {}
        if path is not None and path.exists():
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text())
            stores = (data["source"], data["target"])
            tables = {
                name: _TableMark(_from_json(mark["after"]), int(mark["copied"]), bool(mark["done"]))
                for name, mark in data["tables"].items()
            }
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ConfigError(f"backfill checkpoint {path} is not a checkpoint file") from None
        if stores != (self.source, self.target):
            raise ConfigError(
                f"backfill checkpoint {path} belongs to {stores[0]} -> {stores[1]}, not this copy;"
                " remove it (or give another --checkpoint) to start over"
            )
        self.tables = tables

    def mark(self, table: str) -> _TableMark:
        """The state of ``table`` (fresh when it was never started)."""
        return self.tables.setdefault(table, _TableMark())

    def save(self) -> None:
        """Write the checkpoint (atomically); no-op without a path."""
        if self.path is None:
            return
        data = {
            "source": self.source,
            "target": self.target,
            "tables": {
                name: {"after": _to_json(m.after), "copied": m.copied, "done": m.done}
                for name, m in self.tables.items()
            },
        }
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps(data, indent=1, sort_keys=True))
        os.replace(partial, self.path)


@dataclass(frozen=True)
class TableBackfill:
    """What the backfill did to one table (in this run and, from the checkpoint, before)."""

    table: str
    copied: int
    """Rows read from the source and offered to the target, over every run."""
    inserted: int
    """Rows this run inserted (absent on the target)."""
    skipped: int
    """Rows the target refused (a parent deleted meanwhile); verification sees them."""
    resumed: bool
    seconds: float
    next_id: int | None = None
    """The target's next autoincrement id afterwards, for a table with a counter."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data."""
        return {
            "table": self.table,
            "copied": self.copied,
            "inserted": self.inserted,
            "skipped": self.skipped,
            "resumed": self.resumed,
            "seconds": round(self.seconds, 3),
            "next_id": self.next_id,
        }


@dataclass(frozen=True)
class BackfillReport:
    """A backfill run over several tables."""

    source: str
    target: str
    tables: tuple[TableBackfill, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data."""
        return {
            "source": self.source,
            "target": self.target,
            "tables": [table.to_dict() for table in self.tables],
        }


class _Throttle:
    """Sleeps so that rows copied stay at or below ``rate`` per second on average."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self.started = time.monotonic()
        self.rows = 0

    def after(self, rows: int) -> None:
        if not self.rate:
            return
        self.rows += rows
        ahead = self.rows / self.rate - (time.monotonic() - self.started)
        if ahead > 0:
            time.sleep(ahead)


_RETRIES = 5


def _insert_chunk(
    writer: sa.Connection, inserter: InsertIfAbsent, rows: list[tuple[Any, ...]]
) -> tuple[int, int]:
    """Insert-if-absent ``rows``, retrying a chunk that lost a lock to concurrent writes.

    A deadlock or lock timeout against the mirrored writes (InnoDB, PostgreSQL)
    or a busy SQLite file rolls the chunk back; copying it again is harmless,
    since a chunk only inserts absent rows.
    """
    for attempt in range(_RETRIES):
        try:
            return _insert_once(writer, inserter, rows)
        except OperationalError:
            if attempt == _RETRIES - 1:
                raise
            time.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")  # the loop returns or raises


def _insert_once(
    writer: sa.Connection, inserter: InsertIfAbsent, rows: list[tuple[Any, ...]]
) -> tuple[int, int]:
    """Insert-if-absent ``rows`` (driver parameters), one transaction; (inserted, skipped)."""
    try:
        with writer.begin():
            return inserter.execute(writer, rows), 0
    except IntegrityError:
        pass
    # A row of the chunk broke a constraint other than its key (a foreign key
    # whose parent was deleted since the chunk was read): copy the others.
    inserted = skipped = 0
    with writer.begin():
        for row in rows:
            try:
                with writer.begin_nested():
                    inserted += inserter.execute(writer, [row])
            except IntegrityError:
                skipped += 1
    return inserted, skipped


@contextmanager
def _bulk_writes(writer: sa.Connection) -> Iterator[None]:
    """SQLite settings for the copy's own connection, restored afterwards.

    A larger page cache (64 MiB: the target's indexes take most of an
    insert's time) and, only when the file is in WAL mode, ``synchronous =
    NORMAL`` and a WAL checkpoint every 64 MiB instead of 4 MiB (index pages
    that several chunks touch are written back once, not once per chunk;
    measured: commits took a fifth of the copy). With ``NORMAL`` a crash of
    the process loses nothing, a power cut may lose the last chunks
    committed, which the checkpoint file then claims; the verify that follows
    every backfill finds those rows missing (see the module docstring).
    Nothing changes for the runtime's connections.
    """
    if writer.dialect.name != "sqlite":
        yield
        return
    raw = writer.connection.driver_connection
    assert raw is not None  # an open connection has its driver's connection
    names = ("cache_size", "synchronous", "wal_autocheckpoint")
    before = {name: int(raw.execute(f"PRAGMA {name}").fetchone()[0]) for name in names}
    wal = raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.execute("PRAGMA cache_size = -65536")
    if wal:
        raw.execute("PRAGMA synchronous = NORMAL")
        raw.execute("PRAGMA wal_autocheckpoint = 16384")
    try:
        yield
    finally:
        for name, value in before.items():
            raw.execute(f"PRAGMA {name} = {value}")


def _in_sqlite(
    source: sa.Engine,
    writer: sa.Connection,
    rules: TableRules,
    copier: RowCopier,
    *,
    chunk_size: int,
    pause: Callable[[str, list[dict[str, Any]]], None] | None,
) -> CopyInSqlite | None:
    """The in-SQLite copy, when both stores are SQLite files and SQL can copy every column.

    Not with ``pause``: that test seam needs the rows between the read and the
    write, which one ``INSERT ... SELECT`` does not have.
    """
    path = sqlite_file(source)
    if path is None or writer.dialect.name != "sqlite" or pause is not None:
        return None
    if not CopyInSqlite.suited(copier.kinds):
        return None
    return CopyInSqlite(writer, rules, copier.kinds, path, size=chunk_size)


def sync_counters(
    source: sa.Engine, target: sa.Engine, tables: Sequence[TableRules]
) -> dict[str, int]:
    """Raise the target's autoincrement counters to the source's; next id per table."""
    synced: dict[str, int] = {}
    for rules in tables:
        with source.connect() as reader:
            wanted = next_counter(reader, rules.table)
        if wanted is None:
            continue
        after = sync_counter(target, rules.table, wanted)
        if after is not None:
            synced[rules.name] = after
    return synced


def _backfill_table(
    source: sa.Engine,
    target: sa.Engine,
    rules: TableRules,
    checkpoint: Checkpoint,
    *,
    chunk_size: int,
    throttle: _Throttle,
    progress: Progress | None,
    pause: Callable[[str, list[dict[str, Any]]], None] | None,
) -> TableBackfill:
    started = time.monotonic()
    mark = checkpoint.mark(rules.name)
    resumed = mark.after is not None or mark.done
    inserted = skipped = 0
    columns = rules.writable
    names = [c.name for c in columns]
    get_key = key_getter(len(rules.key))
    copier = RowCopier(columns, source.dialect, target.dialect)
    inserter = InsertIfAbsent(rules.table, columns, target.dialect)
    with source.connect() as reader:
        expected = reader.execute(sa.select(sa.func.count()).select_from(rules.table)).scalar_one()
    sync_counters(source, target, [rules])
    with source.connect() as reader, target.connect() as writer, _bulk_writes(writer):
        chunks = ChunkReader(reader, rules, copier.selected, size=chunk_size, code_point=False)
        in_sqlite = _in_sqlite(source, writer, rules, copier, chunk_size=chunk_size, pause=pause)
        while not mark.done:
            copied = None
            if in_sqlite is not None:
                try:
                    copied = in_sqlite.copy_chunk(mark.after)
                except (IntegrityError, OperationalError):
                    copied = None  # the chunk goes through Python, row by row if need be
            if copied is not None:
                size, last, count = copied
                refused = 0
            else:
                batch = chunks.chunk(mark.after)
                reader.rollback()  # no read transaction held between chunks
                size, last = len(batch), get_key(batch[-1]) if batch else None
                if batch:
                    rows = copier.convert(batch)
                    if pause is not None:
                        pause(rules.name, [dict(zip(names, row, strict=True)) for row in batch])
                    count, refused = _insert_chunk(writer, inserter, rows)
            if not size:
                mark.done = True
                checkpoint.save()
                break
            inserted += count
            skipped += refused
            mark.after = last
            mark.copied += size
            checkpoint.save()
            if progress is not None:
                progress(rules.name, mark.copied, max(expected, mark.copied))
            throttle.after(size)
        chunks.close()
        if in_sqlite is not None:
            in_sqlite.close()
    counters = sync_counters(source, target, [rules])
    return TableBackfill(
        rules.name,
        mark.copied,
        inserted,
        skipped,
        resumed,
        time.monotonic() - started,
        counters.get(rules.name),
    )


def backfill(
    source: sa.Engine,
    target: sa.Engine,
    tables: Sequence[TableRules],
    *,
    checkpoint: Path | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    max_rows_per_second: float | None = None,
    progress: Progress | None = None,
    pause: Callable[[str, list[dict[str, Any]]], None] | None = None,
) -> BackfillReport:
    """Copy ``tables`` (in the given order: parents first) from ``source`` to ``target``.

    See the module docstring for the rule and the checkpoint. ``pause(table,
    rows)`` is called between reading a chunk and writing it (a test seam: the
    moment a concurrent mirrored write can slip in).
    """
    if chunk_size < 1:
        raise ConfigError("the chunk size must be at least 1")
    if max_rows_per_second is not None and max_rows_per_second <= 0:
        raise ConfigError("the throttle (rows per second) must be positive")
    names = (_masked(source), _masked(target))
    state = Checkpoint(checkpoint, *names)
    throttle = _Throttle(max_rows_per_second)
    done = tuple(
        _backfill_table(
            source,
            target,
            rules,
            state,
            chunk_size=chunk_size,
            throttle=throttle,
            progress=progress,
            pause=pause,
        )
        for rules in tables
    )
    return BackfillReport(*names, done)


def _masked(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=True)
