"""The legacy layer's single SQLite connection, shared behind one lock."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shadow._exceptions import ConfigError

__all__ = ["LegacyDatabase", "open_read_only"]


def open_read_only(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A connection that reads an existing SQLite file and leaves no trace on disk.

    ``mode=ro`` alone still creates ``-wal``/``-shm`` files next to a WAL-mode
    database, and a read-only connection cannot remove them again. When there
    is no ``-wal`` file, everything is in the main file, so it is opened
    ``immutable`` (no locks, no side files). When a ``-wal`` file exists another
    connection may be writing; it is read normally (the files already exist).
    Callers that go on to write must judge the database again on a normal
    connection: an immutable read is a snapshot.
    """
    file = Path(path).resolve()
    flags = "mode=ro" if Path(f"{file}-wal").exists() else "mode=ro&immutable=1"
    return sqlite3.connect(f"{file.as_uri()}?{flags}", uri=True)


class LegacyDatabase:
    """One sqlite3 connection shared by all legacy services behind one ``threading.RLock``.

    The connection runs in autocommit mode at the driver level
    (``isolation_level=None``): :meth:`transaction` issues ``BEGIN IMMEDIATE``
    and ``COMMIT``/``ROLLBACK`` itself, so a service call is exactly one
    transaction, taken with the write lock up front (no deadlock-prone lock
    upgrades). Every connection gets ``foreign_keys=ON`` (the cascades depend
    on it), ``journal_mode=WAL`` and ``busy_timeout=5000``.
    """

    def __init__(self, path: str | os.PathLike[str], *, must_exist: bool = False) -> None:
        """Open ``path``; with ``must_exist`` a missing file is an error, never created."""
        self.path = os.fspath(path)
        self._lock = threading.RLock()
        self._depth = 0
        target, uri = self.path, False
        if must_exist and self.path != ":memory:":
            target, uri = f"{Path(self.path).resolve().as_uri()}?mode=rw", True
        try:
            self._connection = sqlite3.connect(
                target, check_same_thread=False, isolation_level=None, uri=uri
            )
        except sqlite3.OperationalError:
            if uri:
                raise ConfigError(
                    f"no such SQLite database file: {self.path} (it is opened, never created)"
                ) from None
            raise
        self._connection.row_factory = sqlite3.Row
        self._connection.execute("PRAGMA foreign_keys = ON")
        self._connection.execute("PRAGMA busy_timeout = 5000")
        if self.path != ":memory:":
            self._connection.execute("PRAGMA journal_mode = WAL")

    @property
    def connection(self) -> sqlite3.Connection:
        """The raw connection, for callers that hold :meth:`transaction` or the lock."""
        return self._connection

    @property
    def lock(self) -> threading.RLock:
        """The lock every use of the connection holds."""
        return self._lock

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Cursor]:
        """One locked transaction: commit on success, roll back on error.

        Re-entrant in the same thread: a nested call joins the outer
        transaction, and only the outermost one commits or rolls back.
        """
        with self._lock:
            outermost = self._depth == 0
            cursor = self._connection.cursor()
            if outermost:
                cursor.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield cursor
            except BaseException:
                self._depth -= 1
                if outermost:
                    self._connection.execute("ROLLBACK")
                raise
            else:
                self._depth -= 1
                if outermost:
                    self._connection.execute("COMMIT")
            finally:
                cursor.close()

    def close(self) -> None:
        """Close the connection. Further use raises ``sqlite3.ProgrammingError``."""
        with self._lock:
            self._connection.close()

    def __repr__(self) -> str:
        return f"LegacyDatabase({self.path!r})"
