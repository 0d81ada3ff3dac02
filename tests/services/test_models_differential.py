"""Differential test of the models service: legacy and SQLModel give the same results.

A seeded generator plays 200 random call sequences on a legacy and a SQLModel
SQLite store built by ``make_pair`` (identically seeded ids and clocks) and
requires equal results and equal errors call by call. Keys, paths and hashes
come from small pools so duplicates, not-found keys and shared hashes happen
often; model lists are totally ordered by the contract, so they are compared
exactly. Model records carry no database-generated timestamps.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from imagegen.db.legacy import LegacyDatabase
from imagegen.services.contracts.models import (
    ModelChanges,
    ModelConfig,
    ModelOrderBy,
    ModelsService,
    OrderDirection,
)
from imagegen.services.core.models import CoreModelsService
from imagegen.services.legacy.models import LegacyModelsService
from shadow import FixedClock, SequentialIds
from tests.differential import outcome

SEQUENCES = 200
CALLS = 20
KEYS = ["k1", "k2", "k3", "K1", "k_4", "模型"]
PATHS = ["/m/a", "/m/b", "/m/c", "/m/A", "/m/ü"]
HASHES = ["h1", "h2", "h3"]
BASES = ["sd-1", "sdxl", "SD-1"]
TYPES = ["main", "lora", "vae"]
FORMATS = ["checkpoint", "diffusers"]
NAMES = ["alpha", "Alpha", "beta", "a_b", "ab", "Ünï"]


def unsynchronized(legacy_db: LegacyDatabase, engine: sa.Engine) -> None:
    """Skip fsync on both throwaway test stores: thousands of commits stay fast."""
    legacy_db.connection.execute("PRAGMA synchronous = OFF")
    sa.event.listen(
        engine,
        "connect",
        lambda dbapi_connection, _record: dbapi_connection.execute("PRAGMA synchronous = OFF"),
    )
    engine.dispose()


def random_config(rng: random.Random, key: str | None = None) -> ModelConfig:
    extra = {"variant": rng.choice(["normal", "inpaint"])} if rng.random() < 0.3 else {}
    return ModelConfig(
        key=key or rng.choice(KEYS),
        hash=rng.choice(HASHES),
        base=rng.choice(BASES),
        type=rng.choice(TYPES),
        path=rng.choice(PATHS),
        format=rng.choice(FORMATS),
        name=rng.choice(NAMES),
        source="src",
        source_type="path",
        description=rng.choice([None, "d", "déscription"]),
        source_api_response=rng.choice([None, '{"a": 1}']),
        trigger_phrases=rng.choice([None, [], ["x", "y"]]),
        file_size=rng.randint(0, 3),
        **extra,
    )


def random_changes(rng: random.Random) -> ModelChanges:
    fields: dict[str, Any] = {}
    if rng.random() < 0.4:
        fields["name"] = rng.choice([*NAMES, None])
    if rng.random() < 0.3:
        fields["path"] = rng.choice(PATHS)
    if rng.random() < 0.3:
        fields["base"] = rng.choice(BASES)
    if rng.random() < 0.3:
        fields["description"] = rng.choice([None, "new"])
    if rng.random() < 0.2:
        fields["file_size"] = rng.randint(0, 3)
    if rng.random() < 0.1:
        fields["key"] = rng.choice(KEYS)
    if rng.random() < 0.2:
        fields["variant"] = "inpaint"
    return ModelChanges(**fields)


def random_call(rng: random.Random) -> tuple[str, Callable[[ModelsService], Any]]:
    key = rng.choice(KEYS)
    kind = rng.choices(
        [
            "add",
            "del",
            "replace",
            "update",
            "get",
            "by_hash",
            "exists",
            "search",
            "by_path",
            "search_hash",
            "all",
            "list",
        ],
        weights=[6, 1, 2, 3, 2, 1, 1, 3, 1, 1, 1, 2],
    )[0]
    if kind == "add":
        config = random_config(rng)
        return f"add_model({config!r})", lambda s: s.add_model(config)
    if kind == "del":
        return f"del_model({key})", lambda s: s.del_model(key)
    if kind == "replace":
        config = random_config(rng, key=key if rng.random() < 0.9 else None)
        return f"replace_model({key}, {config!r})", lambda s: s.replace_model(key, config)
    if kind == "update":
        changes = random_changes(rng)
        return f"update_model({key}, {changes!r})", lambda s: s.update_model(key, changes)
    if kind == "get":
        return f"get_model({key})", lambda s: s.get_model(key)
    if kind == "by_hash":
        hash_ = rng.choice(HASHES)
        return f"get_model_by_hash({hash_})", lambda s: s.get_model_by_hash(hash_)
    if kind == "exists":
        return f"exists({key})", lambda s: s.exists(key)
    if kind == "search":
        filters: dict[str, Any] = {
            name: rng.choice(pool)
            for name, pool in (
                ("model_name", NAMES),
                ("base", BASES),
                ("type", TYPES),
                ("format", FORMATS),
            )
            if rng.random() < 0.3
        }
        filters["order_by"] = rng.choice(list(ModelOrderBy))
        filters["direction"] = rng.choice(list(OrderDirection))
        return f"search_by_attr({filters})", lambda s: s.search_by_attr(**filters)
    if kind == "by_path":
        path = rng.choice(PATHS)
        return f"search_by_path({path})", lambda s: s.search_by_path(path)
    if kind == "search_hash":
        hash_ = rng.choice(HASHES)
        return f"search_by_hash({hash_})", lambda s: s.search_by_hash(hash_)
    if kind == "all":
        return "all_models()", lambda s: s.all_models()
    page, per_page = rng.randint(0, 3), rng.choice([None, 1, 2, 3])
    order_by, direction = rng.choice(list(ModelOrderBy)), rng.choice(list(OrderDirection))
    return f"list_models({page}, {per_page}, {order_by}, {direction})", lambda s: s.list_models(
        page, per_page, order_by=order_by, direction=direction
    )


@pytest.mark.slow
def test_legacy_and_sqlmodel_models_agree_on_random_call_sequences(
    make_pair: Callable[[], tuple[LegacyDatabase, sa.Engine]],
) -> None:
    legacy_db, engine = make_pair()
    unsynchronized(legacy_db, engine)
    legacy = LegacyModelsService(legacy_db, ids=SequentialIds("d"), clock=FixedClock())
    orm = CoreModelsService(engine, ids=SequentialIds("d"), clock=FixedClock())
    for seed in range(SEQUENCES):
        with legacy_db.transaction() as cur:
            cur.execute("DELETE FROM models")
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM models"))
        rng = random.Random(seed)
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
