"""copy_rows: a candidate store starts as an exact copy of the legacy one."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from imagegen.db.backfill import copy_rows
from imagegen.db.engine import create_engine
from imagegen.db.legacy import LegacyDatabase, open_legacy
from imagegen.db.tables import SessionQueueTable, metadata

queue = SessionQueueTable.__table__  # type: ignore[attr-defined]

MODEL = {
    "key": "m1",
    "hash": "blake3:abc",
    "base": "sdxl",
    "type": "main",
    "path": "/models/m1.safetensors",
    "format": "checkpoint",
    "name": "Model One",
    "source": "/src",
    "source_type": "path",
    "description": None,
    "source_api_response": None,
    "trigger_phrases": None,
    "file_size": 6_938_040_682,
}


@pytest.fixture
def legacy_with_data(tmp_path: Path) -> Iterator[Path]:
    """A legacy store with rows in every table, timestamps in all three legacy formats."""
    path = tmp_path / "legacy.db"
    db = open_legacy(path)
    _fill(db)
    db.close()
    yield path


def _fill(db: LegacyDatabase) -> None:
    with db.transaction() as cur:
        cur.execute(
            "INSERT INTO users (user_id, email, display_name, password_hash, is_admin,"
            " last_login_at) VALUES ('u1', 'a@x', 'A', 'hash', 1, '2026-03-01T10:00:00.5+00:00')"
        )
        cur.execute(
            "INSERT INTO user_sessions (session_id, user_id, token_hash, expires_at)"
            " VALUES ('s1', 'u1', 'th', '2026-04-01T00:00:00+00:00')"
        )
        cur.execute(
            "INSERT INTO user_invitations (invitation_id, email, invited_by, invitation_code,"
            " expires_at) VALUES ('i1', 'b@x', 'u1', 'code', '2026-04-01T00:00:00+00:00')"
        )
        cur.execute(
            "INSERT INTO images (image_name, image_origin, image_category, width, height,"
            " metadata, starred, user_id, created_at) VALUES ('a.png', 'internal', 'general',"
            " 512, 768, '{\"seed\": 1}', 1, 'u1', '2026-02-01 09:08:07.123')"
        )
        cur.execute(
            "INSERT INTO boards (board_id, board_name, cover_image_name, user_id, updated_at)"
            " VALUES ('b1', 'Board', 'a.png', 'u1', '2026-02-02 00:00:01')"
        )
        cur.execute("INSERT INTO board_images (board_id, image_name) VALUES ('b1', 'a.png')")
        cur.execute(
            "INSERT INTO shared_boards (board_id, user_id, can_edit) VALUES ('b1', 'u1', 1)"
        )
        cur.execute("INSERT INTO client_state (user_id, key, value) VALUES ('u1', 'k', 'v')")
        cur.execute(
            "INSERT INTO style_presets (id, name, preset_data) VALUES ('p1', 'P', ?)",
            (json.dumps({"positive_prompt": "x", "negative_prompt": ""}),),
        )
        cur.execute(
            "INSERT INTO workflow_library (workflow_id, workflow) VALUES ('w1', ?)",
            (json.dumps({"name": "W", "description": "", "meta": {"category": "user"}}),),
        )
        cur.execute("INSERT INTO models (id, config) VALUES ('m1', ?)", (json.dumps(MODEL),))
        cur.execute(
            "INSERT INTO models (id, config) VALUES ('m2', ?)",
            (json.dumps({**MODEL, "key": "m2", "path": "/models/m2"}),),
        )
        cur.execute(
            "INSERT INTO model_relationships VALUES ('m1', 'm2', '2026-01-01 00:00:00.000')"
        )
        for n in range(1, 5):
            cur.execute(
                "INSERT INTO session_queue (batch_id, queue_id, session_id, session, status)"
                " VALUES ('b', 'default', ?, '{}', ?)",
                (f"s{n}", "completed" if n < 3 else "pending"),
            )
        cur.execute("DELETE FROM session_queue WHERE item_id = 4")  # the counter stays at 4


def _rows(engine: sa.Engine) -> dict[str, list[dict[str, Any]]]:
    with engine.connect() as connection:
        return {
            table.name: [
                dict(row)
                for row in connection.execute(
                    sa.select(table).order_by(*table.primary_key.columns)
                ).mappings()
            ]
            for table in metadata.sorted_tables
        }


@pytest.fixture(
    params=[
        "sqlite_engine",
        pytest.param("postgres_engine", marks=pytest.mark.postgres),
        pytest.param("mariadb_engine", marks=pytest.mark.mariadb),
    ]
)
def target(request: pytest.FixtureRequest) -> sa.Engine:
    """A migrated SQLModel store on each backend."""
    engine: sa.Engine = request.getfixturevalue(request.param)
    return engine


def test_copy_makes_every_table_equal_and_continues_the_queue_ids(
    legacy_with_data: Path, target: sa.Engine
) -> None:
    source = create_engine(f"sqlite:///{legacy_with_data}")
    try:
        counts = copy_rows(source, target)
        expected = _rows(source)
    finally:
        source.dispose()
    assert counts["session_queue"] == 3 and counts["users"] == 2 and len(counts) == 14
    assert _rows(target) == expected, "same values, timestamps as the same instants"
    with target.begin() as connection:
        connection.execute(
            queue.insert().values(batch_id="b", queue_id="default", session_id="s5", session="{}")
        )
        new_id = connection.execute(
            sa.select(queue.c.item_id).where(queue.c.session_id == "s5")
        ).scalar_one()
    assert new_id == 5, "the legacy counter had reached 4 (item 4 was deleted)"


def test_copy_replaces_target_rows_and_can_be_limited_to_some_tables(
    make_pair: Callable[[], tuple[LegacyDatabase, sa.Engine]],
) -> None:
    legacy, engine = make_pair()
    with legacy.transaction() as cur:
        (secret,) = cur.execute("SELECT value FROM app_settings").fetchone()
    with engine.connect() as connection:
        copied = connection.exec_driver_sql("SELECT value FROM app_settings").scalar_one()
        users = connection.exec_driver_sql("SELECT COUNT(*) FROM users").scalar_one()
    assert copied == secret, "make_pair seeds both sides identically"
    assert users == 1


def test_unknown_table_is_refused(sqlite_engine: sa.Engine) -> None:
    with pytest.raises(ValueError, match="unknown tables"):
        copy_rows(sqlite_engine, sqlite_engine, tables=["nope"])
