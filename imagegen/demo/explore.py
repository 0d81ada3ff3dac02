"""The reference application as an exploration target, and ``shadow explore`` for it.

:class:`ReferenceTarget` builds a template world once: a migrated legacy
store seeded with the demo's tour (every method called once) plus the edge
states exploration must start from (an admin, an inactive user, boards
shared with and without edit rights, a public and an archived board, an
expired session and an expired invitation, queue items in every state), and a
candidate store that is an exact copy of it. Every exploration example then
gets copies of both files (or, for a server candidate, the template's rows
copied in again), so both sides start from the same state.

:func:`run_explore` is what the command runs: it writes its evidence into a
work directory's divergence store (the demo's, by default), so ``shadow
gate``, ``shadow divergences`` and ``shadow report`` read it like traffic's.
"""

from __future__ import annotations

import itertools
import os
import random
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import NullPool

from imagegen.db.backfill import copy_rows
from imagegen.db.engine import (
    connectable,
    create_engine,
    create_schema,
    parse_url,
    reused_engine,
)
from imagegen.db.legacy import open_legacy
from imagegen.db.migrate import downgrade
from imagegen.demo.traffic import QUEUE_ID, ReferenceServices, World, tour
from imagegen.demo.wiring import SERVICES, build_legacy
from imagegen.services.contracts.boards import BoardChanges, BoardVisibility
from imagegen.services.contracts.images import ImageCategory, ImageOrigin
from imagegen.services.contracts.session_queue import Batch, BatchDatum
from imagegen.services.contracts.style_presets import (
    PresetData,
    PresetType,
    StylePresetWithoutId,
)
from shadow._inputs import contract_inputs
from shadow._sources import SequentialIds, SystemClock
from shadow.explore import ExploreResult, Target, explore
from shadow.explore._pools import Pools
from shadow.runtime import SideFactory

__all__ = ["ExploreOptions", "ReferenceTarget", "reference_target", "run_explore"]

LEGACY_FACTORY = "imagegen.demo.wiring:build_legacy"
CANDIDATE_FACTORY = "imagegen.demo.wiring:build_candidate"
SCRATCH_QUEUE_ID = "scratch"
"""A second queue of the seeded world (one of the ``queue_id`` examples of the contract)."""
STORE_FILE = "divergences.sqlite3"


class _Harvesting:
    """Forwards every call to ``service`` and collects what it returns into ``pools``."""

    def __init__(self, name: str, service: Any, pools: Pools, inputs: Mapping[str, Any]) -> None:
        self._name = name
        self._service = service
        self._pools = pools
        self._inputs = inputs

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._service, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            self._pools.harvest(self._name, result)
            self._pools.keep(self._inputs, kwargs)
            return result

        return call


def _seed_edges(s: ReferenceServices, world: World) -> None:
    """States the tour leaves out and exploration must start from (issue 10's edge classes)."""
    now = world.clock.now()
    owner, other, inactive = (user[0] for user in world.users[1:4])
    s.users.update(inactive, is_active=False)
    s.users.create_session(other, "expired-token", now - timedelta(minutes=5))
    admin = world.users[0][0]
    s.users.create_invitation("late@example.invalid", admin, False, now - timedelta(days=1))
    s.users.create_invitation("pending@example.invalid", admin, True, now + timedelta(days=1))
    boards = world.boards
    s.boards.share(boards[0], other, can_edit=False)
    s.boards.share(boards[0], inactive, can_edit=True)  # several shares: unshare only one
    s.boards.share(boards[1], inactive, can_edit=True)
    s.boards.update(boards[1], BoardChanges(board_visibility=BoardVisibility.PUBLIC))
    s.boards.update(boards[2], BoardChanges(archived=True))
    for number, image in enumerate(world.images[:4]):
        s.board_images.add_image_to_board(boards[number % 2], image)
    _seed_images(s, owner, other, boards[0])
    # Workflows opened and never opened; a model related to several others, on
    # both sides of its pairs (a pair is stored once, smaller key first).
    for workflow_id in world.workflows[:-1]:
        s.workflows.update_opened_at(workflow_id)
    hub, *others = world.models[2:7]
    for key in (*world.models[:2], *others):
        s.model_relationships.add_model_relationship(hub, key)
    s.style_presets.create(
        StylePresetWithoutId(
            name="Default look",
            preset_data=PresetData(positive_prompt="p", negative_prompt="n"),
            type=PresetType.DEFAULT,
        ),
        "system",
    )
    s.style_presets.create(
        StylePresetWithoutId(
            name="shared look",
            preset_data=PresetData(positive_prompt="p", negative_prompt="n"),
            is_public=True,
        ),
        owner,
    )
    # Queue items in every state: pending, in progress, completed, failed, canceled.
    q = s.session_queue
    batch = q.enqueue_batch(QUEUE_ID, _batch())
    world.add(world.batches, batch.batch_id)
    first, second, third, *_ = batch.item_ids
    for _ in range(3):
        q.dequeue()
    q.complete_queue_item(first)
    q.fail_queue_item(second, "ValueError", "bad seed", "Traceback")
    del third  # left in progress
    q.enqueue_batch(QUEUE_ID, _batch(), prepend=True)
    # Another queue with items in it, one canceled: ids that exist in a queue
    # other than the one a call names (retry, cancel, counts must keep to theirs).
    # One item only: more would crowd the item pool with pending items and make
    # the terminal ones above rarer draws (a planted bug on those was then missed).
    scratch = q.enqueue_batch(SCRATCH_QUEUE_ID, _batch(seeds=[1]))
    world.add(world.batches, scratch.batch_id)
    q.cancel_queue_item(scratch.item_ids[0])


