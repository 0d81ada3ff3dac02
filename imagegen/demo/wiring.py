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

from imagegen.cutover import SERVICE_TABLES
from imagegen.db.engine import create_engine
from imagegen.db.legacy import LegacyDatabase
from imagegen.services.contracts.app_settings import AppSettingsService
from imagegen.services.contracts.board_images import BoardImagesService
from imagegen.services.contracts.boards import BoardsService
from imagegen.services.contracts.client_state import ClientStateService
from imagegen.services.contracts.images import ImagesService
from imagegen.services.contracts.model_relationships import ModelRelationshipsService
from imagegen.services.contracts.models import ModelsService
from imagegen.services.contracts.session_queue import SessionQueueService
from imagegen.services.contracts.style_presets import StylePresetsService
from imagegen.services.contracts.users import UsersService
from imagegen.services.contracts.workflows import WorkflowsService
from imagegen.services.core.app_settings import CoreAppSettingsService
from imagegen.services.core.board_images import CoreBoardImagesService
from imagegen.services.core.boards import CoreBoardsService
from imagegen.services.core.client_state import CoreClientStateService
from imagegen.services.core.group_commit import CoreServices
from imagegen.services.core.images import CoreImagesService
from imagegen.services.core.model_relationships import CoreModelRelationshipsService
from imagegen.services.core.models import CoreModelsService
from imagegen.services.core.session_queue import CoreSessionQueueService
from imagegen.services.core.style_presets import CoreStylePresetsService
from imagegen.services.core.users import CoreUsersService
from imagegen.services.core.workflows import CoreWorkflowsService
from imagegen.services.legacy.app_settings import LegacyAppSettingsService
from imagegen.services.legacy.board_images import LegacyBoardImagesService
from imagegen.services.legacy.boards import LegacyBoardsService
from imagegen.services.legacy.client_state import LegacyClientStateService
from imagegen.services.legacy.images import LegacyImagesService
from imagegen.services.legacy.model_relationships import LegacyModelRelationshipsService
from imagegen.services.legacy.models import LegacyModelsService
from imagegen.services.legacy.session_queue import LegacySessionQueueService
from imagegen.services.legacy.style_presets import LegacyStylePresetsService
from imagegen.services.legacy.users import LegacyUsersService
from imagegen.services.legacy.workflows import LegacyWorkflowsService
from imagegen.services.passwords import PasswordHasher
from shadow._sources import Clock, IdSource

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
        "app_settings", 1, AppSettingsService, LegacyAppSettingsService, CoreAppSettingsService
    ),
    ServiceWiring(
        "client_state", 1, ClientStateService, LegacyClientStateService, CoreClientStateService
    ),
    ServiceWiring(
        "style_presets", 1, StylePresetsService, LegacyStylePresetsService, CoreStylePresetsService
    ),
    ServiceWiring("workflows", 1, WorkflowsService, LegacyWorkflowsService, CoreWorkflowsService),
    ServiceWiring(
        "users", 2, UsersService, LegacyUsersService, CoreUsersService, frozenset({"passwords"})
    ),
    ServiceWiring("boards", 2, BoardsService, LegacyBoardsService, CoreBoardsService),
    ServiceWiring(
        "board_images", 2, BoardImagesService, LegacyBoardImagesService, CoreBoardImagesService
    ),
    ServiceWiring("images", 2, ImagesService, LegacyImagesService, CoreImagesService),
    ServiceWiring("models", 2, ModelsService, LegacyModelsService, CoreModelsService),
    ServiceWiring(
        "model_relationships",
        2,
        ModelRelationshipsService,
        LegacyModelRelationshipsService,
        CoreModelRelationshipsService,
    ),
    ServiceWiring(
        "session_queue",
        3,
        SessionQueueService,
        LegacySessionQueueService,
        CoreSessionQueueService,
        frozenset({"max_queue_size"}),
    ),
)


def phase_plan() -> dict[str, int]:
    """The default cutover phase of every reference service, by name (docs/reference-app.md)."""
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
    """Every legacy service over one shared connection to the (already migrated) file ``path``.

    The file is opened, never created: a mirror worker restarted after the file
    vanished fails loudly instead of mirroring into an empty new database.
    """
    db = LegacyDatabase(path, must_exist=True)
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
) -> CoreServices:
    """Every SQLModel service over one engine for ``url`` (schema already built),
    with group commit over that engine (:class:`CoreServices`).

    A SQLite file is opened, never created, and checked before each
    transaction (see :func:`imagegen.db.engine.create_engine`'s ``must_exist``):
    a candidate file deleted mid-run fails the calls that follow, which marks
    the service dirty, instead of going unnoticed.
    """
    engine = create_engine(url, must_exist=True)
    services = {
        service.name: service.candidate(
            engine, ids=ids, clock=clock, **_options(service, password_cost, max_queue_size)
        )
        for service in SERVICES
    }
    return CoreServices(services, engine)
