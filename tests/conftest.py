"""Shared fixtures: a fresh, migrated database per test on every backend.

``backend`` runs a test four times: on the legacy layer (raw sqlite3) and on
the SQLModel layer over SQLite, PostgreSQL and MariaDB. ``make_pair`` builds a
legacy database and a SQLModel SQLite database with identical seed rows, for
differential tests.

Isolation, and what it costs (measured on the 2-core CI machine):

* Legacy SQLite: a new file under ``tmp_path`` per test, built by the real
  migrator (about 40 ms).
* SQLModel SQLite: Alembic builds the schema once per run into a template file
  (about 1 s with Alembic's start-up); each test gets a copy of it under
  ``tmp_path`` (about 1 ms). Building per test cost about 0.15 s.
* PostgreSQL and MariaDB: Alembic builds the schema once per run into a
  database ``shadow_t_<pid>``; before each test every table is emptied, the
  queue's id counter restarted at 1 and the seed rows reinserted (a few tens of
  milliseconds). Tests run one at a time in a process, so each starts from a
  fresh, seeded store. Measured alternatives were too slow under load: a
  PostgreSQL database per test from a template costs 30 ms on an idle machine
  but over 1 s when the machine is busy (DROP DATABASE forces a checkpoint);
  building the schema per test costs about 2.5 s on MariaDB, whose DDL
  statements each commit. Tests that change the schema itself use
  ``empty_database``, which creates a database of their own.

Database names carry the pid, so concurrent runs on the same servers never see
each other; databases left behind by a killed run (whose pid is gone) are
dropped at the start of the next run. Server URLs come from
``SHADOW_TEST_POSTGRES_URL`` and ``SHADOW_TEST_MARIADB_URL``. An unreachable
server skips its tests locally and fails them when ``CI=true``.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings

from imagegen.db import seed
from imagegen.db.backfill import copy_rows
from imagegen.db.engine import create_engine, create_schema
from imagegen.db.legacy import LegacyDatabase, open_legacy
from imagegen.db.tables import AppSettingTable, UserTable, metadata
from shadow import FixedClock, SequentialIds

POSTGRES_URL = os.environ.get(
    "SHADOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MARIADB_URL = os.environ.get("SHADOW_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
IN_CI = os.environ.get("CI", "").lower() == "true"

_PREFIX = "shadow_t_"
_SHARED = f"{_PREFIX}{os.getpid()}"
_counter = itertools.count(1)

T = TypeVar("T")

# Property tests check behaviour, never speed: on a loaded two-core machine an
# example can take longer than Hypothesis's 200 ms deadline, or generating
# them trip its too-slow health check, without anything being wrong.
settings.register_profile("shadow", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("shadow")


@dataclass
class Backend:
    """One backend a contract test runs on, with fresh ids and clock."""

    name: str
    ids: SequentialIds
    clock: FixedClock
    legacy_db: LegacyDatabase | None
    engine: sa.Engine | None

    @property
    def is_legacy(self) -> bool:
        """True for the raw-sqlite3 legacy layer."""
        return self.legacy_db is not None

    def build(self, legacy_cls: Callable[..., T], orm_cls: Callable[..., T], **kwargs: Any) -> T:
        """Construct the implementation for this backend with ``ids=``, ``clock=`` and kwargs."""
        if self.legacy_db is not None:
            return legacy_cls(self.legacy_db, ids=self.ids, clock=self.clock, **kwargs)
        assert self.engine is not None
        return orm_cls(self.engine, ids=self.ids, clock=self.clock, **kwargs)


def _unreachable(what: str, error: Exception) -> None:
    message = f"{what} is unreachable: {type(error).__name__}: {str(error).splitlines()[0]}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def _masked(url: str) -> str:
    return sa.make_url(url).render_as_string(hide_password=True)


def _with_database(url: str, database: str) -> sa.URL:
    return sa.make_url(url).set(database=database)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stale(names: list[str]) -> list[str]:
    """Databases of this suite whose run (pid) no longer exists."""
    stale = []
    for name in names:
        match = re.fullmatch(r"shadow_(?:t|tpl)_(\d+)(?:_\d+)?", name)
        if match and int(match.group(1)) != os.getpid() and not _pid_alive(int(match.group(1))):
            stale.append(name)
    return stale


class _Server:
    """An admin connection to one database server, creating and dropping test databases."""

    def __init__(self, url: str, what: str) -> None:
        self.url = url
        self.what = what
        self.admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        self.error: Exception | None = None
        try:
            with self.admin.connect() as connection:
                self.dialect = connection.dialect.name
                self._drop_stale(connection)
        except sa.exc.DBAPIError as error:
            self.error = error

    def _drop_stale(self, connection: sa.Connection) -> None:
        if self.dialect == "postgresql":
            names = connection.exec_driver_sql(
                "SELECT datname FROM pg_database WHERE datname LIKE 'shadow\\_%%'"
            ).scalars()
        else:
            names = connection.exec_driver_sql("SHOW DATABASES LIKE 'shadow\\_%%'").scalars()
        for name in _stale(list(names)):
            self.drop(name, connection)

    def require(self) -> None:
        if self.error is not None:
            _unreachable(self.what, self.error)

    def execute(self, sql: str) -> None:
        with self.admin.connect() as connection:
            connection.exec_driver_sql(sql)

    def drop(self, name: str, connection: sa.Connection | None = None) -> None:
        force = " WITH (FORCE)" if self.dialect == "postgresql" else ""
        sql = f"DROP DATABASE IF EXISTS {name}{force}"
        if connection is None:
            self.execute(sql)
        else:
            connection.exec_driver_sql(sql)

    def engine(self, name: str) -> sa.Engine:
        return create_engine(_with_database(self.url, name))


def _shared_server(url: str, what: str) -> Iterator[_Server]:
    """A server with this run's shared database, migrated once by Alembic."""
    server = _Server(url, what)
    built = False
    if server.error is None:
        server.execute(f"CREATE DATABASE {_SHARED}")
        built = True
        engine = server.engine(_SHARED)
        try:
            create_schema(engine)
        finally:
            engine.dispose()
    yield server
    if built:
        server.drop(_SHARED)
    server.admin.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[_Server]:
    """The PostgreSQL server, with this run's shared database holding the schema."""
    yield from _shared_server(POSTGRES_URL, f"PostgreSQL ({_masked(POSTGRES_URL)})")


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[_Server]:
    """The MariaDB server, with this run's shared database holding the schema."""
    yield from _shared_server(MARIADB_URL, f"MariaDB ({_masked(MARIADB_URL)})")


