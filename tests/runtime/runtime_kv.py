"""A small key-value contract with a real sqlite3 implementation, for the runtime's tests.

The runtime is generic; these tests prove it on a contract of their own. The
implementation can be told to misbehave in one method (``fault`` on
``fault_method``) so a test can plant a candidate that raises, hangs, returns
something else or kills its process. The factories are importable as
``tests.runtime.runtime_kv:build`` so the process worker can build them in the
child (pytest puts the repository root on ``sys.path``, and spawned children
inherit it).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from shadow import Clock, IdSource, Order, read, write
from shadow.runtime import Runtime
from shadow.runtime._store import DivergenceStore, StoreBatch

MakeRuntime = Callable[..., Runtime]
"""The ``make_runtime`` fixture's type."""


class KeyMissingError(Exception):
    """The key does not exist (raised by both implementations alike)."""


class Entry(BaseModel):
    """One stored entry."""

    model_config = ConfigDict(frozen=True)

    id: str
    key: str
    value: str
    secret: str
    touched_at: datetime
    created_at: datetime


class KeyValue(ABC):
    """The contract: every public method declared, with its comparison spec."""

    @write(timestamps={"created_at"}, sensitive={"secret"})
    @abstractmethod
    def put(self, key: str, value: str, secret: str = "") -> Entry: ...

    @read(timestamps={"created_at"}, sensitive={"secret"})
    @abstractmethod
    def get(self, key: str) -> Entry: ...

    @write()
    @abstractmethod
    def delete(self, key: str) -> None: ...

    @read(order=Order.UNORDERED, key="key", timestamps={"created_at"}, sensitive={"secret"})
    @abstractmethod
    def list_all(self) -> list[Entry]: ...

    @read(
        order=Order.TIES,
        key="key",
        sort_key=("value",),
        timestamps={"created_at"},
        sensitive={"secret"},
    )
    @abstractmethod
    def by_value(self) -> list[Entry]: ...

    @read()
    @abstractmethod
    def worker_pid(self) -> int: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    value TEXT NOT NULL,
    secret TEXT NOT NULL,
    touched_at TEXT NOT NULL,
    created_at DATETIME NOT NULL DEFAULT (STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW'))
)
"""


def _switch_to_wal(db: sqlite3.Connection, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class SqliteKeyValue(KeyValue):
    """Raw sqlite3, one connection behind one lock (the legacy style)."""

    def __init__(
        self,
        path: str,
        *,
        ids: IdSource,
        clock: Clock,
        fault: str | None = None,
        fault_method: str | None = None,
        list_reversed: bool = False,
        gate: Any = None,
        fault_key: str | None = None,
    ) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        # Several worker processes may open the file at once (one per conflict
        # domain), and switching to WAL takes a lock. The busy timeout covers most
        # of it, but SQLite can refuse the switch at once while another process
        # makes it ("database is locked" in a CI run): try again for a while.
        self._db.execute("PRAGMA busy_timeout=5000")
        _switch_to_wal(self._db)
        self._db.execute(_SCHEMA)
        self._lock = threading.RLock()
        self._ids = ids
        self._clock = clock
        self._fault = fault
        self._fault_method = fault_method
        self._list_reversed = list_reversed
        self.gate = gate
        self._fault_key = fault_key
        self.grouped = False
        """Inside a group commit (:class:`GroupedSide`): no transaction of its own."""
        self.grouped_calls = 0
        """Calls of ``put`` made inside a group (an optimistic one has no savepoint to count)."""

    def _misbehave(self, method: str) -> None:
        if self._fault_method != method or self._fault is None:
            return
        if self._fault == "raise":
            raise RuntimeError("candidate is broken")
        if self._fault == "hang":
            time.sleep(3600)
        if self._fault == "exit":
            os._exit(3)

    def _stored(self, value: str) -> str:
        # ``store_wrong`` on put: stored wrong (not only answered wrong), so reads diverge too.
        if self._fault == "store_wrong" and self._fault_method == "put":
            return value + "!"
        return value

    @staticmethod
    def _entry(row: sqlite3.Row) -> Entry:
        created = datetime.fromisoformat(row["created_at"]).replace(tzinfo=UTC)
        return Entry(
            id=row["id"],
            key=row["key"],
            value=row["value"],
            secret=row["secret"],
            touched_at=datetime.fromisoformat(row["touched_at"]),
            created_at=created,
        )

    def put(self, key: str, value: str, secret: str = "") -> Entry:
        if self._fault_key in (None, key):
            self._misbehave("put")
        with self._lock:
            self.grouped_calls += self.grouped
            if not self.grouped:
                self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT INTO entries (key, id, value, secret, touched_at)"
                    " VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
                    " secret = excluded.secret, touched_at = excluded.touched_at",
                    (
                        key,
                        self._ids.new_id(),
                        self._stored(value),
                        secret,
                        self._clock.now().isoformat(),
                    ),
                )
                row = self._db.execute("SELECT * FROM entries WHERE key = ?", (key,)).fetchone()
                if self._fault == "raise_after_insert" and key == self._fault_key:
                    raise RuntimeError("candidate refused after writing")
                if not self.grouped:
                    self._db.execute("COMMIT")
            except BaseException:
                if not self.grouped:
                    self._db.execute("ROLLBACK")
                raise
        entry = self._entry(row)
        if self._fault == "wrong" and self._fault_method == "put":
            entry = entry.model_copy(update={"value": entry.value + "!"})
        return entry

    def get(self, key: str) -> Entry:
        self._misbehave("get")
        if self.gate is not None:
            self.gate()
        with self._lock:
            row = self._db.execute("SELECT * FROM entries WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise KeyMissingError(key)
        entry = self._entry(row)
        if self._fault == "wrong" and self._fault_method == "get":
            entry = entry.model_copy(update={"value": entry.value.upper()})
        return entry

    def delete(self, key: str) -> None:
        self._misbehave("delete")
        with self._lock:
            deleted = self._db.execute("DELETE FROM entries WHERE key = ?", (key,)).rowcount
        if not deleted:
            raise KeyMissingError(key)

    def list_all(self) -> list[Entry]:
        self._misbehave("list_all")
        order = "DESC" if self._list_reversed else "ASC"
        with self._lock:
            rows = self._db.execute(f"SELECT * FROM entries ORDER BY key {order}").fetchall()
        return [self._entry(row) for row in rows]

    def by_value(self) -> list[Entry]:
        self._misbehave("by_value")
        order = "DESC" if self._list_reversed else "ASC"
        with self._lock:
            rows = self._db.execute(f"SELECT * FROM entries ORDER BY value, key {order}").fetchall()
        return [self._entry(row) for row in rows]

    def worker_pid(self) -> int:
        return os.getpid()


class Handles(ABC):
    """A contract whose result cannot be pickled (it holds a lock)."""

    @read()
    @abstractmethod
    def lock(self) -> Any: ...


class LockHandles(Handles):
    def lock(self) -> Any:
        return {"lock": threading.Lock()}


def build(*, ids: IdSource, clock: Clock, path: str, **options: Any) -> Mapping[str, Any]:
    """The factory the runtime calls: one side's implementations by service name."""
    return {"kv": SqliteKeyValue(path, ids=ids, clock=clock, **options), "handles": LockHandles()}


