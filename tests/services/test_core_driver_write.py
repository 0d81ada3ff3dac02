"""Write transactions on SQLite's driver (services.core._driver_write) do what SQLAlchemy does."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from imagegen.db.engine import create_engine, create_schema
from imagegen.db.tables import metadata
from imagegen.services.contracts.session_queue import Batch
from imagegen.services.core._base import CoreService, flag
from imagegen.services.core._driver_write import DriverResult, DriverTransaction
from imagegen.services.core.client_state import CoreClientStateService
from imagegen.services.core.group_commit import CoreServices
from imagegen.services.core.session_queue import CoreSessionQueueService
from imagegen.services.errors import NotFoundError
from shadow import FixedClock, SequentialIds

_users = metadata.tables["users"]
_settings = metadata.tables["app_settings"]

_INSERT_USER = _users.insert()
_USER_BY_ID = sa.select(_users.c.user_id, flag(_users.c.is_admin), _users.c.created_at).where(
    _users.c.user_id == sa.bindparam("uid")
)
_STAMP = (
    _users.update()
    .where(_users.c.user_id == sa.bindparam("uid"))
    .values(created_at=sa.bindparam("at"))
    .returning(_users.c.user_id, _users.c.created_at)
)


def _service(engine: sa.Engine) -> CoreService:
    return CoreService(engine, ids=SequentialIds("t"), clock=FixedClock())


def _user(user_id: str, **values: Any) -> dict[str, Any]:
    return {"user_id": user_id, "email": f"{user_id}@example.com", "password_hash": "x", **values}


def _stored_ids(engine: sa.Engine) -> list[str]:
    """The user ids in the file, read by a connection of another library's making."""
    with closing(sqlite3.connect(str(engine.url.database))) as other:
        return [row[0] for row in other.execute("SELECT user_id FROM users ORDER BY user_id")]


def _executions(engine: sa.Engine) -> list[str]:
    """Statements SQLAlchemy's execution layer runs on ``engine`` from now on."""
    seen: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    return seen


def test_a_write_runs_on_the_driver_and_commits(sqlite_engine: sa.Engine) -> None:
    """No statement goes through the execution layer; another connection sees the commit."""
    seen = _executions(sqlite_engine)
    service = _service(sqlite_engine)
    with service._writes.begin() as conn:
        assert isinstance(conn, DriverTransaction)
        result = conn.execute(_INSERT_USER, _user("u1", is_admin=True))
        assert result.rowcount == 1
        row = conn.execute(_USER_BY_ID, {"uid": "u1"}).one()
    assert seen == []
    assert (row.user_id, row.is_admin) == ("u1", True)
    assert "u1" in _stored_ids(sqlite_engine)


def test_results_are_sqlalchemys_rows_with_the_types_processed(sqlite_engine: sa.Engine) -> None:
    """RETURNING and SELECT rows, bind and result processing, rowcount: as the layer's."""
    service = _service(sqlite_engine)
    at = datetime(2021, 1, 1, 12, 30, tzinfo=UTC)
    with sqlite_engine.begin() as connection:
        connection.execute(_INSERT_USER, [_user("u1", is_admin=False), _user("u2", is_admin=True)])
        expected_stamp = connection.execute(_STAMP, {"uid": "u1", "at": at}).all()
        expected_row = connection.execute(_USER_BY_ID, {"uid": "u2"}).mappings().one()
        expected_count = connection.execute(_users.update().values(display_name="x"), {}).rowcount
    with service._writes.begin() as conn:
        stamp = conn.execute(_STAMP, {"uid": "u1", "at": at})
        assert isinstance(stamp, DriverResult)
        stamped = stamp.all()
        row = conn.execute(_USER_BY_ID, {"uid": "u2"}).mappings().one()
        count = conn.execute(_users.update().values(display_name="y")).rowcount
        missing = conn.execute(_USER_BY_ID, {"uid": "nobody"}).one_or_none()
        scalar = conn.execute(sa.select(_users.c.created_at).where(_users.c.user_id == "u1"))
        created = scalar.scalar_one()
    assert stamped == expected_stamp and isinstance(stamped[0], sa.Row)
    assert stamped[0].created_at == at and stamped[0].created_at.tzinfo is not None
    assert dict(row) == dict(expected_row) and row["is_admin"] is True
    assert count == expected_count == 3  # the system user and the two
    assert missing is None
    assert created == at


