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

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from shadow._exceptions import ConfigError

__all__ = ["create_engine", "create_schema", "parse_url"]

_SUPPORTED = ("sqlite", "postgresql", "mysql", "mariadb")


def parse_url(url: str | URL) -> URL:
    """Parse a database URL, or raise :class:`ConfigError` saying why it is unusable."""
    if isinstance(url, URL):
        parsed = url
    else:
        try:
            parsed = make_url(url)
        except ArgumentError as error:
            raise ConfigError(f"malformed database URL {url!r}: {error}") from None
    backend = parsed.get_backend_name()
    if backend not in _SUPPORTED:
        raise ConfigError(
            f"unsupported database {backend!r} in URL; use sqlite, postgresql+psycopg "
            "or mysql+pymysql (MariaDB)"
        )
    return parsed


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
        connection.exec_driver_sql(f"BEGIN {mode}")


def create_schema(engine: sa.Engine) -> None:
    """Build the schema on ``engine``: tables, indexes, triggers and seed rows.

    Milestone 1: ``metadata.create_all`` plus the triggers and seed rows; to be
    replaced by an Alembic ``upgrade head`` that reuses the connection.
    """
    from shadow.db import seed, tables, triggers  # noqa: PLC0415  (keeps engine import light)

    with engine.begin() as connection:
        tables.metadata.create_all(connection)
        for statement in triggers.create_statements(connection.dialect.name):
            connection.exec_driver_sql(statement)
        connection.execute(sa.insert(tables.UserTable.__table__).values(**seed.SYSTEM_USER))  # type: ignore[attr-defined]
        connection.execute(
            sa.insert(tables.AppSettingTable.__table__).values(  # type: ignore[attr-defined]
                key=seed.JWT_SECRET_KEY, value=seed.jwt_secret()
            )
        )
