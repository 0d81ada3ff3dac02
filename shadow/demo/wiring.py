"""The reference application, wired: its 11 services, their phases, and how each side is built.

This is the one place that knows both the runtime and the reference services.
The runtime builds each side of a service from a ``module:callable`` factory
(connections cannot cross into its worker process), so :func:`build_legacy`
and :func:`build_candidate` are plain module-level functions taking picklable
arguments: a file path or a database URL and a few sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shadow._sources import Clock, IdSource
from shadow.db.engine import create_engine
from shadow.db.legacy import LegacyDatabase
from shadow.services.contracts.app_settings import AppSettingsService
from shadow.services.contracts.board_images import BoardImagesService
from shadow.services.contracts.boards import BoardsService
from shadow.services.contracts.client_state import ClientStateService
from shadow.services.contracts.images import ImagesService
from shadow.services.contracts.model_relationships import ModelRelationshipsService
from shadow.services.contracts.models import ModelsService
from shadow.services.contracts.session_queue import SessionQueueService
from shadow.services.contracts.style_presets import StylePresetsService
from shadow.services.contracts.users import UsersService
from shadow.services.contracts.workflows import WorkflowsService
from shadow.services.legacy.app_settings import LegacyAppSettingsService
from shadow.services.legacy.board_images import LegacyBoardImagesService
from shadow.services.legacy.boards import LegacyBoardsService
from shadow.services.legacy.client_state import LegacyClientStateService
from shadow.services.legacy.images import LegacyImagesService
from shadow.services.legacy.model_relationships import LegacyModelRelationshipsService
from shadow.services.legacy.models import LegacyModelsService
from shadow.services.legacy.session_queue import LegacySessionQueueService
from shadow.services.legacy.style_presets import LegacyStylePresetsService
from shadow.services.legacy.users import LegacyUsersService
from shadow.services.legacy.workflows import LegacyWorkflowsService
from shadow.services.orm.app_settings import OrmAppSettingsService
from shadow.services.orm.board_images import OrmBoardImagesService
from shadow.services.orm.boards import OrmBoardsService
from shadow.services.orm.client_state import OrmClientStateService
from shadow.services.orm.images import OrmImagesService
from shadow.services.orm.model_relationships import OrmModelRelationshipsService
from shadow.services.orm.models import OrmModelsService
from shadow.services.orm.session_queue import OrmSessionQueueService
from shadow.services.orm.style_presets import OrmStylePresetsService
from shadow.services.orm.users import OrmUsersService
from shadow.services.orm.workflows import OrmWorkflowsService
from shadow.services.passwords import PasswordHasher

__all__ = [
    "DEMO_PASSWORD_COST",
    "SERVICES",
    "SERVICE_TABLES",
    "ServiceWiring",
    "build_candidate",
    "build_legacy",
    "phase_plan",
]

DEMO_PASSWORD_COST = 2**4
"""scrypt cost for the demo's users: the demo measures the database layers, not scrypt."""


@dataclass(frozen=True, slots=True)
class ServiceWiring:
    """One reference service: its name, cutover phase, contract and both implementations."""

    name: str
    phase: int
    contract: type
    legacy: type
    candidate: type
    options: frozenset[str] = frozenset()
    """Which of the shared construction options (``passwords``, ``max_queue_size``) it takes."""


SERVICES: tuple[ServiceWiring, ...] = (
    ServiceWiring(
        "app_settings", 1, AppSettingsService, LegacyAppSettingsService, OrmAppSettingsService
    ),
    ServiceWiring(
        "client_state", 1, ClientStateService, LegacyClientStateService, OrmClientStateService
    ),
    ServiceWiring(
        "style_presets", 1, StylePresetsService, LegacyStylePresetsService, OrmStylePresetsService
    ),
    ServiceWiring("workflows", 1, WorkflowsService, LegacyWorkflowsService, OrmWorkflowsService),
    ServiceWiring(
        "users", 2, UsersService, LegacyUsersService, OrmUsersService, frozenset({"passwords"})
    ),
    ServiceWiring("boards", 2, BoardsService, LegacyBoardsService, OrmBoardsService),
    ServiceWiring(
        "board_images", 2, BoardImagesService, LegacyBoardImagesService, OrmBoardImagesService
    ),
    ServiceWiring("images", 2, ImagesService, LegacyImagesService, OrmImagesService),
    ServiceWiring("models", 2, ModelsService, LegacyModelsService, OrmModelsService),
    ServiceWiring(
        "model_relationships",
        2,
        ModelRelationshipsService,
        LegacyModelRelationshipsService,
        OrmModelRelationshipsService,
    ),
    ServiceWiring(
        "session_queue",
        3,
        SessionQueueService,
        LegacySessionQueueService,
        OrmSessionQueueService,
        frozenset({"max_queue_size"}),
    ),
)


SERVICE_TABLES: dict[str, tuple[str, ...]] = {
    "app_settings": ("app_settings",),
    "client_state": ("client_state",),
    "style_presets": ("style_presets",),
    "workflows": ("workflow_library",),
    # Deleting a user cascades to these, so reconciling users must copy them too.
    "users": ("users", "user_sessions", "user_invitations", "shared_boards", "client_state"),
    "boards": ("boards", "shared_boards", "board_images"),
    "board_images": ("board_images",),
    "images": ("images", "board_images"),
    "models": ("models", "model_relationships"),
    "model_relationships": ("model_relationships",),
    "session_queue": ("session_queue",),
}
"""The tables whose rows make up each service's state: what reconciling it copies."""


def phase_plan() -> dict[str, int]:
    """The default cutover phase of every reference service, by name (DOMAIN.md)."""
    return {service.name: service.phase for service in SERVICES}


def _options(service: ServiceWiring, password_cost: int, max_queue_size: int) -> dict[str, Any]:
    available: dict[str, Any] = {
        "passwords": PasswordHasher(password_cost),
        "max_queue_size": max_queue_size,
    }
    return {name: available[name] for name in service.options}


def build_legacy(
    *,
    ids: IdSource,
    clock: Clock,
    path: str,
    password_cost: int = DEMO_PASSWORD_COST,
    max_queue_size: int = 10_000,
) -> dict[str, Any]:
    """Every legacy service over one shared connection to the (already migrated) file ``path``."""
    db = LegacyDatabase(path)
    return {
        service.name: service.legacy(
            db, ids=ids, clock=clock, **_options(service, password_cost, max_queue_size)
        )
        for service in SERVICES
    }


def build_candidate(
    *,
    ids: IdSource,
    clock: Clock,
    url: str,
    password_cost: int = DEMO_PASSWORD_COST,
    max_queue_size: int = 10_000,
) -> dict[str, Any]:
    """Every SQLModel service over one engine for ``url`` (schema already built)."""
    engine = create_engine(url)
    return {
        service.name: service.candidate(
            engine, ids=ids, clock=clock, **_options(service, password_cost, max_queue_size)
        )
        for service in SERVICES
    }
