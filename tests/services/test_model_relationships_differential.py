"""Differential test of model_relationships: legacy and SQLModel give the same results.

A seeded generator plays 200 random call sequences mixing relationship calls
with model registrations and deletions (so unknown keys and the delete cascade
are exercised) on a legacy and a SQLModel SQLite store built by ``make_pair``,
and requires equal results and equal errors call by call. Results are sorted
lists by contract, so they are compared exactly.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from imagegen.db.legacy import LegacyDatabase
from imagegen.services.contracts.model_relationships import ModelRelationshipsService
from imagegen.services.contracts.models import ModelConfig, ModelsService
from imagegen.services.core.model_relationships import CoreModelRelationshipsService
from imagegen.services.core.models import CoreModelsService
from imagegen.services.legacy.model_relationships import LegacyModelRelationshipsService
from imagegen.services.legacy.models import LegacyModelsService
from shadow import FixedClock, SequentialIds
from tests.differential import outcome

SEQUENCES = 200
CALLS = 25
KEYS = ["a", "b", "c", "B", "d_1", "ü"]

Side = tuple[ModelsService, ModelRelationshipsService]


def unsynchronized(legacy_db: LegacyDatabase, engine: sa.Engine) -> None:
    """Skip fsync on both throwaway test stores: thousands of commits stay fast."""
    legacy_db.connection.execute("PRAGMA synchronous = OFF")
    sa.event.listen(
        engine,
        "connect",
        lambda dbapi_connection, _record: dbapi_connection.execute("PRAGMA synchronous = OFF"),
    )
    engine.dispose()


def model(key: str) -> ModelConfig:
    return ModelConfig(
        key=key,
        hash=key,
        base="sd-1",
        type="main",
        path=f"/m/{key}",
        format="checkpoint",
        name=key,
        source="s",
        source_type="path",
        file_size=1,
    )


def random_call(rng: random.Random) -> tuple[str, Callable[[Side], Any]]:
    first, second = rng.choice(KEYS), rng.choice(KEYS)
    kind = rng.choices(
        ["add_model", "del_model", "add", "remove", "related", "batch"],
        weights=[3, 1, 6, 2, 3, 2],
    )[0]
    if kind == "add_model":
        return f"add_model({first})", lambda side: side[0].add_model(model(first)).key
    if kind == "del_model":
        return f"del_model({first})", lambda side: side[0].del_model(first)
    if kind == "add":
        return f"add({first}, {second})", lambda side: side[1].add_model_relationship(first, second)
    if kind == "remove":
        return f"remove({first}, {second})", lambda side: side[1].remove_model_relationship(
            first, second
        )
    if kind == "related":
        return f"related({first})", lambda side: side[1].get_related_model_keys(first)
    keys = rng.sample(KEYS, rng.randint(0, 4))
    return f"batch({keys})", lambda side: side[1].get_related_model_keys_batch(keys)


@pytest.mark.slow
def test_legacy_and_sqlmodel_relationships_agree_on_random_call_sequences(
    make_pair: Callable[[], tuple[LegacyDatabase, sa.Engine]],
) -> None:
    legacy_db, engine = make_pair()
    unsynchronized(legacy_db, engine)
    legacy: Side = (
        LegacyModelsService(legacy_db, ids=SequentialIds("d"), clock=FixedClock()),
        LegacyModelRelationshipsService(legacy_db, ids=SequentialIds("d"), clock=FixedClock()),
    )
    orm: Side = (
        CoreModelsService(engine, ids=SequentialIds("d"), clock=FixedClock()),
        CoreModelRelationshipsService(engine, ids=SequentialIds("d"), clock=FixedClock()),
    )
    for seed in range(SEQUENCES):
        with legacy_db.transaction() as cur:
            cur.execute("DELETE FROM models")
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM models"))
        rng = random.Random(seed)
        for key in rng.sample(KEYS, 4):
            legacy[0].add_model(model(key))
            orm[0].add_model(model(key))
        history: list[str] = []
        for _ in range(CALLS):
            description, call = random_call(rng)
            history.append(description)
            expected, actual = outcome(call, legacy), outcome(call, orm)
            if expected != actual:
                pytest.fail(
                    f"seed {seed}, call {len(history)}: {description}\n"
                    f"legacy: {expected}\norm:    {actual}\nhistory: {history}"
                )
