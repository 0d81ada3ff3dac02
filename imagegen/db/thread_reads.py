"""A SQLite file's pool that also keeps one read connection per thread, outside the pool.

The driver reads of the Core services (``imagegen.services.core._driver_read``)
each took a connection from the engine's pool and gave it back: SQLAlchemy's
checkout and return (its proxy object, weakref, the queue's lock and
condition, the reset's ``ROLLBACK``) were about 16 % of a SQLModel request's
CPU after the cutover (docs/benchmarks.md, "Where a paced request's CPU
goes"). A read in autocommit needs no pooled state, so each thread keeps a
driver connection of its own for them instead. The Core services' write
transactions on the driver (``imagegen.services.core._driver_write``) use it
too, between their own ``BEGIN`` and ``COMMIT``; a group commit's writes stay
on the pool's connection.

Those connections are opened as the pool opens its own (the engine's creator
and its ``connect`` events: the same file, ``mode=rw`` for a ``must_exist``
engine, the same ``PRAGMA`` s), but are not counted in the pool: the pool's
connections stay for the writes, however many threads read. They close with
the pool (``engine.dispose()``, :meth:`ThreadReadPool.dispose`) and when
their thread ends (the thread's slot of a ``threading.local`` is dropped,
a ``weakref.finalize`` closes the connection). The file check before every
read is the caller's, as on a pooled connection.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from typing import Any

import sqlalchemy as sa

__all__ = ["ThreadReadPool", "ThreadReader"]


class ThreadReader:
    """One thread's read connection: used by that thread only, between
    :meth:`ThreadReadPool.reader` and :meth:`release`."""

    __slots__ = ("__weakref__", "_close", "_closing", "_lock", "driver")

    def __init__(self, driver: sqlite3.Connection) -> None:
        self.driver = driver
        self._lock = threading.Lock()
        self._closing = False
        # Closes the driver when the reader is collected (its thread ended, or
        # its pool was dropped undisposed), at the latest at interpreter exit.
        self._close = weakref.finalize(self, driver.close)

    @property
    def closed(self) -> bool:
        return self._closing or not self._close.alive

    def acquire(self) -> bool:
        """Take it for one read (False: in use already, e.g. a read inside
        :meth:`OneStatementReads.together`, or being closed)."""
        if not self._lock.acquire(blocking=False):
            return False
        if self.closed:
            self._lock.release()
            return False
        return True

    def release(self) -> None:
        """Give it back; closed here if its pool was disposed meanwhile, or if a
        transaction was left open on it (a later lone read would run inside it)."""
        if self.driver.in_transaction:
            self._closing = True
        self._lock.release()
        if self._closing:
            self._close()

    def close(self) -> None:
        """Close it now, or at its :meth:`release` if its thread is using it."""
        self._closing = True
        if self._lock.acquire(blocking=False):
            try:
                self._close()
            finally:
                self._lock.release()


class ThreadReadPool(sa.QueuePool):
    """SQLAlchemy's ``QueuePool`` plus :meth:`reader`, one read connection per thread."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._local = threading.local()
        self._readers: weakref.WeakSet[ThreadReader] = weakref.WeakSet()
        self._guard = threading.Lock()
        self._disposed = False

    def reader(self) -> ThreadReader | None:
        """The calling thread's read connection, taken (release it), opened on
        first use; None when it is in use already or the pool was disposed."""
        reader: ThreadReader | None = getattr(self._local, "reader", None)
        if reader is None or reader.closed:
            reader = self._open_reader()
            if reader is None:
                return None
        return reader if reader.acquire() else None

    def _open_reader(self) -> ThreadReader | None:
        with self._guard:
            if self._disposed:
                return None
            # The pool's own way to open a connection (creator, connect events),
            # detached from the pool so that it is not one of its connections.
            record = self._create_connection()
            driver: sqlite3.Connection = record.dbapi_connection  # type: ignore[assignment]
            reader = ThreadReader(driver)
            self._readers.add(reader)
        self._local.reader = reader
        return reader

    def open_readers(self) -> int:
        """How many threads hold an open read connection of this pool."""
        with self._guard:
            return sum(not reader.closed for reader in self._readers)

    def dispose(self) -> None:
        """Close every thread's read connection (one in use at its release),
        then the pool's checked-in connections."""
        with self._guard:
            self._disposed = True
            readers = list(self._readers)
        for reader in readers:
            reader.close()
        super().dispose()
