"""Differential test: random call sequences give equal results on legacy and SQLModel.

Each of 200 seeded sequences runs the same style_presets calls on the legacy
service and the SQLModel service (SQLite) with identically seeded ids and
clocks, and requires equal outcomes after replacing database-generated
timestamps with a marker. One database pair serves every sequence; the table is
emptied between sequences. A failure names the seed and step.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
import sqlalchemy as sa

from imagegen.db.legacy import LegacyDatabase
from imagegen.services.contracts.style_presets import (
    PresetData,
    PresetType,
    StylePresetChanges,
    StylePresetsService,
    StylePresetWithoutId,
)
from imagegen.services.core.style_presets import CoreStylePresetsService
from imagegen.services.legacy.style_presets import LegacyStylePresetsService
from shadow import FixedClock, SequentialIds
from tests.differential import outcome

SEQUENCES = 200
STEPS = 20
_TIMESTAMPS = {"created_at", "updated_at"}
NAMES = ["noir", "Noir", "a_b", "ab", "Apple", "apple", "ÉCLAT", "éclat", "雨", "z z", " lead"]
PROMPTS = ["", "a castle", "雨の夜 🌧️", "100% _sharp_"]
USERS = ["alice", "bob", "system"]


class _Draw:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.known = ["missing"]

    def preset(self) -> StylePresetWithoutId:
        return StylePresetWithoutId(
            name=self.rng.choice(NAMES),
            preset_data=self.data(),
            type=self.rng.choice([PresetType.USER, PresetType.USER, PresetType.DEFAULT]),
            is_public=self.rng.random() < 0.3,
        )

    def data(self) -> PresetData:
        return PresetData(
            positive_prompt=self.rng.choice(PROMPTS), negative_prompt=self.rng.choice(PROMPTS)
        )

    def maybe(self, value: Any) -> Any:
        return value if self.rng.random() < 0.5 else None

    def call(self) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
        rng = self.rng
        method = rng.choice(
            ["create"] * 4 + ["create_many", "get", "update", "update", "delete"] + ["get_many"] * 3
        )
        if method == "create":
            return method, (self.preset(), rng.choice(USERS)), {}
        if method == "create_many":
            presets = [self.preset() for _ in range(rng.randint(0, 3))]
            return method, (presets, rng.choice(USERS)), {}
        if method in ("get", "delete"):
            return method, (rng.choice(self.known),), {}
        if method == "update":
            changes = StylePresetChanges(
                name=self.maybe(rng.choice(NAMES)),
                preset_data=self.maybe(self.data()),
                type=self.maybe(rng.choice(list(PresetType))),
                is_public=self.maybe(rng.random() < 0.5),
            )
            return method, (rng.choice(self.known), changes), {}
        return (
            method,
            (),
            {
                "type": rng.choice([None, *PresetType]),
                "user_id": rng.choice([None, *USERS]),
                "is_admin": rng.random() < 0.3,
            },
        )


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
    for seed in range(SEQUENCES):
        with legacy_db.transaction() as cursor:
            cursor.execute("DELETE FROM style_presets")
        with engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM style_presets")
        legacy: StylePresetsService = LegacyStylePresetsService(
            legacy_db, ids=SequentialIds(f"s{seed}"), clock=FixedClock()
        )
        orm: StylePresetsService = CoreStylePresetsService(
            engine, ids=SequentialIds(f"s{seed}"), clock=FixedClock()
        )
        draw = _Draw(random.Random(seed))
        for step in range(STEPS):
            method, args, kwargs = draw.call()
            expected = outcome(
                partial(getattr(legacy, method), **kwargs), *args, timestamps=_TIMESTAMPS
            )
            actual = outcome(partial(getattr(orm, method), **kwargs), *args, timestamps=_TIMESTAMPS)
            if expected != actual:
                pytest.fail(
                    f"seed {seed} step {step}: {method}{args!r} {kwargs!r}\n"
                    f"legacy: {expected!r}\nsqlmodel: {actual!r}"
                )
            if expected[0] == "ok" and method == "create":
                draw.known.append(expected[1]["id"])
            if expected[0] == "ok" and method == "create_many":
                draw.known.extend(row["id"] for row in expected[1])