def test_an_insert_names_the_columns_given_as_the_execution_layer_does(
    sqlite_engine: sa.Engine,
) -> None:
    """The SQL run is SQLAlchemy's compilation with the call's parameter names as column
    keys: an insert without a column leaves it to the server default, one with it sets it."""
    service = _service(sqlite_engine)
    traced: list[str] = []
    with sqlite_engine.begin() as connection:
        compiled = {
            keys: str(_INSERT_USER.compile(dialect=connection.dialect, column_keys=sorted(keys)))
            for keys in (frozenset(_user("a")), frozenset(_user("a", is_admin=True)))
        }
    reader = sqlite_engine.pool.reader()  # type: ignore[attr-defined]
    reader.driver.set_trace_callback(traced.append)
    reader.release()
    with service._writes.begin() as conn:
        conn.execute(_INSERT_USER, _user("plain"))
        conn.execute(_INSERT_USER, _user("admin", is_admin=True))
    inserts = [statement for statement in traced if statement.startswith("INSERT")]
    assert [statement.split(" VALUES")[0] for statement in inserts] == [
        sql.split(" VALUES")[0] for sql in compiled.values()
    ]
    assert traced[0] == "BEGIN IMMEDIATE" and traced[-1] == "COMMIT"
    with sqlite_engine.connect() as connection:
        admins = dict(connection.execute(sa.select(_users.c.user_id, _users.c.is_admin)).all())
    assert admins["plain"] is False and admins["admin"] is True


def test_driver_errors_are_sqlalchemys_and_roll_the_transaction_back(
    sqlite_engine: sa.Engine,
) -> None:
    """A duplicate key is sqlalchemy.exc.IntegrityError; what the transaction wrote before
    it is gone, and the writer lock is free for the next write (another thread's too)."""
    service = _service(sqlite_engine)
    with service._writes.begin() as conn:
        conn.execute(_INSERT_USER, _user("u1"))
    with pytest.raises(sa.exc.IntegrityError) as raised, service._writes.begin() as conn:
        conn.execute(_INSERT_USER, _user("u2"))
        conn.execute(_INSERT_USER, _user("u1"))
    assert isinstance(raised.value.orig, sqlite3.IntegrityError)
    assert "UNIQUE constraint failed" in str(raised.value)
    assert _stored_ids(sqlite_engine) == ["system", "u1"]
    done: list[str] = []

    def other_thread() -> None:
        with service._writes.begin() as conn:
            conn.execute(_INSERT_USER, _user("u3"))
        done.append("u3")

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join(timeout=10)
    assert done == ["u3"]


def test_an_error_in_the_block_rolls_back(sqlite_engine: sa.Engine) -> None:
    service = _service(sqlite_engine)
    with pytest.raises(NotFoundError), service._writes.begin() as conn:
        conn.execute(_INSERT_USER, _user("u1"))
        raise NotFoundError("user", "u1")
    assert _stored_ids(sqlite_engine) == ["system"]
    with service._writes.begin() as conn:  # the lock was freed
        conn.execute(_INSERT_USER, _user("u2"))
    assert _stored_ids(sqlite_engine) == ["system", "u2"]


def test_a_failed_commit_rolls_back_and_frees_the_writer_lock(tmp_path: Path) -> None:
    """A deferred foreign key fails at COMMIT, which leaves SQLite's transaction open: it is
    rolled back (as SQLAlchemy's pool would at the connection's return) and the lock freed."""
    path = tmp_path / "deferred.db"
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
            connection.exec_driver_sql(
                "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER"
                " REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
            )
        child = sa.Table(
            "child", sa.MetaData(), sa.Column("id", sa.Integer), sa.Column("parent_id", sa.Integer)
        )
        service = _service(engine)
        with (
            pytest.raises(sa.exc.IntegrityError, match="FOREIGN KEY"),
            service._writes.begin() as conn,
        ):
            conn.execute(child.insert(), {"id": 1, "parent_id": 99})
        with service._writes.begin() as conn:
            conn.execute(child.insert(), {"id": 2, "parent_id": None})
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT id FROM child").scalars().all() == [2]
    finally:
        engine.dispose()


def test_statements_whose_sql_depends_on_the_parameters_are_refused(
    sqlite_engine: sa.Engine,
) -> None:
    """An expanding IN cannot run here (TypeError), and what came before it is rolled back."""
    service = _service(sqlite_engine)
    delete = _users.delete().where(_users.c.user_id.in_(sa.bindparam("ids", expanding=True)))
    with (
        pytest.raises(TypeError, match="depends on its parameters"),
        service._writes.begin() as conn,
    ):
        conn.execute(_INSERT_USER, _user("u1"))
        conn.execute(delete, {"ids": ["u1"]})
    assert _stored_ids(sqlite_engine) == ["system"]


