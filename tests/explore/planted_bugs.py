"""One planted bug per reference service, each the kind a port from raw SQL produces.

``build_<service>`` is a ``--candidate-factory``: the real SQLModel services
except that one method of ``<service>`` is wrong as described in
:data:`PLANTED` (service -> (method, what is wrong)). Each bug only shows on
inputs the demo's traffic rarely or never sends: an id that never existed, a
case variant, a terminal queue item, a board that is archived, the larger key
of a relationship... which is what exploration exists to send.
"""

from __future__ import annotations

from typing import Any

from imagegen.db.engine import create_engine
from imagegen.demo.wiring import DEMO_PASSWORD_COST, SERVICES, build_candidate
from imagegen.services.core.app_settings import CoreAppSettingsService
from imagegen.services.core.board_images import CoreBoardImagesService
from imagegen.services.core.boards import CoreBoardsService
from imagegen.services.core.client_state import CoreClientStateService
from imagegen.services.core.images import CoreImagesService
from imagegen.services.core.model_relationships import CoreModelRelationshipsService
from imagegen.services.core.models import CoreModelsService
from imagegen.services.core.session_queue import CoreSessionQueueService
from imagegen.services.core.style_presets import CoreStylePresetsService
from imagegen.services.core.users import CoreUsersService
from imagegen.services.core.workflows import CoreWorkflowsService
from imagegen.services.passwords import PasswordHasher
from shadow._sources import Clock, IdSource

PLANTED: dict[str, tuple[str, str]] = {
    "app_settings": ("get", "looks keys up case-insensitively"),
    "client_state": ("get_by_key", "answers '' instead of None for a missing key"),
    "style_presets": ("get", "returns the name upper-cased"),
    "workflows": ("get", "drops opened_at"),
    "users": ("get_by_email", "does not normalise case and spaces"),
    "boards": ("get_many", "counts archived boards in total"),
    "board_images": ("get_all_board_image_names_for_board", "'none' matches nothing"),
    "images": ("get_many", "total counts only the page"),
    "models": ("del_model", "silent for an unknown key"),
    "model_relationships": ("get_related_model_keys", "follows one direction only"),
    "session_queue": ("cancel_queue_item", "cancels terminal items too"),
}


class _Settings(CoreAppSettingsService):
    def get(self, key: str) -> str | None:
        return super().get(key.lower())


class _ClientState(CoreClientStateService):
    def get_by_key(self, user_id: str, key: str) -> str | None:
        value = super().get_by_key(user_id, key)
        return "" if value is None else value


class _Presets(CoreStylePresetsService):
    def get(self, style_preset_id: str) -> Any:
        record = super().get(style_preset_id)
        return record.model_copy(update={"name": record.name.upper()})


class _Workflows(CoreWorkflowsService):
    def get(self, workflow_id: str) -> Any:
        return super().get(workflow_id).model_copy(update={"opened_at": None})


class _Users(CoreUsersService):
    def get_by_email(self, email: str) -> Any:
        return super().get_by_email(email) if email == email.strip().lower() else None


class _Boards(CoreBoardsService):
    def get_many(self, user_id: str, is_admin: bool, *args: Any, **kwargs: Any) -> Any:
        page = super().get_many(user_id, is_admin, *args, **kwargs)
        archived = super().get_all(user_id, is_admin, include_archived=True)
        return page.model_copy(update={"total": max(page.total, len(archived))})


class _BoardImages(CoreBoardImagesService):
    def get_all_board_image_names_for_board(self, board_id: str, *args: Any, **kwargs: Any) -> Any:
        if board_id == "none":
            return []
        return super().get_all_board_image_names_for_board(board_id, *args, **kwargs)


class _Images(CoreImagesService):
    def get_many(self, *args: Any, **kwargs: Any) -> Any:
        page = super().get_many(*args, **kwargs)
        return page.model_copy(update={"total": len(page.items)})


class _Models(CoreModelsService):
    def del_model(self, key: str) -> None:
        if self.exists(key):
            super().del_model(key)


class _Relationships(CoreModelRelationshipsService):
    def get_related_model_keys(self, model_key: str) -> list[str]:
        found = super().get_related_model_keys(model_key)
        return [key for key in found if key > model_key]


class _Queue(CoreSessionQueueService):
    def cancel_queue_item(self, item_id: int) -> Any:
        item = self.get_queue_item(item_id)
        if item.status in ("completed", "failed"):
            self.set_queue_item_session(item_id, item.session)  # "touches" it: a real write
            return item.model_copy(update={"status": "canceled"})
        return super().cancel_queue_item(item_id)


_WRONG = {
    "app_settings": _Settings,
    "client_state": _ClientState,
    "style_presets": _Presets,
    "workflows": _Workflows,
    "users": _Users,
    "boards": _Boards,
    "board_images": _BoardImages,
    "images": _Images,
    "models": _Models,
    "model_relationships": _Relationships,
    "session_queue": _Queue,
}


def _build(service: str, wrong: type, ids: IdSource, clock: Clock, url: str) -> dict[str, Any]:
    services = build_candidate(ids=ids, clock=clock, url=url)
    wiring = next(item for item in SERVICES if item.name == service)
    options: dict[str, Any] = {}
    if "passwords" in wiring.options:
        options["passwords"] = PasswordHasher(DEMO_PASSWORD_COST)
    if "max_queue_size" in wiring.options:
        options["max_queue_size"] = 10_000
    services[service] = wrong(create_engine(url), ids=ids, clock=clock, **options)
    return services


def candidate_with(service: str, wrong: type) -> Any:
    """A candidate factory: the SQLModel services, ``service`` replaced by the class ``wrong``."""

    def build(*, ids: IdSource, clock: Clock, url: str) -> dict[str, Any]:
        return _build(service, wrong, ids, clock, url)

    build.__name__ = f"build_{service}"
    return build


for _service in PLANTED:
    globals()[f"build_{_service}"] = candidate_with(_service, _WRONG[_service])
