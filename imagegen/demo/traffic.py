"""The reference application's realistic traffic (docs/reference-app.md, "Realistic traffic").

Two kinds of actor share one :class:`World` (what exists so far: users, boards,
images, queue items...):

* API requests (:data:`API_MIX`), picked by weight: read-heavy (about 85%
  reads), each authenticated request reading its user row first; gallery
  browsing (name lists for a board, then a record per visible image), board
  lists with counts, queue status polling; writes are image saves (many
  intermediates), board moves, stars, debounced client-state upserts, queue
  bursts, library edits.
* Queue workers (:func:`work_queue_item`): dequeue, set a large session, then
  complete (or, one time in ten, fail).

:func:`tour` calls every declared method of every service once, in an order
that makes each call meaningful, so a run of any size exercises the whole
surface (the gate requires every method to have been seen).

Every call goes through the services it is given (in the demo, the proxies);
an application error (not found, duplicate, rule violation) is part of normal
traffic and is counted, not raised.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from imagegen.services.contracts.app_settings import AppSettingsService
from imagegen.services.contracts.board_images import BoardImagesService
from imagegen.services.contracts.boards import (
    BoardChanges,
    BoardOrder,
    BoardsService,
    BoardVisibility,
)
from imagegen.services.contracts.boards import Direction as BoardDirection
from imagegen.services.contracts.client_state import ClientStateService
from imagegen.services.contracts.images import (
    ImageCategory,
    ImageChanges,
    ImageOrigin,
    ImagesService,
    OrderDirection,
)
from imagegen.services.contracts.model_relationships import ModelRelationshipsService
from imagegen.services.contracts.models import (
    ModelChanges,
    ModelConfig,
    ModelOrderBy,
    ModelsService,
)
from imagegen.services.contracts.session_queue import Batch, BatchDatum, SessionQueueService
from imagegen.services.contracts.style_presets import (
    PresetData,
    PresetType,
    StylePresetChanges,
    StylePresetsService,
    StylePresetWithoutId,
)
from imagegen.services.contracts.users import UsersService
from imagegen.services.contracts.workflows import (
    Direction,
    Workflow,
    WorkflowCategory,
    WorkflowMeta,
    WorkflowOrderBy,
    WorkflowsService,
    WorkflowWithoutId,
)
from imagegen.services.errors import ServiceError
from shadow._sources import Clock

__all__ = ["API_MIX", "QUEUE_ID", "ReferenceServices", "World", "tour", "work_queue_item"]

QUEUE_ID = "default"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ReferenceServices:
    """The 11 services the traffic calls, typed by contract (proxies in the demo)."""

    app_settings: AppSettingsService
    client_state: ClientStateService
    style_presets: StylePresetsService
    workflows: WorkflowsService
    users: UsersService
    boards: BoardsService
    board_images: BoardImagesService
    images: ImagesService
    models: ModelsService
    model_relationships: ModelRelationshipsService
    session_queue: SessionQueueService


@dataclass
class World:
    """What the traffic has created so far, shared by every actor (under ``lock``).

    ``errors`` counts the application errors the traffic met, by exception name:
    they are expected (a thread deletes what another reads) and identical on
    both sides when the candidate is right.
    """

    clock: Clock
    users: list[tuple[str, str, str]] = field(default_factory=list)  # (user_id, email, password)
    tokens: list[tuple[str, str]] = field(default_factory=list)  # (session_id, token)
    boards: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    workflows: list[str] = field(default_factory=list)
    presets: list[str] = field(default_factory=list)
    batches: list[str] = field(default_factory=list)
    counter: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_number(self) -> int:
        with self.lock:
            self.counter += 1
            return self.counter

    def pick(self, rng: random.Random, items: list[T]) -> T | None:
        with self.lock:
            return rng.choice(items) if items else None

    def add(self, items: list[T], item: T) -> None:
        with self.lock:
            items.append(item)

    def discard(self, items: list[T], item: T) -> None:
        with self.lock:
            if item in items:
                items.remove(item)

    @contextmanager
    def tolerate(self) -> Iterator[None]:
        """Count an application error instead of raising it: it is normal traffic."""
        try:
            yield
        except ServiceError as error:
            with self.lock:
                name = type(error).__name__
                self.errors[name] = self.errors.get(name, 0) + 1


# -- builders of realistic inputs ------------------------------------------------------


def _model_config(number: int) -> ModelConfig:
    base = ("sd-1", "sdxl", "flux")[number % 3]
    kind = ("main", "lora", "vae", "controlnet")[number % 4]
    return ModelConfig(
        key=f"model-{number}",
        hash=f"blake3:{number:064x}",
        base=base,
        type=kind,
        path=f"/models/{base}/{kind}/model-{number}.safetensors",
        format="checkpoint" if kind == "main" else "lycoris",
        name=f"Model {number} ({kind})",
        source=f"https://example.invalid/models/{number}",
        source_type="url",
        description=f"a {base} {kind} model" if number % 2 else None,
        source_api_response=None,
        trigger_phrases=[f"style{number}"] if kind == "lora" else None,
        file_size=1_000_000 * (number + 1),
    )


def _workflow(number: int, rng: random.Random) -> WorkflowWithoutId:
    tags = rng.sample(["portrait", "landscape", "upscale", "inpaint", "100%_sharp"], k=2)
    return WorkflowWithoutId(
        name=f"Workflow {number}",
        description=f"generates {tags[0]} images",
        tags=", ".join(tags),
        meta=WorkflowMeta(category=WorkflowCategory.USER),
        nodes=[{"id": f"node-{i}", "type": "denoise"} for i in range(3)],
    )


def _preset(number: int) -> StylePresetWithoutId:
    return StylePresetWithoutId(
        name=f"Preset {number}",
        preset_data=PresetData(
            positive_prompt=f"a watercolor painting, style {number}",
            negative_prompt="blurry",
        ),
        is_public=number % 3 == 0,
    )


def _batch(rng: random.Random, size: int) -> Batch:
    seeds = [rng.randrange(2**31) for _ in range(size)]
    return Batch(
        graph={"nodes": {"noise": {"seed": 0}, "prompt": {"text": "a lighthouse at dusk"}}},
        runs=1,
        data=[[BatchDatum(node_path="noise", field_name="seed", items=list(seeds))]],
        origin="canvas",
        destination=rng.choice(["gallery", "canvas"]),
    )


def _session_blob(item_id: int) -> dict[str, Any]:
    # About 20 KB of JSON, the size of a real invocation graph with its results.
    nodes = {f"node-{i}": {"type": "denoise_latents", "steps": 30, "cfg": 7.5} for i in range(200)}
    return {"id": f"session-{item_id}", "graph": {"nodes": nodes}, "results": {}}


# -- the queue worker ------------------------------------------------------------------


def work_queue_item(services: ReferenceServices, world: World, rng: random.Random) -> bool:
    """Take one item off the queue and process it; False when the queue is empty."""
    queue = services.session_queue
    item = queue.dequeue()
    if item is None:
        return False
    with world.tolerate():
        queue.set_queue_item_session(item.item_id, _session_blob(item.item_id))
        if rng.random() < 0.1:
            queue.fail_queue_item(item.item_id, "OutOfMemory", "CUDA out of memory", "Traceback…")
        else:
            queue.complete_queue_item(item.item_id)
    return True


# -- API requests ----------------------------------------------------------------------


def _authenticated_user(services: ReferenceServices, world: World, rng: random.Random) -> str:
    """Every authenticated request resolves its session and reads its user row."""
    session = world.pick(rng, world.tokens)
    if session is not None:
        services.users.get_session_by_token(session[1])
    user = world.pick(rng, world.users)
    user_id = user[0] if user else "system"
    services.users.get(user_id)
    return user_id


def browse_gallery(services: ReferenceServices, world: World, rng: random.Random) -> None:
    user_id = _authenticated_user(services, world, rng)
    board_id = world.pick(rng, world.boards) or "none"
    names = services.images.get_image_names(
        board_id=board_id, categories=[ImageCategory.GENERAL], is_intermediate=False
    )
    for name in names.image_names[:4]:
        with world.tolerate():
            services.images.get(name)
    if rng.random() < 0.3:
        services.images.get_many(
            0, 50, board_id=board_id, user_id=user_id, order_dir=OrderDirection.DESC
        )


def list_boards(services: ReferenceServices, world: World, rng: random.Random) -> None:
    user_id = _authenticated_user(services, world, rng)
    page = services.boards.get_many(user_id, rng.random() < 0.2, limit=10)
    for board in page.items[:3]:
        services.board_images.get_image_count_for_board(board.board_id)
        services.board_images.get_asset_count_for_board(board.board_id)
    if page.items and rng.random() < 0.3:
        services.images.get_most_recent_image_for_board(page.items[0].board_id)


def poll_queue(services: ReferenceServices, world: World, rng: random.Random) -> None:
    queue = services.session_queue
    queue.get_queue_status(QUEUE_ID)
    batch_id = world.pick(rng, world.batches)
    if batch_id is not None:
        queue.get_batch_status(QUEUE_ID, batch_id)
    if rng.random() < 0.3:
        page = queue.list_queue_items(QUEUE_ID, limit=20, priority=0)
        if page.items:
            with world.tolerate():
                queue.get_queue_item(page.items[0].item_id)
        if page.has_more:
            # "Load more": the next page from the keyset position of the last item shown.
            last = page.items[-1]
            queue.list_queue_items(QUEUE_ID, limit=20, priority=last.priority, cursor=last.item_id)


def read_library(services: ReferenceServices, world: World, rng: random.Random) -> None:
    user_id = _authenticated_user(services, world, rng)
    services.workflows.get_many(
        WorkflowOrderBy.OPENED_AT,
        Direction.DESC,
        [WorkflowCategory.USER],
        per_page=20,
        user_id=user_id,
    )
    services.style_presets.get_many(user_id=user_id)
    workflow_id = world.pick(rng, world.workflows)
    if workflow_id is not None:
        with world.tolerate():
            services.workflows.get(workflow_id)
    services.client_state.get_by_key(user_id, "gallery.view")


def read_models(services: ReferenceServices, world: World, rng: random.Random) -> None:
    key = world.pick(rng, world.models)
    if key is None:
        services.models.all_models()
        return
    with world.tolerate():
        services.models.get_model(key)
        services.model_relationships.get_related_model_keys(key)
    services.models.search_by_attr(base=rng.choice(["sd-1", "sdxl", "flux"]))


def save_generated_image(services: ReferenceServices, world: World, rng: random.Random) -> None:
    user_id = _authenticated_user(services, world, rng)
    number = world.next_number()
    intermediate = rng.random() < 0.6
    name = f"img-{number:06d}.png"
    services.images.save(
        name,
        ImageOrigin.INTERNAL,
        ImageCategory.GENERAL if rng.random() < 0.8 else ImageCategory.CONTROL,
        512,
        768,
        has_workflow=True,
        is_intermediate=intermediate,
        session_id=f"session-{number}",
        node_id="l2i",
        metadata={"prompt": "a lighthouse at dusk", "seed": number, "steps": 30},
        user_id=user_id,
    )
    if intermediate:
        return
    world.add(world.images, name)
    board_id = world.pick(rng, world.boards)
    if board_id is not None:
        with world.tolerate():
            services.board_images.add_image_to_board(board_id, name)


def organize_gallery(services: ReferenceServices, world: World, rng: random.Random) -> None:
    _authenticated_user(services, world, rng)
    image = world.pick(rng, world.images)
    if image is None:
        return
    with world.tolerate():
        if rng.random() < 0.5:
            services.images.update(image, ImageChanges(starred=rng.random() < 0.5))
        else:
            board_id = world.pick(rng, world.boards)
            if board_id is not None:
                services.board_images.add_image_to_board(board_id, image)
                services.board_images.get_board_for_image(image)


def save_client_state(services: ReferenceServices, world: World, rng: random.Random) -> None:
    user_id = _authenticated_user(services, world, rng)
    key = rng.choice(["gallery.view", "canvas.layout", "params.model"])
    with world.tolerate():
        services.client_state.set_by_key(user_id, key, f'{{"v": {world.next_number()}}}')


def enqueue_burst(services: ReferenceServices, world: World, rng: random.Random) -> None:
    user_id = _authenticated_user(services, world, rng)
    with world.tolerate():
        result = services.session_queue.enqueue_batch(
            QUEUE_ID, _batch(rng, rng.randint(5, 40)), prepend=rng.random() < 0.1, user_id=user_id
        )
        world.add(world.batches, result.batch_id)


def edit_library(services: ReferenceServices, world: World, rng: random.Random) -> None:
    user_id = _authenticated_user(services, world, rng)
    with world.tolerate():
        if rng.random() < 0.5:
            workflow_id = world.pick(rng, world.workflows)
            if workflow_id is not None:
                services.workflows.update_opened_at(workflow_id)
        else:
            preset = services.style_presets.create(_preset(world.next_number()), user_id)
            world.add(world.presets, preset.id)


API_MIX: tuple[tuple[float, Callable[[ReferenceServices, World, random.Random], None]], ...] = (
    (30, browse_gallery),
    (14, list_boards),
    (14, poll_queue),
    (10, read_library),
    (6, read_models),
    (10, save_generated_image),
    (6, organize_gallery),
    (5, save_client_state),
    (2, enqueue_burst),
    (3, edit_library),
)
"""API requests and their relative weights: about 85% of the calls they make are reads."""


# -- the tour: every declared method once ------------------------------------------------


def tour(services: ReferenceServices, world: World, rng: random.Random) -> None:
    """Build a small world and call every declared method of every service at least once."""
    for part in (_tour_library, _tour_identity, _tour_gallery, _tour_models, _tour_queue):
        part(services, world, rng)


def _tour_library(s: ReferenceServices, world: World, rng: random.Random) -> None:
    """Phase 1: settings and library data."""
    s.app_settings.set("theme", "dark")
    s.app_settings.get("theme")
    s.app_settings.get_jwt_secret()

    s.client_state.set_by_key("system", "gallery.view", '{"v": 0}')
    s.client_state.set_by_key("system", "gallery.scroll", '{"v": 0}')
    s.client_state.get_by_key("system", "gallery.view")
    s.client_state.get_keys_by_prefix("system", "gallery.")
    s.client_state.delete_by_key("system", "gallery.scroll")
    with world.tolerate():  # no such user: both sides must refuse it the same way
        s.client_state.set_by_key("nobody", "gallery.view", '{"v": 0}')
    s.client_state.delete("system")

    presets = s.style_presets.create_many([_preset(n) for n in range(1, 3)], "system")
    presets.append(s.style_presets.create(_preset(3), "system"))
    for preset in presets:
        world.add(world.presets, preset.id)
    s.style_presets.get(presets[0].id)
    s.style_presets.update(presets[0].id, StylePresetChanges(name="Renamed", type=PresetType.USER))
    s.style_presets.get_many(is_admin=True)
    s.style_presets.delete(presets[2].id)
    world.discard(world.presets, presets[2].id)

    for number in range(1, 5):
        record = s.workflows.create(_workflow(number, rng))
        world.add(world.workflows, record.workflow_id)
    first = world.workflows[0]
    wf = s.workflows.get(first)
    s.workflows.update(Workflow(**{**wf.workflow.model_dump(), "description": "edited"}))
    s.workflows.update_is_public(first, True)
    s.workflows.update_opened_at(first)
    s.workflows.get_many(WorkflowOrderBy.NAME, Direction.ASC, per_page=10, query="Work")
    s.workflows.get_many(WorkflowOrderBy.NAME, Direction.ASC, page=1, per_page=2)
    s.workflows.counts_by_category([WorkflowCategory.USER, WorkflowCategory.DEFAULT])
    s.workflows.counts_by_tag(["portrait", "landscape"])
    s.workflows.get_all_tags()
    s.workflows.delete(world.workflows[-1])
    world.discard(world.workflows, world.workflows[-1])


def _tour_identity(s: ReferenceServices, world: World, rng: random.Random) -> None:
    """Phase 2: users, sessions and invitations."""
    admin = s.users.create("admin@example.invalid", "Admin", "admin-password", is_admin=True)
    world.add(world.users, (admin.user_id, "admin@example.invalid", "admin-password"))
    for number in range(1, 4):
        email = f"user{number}@example.invalid"
        user = s.users.create(email, f"User {number}", f"password-{number}")
        world.add(world.users, (user.user_id, email, f"password-{number}"))
    s.users.get_by_email("user1@example.invalid")
    s.users.get_many([u[0] for u in world.users])
    s.users.authenticate("user1@example.invalid", "password-1")
    s.users.has_admin()
    s.users.count_admins()
    s.users.list_users(limit=10)
    s.users.update(world.users[1][0], display_name="User One")
    now = world.clock.now()
    for user_id, _, _ in world.users:
        token = f"token-{world.next_number()}"
        session = s.users.create_session(user_id, token, now + timedelta(hours=8))
        world.add(world.tokens, (session.session_id, token))
    s.users.touch_session(world.tokens[0][0])
    stale = s.users.create_session(admin.user_id, "stale-token", now - timedelta(hours=1))
    s.users.revoke_session(stale.session_id)
    s.users.purge_expired(now)
    invitation = s.users.create_invitation(
        "invited@example.invalid", admin.user_id, False, now + timedelta(days=7)
    )
    invited = s.users.redeem(invitation.code, "invited-password", "Invited")
    s.users.delete(invited.user_id)


def _tour_gallery(s: ReferenceServices, world: World, rng: random.Random) -> None:
    """Phase 2: boards, sharing, images and their boards."""
    owner = world.users[1][0]
    for number in range(1, 4):
        board = s.boards.save(f"Board {number}", owner)
        world.add(world.boards, board.board_id)
    board_id = world.boards[0]
    s.boards.get(board_id)
    s.boards.update(board_id, BoardChanges(board_visibility=BoardVisibility.SHARED))
    s.boards.share(board_id, world.users[2][0], can_edit=True)
    s.boards.list_shares(board_id)
    s.boards.get_many(world.users[2][0], False, BoardOrder.BOARD_NAME, BoardDirection.ASC)
    s.boards.get_all(owner, False)
    s.boards.unshare(board_id, world.users[2][0])
    # Unsharing one of several shares must leave the others: shared with three users,
    # the one whose id sorts in the middle is unshared (a neighbour on either side).
    others = sorted(user_id for user_id, _, _ in world.users if user_id != owner)[:3]
    for user_id in others:
        s.boards.share(board_id, user_id, can_edit=False)
    if len(others) == 3:
        s.boards.unshare(board_id, others[1])
    s.boards.list_shares(board_id)
    # A public board is listed for every user, an owner's private one only for its owner.
    s.boards.update(world.boards[1], BoardChanges(board_visibility=BoardVisibility.PUBLIC))
    if len(world.users) > 3:
        s.boards.get_many(world.users[3][0], False, BoardOrder.BOARD_NAME, BoardDirection.ASC)
    for user_id in others:
        with world.tolerate():
            s.boards.unshare(board_id, user_id)

    for _ in range(6):
        save_generated_image(s, world, rng)
    image = world.images[0] if world.images else None
    if image is not None:
        s.images.get(image)
        s.images.get_metadata(image)
        s.images.get_user_id(image)
        s.images.update(image, ImageChanges(starred=True))
        s.board_images.add_image_to_board(board_id, image)
        s.board_images.get_board_for_image(image)
        s.board_images.get_all_board_image_names_for_board(board_id)
        s.board_images.get_image_count_for_board(board_id)
        s.board_images.get_asset_count_for_board(board_id)
        s.images.get_most_recent_image_for_board(board_id)
        s.board_images.remove_image_from_board(image)
    s.images.get_many(0, 50, search_term="lighthouse", is_admin=True)
    s.images.get_image_names(board_id="none")
    s.images.get_intermediates_count()
    s.images.delete_intermediates()
    spare = [f"spare-{n}.png" for n in range(3)]
    for name in spare:
        s.images.save(name, ImageOrigin.EXTERNAL, ImageCategory.USER, 64, 64, has_workflow=False)
    s.images.delete(spare[0])
    s.images.delete_many(spare[1:])
    for name in spare:  # every one of them is gone
        with world.tolerate():
            s.images.get(name)
    with world.tolerate():  # an image that never existed cannot go on a board
        s.board_images.add_image_to_board(board_id, "never-saved.png")
    doomed = s.boards.save("Temporary", owner)
    s.boards.delete(doomed.board_id)


def _tour_models(s: ReferenceServices, world: World, rng: random.Random) -> None:
    """Phase 2: the model registry and its relationships."""
    for number in range(1, 7):
        config = s.models.add_model(_model_config(number))
        world.add(world.models, config.key)
    key = world.models[0]
    s.models.get_model(key)
    s.models.get_model_by_hash(_model_config(1).hash)
    s.models.exists(key)
    s.models.search_by_attr(type="lora", order_by=ModelOrderBy.NAME)
    s.models.search_by_path(_model_config(1).path)
    s.models.search_by_hash(_model_config(2).hash)
    s.models.list_models(0, 3)
    s.models.list_models(1, 3)  # a page past the first: the offset counts
    s.models.update_model(key, ModelChanges(description="updated"))
    s.models.replace_model(key, _model_config(1).model_copy(update={"name": "Replaced"}))
    s.model_relationships.add_model_relationship(world.models[1], world.models[0])
    s.model_relationships.add_model_relationship(world.models[0], world.models[2])
    s.model_relationships.get_related_model_keys(world.models[0])
    s.model_relationships.get_related_model_keys_batch(world.models[:2])
    s.model_relationships.remove_model_relationship(world.models[0], world.models[2])
    with world.tolerate():  # refused: one of the models does not exist
        s.model_relationships.add_model_relationship(world.models[0], "no-such-model")
    spare_model = s.models.add_model(_model_config(99))
    s.models.del_model(spare_model.key)
    s.models.all_models()


def _tour_queue(s: ReferenceServices, world: World, rng: random.Random) -> None:
    """Phase 3: the session queue, every transition and bulk operation."""
    q = s.session_queue
    first_batch = q.enqueue_batch(QUEUE_ID, _batch(rng, 4))
    world.add(world.batches, first_batch.batch_id)
    q.is_empty(QUEUE_ID)
    q.is_full(QUEUE_ID)
    q.get_next(QUEUE_ID)
    work_queue_item(s, world, rng)
    item = q.dequeue()
    q.get_current(QUEUE_ID)
    q.get_queue_status(QUEUE_ID)
    q.get_batch_status(QUEUE_ID, first_batch.batch_id)
    q.get_counts_by_destination(QUEUE_ID, "gallery")
    q.list_all_queue_items(QUEUE_ID)
    first_page = q.list_queue_items(QUEUE_ID, limit=2, priority=0)
    for destination in ("gallery", "canvas"):
        q.list_queue_items(QUEUE_ID, limit=5, priority=0, destination=destination)
    if first_page.items:
        last = first_page.items[-1]
        q.list_queue_items(QUEUE_ID, limit=2, priority=last.priority, cursor=last.item_id)
    if item is not None:
        q.set_queue_item_session(item.item_id, _session_blob(item.item_id))
        q.fail_queue_item(item.item_id, "ValueError", "bad seed", "Traceback…")
        q.retry_items_by_id(QUEUE_ID, [item.item_id])
        q.get_queue_item(item.item_id)
    canceled = q.enqueue_batch(QUEUE_ID, _batch(rng, 3))
    q.cancel_queue_item(canceled.item_ids[0])
    q.cancel_by_batch_ids(QUEUE_ID, [canceled.batch_id])
    q.cancel_by_destination(QUEUE_ID, "nowhere")
    q.delete_queue_items_by_id(canceled.item_ids[:1])
    q.prune(QUEUE_ID)
    with world.tolerate():
        other = q.enqueue_batch("scratch", _batch(rng, 2))
        q.cancel_by_queue_id("scratch")
        q.clear("scratch")
        world.discard(world.batches, other.batch_id)