def test_a_deleted_file_is_noticed_before_the_write(tmp_path: Path) -> None:
    path = tmp_path / "gone.db"
    built = create_engine(f"sqlite:///{path}")
    create_schema(built)
    built.dispose()
    engine = create_engine(f"sqlite:///{path}", must_exist=True)
    try:
        service = _service(engine)
        with service._writes.begin() as conn:
            conn.execute(_INSERT_USER, _user("u1"))
        path.unlink()
        with (
            pytest.raises(sa.exc.OperationalError, match="deleted or replaced"),
            service._writes.begin() as conn,
        ):
            conn.execute(_INSERT_USER, _user("u2"))
    finally:
        engine.dispose()


def test_inside_a_group_commit_writes_join_the_groups_connection(
    sqlite_engine: sa.Engine,
) -> None:
    """In a group a write is the group's (SQLAlchemy's connection, not committed alone):
    rolled back with the group, seen by the group's reads."""
    services = CoreServices({}, sqlite_engine)
    service = _service(sqlite_engine)
    with pytest.raises(RuntimeError, match="group failed"), services.group():
        with service._writes.begin() as conn:
            assert isinstance(conn, sa.Connection)
            conn.execute(_INSERT_USER, _user("u1"))
        with service._writer.begin() as conn:
            assert conn.execute(_USER_BY_ID, {"uid": "u1"}).one().user_id == "u1"
        raise RuntimeError("group failed")
    assert _stored_ids(sqlite_engine) == ["system"]


def test_engines_not_built_here_keep_the_execution_layer(tmp_path: Path) -> None:
    """An engine of plain sqlalchemy.create_engine has none of the dialect's recipe."""
    path = tmp_path / "plain.db"
    built = create_engine(f"sqlite:///{path}")
    create_schema(built)
    built.dispose()
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with _service(engine)._writes.begin() as conn:
            assert isinstance(conn, sa.Connection)
            conn.execute(_INSERT_USER, _user("u1"))
        assert "u1" in _stored_ids(engine)
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "backend_engine",
    [
        "sqlite_engine",
        pytest.param("postgres_engine", marks=pytest.mark.postgres),
        pytest.param("mariadb_engine", marks=pytest.mark.mariadb),
    ],
)
def test_a_services_write_behaves_alike_on_every_backend(
    backend_engine: str, request: pytest.FixtureRequest
) -> None:
    """client_state.set_by_key on each backend: stored, replaced, and a foreign-key
    violation (an unknown user) is the service's NotFoundError on the driver path too."""
    engine: sa.Engine = request.getfixturevalue(backend_engine)
    service = CoreClientStateService(engine, ids=SequentialIds("t"), clock=FixedClock())
    with engine.begin() as connection:
        connection.execute(_INSERT_USER, _user("u1"))
    on_driver = engine.dialect.name == "sqlite"
    with service._writes.begin() as conn:
        assert isinstance(conn, DriverTransaction) is on_driver
    assert service.set_by_key("u1", "k", "v1") == "v1"
    assert service.set_by_key("u1", "k", "v2") == "v2"
    assert service.get_by_key("u1", "k") == "v2"
    with pytest.raises(NotFoundError):
        service.set_by_key("nobody", "k", "v")
    assert service.get_by_key("nobody", "k") is None


def _traced(engine: sa.Engine) -> list[str]:
    """Statements the calling thread's own connection runs from now on."""
    traced: list[str] = []
    reader = engine.pool.reader()  # type: ignore[attr-defined]
    reader.driver.set_trace_callback(traced.append)
    reader.release()
    return traced


def test_an_empty_queues_dequeue_takes_no_write_transaction(sqlite_engine: sa.Engine) -> None:
    """The worker's empty polls read, and take neither the writer lock nor BEGIN IMMEDIATE;
    with an item pending the claim runs as before, and in a group it is the group's."""
    queue = CoreSessionQueueService(sqlite_engine, ids=SequentialIds("q"), clock=FixedClock())
    traced = _traced(sqlite_engine)
    assert queue.dequeue() is None
    assert traced and not any(statement.startswith("BEGIN") for statement in traced)
    queue.enqueue_batch("default", Batch(graph={"nodes": {}, "edges": []}, runs=2))
    traced.clear()
    first = queue.dequeue()
    assert first is not None and first.status == "in_progress"
    assert "BEGIN IMMEDIATE" in traced and traced[-1] == "COMMIT"
    with CoreServices({}, sqlite_engine).group():
        second = queue.dequeue()
    assert second is not None and second.item_id != first.item_id
    assert queue.dequeue() is None
    assert queue.get_queue_item(second.item_id).status == "in_progress"