class GroupedSide(dict[str, Any]):
    """:func:`build`'s services with group commit (``shadow.runtime.GroupCommit``).

    A group is one ``BEGIN IMMEDIATE`` ... ``COMMIT`` on the key-value's one
    connection, a ``SAVEPOINT`` per call. Each group appends its size (calls
    entered) to ``<path>.groups``, so a test can count commits across processes.
    ``fail_commit`` rolls every group back at its end and raises, as a COMMIT
    that fails would; ``slow_commit`` seconds pass before each COMMIT.
    ``savepoints=False`` makes the groups optimistic (they yield None, their
    puts are counted): a call that raises after writing leaves its write in
    the group's transaction, which the runtime must then roll back.
    """

    def __init__(
        self,
        kv: SqliteKeyValue,
        path: str,
        *,
        fail_commit: bool,
        slow_commit: float,
        savepoints: bool = True,
    ) -> None:
        super().__init__(kv=kv)
        self._kv = kv
        self._log = f"{path}.groups"
        self._fail_commit = fail_commit
        self._slow_commit = slow_commit
        self._savepoints = savepoints
        self._calls = 0

    @contextmanager
    def group(self) -> Iterator[GroupedSide | None]:
        kv, self._calls, self._kv.grouped_calls = self._kv, 0, 0
        with kv._lock:
            kv._db.execute("BEGIN IMMEDIATE")
            kv.grouped = True
            try:
                yield self if self._savepoints else None
            except BaseException:
                kv._db.execute("ROLLBACK")
                raise
            finally:
                kv.grouped = False
                calls = self._calls if self._savepoints else kv.grouped_calls
                with open(self._log, "a") as log:
                    log.write(f"{calls}\n")
            if self._fail_commit:
                kv._db.execute("ROLLBACK")
                raise sqlite3.OperationalError("planted: the group's COMMIT failed")
            time.sleep(self._slow_commit)
            kv._db.execute("COMMIT")

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        self._calls += 1
        db = self._kv._db
        db.execute("SAVEPOINT call")
        try:
            yield
        except BaseException:
            db.execute("ROLLBACK TO call")
            db.execute("RELEASE call")
            raise
        db.execute("RELEASE call")


