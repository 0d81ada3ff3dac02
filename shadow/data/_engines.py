"""Engines for the stores ``shadow data`` reads and writes, opened from URLs.

A bad URL, a missing driver, an unreachable server or a SQLite file that does
not exist is bad input: one :class:`~shadow.ConfigError` naming which store,
never a traceback, and never an empty SQLite file created by a typo. SQLite
connections get ``PRAGMA foreign_keys = ON`` (without it cascades silently
differ) and a busy timeout, since the runtime writes the same file meanwhile.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from shadow._exceptions import ConfigError

__all__ = ["SUPPORTED_BACKENDS", "open_engine"]

SUPPORTED_BACKENDS = frozenset({"sqlite", "postgresql", "mysql", "mariadb"})
"""The backends whose insert-if-absent and counter syntax ``shadow.data`` writes."""


def open_engine(url: str, label: str) -> sa.Engine:
    """An engine for ``url`` that has answered once; ConfigError naming ``label`` otherwise."""
    try:
        parsed = sa.engine.make_url(url)
    except ArgumentError:
        raise ConfigError(f"{label} {url!r} is not a valid SQLAlchemy URL") from None
    masked = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() not in SUPPORTED_BACKENDS:
        names = ", ".join(sorted(SUPPORTED_BACKENDS))
        raise ConfigError(f"{label} {masked}: unsupported database (supported: {names})")
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite and (not parsed.database or not Path(parsed.database).is_file()):
        raise ConfigError(f"{label} {masked}: no such SQLite file")
    try:
        engine = sa.create_engine(
            parsed,
            **({"connect_args": {"timeout": 30}} if sqlite else {"pool_pre_ping": True}),
        )
    except (NoSuchModuleError, ImportError) as error:
        raise ConfigError(f"{label} {masked}: no driver for it ({error})") from None
    if sqlite:

        @sa.event.listens_for(engine, "connect")
        def _configure(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA busy_timeout = 30000")
            cursor.close()

    try:
        with engine.connect():
            pass
    except SQLAlchemyError as error:
        engine.dispose()
        raise ConfigError(
            f"{label} {masked}: cannot connect ({error.__class__.__name__})"
        ) from None
    return engine
