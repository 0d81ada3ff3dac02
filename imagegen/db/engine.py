"""Engines for the SQLModel layer: one factory for SQLite, PostgreSQL and MariaDB.

:func:`create_engine` validates the URL (a malformed one is a
:class:`~shadow.ConfigError`, not a traceback) and makes every connection
behave the way the schema needs:

* SQLite: ``PRAGMA foreign_keys=ON`` on every connection (without it the
  cascades silently do nothing and the two layers diverge), WAL and a 5 s busy
  timeout as on the legacy connection. The driver's own transaction handling is
  turned off and SQLAlchemy emits ``BEGIN`` itself, so a transaction starts at
  its first statement, reads included; ``execution_options(sqlite_begin="IMMEDIATE")``
  takes the write lock up front for read-then-write transactions.
* MariaDB: utf8mb4 and a UTC session time zone.

:func:`create_schema` brings an empty database to the schema's head revision.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from shadow._exceptions import ConfigError

__all__ = ["connectable", "create_engine", "create_schema", "parse_url", "safe_url"]

_SUPPORTED = ("sqlite", "postgresql", "mysql", "mariadb")


def parse_url(url: str | URL) -> URL:
    """Parse a database URL, or raise :class:`ConfigError` saying why it is unusable."""
    if isinstance(url, URL):
        parsed = url
    else:
        try:
            parsed = make_url(url)
        except (ArgumentError, ValueError) as error:  # ValueError: a non-numeric port
            raise ConfigError(f"malformed database URL {url!r}: {error}") from None
    backend = parsed.get_backend_name()
    if backend not in _SUPPORTED:
        raise ConfigError(
            f"unsupported database {backend!r} in URL; use sqlite, postgresql+psycopg "
            "or mysql+pymysql (MariaDB)"
        )
    return parsed


def safe_url(url: str | URL) -> str:
    """The URL as text with any password masked, for messages."""
    try:
        return parse_url(url).render_as_string(hide_password=True)
    except ConfigError:
        return "<malformed URL>"


@contextmanager
def connectable(url: str | URL, *, must_exist: bool = True) -> Iterator[sa.Engine]:
    """An engine for ``url`` that has been proven to connect, disposed afterwards.

    Raises :class:`ConfigError` for a malformed URL, an unreachable server, or
    (with ``must_exist``) a SQLite file that does not exist, instead of letting
    SQLite create an empty one.
    """
    parsed = parse_url(url)
    if must_exist and parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or not Path(database).is_file():
            raise ConfigError(f"no such SQLite database file: {database or '(none given)'}")
    engine = create_engine(parsed, poolclass=sa.NullPool)
    try:
        try:
            with engine.connect():
                pass
        except sa.exc.DBAPIError as error:
            reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
            raise ConfigError(f"cannot connect to {safe_url(parsed)}: {reason}") from None
        yield engine
    finally:
        engine.dispose()


def create_engine(url: str | URL, **kwargs: Any) -> sa.Engine:
    """Create an engine for ``url`` with the per-connection setup the schema relies on.

    Extra keyword arguments go to :func:`sqlalchemy.create_engine`.
    """
    parsed = parse_url(url)
    backend = parsed.get_backend_name()
    if backend in ("mysql", "mariadb"):
        if "charset" not in parsed.query:
            parsed = parsed.update_query_dict({"charset": "utf8mb4"})
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("init_command", "SET time_zone = '+00:00'")
        kwargs["connect_args"] = connect_args
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except (ArgumentError, NoSuchModuleError, ImportError) as error:
        raise ConfigError(f"cannot create an engine for {parsed!r}: {error}") from None
    if backend == "sqlite":
        _configure_sqlite(engine, in_memory=parsed.database in (None, "", ":memory:"))
    return engine


def _configure_sqlite(engine: sa.Engine, *, in_memory: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit at the driver level: SQLAlchemy's "begin" event below starts
        # transactions, so SAVEPOINT and transactional reads work as documented.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA busy_timeout = 5000")
            if not in_memory:
                cursor.execute("PRAGMA journal_mode = WAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode not in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE"):
            raise ValueError(f"sqlite_begin must be DEFERRED, IMMEDIATE or EXCLUSIVE, not {mode!r}")
        # Straight to the driver: going through exec_driver_sql costs ~25 us per
        # transaction (measured), a fifth of a whole point read. Errors are wrapped
        # as SQLAlchemy wraps them, so callers still see sqlalchemy.exc types.
        statement = f"BEGIN {mode}"
        try:
            connection.connection.driver_connection.execute(statement)  # type: ignore[union-attr]
        except sqlite3.Error as error:
            raise sa.exc.DBAPIError.instance(statement, None, error, sqlite3.Error) from error


def create_schema(engine: sa.Engine) -> None:
    """Build the schema on an empty database: Alembic ``upgrade head`` on ``engine``.

    Tables, indexes, generated columns, triggers and seed rows, exactly as the
    migration scripts define them (the engine's connection is reused, so its
    per-connection setup applies).
    """
    from imagegen.db.migrate import upgrade  # noqa: PLC0415  (Alembic is heavy to import)

    upgrade(engine)