def _seed_images(s: ReferenceServices, owner: str, other: str, board: str) -> None:
    """Images on no board (every category, one intermediate, one starred) and more on one.

    The tour deletes its intermediates and files the rest, so without these no
    query about uncategorized images (``board_id="none"``) would return
    anything, and no page of images would be shorter than their total.
    """
    for number, (category, user, intermediate) in enumerate(
        (
            (ImageCategory.GENERAL, owner, False),
            (ImageCategory.GENERAL, other, False),
            (ImageCategory.USER, owner, False),
            (ImageCategory.MASK, None, False),
            (ImageCategory.GENERAL, owner, True),
            (ImageCategory.CONTROL, other, False),
        )
    ):
        s.images.save(
            f"edge-{number}.png",
            ImageOrigin.EXTERNAL if number % 2 else ImageOrigin.INTERNAL,
            category,
            64,
            32,
            has_workflow=number % 2 == 0,
            is_intermediate=intermediate,
            starred=number == 1,
            user_id=user,
        )
    for number in range(3):
        name = f"filed-{number}.png"
        s.images.save(name, ImageOrigin.INTERNAL, ImageCategory.GENERAL, 8, 8, has_workflow=False)
        s.board_images.add_image_to_board(board, name)


def _batch(seeds: list[Any] | None = None) -> Batch:
    return Batch(
        graph={"nodes": {"n": {"type": "noise"}}},
        runs=1,
        data=[[BatchDatum(node_path="n", field_name="seed", items=seeds or [1, 2, 3, 4])]],
        destination="gallery",
    )


def _seed(path: Path) -> dict[str, list[Any]]:
    """Seed the legacy template at ``path``; return the pools of what exists in it."""
    built = build_legacy(ids=SequentialIds("seed"), clock=SystemClock(), path=str(path))
    inputs = {wiring.name: contract_inputs(wiring.contract) for wiring in SERVICES}
    pools = Pools(inputs)
    wrapped: dict[str, Any] = {
        name: _Harvesting(name, service, pools, inputs[name]) for name, service in built.items()
    }
    services = ReferenceServices(**wrapped)  # the wrappers quack like what they forward to
    world = World(clock=SystemClock())
    tour(services, world, random.Random(7))
    _seed_edges(services, world)
    for user_id, email, password in world.users:
        pools.add("user_id", user_id)
        pools.add("email", email)
        pools.add("password", password)
    for _, token in world.tokens:
        pools.add("token", token)
    built["users"]._db.close()  # one shared connection: closing it checkpoints the WAL
    names = {arg.pool for declared in inputs.values() for arg in declared.values() if arg.pool}
    return {name: list(pools.values(name)) for name in sorted(names)}


def _scratch_dir() -> str | None:
    """A memory-backed directory for the per-example stores where there is one.

    Every write of an example commits, and on a disk each commit waits for
    an fsync: the stores are scratch copies that die with the example.
    """
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def _restore(template: Path, database: Path) -> None:
    """Make ``database`` an exact copy of ``template`` (SQLite's online backup).

    The backup rewrites the file in place, so the engine's pooled connections
    to it stay valid and see the restored content.
    """
    with closing(sqlite3.connect(template)) as source, closing(sqlite3.connect(database)) as copy:
        source.backup(copy)


