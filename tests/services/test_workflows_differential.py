"""Differential test: random call sequences give equal results on legacy and SQLModel.

Each of 200 seeded sequences runs the same calls on the legacy service and the
SQLModel service (SQLite), both with identically seeded ids and clocks, and
requires equal outcomes -- the same result, or the same error type with the
same data -- after replacing database-generated timestamps with a marker. One
database pair serves every sequence (building a pair costs about half a second);
the table is emptied between sequences. A failure names the seed and step.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
import sqlalchemy as sa

from imagegen.db.legacy import LegacyDatabase
from imagegen.services.contracts.workflows import (
    Direction,
    Workflow,
    WorkflowCategory,
    WorkflowMeta,
    WorkflowOrderBy,
    WorkflowsService,
    WorkflowWithoutId,
)
from imagegen.services.core.workflows import CoreWorkflowsService
from imagegen.services.legacy.workflows import LegacyWorkflowsService
from shadow import FixedClock, SequentialIds
from tests.differential import outcome

SEQUENCES = 200
STEPS = 20
_TIMESTAMPS = {"created_at", "updated_at"}

NAMES = ["alpha", "Alpha", "beta", "g_m", "100%", "ワーク", "Zeta", "a/b", "b"]
DESCRIPTIONS = ["", "face fix", "Upscale 2x", "big_model", "été"]
TAGS = ["", "portrait", "face, portrait", "upscale", "shared", "été", "x_y", "a%b", " a ,b "]
USERS = ["alice", "bob", "system"]
QUERIES = [None, "", "a", "ALPHA", "%", "_", "port", "ワ", "  beta  ", "/", "2X"]
TAG_FILTERS = [None, [], ["portrait"], ["face", "upscale"], ["%"], ["shared"], ["été"]]
CATEGORY_FILTERS = [
    None,
    [],
    [WorkflowCategory.USER],
    [WorkflowCategory.DEFAULT],
    [WorkflowCategory.USER, WorkflowCategory.DEFAULT],
]
_DEFAULT_ID = "d-1"


def _reset(legacy_db: LegacyDatabase, engine: sa.Engine) -> None:
    """Empty the library on both sides and add the same shipped workflow."""
    document = WorkflowWithoutId(
        name="Shipped", tags="sampler", meta=WorkflowMeta(category=WorkflowCategory.DEFAULT)
    ).model_dump(mode="json")
    text = json.dumps({**document, "id": _DEFAULT_ID})
    with legacy_db.transaction() as cursor:
        cursor.execute("DELETE FROM workflow_library")
        cursor.execute(
            "INSERT INTO workflow_library (workflow_id, workflow) VALUES (?, ?)",
            (_DEFAULT_ID, text),
        )
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM workflow_library")
        conn.exec_driver_sql(
            "INSERT INTO workflow_library (workflow_id, workflow) VALUES (?, ?)",
            (_DEFAULT_ID, text),
        )


class _Draw:
    """Random arguments for each contract method, drawn from small pools to collide."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.known = [_DEFAULT_ID, "missing"]

    def user(self) -> str | None:
        return self.rng.choice([*USERS, None])

    def workflow_id(self) -> str:
        return self.rng.choice(self.known)

    def document(self) -> WorkflowWithoutId:
        category = self.rng.choice([WorkflowCategory.USER] * 6 + [WorkflowCategory.DEFAULT])
        return WorkflowWithoutId(
            name=self.rng.choice(NAMES),
            description=self.rng.choice(DESCRIPTIONS),
            tags=self.rng.choice(TAGS),
            meta=WorkflowMeta(category=category),
            nodes=[{"id": "n", "v": self.rng.randint(0, 3)}],
        )

    def filters(self) -> dict[str, Any]:
        return {
            "has_been_opened": self.rng.choice([None, True, False]),
            "user_id": self.user(),
            "is_public": self.rng.choice([None, True, False]),
        }

    def call(self) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
        rng = self.rng
        method = rng.choice(
            ["create"] * 4
            + ["get", "update", "update", "delete", "update_is_public", "update_is_public"]
            + ["update_opened_at", "update_opened_at", "get_many", "get_many", "get_many"]
            + ["counts_by_category", "counts_by_tag", "get_all_tags"]
        )
        if method == "create":
            user = rng.choice(USERS)
            return method, (self.document(), user, rng.random() < 0.3), {}
        if method == "get":
            return method, (self.workflow_id(),), {}
        if method == "update":
            document = Workflow.model_validate(
                {**self.document().model_dump(mode="json"), "id": self.workflow_id()}
            )
            return method, (document, self.user()), {}
        if method in ("delete", "update_opened_at"):
            return method, (self.workflow_id(), self.user()), {}
        if method == "update_is_public":
            return method, (self.workflow_id(), rng.random() < 0.5, self.user()), {}
        if method == "get_many":
            return method, *self.listing()
        if method == "counts_by_category":
            categories = rng.choice(CATEGORY_FILTERS) or [WorkflowCategory.USER]
            return method, (categories,), self.filters()
        if method == "counts_by_tag":
            tags = rng.choice(TAG_FILTERS) or ["portrait"]
            return method, (tags,), {"categories": rng.choice(CATEGORY_FILTERS), **self.filters()}
        return (
            method,
            (),
            {
                "categories": rng.choice(CATEGORY_FILTERS),
                "user_id": self.user(),
                "is_public": rng.choice([None, True, False]),
            },
        )

    def listing(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        rng = self.rng
        order_by = rng.choice(list(WorkflowOrderBy))
        direction = rng.choice(list(Direction))
        kwargs: dict[str, Any] = {
            "query": rng.choice(QUERIES),
            "tags": rng.choice(TAG_FILTERS),
            **self.filters(),
        }
        # Database-stamped orders tie differently on two stores: compare those unpaged.
        if order_by not in (WorkflowOrderBy.CREATED_AT, WorkflowOrderBy.UPDATED_AT):
            per_page = rng.choice([None, 1, 2, 3])
            kwargs["per_page"] = per_page
            kwargs["page"] = rng.randint(0, 3) if per_page else 0
        return (order_by, direction, rng.choice(CATEGORY_FILTERS)), kwargs


def _comparable(method: str, args: tuple[Any, ...], result: tuple[Any, ...]) -> tuple[Any, ...]:
    if method == "get_many" and result[0] == "ok" and args[0] in ("created_at", "updated_at"):
        page = dict(result[1])
        page["items"] = sorted(page["items"], key=lambda item: item["workflow_id"])
        return ("ok", page)
    return result


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
        _reset(legacy_db, engine)
        legacy_clock, orm_clock = FixedClock(), FixedClock()
        legacy: WorkflowsService = LegacyWorkflowsService(
            legacy_db, ids=SequentialIds(f"s{seed}"), clock=legacy_clock
        )
        orm: WorkflowsService = CoreWorkflowsService(
            engine, ids=SequentialIds(f"s{seed}"), clock=orm_clock
        )
        draw = _Draw(random.Random(seed))
        for step in range(STEPS):
            if draw.rng.random() < 0.3:
                seconds = draw.rng.choice([0.25, 1.0, 61.5])
                legacy_clock.advance(seconds)
                orm_clock.advance(seconds)
            method, args, kwargs = draw.call()
            expected = outcome(
                partial(getattr(legacy, method), **kwargs), *args, timestamps=_TIMESTAMPS
            )
            actual = outcome(partial(getattr(orm, method), **kwargs), *args, timestamps=_TIMESTAMPS)
            expected = _comparable(method, args, expected)
            actual = _comparable(method, args, actual)
            if expected != actual:
                pytest.fail(
                    f"seed {seed} step {step}: {method}{args!r} {kwargs!r}\n"
                    f"legacy: {expected!r}\nsqlmodel: {actual!r}"
                )
            if method == "create" and expected[0] == "ok":
                draw.known.append(expected[1]["workflow_id"])
