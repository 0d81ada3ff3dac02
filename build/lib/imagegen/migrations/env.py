"""Alembic environment for the SQLModel layer's schema.

Online use takes the connection from ``config.attributes["connection"]`` when
the caller provides one (``imagegen.db.migrate`` does, so a programmatic
upgrade runs on the caller's engine and transaction), otherwise it builds an
engine with :func:`imagegen.db.engine.create_engine` from ``-x url=...``,
``SHADOW_DATABASE_URL`` or ``sqlalchemy.url``.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import context

from imagegen.db import migrate
from imagegen.db.engine import create_engine
from imagegen.db.tables import metadata

config = context.config


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    url = url or os.environ.get("SHADOW_DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("no database URL: pass -x url=... or set SHADOW_DATABASE_URL")
    return url


def _configure(**kwargs: object) -> None:
    context.configure(target_metadata=metadata, **migrate.ENVIRONMENT_OPTIONS, **kwargs)


def run_migrations_offline() -> None:
    """Emit the migration SQL for a URL without connecting."""
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: sa.Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the caller's connection, or on a new engine for the URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(_url(), poolclass=sa.NullPool)
    try:
        with engine.connect() as new_connection:
            _run(new_connection)
            new_connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
