"""Differential test: random call sequences give equal results on legacy and SQLModel.

Each of 200 seeded sequences runs the same app_settings calls on the legacy
service and the SQLModel service (SQLite), whose seed rows (the jwt secret
included) are identical, and requires equal outcomes. One database pair serves
every sequence; every setting but the jwt secret is deleted between sequences.
A failure names the seed and step (never a setting's value: they may be secret).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from imagegen.db.legacy import LegacyDatabase
from imagegen.services.contracts.app_settings import JWT_SECRET_KEY, AppSettingsService
from imagegen.services.core.app_settings import CoreAppSettingsService
from imagegen.services.legacy.app_settings import LegacyAppSettingsService
from shadow import FixedClock, SequentialIds
from tests.differential import outcome

SEQUENCES = 200
STEPS = 25
KEYS = ["theme", "Theme", "x%y", "x_y", "ключ", "", JWT_SECRET_KEY]
VALUES = ["", "dark", "light", "0" * 64, "値🙂" * 100]


def _draw(rng: random.Random) -> tuple[str, tuple[Any, ...]]:
    method = rng.choice(["set", "set", "get", "get", "get_jwt_secret", "drop_secret"])
    if method == "set":
        return method, (rng.choice(KEYS), rng.choice(VALUES))
    if method == "get":
        return method, (rng.choice(KEYS),)
    return method, ()


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
    legacy: AppSettingsService = LegacyAppSettingsService(
        legacy_db, ids=SequentialIds(), clock=FixedClock()
    )
    orm: AppSettingsService = CoreAppSettingsService(
        engine, ids=SequentialIds(), clock=FixedClock()
    )
    assert legacy.get_jwt_secret() == orm.get_jwt_secret()
    seeded_secret = legacy.get_jwt_secret()
    for seed in range(SEQUENCES):
        for service in (legacy, orm):
            service.set(JWT_SECRET_KEY, seeded_secret)
        with legacy_db.transaction() as cursor:
            cursor.execute("DELETE FROM app_settings WHERE key <> ?", (JWT_SECRET_KEY,))
        with engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM app_settings WHERE key <> ?", (JWT_SECRET_KEY,))
        rng = random.Random(seed)
        for step in range(STEPS):
            method, args = _draw(rng)
            if method == "drop_secret":
                # Not a service call: removes the seed row on both sides, so the
                # "absent secret" error path is exercised too.
                with legacy_db.transaction() as cursor:
                    cursor.execute("DELETE FROM app_settings WHERE key = ?", (JWT_SECRET_KEY,))
                with engine.begin() as conn:
                    conn.exec_driver_sql(
                        "DELETE FROM app_settings WHERE key = ?", (JWT_SECRET_KEY,)
                    )
                continue
            expected = outcome(getattr(legacy, method), *args)
            actual = outcome(getattr(orm, method), *args)
            if expected != actual:
                pytest.fail(
                    f"seed {seed} step {step}: {method} on key "
                    f"{args[0] if args else None!r} differs (values withheld)"
                )
