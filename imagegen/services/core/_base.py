"""The base every Core service stands on: engines, the read policy, statements, records.

Each ``Core*Service`` is SQLAlchemy Core over the SQLModel tables (no ORM
session). What they all need is set up here once:

* **Engines.** ``_writer`` runs every write transaction; on SQLite it begins
  ``IMMEDIATE`` and takes the write lock up front, as the legacy layer's
  ``BEGIN IMMEDIATE`` does, so a read-then-write call never fails upgrading
  its lock (the option means nothing to the servers, which lock rows).
  ``_reader`` runs reads; ``_engine`` (plain) runs reads of several
  statements that must see one state, in one transaction. On SQLite the
  one-statement reads (``_reads``) and the hot write transactions
  (``_writes``) run on the driver with SQLAlchemy's compiled SQL and types
  (:mod:`~imagegen.services.core._driver_read`,
  :mod:`~imagegen.services.core._driver_write`).
* **One read policy.** :data:`AUTOCOMMIT_READS` names the dialects whose reads
  run in autocommit mode. It is PostgreSQL alone: there a read is one round
  trip instead of three (``BEGIN``, ``SELECT``, ``ROLLBACK``), measured faster
  with ``bench/services.py`` (figures in docs/benchmarks.md); on MariaDB
  switching autocommit on and back for each checkout costs round trips of its
  own; on SQLite the driver's autocommit is already what
  :func:`imagegen.db.engine.create_engine` sets, and SQLAlchemy's transactions
  are what make reads consistent there.
* **Statements.** Building a ``select`` costs more than running it on SQLite,
  so no call path builds one twice: a statement that is the same on every
  backend is a module constant, built at import; one that depends on the
  dialect only is built in the service's ``__init__``; one that depends on the
  shape of a call (which filters, which columns change, which order) goes
  through :meth:`CoreService._statement` -- built on first use, then kept in
  the service's bounded :class:`StatementCache`, the one cache there is.
* **Records.** :func:`record` maps a row onto a contract record with pydantic's
  ``model_validate`` (the record's own validation turns the driver's values --
  ``0``/``1``, text enums -- into the contract's types); :func:`flag` reads a
  nullable boolean column as ``False`` for ``NULL``, as the legacy layer does.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any, TypeAlias, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel

from imagegen.services.core._driver_read import OneStatementReads
from imagegen.services.core._driver_write import DriverWrites
from imagegen.services.core.group_commit import Joinable
from shadow._sources import Clock, IdSource

__all__ = [
    "AUTOCOMMIT_READS",
    "CoreService",
    "Row",
    "StatementCache",
    "flag",
    "reader_for",
    "record",
]

AUTOCOMMIT_READS: frozenset[str] = frozenset({"postgresql"})
"""Dialects whose reads run in autocommit mode (the measured choice, see the module doc).

``bench/services.py --autocommit-reads`` replaces it for a run, to measure the
alternatives; nothing else should.
"""

Row: TypeAlias = sa.Row[*tuple[Any, ...]]
"""A result row of any width."""

S = TypeVar("S")
R = TypeVar("R", bound=BaseModel)


def reader_for(engine: sa.Engine) -> sa.Engine:
    """``engine`` as reads should use it under :data:`AUTOCOMMIT_READS`."""
    if engine.dialect.name in AUTOCOMMIT_READS:
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


class StatementCache:
    """Statements by key, each built once; the least recently used goes past ``size``.

    The bound only matters for keys drawn from callers' input (a tag count, a
    set of changed columns): a few hundred shapes cover every real call pattern.
    """

    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._statements: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable, build: Callable[[], S]) -> S:
        """The statement for ``key``, calling ``build()`` only the first time."""
        try:
            statement: S = self._statements[key]
        except KeyError:
            statement = self._statements[key] = build()
            if len(self._statements) > self._size:
                self._statements.popitem(last=False)
            return statement
        self._statements.move_to_end(key)
        return statement

    def __len__(self) -> int:
        return len(self._statements)


class CoreService:
    """Engines, sources and the statement cache of one Core service.

    Subclasses call ``super().__init__(engine, ids=ids, clock=clock)`` first and
    may then build their dialect-specific statements from :attr:`_dialect`.
    """

    def __init__(self, engine: sa.Engine, *, ids: IdSource, clock: Clock) -> None:
        # Joinable: inside a group commit (the mirror worker's, see group_commit) every
        # transaction joins the group's instead of committing on its own.
        self._engine = Joinable(engine)
        self._writer = Joinable(engine.execution_options(sqlite_begin="IMMEDIATE"))
        self._reader = Joinable(reader_for(engine))
        self._dialect = engine.dialect.name
        self._ids = ids
        self._clock = clock
        self._statements = StatementCache()
        # Not methods of this class: see OneStatementReads (coverage evidence).
        self._reads = OneStatementReads(self._engine, self._reader, self._statements)
        # Write transactions on SQLite's driver (the hot ones; see DriverWrites).
        self._writes = DriverWrites(self._writer, self._statements)

    def _statement(self, key: Hashable, build: Callable[[], S]) -> S:
        """The statement for ``key`` (a tuple naming its shape), built on first use."""
        return self._statements.get(key, build)


def record(model: type[R], row: Row | sa.RowMapping | Mapping[str, Any], **values: Any) -> R:
    """``row`` validated into ``model``; ``values`` replace or add fields (decoded JSON)."""
    mapping: Mapping[Any, Any] = row._mapping if isinstance(row, sa.Row) else row
    return model.model_validate({**mapping, **values} if values else dict(mapping))


def flag(column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """A nullable boolean column read as ``False`` for ``NULL``, under its own name."""
    return sa.func.coalesce(column, sa.false(), type_=sa.Boolean).label(column.key or "flag")
