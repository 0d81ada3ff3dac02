"""Group commit for the Core services: several calls in one transaction.

The mirror worker applies mirrored writes one after the other, each in a
transaction of its own, and on SQLite a third of its time went to those
``COMMIT`` s (docs/benchmarks.md, "Mirror headroom"). :class:`CoreServices`,
the mapping :func:`imagegen.demo.wiring.build_candidate` returns, offers the
runtime's :class:`~shadow.runtime.GroupCommit`: :meth:`CoreServices.group`
opens one write transaction (``BEGIN IMMEDIATE`` on SQLite, as a write call
takes) and its calls run in it. On SQLite the group is optimistic (it yields
None): no ``SAVEPOINT`` per call, and a call that raises makes the runtime
roll the whole group back and run its calls again alone
(:mod:`shadow.runtime._groups`); a SQLite rollback undoes everything, rowids
included. On PostgreSQL and MariaDB each call runs in a ``SAVEPOINT``: a
rollback there does not give back the ids a sequence or ``AUTO_INCREMENT``
handed out (the session queue's ``item_id``), so the calls run again would
get other ids than alone (seen in tests/services/test_core_group_commit.py).

Inside a group the services' engines (:class:`Joinable`) hand out the group's
connection instead of one of their own: ``begin()`` joins the group's
transaction rather than committing, ``connect()`` reads what the group wrote.
Outside a group (the caller's process, reverse and sqlmodel modes, every
read) nothing changes.

The open group is kept in a context variable, so only the thread (or task)
that opened it joins it, and only engines over the same pool.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:
    from shadow.runtime import Savepoints

__all__ = ["CoreServices", "Joinable"]


class _Group:
    """The open transaction of one group (:class:`shadow.runtime.Savepoints`)."""

    def __init__(self, pool: sa.Pool, connection: sa.Connection) -> None:
        self.pool = pool
        self.connection = connection

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        with self.connection.begin_nested():
            yield


_OPEN: ContextVar[_Group | None] = ContextVar("imagegen_open_group", default=None)


class Joinable:
    """An engine whose ``begin()`` and ``connect()`` join the open group over its pool.

    Stands where the services used a plain engine; what they need of one is
    here: ``begin()``, ``connect()``, ``dialect`` and ``engine`` itself.
    """

    __slots__ = ("dialect", "engine")

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect

    def joined(self) -> sa.Connection | None:
        """The open group's connection when it is over this engine's pool, else None."""
        group = _OPEN.get()
        return group.connection if group is not None and group.pool is self.engine.pool else None

    def begin(self) -> AbstractContextManager[sa.Connection]:
        """A transaction of its own, or the group's connection (the call's savepoint)."""
        joined = self.joined()
        return self.engine.begin() if joined is None else nullcontext(joined)

    def connect(self) -> AbstractContextManager[sa.Connection]:
        """A connection of its own, or the group's (which sees the group's writes)."""
        joined = self.joined()
        return self.engine.connect() if joined is None else nullcontext(joined)


class CoreServices(dict[str, Any]):
    """The Core services of one engine, by name, with group commit over that engine."""

    def __init__(self, services: Mapping[str, Any], engine: sa.Engine) -> None:
        super().__init__(services)
        self.engine = engine
        self._writer = engine.execution_options(sqlite_begin="IMMEDIATE")
        # Where a rollback undoes everything, rowids included (see the module doc).
        self._optimistic = engine.dialect.name == "sqlite"

    def close(self) -> None:
        """Dispose of the engine's pooled connections (the mirror worker's shutdown)."""
        self.engine.dispose()

    def group(self) -> AbstractContextManager[Savepoints | None]:
        """One write transaction the services' calls join (see the module doc)."""
        return self._group()

    @contextmanager
    def _group(self) -> Iterator[_Group | None]:
        if _OPEN.get() is not None:
            raise RuntimeError("a group is already open in this context")
        with self._writer.connect() as connection, connection.begin():
            group = _Group(self._writer.pool, connection)
            token = _OPEN.set(group)
            try:
                yield None if self._optimistic else group
            finally:
                _OPEN.reset(token)