def build_grouped(
    *,
    ids: IdSource,
    clock: Clock,
    path: str,
    fail_commit: bool = False,
    slow_commit: float = 0.0,
    savepoints: bool = True,
    **options: Any,
) -> GroupedSide:
    """:func:`build`'s key-value service, offering group commit (:class:`GroupedSide`)."""
    kv = SqliteKeyValue(path, ids=ids, clock=clock, **options)
    return GroupedSide(
        kv, path, fail_commit=fail_commit, slow_commit=slow_commit, savepoints=savepoints
    )


def group_sizes(path: str) -> list[int]:
    """The size of every group :class:`GroupedSide` over ``path`` ran, in order."""
    try:
        with open(f"{path}.groups") as log:
            return [int(line) for line in log]
    except FileNotFoundError:
        return []


def build_pair(
    *, ids: IdSource, clock: Clock, path: str, b_options: Mapping[str, Any] | None = None
) -> Mapping[str, Any]:
    """Two key-value services over two files, ``path``-a and ``path``-b: they share no table.

    ``b_options`` (a fault, say) go to service ``b`` only.
    """
    return {
        "a": SqliteKeyValue(f"{path}-a", ids=ids, clock=clock),
        "b": SqliteKeyValue(f"{path}-b", ids=ids, clock=clock, **(b_options or {})),
    }


def rows(path: str) -> list[tuple[Any, ...]]:
    """Every stored entry of a database file, for comparing the two stores."""
    with sqlite3.connect(path) as connection:
        connection.execute(_SCHEMA)  # a side never built has no table yet: no rows
        return connection.execute(
            "SELECT key, id, value, secret, touched_at FROM entries ORDER BY key"
        ).fetchall()


def copy_entries(source: str, target: str) -> None:
    """Make ``target``'s entries exactly ``source``'s (a reconcile hook for tests)."""
    with sqlite3.connect(target) as connection:
        connection.execute(_SCHEMA)
        connection.execute("ATTACH DATABASE ? AS source", (source,))
        connection.execute("DELETE FROM entries")
        connection.execute("INSERT INTO entries SELECT * FROM source.entries")
    with sqlite3.connect(target) as connection:
        connection.execute("PRAGMA wal_checkpoint")


def write_batches(url: str, batches: int) -> None:
    """Record ``batches`` small batches into the store at ``url`` (a second writer process)."""
    store = DivergenceStore(url)
    try:
        for _ in range(batches):
            batch = StoreBatch()
            batch.add_outcome("kv", "get", "match", evidence=True, at=datetime.now(UTC))
            batch.add_latency("kv", "get", "legacy", 0.001)
            store.record(batch)
    finally:
        store.close()


def build_nothing(*, ids: IdSource, clock: Clock, **options: Any) -> Mapping[str, Any]:
    """A factory whose side provides no service at all (a misconfiguration)."""
    return {}
