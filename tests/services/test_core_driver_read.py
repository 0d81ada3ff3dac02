"""Point reads on SQLite's driver (services.core._driver_read) give what SQLAlchemy gives."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from imagegen.db.engine import create_engine, create_schema
from imagegen.db.tables import metadata
from imagegen.services.core._base import CoreService, flag
from imagegen.services.core._driver_read import DriverRead
from shadow import FixedClock, SequentialIds

_users = metadata.tables["users"]
_settings = metadata.tables["app_settings"]


def _seed(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            _users.insert(),
            [
                {"user_id": "u1", "email": "a@example.com", "is_admin": True, "password_hash": "x"},
                {
                    "user_id": "u2",
                    "email": "b@example.com",
                    "is_admin": False,
                    "password_hash": "x",
                },
            ],
        )


def test_rows_match_the_execution_layer_with_types_processed(sqlite_engine: sa.Engine) -> None:
    """Booleans, aware timestamps, labels and literal binds come out as SQLAlchemy returns them."""
    _seed(sqlite_engine)
    statement = (
        sa.select(_users.c.user_id, flag(_users.c.is_admin), _users.c.created_at)
        .where(_users.c.email.like(sa.bindparam("pattern")), _users.c.user_id != "nobody")
        .order_by(_users.c.user_id)
    )
    with sqlite_engine.connect() as connection:
        expected = [
            dict(row)
            for row in connection.execute(statement, {"pattern": "%@example.com"}).mappings()
        ]
    read = DriverRead(statement, sqlite_engine)
    rows = read.all({"pattern": "%@example.com"})
    assert rows == expected and len(rows) == 2
    assert rows[0]["is_admin"] is True and rows[1]["is_admin"] is False
    assert isinstance(rows[0]["created_at"], datetime) and rows[0]["created_at"].tzinfo is not None
    assert read.first({"pattern": "b%"}) == expected[1]
    assert read.first({"pattern": "none"}) is None


def test_aware_datetime_parameters_go_through_the_types_bind_processing(
    sqlite_engine: sa.Engine,
) -> None:
    """A datetime bound to a timestamp column is matched as the column's stored text
    (sqlite3's own adapter would render it differently and find no row)."""
    _seed(sqlite_engine)
    with sqlite_engine.begin() as connection:
        connection.execute(
            _users.update()
            .where(_users.c.user_id == "u1")
            .values(created_at=datetime(2021, 1, 1, 12, 30, tzinfo=UTC))
        )
    statement = sa.select(_users.c.user_id).where(_users.c.created_at == sa.bindparam("at"))
    at = {"at": datetime(2021, 1, 1, 12, 30, tzinfo=UTC)}
    with sqlite_engine.connect() as connection:
        expected = [row[0] for row in connection.execute(statement, at)]
    assert expected == ["u1"]
    assert [row["user_id"] for row in DriverRead(statement, sqlite_engine).all(at)] == expected


def test_a_driver_read_is_its_statement_alone_and_keeps_no_snapshot(
    sqlite_engine: sa.Engine,
) -> None:
    """No BEGIN or ROLLBACK around the one statement (each would be one more driver
    call), and a read of the first row only keeps no snapshot open afterwards: a
    checkpoint by another connection then goes through the whole log."""
    _seed(sqlite_engine)
    engine = create_engine(sqlite_engine.url, poolclass=sa.StaticPool)
    try:
        raw = engine.raw_connection()
        driver = raw.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        raw.close()
        issued: list[str] = []
        driver.set_trace_callback(issued.append)
        read = DriverRead(sa.select(_users.c.user_id).order_by(_users.c.user_id), engine)
        assert [row["user_id"] for row in read.all({})] == ["system", "u1", "u2"]
        assert read.first({}) == {"user_id": "system"}
        assert len(issued) == 2 and all(sql.startswith("SELECT") for sql in issued), issued
        with closing(sqlite3.connect(str(sqlite_engine.url.database))) as other:
            other.execute("UPDATE users SET display_name = 'x' WHERE user_id = 'u1'")
            other.commit()
            busy, _, _ = other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0
    finally:
        engine.dispose()


def test_statements_whose_sql_depends_on_the_parameters_are_refused(
    sqlite_engine: sa.Engine,
) -> None:
    """An expanding IN list is rendered per call: it must stay on the execution layer."""
    statement = sa.select(_users.c.user_id).where(
        _users.c.user_id.in_(sa.bindparam("ids", expanding=True))
    )
    with pytest.raises(ValueError, match="depends on its parameters"):
        DriverRead(statement, sqlite_engine)


def test_driver_errors_are_wrapped_as_sqlalchemy_wraps_them(tmp_path: Path) -> None:
    """Callers catch sqlalchemy.exc types whichever path a read took; a replaced file is noticed."""
    path = tmp_path / "gone.db"
    built = create_engine(f"sqlite:///{path}")
    create_schema(built)
    built.dispose()
    engine = create_engine(f"sqlite:///{path}", must_exist=True)
    try:
        read = DriverRead(
            sa.select(_settings.c.value).where(_settings.c.key == sa.bindparam("key")), engine
        )
        assert read.first({"key": "missing"}) is None
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        with pytest.raises(sa.exc.OperationalError, match="deleted or replaced"):
            read.first({"key": "missing"})
    finally:
        engine.dispose()


def test_a_service_read_whose_sql_depends_on_its_parameters_takes_the_execution_layer(
    sqlite_engine: sa.Engine,
) -> None:
    """CoreService reads fall back for what the driver path refuses, with the same rows."""
    _seed(sqlite_engine)
    service = CoreService(sqlite_engine, ids=SequentialIds("t"), clock=FixedClock())
    expanding = sa.select(_users.c.user_id).where(
        _users.c.user_id.in_(sa.bindparam("ids", expanding=True))
    )
    plain = sa.select(_users.c.user_id).where(_users.c.user_id == sa.bindparam("id"))
    rows = service._reads.all(expanding, {"ids": ["u2", "u1"]})
    assert sorted(row["user_id"] for row in rows) == ["u1", "u2"]
    assert service._reads.driver_read(expanding) is None
    assert service._reads.driver_read(plain) is not None
    assert service._reads.one(plain, {"id": "u2"}) == {"user_id": "u2"}


def test_reads_together_see_one_state_in_one_read_transaction(sqlite_engine: sa.Engine) -> None:
    """On the driver path the statements share one BEGIN ... ROLLBACK on one connection:
    a commit by another connection between them is not seen by the second."""
    _seed(sqlite_engine)
    engine = create_engine(sqlite_engine.url, poolclass=sa.StaticPool)
    try:
        service = CoreService(engine, ids=SequentialIds("t"), clock=FixedClock())
        names = sa.select(_users.c.user_id).order_by(_users.c.user_id)
        count = sa.select(sa.func.count().label("count")).select_from(_users)
        raw = engine.raw_connection()
        driver = raw.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        raw.close()
        issued: list[str] = []
        driver.set_trace_callback(issued.append)
        with service._reads.together(names, count, reader=service._reader) as reads:
            rows = reads.all(names, {})
            with closing(sqlite3.connect(str(sqlite_engine.url.database))) as other:
                other.execute(
                    "INSERT INTO users (user_id, email, password_hash) VALUES ('u3', 'c@x', 'x')"
                )
                other.commit()
            counted = reads.one(count, {})
        assert [row["user_id"] for row in rows] == ["system", "u1", "u2"]
        assert counted == {"count": 3}  # the state the first statement saw, not u3's
        assert issued[0] == "BEGIN DEFERRED" and issued[-1] == "ROLLBACK", issued
        assert sum(sql.startswith("SELECT") for sql in issued) == 2, issued
        assert service._reads.one(count, {}) == {"count": 4}
    finally:
        engine.dispose()


def test_reads_together_fall_back_to_the_reader_when_one_is_refused(
    sqlite_engine: sa.Engine,
) -> None:
    """One statement off the driver path sends them all through one SQLAlchemy
    connection of ``reader``, with the same rows as mappings."""
    _seed(sqlite_engine)
    service = CoreService(sqlite_engine, ids=SequentialIds("t"), clock=FixedClock())
    expanding = sa.select(_users.c.user_id).where(
        _users.c.user_id.in_(sa.bindparam("ids", expanding=True))
    )
    plain = sa.select(_users.c.email).where(_users.c.user_id == sa.bindparam("id"))
    with service._reads.together(expanding, plain, reader=service._reader) as reads:
        rows = reads.all(expanding, {"ids": ["u2", "u1"]})
        one = reads.one(plain, {"id": "u2"})
        missing = reads.one(plain, {"id": "nobody"})
    assert sorted(row["user_id"] for row in rows) == ["u1", "u2"]
    assert one is not None and dict(one) == {"email": "b@example.com"}
    assert missing is None


def test_reads_together_check_the_file_and_wrap_driver_errors(tmp_path: Path) -> None:
    """A deleted file fails the BEGIN as the execution layer's would; the connection goes back."""
    path = tmp_path / "gone.db"
    built = create_engine(f"sqlite:///{path}")
    create_schema(built)
    built.dispose()
    engine = create_engine(f"sqlite:///{path}", must_exist=True)
    try:
        service = CoreService(engine, ids=SequentialIds("t"), clock=FixedClock())
        value = sa.select(_settings.c.value).where(_settings.c.key == sa.bindparam("key"))
        with service._reads.together(value, reader=service._reader) as reads:
            assert reads.one(value, {"key": "missing"}) is None
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        with (
            pytest.raises(sa.exc.OperationalError, match="deleted or replaced"),
            service._reads.together(value, reader=service._reader) as reads,
        ):
            reads.one(value, {"key": "missing"})
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        engine.dispose()


def test_parameters_resolve_as_construct_params_resolves_them(sqlite_engine: sa.Engine) -> None:
    """A bind's own value (a literal, a callable) fills what the caller does not give; a
    bind used twice is bound twice; a missing required one raises SQLAlchemy's error."""
    _seed(sqlite_engine)
    statement = (
        sa.select(_users.c.user_id)
        .where(
            sa.or_(_users.c.user_id == sa.bindparam("id"), _users.c.email == sa.bindparam("id")),
            _users.c.user_id != sa.bindparam("excluded", callable_=lambda: "u1"),
        )
        .order_by(_users.c.user_id)
        .limit(5)
    )
    read = DriverRead(statement, sqlite_engine)
    for params in ({"id": "u2"}, {"id": "u1"}, {"id": "a@example.com", "excluded": "none"}):
        with sqlite_engine.connect() as connection:
            expected = [dict(row) for row in connection.execute(statement, params).mappings()]
        assert read.all(params) == expected, params
    assert read.all({"id": "u2"}) == [{"user_id": "u2"}]
    assert read.all({"id": "a@example.com", "excluded": "none"}) == [{"user_id": "u1"}]
    with pytest.raises(sa.exc.InvalidRequestError, match="A value is required"):
        read.all({})
