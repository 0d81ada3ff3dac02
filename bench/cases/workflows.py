"""Workflows cases for the service benchmark: the library page and its edits.

Data: 1,000 user workflows (spread over three users, every fifth public, tags
from a small set) plus 20 shipped ones, built through both implementations with
identically seeded ids, so both files hold the same rows. Hot methods: ``get``
by id, a 50-row page of ``get_many`` with filters (a user's view, a category and
a search text), ``counts_by_category``, an insert (``create``) and an update
(``update`` of one document, alternating its name).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path

from bench.harness import BenchPair, Case, open_pair
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

__all__ = ["cases"]

WORKFLOWS = 1000
SHIPPED = 20
USERS = ("alice", "bob", "carol")
TAGS = ("portrait", "upscale, face", "landscape", "inpaint, mask", "")
_NODES = [
    {"id": f"node-{n}", "type": "denoise", "data": {"steps": 30, "cfg": 7.5}} for n in range(8)
]


def _document(n: int, category: WorkflowCategory = WorkflowCategory.USER) -> WorkflowWithoutId:
    return WorkflowWithoutId(
        name=f"Workflow {n:04d}",
        description=f"Generated flow number {n}",
        tags=TAGS[n % len(TAGS)],
        meta=WorkflowMeta(category=category),
        nodes=_NODES,
    )


def _add_shipped(pair: BenchPair) -> None:
    """The shipped (``default``) workflows, which the service refuses to create."""
    sql = "INSERT INTO workflow_library (workflow_id, workflow) VALUES (?, ?)"
    rows = []
    for n in range(SHIPPED):
        document = _document(n, WorkflowCategory.DEFAULT).model_dump(mode="json")
        rows.append((f"default-{n:02d}", json.dumps({**document, "id": f"default-{n:02d}"})))
    with pair.legacy_db.transaction() as cursor:
        cursor.executemany(sql, rows)
    with pair.engine.begin() as conn:
        conn.exec_driver_sql(sql, rows)


def _creator(service: WorkflowsService) -> Callable[[], object]:
    numbers = itertools.count(WORKFLOWS)
    return lambda: service.create(_document(next(numbers)), "alice")


def _updater(service: WorkflowsService, document: Workflow) -> Callable[[], object]:
    versions = itertools.cycle(
        [document.model_copy(update={"name": name}) for name in ("Renamed A", "Renamed B")]
    )
    return lambda: service.update(next(versions), "alice")


def _page(service: WorkflowsService) -> Callable[[], object]:
    return lambda: service.get_many(
        WorkflowOrderBy.NAME,
        Direction.ASC,
        [WorkflowCategory.USER, WorkflowCategory.DEFAULT],
        page=1,
        per_page=50,
        query="workflow",
        user_id="alice",
    )


def cases(workdir: Path) -> list[Case]:
    """The workflows hot methods on identical libraries per arm."""
    pair = open_pair(workdir, "workflows")
    legacy_ids, legacy_clock = pair.sources()
    orm_ids, orm_clock = pair.sources()
    legacy = LegacyWorkflowsService(pair.legacy_db, ids=legacy_ids, clock=legacy_clock)
    orm = CoreWorkflowsService(pair.engine, ids=orm_ids, clock=orm_clock)
    _add_shipped(pair)
    for service in (legacy, orm):
        for n in range(WORKFLOWS):
            service.create(_document(n), USERS[n % len(USERS)], is_public=n % 5 == 0)
    target = legacy.get_many(WorkflowOrderBy.NAME, Direction.ASC, user_id="alice").items[150]
    document = legacy.get(target.workflow_id).workflow
    assert orm.get(target.workflow_id).workflow == document
    assert len(_page(legacy)().items) == len(_page(orm)().items) == 50  # type: ignore[attr-defined]
    counts = [WorkflowCategory.USER, WorkflowCategory.DEFAULT]
    return [
        Case(
            "by id",
            "workflows",
            "get",
            lambda: legacy.get(target.workflow_id),
            lambda: orm.get(target.workflow_id),
        ),
        Case("page of 50, user+query", "workflows", "get_many", _page(legacy), _page(orm)),
        Case(
            "2 categories, one user",
            "workflows",
            "counts_by_category",
            lambda: legacy.counts_by_category(counts, user_id="alice"),
            lambda: orm.counts_by_category(counts, user_id="alice"),
        ),
        Case("new row", "workflows", "create", _creator(legacy), _creator(orm)),
        Case(
            "rename",
            "workflows",
            "update",
            _updater(legacy, document),
            _updater(orm, document),
        ),
    ]