def _next_auto_increment(connection: sa.Connection) -> int:
    value = connection.exec_driver_sql(
        "SELECT auto_increment FROM information_schema.tables"
        " WHERE table_schema = DATABASE() AND table_name = 'session_queue'"
    ).scalar()
    return int(value or 1)


def _reset(engine: sa.Engine) -> None:
    """Empty every table, restart the queue's ids at 1 and reinsert the seed rows."""
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("ALTER SEQUENCE session_queue_item_id_seq RESTART WITH 1")
        elif _next_auto_increment(connection) != 1:
            # MariaDB: DDL, which commits the deletes above; skipped when unneeded (slow)
            connection.exec_driver_sql("ALTER TABLE session_queue AUTO_INCREMENT = 1")
    with engine.begin() as connection:
        connection.execute(UserTable.__table__.insert().values(**seed.SYSTEM_USER))  # type: ignore[attr-defined]
        connection.execute(
            AppSettingTable.__table__.insert().values(  # type: ignore[attr-defined]
                key=seed.JWT_SECRET_KEY, value=seed.jwt_secret()
            )
        )


def _fresh_engine(server: _Server) -> Iterator[sa.Engine]:
    server.require()
    engine = server.engine(_SHARED)
    try:
        _reset(engine)
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def postgres_engine(postgres_server: _Server) -> Iterator[sa.Engine]:
    """This run's PostgreSQL database, emptied and reseeded for the test."""
    yield from _fresh_engine(postgres_server)