class ReferenceTarget(Target):
    """The 11 reference services over copies of one seeded template (see the module docstring)."""

    def __init__(
        self, *, candidate_factory: str | None = None, candidate_url: str | None = None
    ) -> None:
        if candidate_url is not None:
            parse_url(candidate_url)
        self._candidate_factory = candidate_factory
        self._candidate_url = candidate_url
        self._dir = Path(tempfile.mkdtemp(prefix="shadow-explore-", dir=_scratch_dir()))
        self._engines = ExitStack()
        self._legacy_template = self._dir / "legacy-template.sqlite3"
        open_legacy(self._legacy_template).close()
        self._pools = _seed(self._legacy_template)
        self._candidate_template = self._dir / "candidate-template.sqlite3"
        with connectable(f"sqlite:///{self._legacy_template}") as legacy_engine:
            if candidate_url is None:
                with connectable(f"sqlite:///{self._candidate_template}", must_exist=False) as eng:
                    create_schema(eng)
                    copy_rows(legacy_engine, eng)
            else:
                with connectable(candidate_url, must_exist=False) as engine:
                    downgrade(engine, "base")
                    create_schema(engine)
        # One candidate database (and one engine over it, see reused_engine) for
        # every example, its content restored from the template before each.
        self._candidate = self._dir / "candidate.sqlite3"
        self._candidate_side_url = candidate_url or f"sqlite:///{self._candidate}"
        self._candidate_engine = self._engines.enter_context(
            reused_engine(self._candidate_side_url)
        )
        self._numbers = itertools.count(1)

    @property
    def contracts(self) -> Mapping[str, type]:
        return {wiring.name: wiring.contract for wiring in SERVICES}

    def initial_pools(self) -> Mapping[str, Sequence[Any]]:
        return self._pools

    def describe(self) -> Mapping[str, Any]:
        return {
            "factory": "imagegen.demo.explore:reference_target",
            "kwargs": {
                "candidate_factory": self._candidate_factory,
                "candidate_url": self._candidate_url,
            },
        }

    @contextmanager
    def sides(self) -> Iterator[tuple[SideFactory, SideFactory]]:
        number = next(self._numbers)
        legacy = self._dir / f"legacy-{number}.sqlite3"
        shutil.copyfile(self._legacy_template, legacy)
        if self._candidate_url is None:
            _restore(self._candidate_template, self._candidate)
        else:
            source = create_engine(f"sqlite:///{legacy}", poolclass=NullPool)
            try:
                copy_rows(source, self._candidate_engine)
            finally:
                source.dispose()
        try:
            yield (
                SideFactory(LEGACY_FACTORY, {"path": str(legacy)}),
                SideFactory(
                    self._candidate_factory or CANDIDATE_FACTORY, {"url": self._candidate_side_url}
                ),
            )
        finally:
            for path in self._dir.glob(f"*-{number}.sqlite3*"):
                path.unlink(missing_ok=True)

    def close(self) -> None:
        self._engines.close()
        shutil.rmtree(self._dir, ignore_errors=True)


def reference_target(
    candidate_factory: str | None = None, candidate_url: str | None = None
) -> ReferenceTarget:
    """The reference target (what an exported reproduction rebuilds)."""
    return ReferenceTarget(candidate_factory=candidate_factory, candidate_url=candidate_url)


@dataclass(frozen=True)
class ExploreOptions:
    """How to run ``shadow explore`` on the reference app."""

    budget_seconds: float = 60.0
    seed: int = 0
    services: tuple[str, ...] = ()
    workdir: Path = Path("shadow-work")
    candidate_factory: str | None = None
    candidate_url: str | None = None


def run_explore(options: ExploreOptions) -> ExploreResult:
    """Explore the reference app; evidence goes to the work directory's divergence store."""
    options.workdir.mkdir(parents=True, exist_ok=True)
    store_url = f"sqlite:///{options.workdir.resolve() / STORE_FILE}"
    with ReferenceTarget(
        candidate_factory=options.candidate_factory, candidate_url=options.candidate_url
    ) as target:
        return explore(
            target,
            store=store_url,
            budget_seconds=options.budget_seconds,
            seed=options.seed,
            services=options.services or None,
        )
