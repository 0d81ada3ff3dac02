"""Differential test: random call sequences give equal results on legacy and SQLModel.

Each of 200 seeded sequences runs the same client_state calls on the legacy
service and the SQLModel service (SQLite) and requires equal outcomes. The
prefix listing is declared unordered (keys written in the same second tie), so
it is compared as a sorted list. One database pair serves every sequence; the
table is emptied between sequences. A failure names the seed and step.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from imagegen.db.legacy import LegacyDatabase
from imagegen.services.contracts.client_state import ClientStateService
from imagegen.services.core.client_state import CoreClientStateService
from imagegen.services.legacy.client_state import LegacyClientStateService
from shadow import FixedClock, SequentialIds
from tests.differential import outcome

SEQUENCES = 200
STEPS = 25
USERS = ["alice", "bob"]
MISSING_USER = "ghost"
KEYS = ["a", "A", "a%b", "axb", "a_c", "abc", "a/d", "gallery.size", "Gallery.zoom", "é", "É", ""]
PREFIXES = ["", "a", "A", "a%", "a_", "a/", "gal", "GAL", "é", "É", "zz"]
VALUES = ["", "1", '{"x": 1}', "雨🙂" * 10]


def call(service: ClientStateService, method: str, args: tuple[Any, ...]) -> Any:
    """Run one call; the prefix listing (declared unordered) comes back sorted."""
    result = getattr(service, method)(*args)
    return sorted(result) if method == "get_keys_by_prefix" else result


def _draw(rng: random.Random) -> tuple[str, tuple[Any, ...]]:
    method = rng.choice(
        ["set_by_key"] * 5
        + ["get_by_key"] * 2
        + ["get_keys_by_prefix"] * 3
        + ["delete_by_key"]
        + ["delete"]
    )
    user = rng.choice(USERS) if rng.random() < 0.95 else MISSING_USER
    if method == "set_by_key":
        return method, (user, rng.choice(KEYS), rng.choice(VALUES))
    if method in ("get_by_key", "delete_by_key"):
        return method, (user, rng.choice(KEYS))
    if method == "get_keys_by_prefix":
        return method, (user, rng.choice(PREFIXES))
    return method, (user,)


def _without_fsync(legacy_db: LegacyDatabase, engine: sa.Engine) -> sa.Engine:
    """Skip fsync on both test files: thousands of tiny commits, and nothing to keep."""
    legacy_db.connection.execute("PRAGMA synchronous = OFF")
    engine.dispose()

    @sa.event.listens_for(engine, "connect")
    def _no_sync(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA synchronous = OFF")

    return engine


@pytest.mark.slow
def test_random_sequences_agree_on_legacy_and_sqlmodel(
    make_pair: Callable[[], tuple[LegacyDatabase, sa.Engine]],
) -> None:
    legacy_db, engine = make_pair()
    engine = _without_fsync(legacy_db, engine)
    users_sql = "INSERT INTO users (user_id, email, password_hash) VALUES (?, ?, '')"
    with legacy_db.transaction() as cursor:
        for user in USERS:
            cursor.execute(users_sql, (user, f"{user}@example.test"))
    with engine.begin() as conn:
        for user in USERS:
            conn.exec_driver_sql(users_sql, (user, f"{user}@example.test"))
    legacy: ClientStateService = LegacyClientStateService(
        legacy_db, ids=SequentialIds(), clock=FixedClock()
    )
    orm: ClientStateService = CoreClientStateService(
        engine, ids=SequentialIds(), clock=FixedClock()
    )
    for seed in range(SEQUENCES):
        with legacy_db.transaction() as cursor:
            cursor.execute("DELETE FROM client_state")
        with engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM client_state")
        rng = random.Random(seed)
        for step in range(STEPS):
            method, args = _draw(rng)
            expected = outcome(call, legacy, method, args)
            actual = outcome(call, orm, method, args)
            if expected != actual:
                pytest.fail(
                    f"seed {seed} step {step}: {method}{args!r}\n"
                    f"legacy: {expected!r}\nsqlmodel: {actual!r}"
                )