@pytest.fixture
def mariadb_engine(mariadb_server: _Server) -> Iterator[sa.Engine]:
    """This run's MariaDB database, emptied and reseeded for the test."""
    yield from _fresh_engine(mariadb_server)


@pytest.fixture
def empty_database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[str], str]]:
    """A factory of URLs of brand-new empty databases ("sqlite", "postgresql", "mariadb").

    For tests of the schema itself (upgrade, downgrade, drift); each database is
    dropped after the test.
    """
    created: list[tuple[_Server, str]] = []

    def make(backend: str) -> str:
        name = f"{_PREFIX}{os.getpid()}_{next(_counter)}"
        if backend == "sqlite":
            return f"sqlite:///{tmp_path / (name + '.db')}"
        fixture = {"postgresql": "postgres_server", "mariadb": "mariadb_server"}[backend]
        server: _Server = request.getfixturevalue(fixture)
        server.require()
        server.execute(f"CREATE DATABASE {name}")
        created.append((server, name))
        return _with_database(server.url, name).render_as_string(hide_password=False)

    yield make
    for server, name in created:
        server.drop(name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLModel-layer SQLite file built once per run by Alembic, copied by tests."""
    path = tmp_path_factory.mktemp("template") / "orm.db"
    engine = create_engine(f"sqlite:///{path}")
    try:
        create_schema(engine)
    finally:
        engine.dispose()  # closing the last connection checkpoints the WAL into the file
    return path


def _sqlite_copy(template: Path, target: Path) -> sa.Engine:
    shutil.copyfile(template, target)
    return create_engine(f"sqlite:///{target}")


@pytest.fixture
def sqlite_engine(sqlite_template: Path, tmp_path: Path) -> Iterator[sa.Engine]:
    """A fresh SQLModel-layer SQLite database file with the schema."""
    engine = _sqlite_copy(sqlite_template, tmp_path / "orm.db")
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def legacy_db(tmp_path: Path) -> Iterator[LegacyDatabase]:
    """A fresh legacy database file, migrated to the latest version."""
    db = open_legacy(tmp_path / "legacy.db")
    try:
        yield db
    finally:
        db.close()


@pytest.fixture(
    params=[
        "legacy-sqlite",
        "orm-sqlite",
        pytest.param("orm-postgres", marks=pytest.mark.postgres),
        pytest.param("orm-mariadb", marks=pytest.mark.mariadb),
    ]
)
def backend(request: pytest.FixtureRequest) -> Backend:
    """A fresh, migrated database per test, on each of the four backends."""
    name: str = request.param
    fixture = {
        "legacy-sqlite": "legacy_db",
        "orm-sqlite": "sqlite_engine",
        "orm-postgres": "postgres_engine",
        "orm-mariadb": "mariadb_engine",
    }[name]
    store = request.getfixturevalue(fixture)
    legacy = store if isinstance(store, LegacyDatabase) else None
    engine = None if legacy is not None else store
    return Backend(name, SequentialIds(), FixedClock(), legacy, engine)


@pytest.fixture
def make_pair(
    sqlite_template: Path, tmp_path: Path
) -> Iterator[Callable[[], tuple[LegacyDatabase, sa.Engine]]]:
    """A factory of (legacy db, SQLModel SQLite engine) pairs with identical seed rows.

    The SQLModel side's ``users`` and ``app_settings`` rows (the ``system`` user
    and ``jwt_secret``) are replaced by copies of the legacy side's, timestamps
    included.
    """
    opened: list[tuple[LegacyDatabase, sa.Engine]] = []

    def make() -> tuple[LegacyDatabase, sa.Engine]:
        n = len(opened) + 1
        legacy_path = tmp_path / f"pair{n}-legacy.db"
        legacy = open_legacy(legacy_path)
        engine = _sqlite_copy(sqlite_template, tmp_path / f"pair{n}-orm.db")
        opened.append((legacy, engine))
        reader = create_engine(f"sqlite:///{legacy_path}")
        try:
            copy_rows(reader, engine, tables=["users", "app_settings"])
        finally:
            reader.dispose()
        return legacy, engine

    yield make
    for legacy, engine in opened:
        legacy.close()
        engine.dispose()
