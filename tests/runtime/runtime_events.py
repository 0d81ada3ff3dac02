"""An event log whose results carry no order value: bare timestamps and lists of ids.

Each store stamps its own rows (``stamped_at`` is a column DEFAULT), so the two
sides' stamps of one write differ by the mirror's lag (``latest_at`` returns
one bare); ``ids_by_time`` returns bare ids ordered by ``created_at`` (given
by the caller), a value the result does not carry. The legacy
implementation breaks ties by id, the candidate by id descending (legitimate:
the order is only declared by time); ``fault="newest_first"`` plants a
candidate that orders the wrong way round. Importable as
``tests.runtime.runtime_events:build`` so the process worker can build it.
"""

from __future__ import annotations

import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from shadow import Clock, IdSource, Order, read, write

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    stamped_at TEXT NOT NULL DEFAULT (STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW'))
)
"""


def created_at_of(implementation: Any, event_id: str) -> datetime:
    """The tie key: an event's creation time, read from ``implementation``'s store."""
    stamp = implementation.created_at(event_id)
    assert isinstance(stamp, datetime)
    return stamp


class Events(ABC):
    """The contract."""

    @write()
    @abstractmethod
    def add(self, name: str, created_at: datetime) -> str: ...

    @read(timestamp_result=True, timestamp_precision=0.001)
    @abstractmethod
    def latest_at(self) -> datetime | None: ...

    @read(order=Order.TIES, tie_key=created_at_of)
    @abstractmethod
    def ids_by_time(self) -> list[str]: ...

    @read(order=Order.TIES, tie_key=created_at_of)
    @abstractmethod
    def first_id(self) -> str | None: ...


class SqliteEvents(Events):
    """One sqlite3 file; ``descending_ties`` and ``fault`` select the candidate's behaviour."""

    def __init__(
        self, path: str, *, ids: IdSource, descending_ties: bool, fault: str | None
    ) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute(_SCHEMA)
        self._lock = threading.Lock()
        self._ids = ids
        direction = "DESC" if fault == "newest_first" else "ASC"
        tie = "DESC" if descending_ties else "ASC"
        self._order = f"ORDER BY created_at {direction}, id {tie}"

    def created_at(self, event_id: str) -> datetime:
        """Not part of the contract: what the tie key reads."""
        with self._lock:
            (stamp,) = self._db.execute(
                "SELECT created_at FROM events WHERE id = ?", (event_id,)
            ).fetchone()
        return datetime.fromisoformat(stamp)

    def add(self, name: str, created_at: datetime) -> str:
        event_id = self._ids.new_id()
        with self._lock:
            self._db.execute(
                "INSERT INTO events (id, name, created_at) VALUES (?, ?, ?)",
                (event_id, name, created_at.astimezone(UTC).isoformat()),
            )
        return event_id

    def latest_at(self) -> datetime | None:
        with self._lock:
            (stamp,) = self._db.execute("SELECT MAX(stamped_at) FROM events").fetchone()
        return None if stamp is None else datetime.fromisoformat(stamp).replace(tzinfo=UTC)

    def ids_by_time(self) -> list[str]:
        with self._lock:
            rows = self._db.execute(f"SELECT id FROM events {self._order}").fetchall()
        return [event_id for (event_id,) in rows]

    def first_id(self) -> str | None:
        found = self.ids_by_time()
        return found[0] if found else None


def build(
    *,
    ids: IdSource,
    clock: Clock,
    path: str,
    descending_ties: bool = False,
    fault: str | None = None,
) -> Mapping[str, Events]:
    """A side: the ``events`` service over the sqlite3 file at ``path``."""
    return {"events": SqliteEvents(path, ids=ids, descending_ties=descending_ties, fault=fault)}
