"""What cutover control knows of the reference application: its plan, contracts, demo policy.

The generic cutover control (:mod:`shadow.cutover`) knows services only by name
and by their declared method names. This module supplies them for the
image-generation app: the phase plan of its 11 services, the contract class of
each (imported on first use, so ``shadow --help`` stays cheap), and the relaxed
gate policy its one-minute demo writes next to its settings file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from shadow.cutover import PhasePlan, declared_methods
from shadow.cutover.contracts import load_object

if TYPE_CHECKING:
    from shadow.data import DataSchema

__all__ = [
    "DEMO_POLICY_TOML",
    "REFERENCE_CONTRACTS",
    "REFERENCE_PLAN",
    "SERVICE_TABLES",
    "conflict_domains",
    "reference_contracts",
    "reference_data_schema",
    "reference_declared_methods",
]

REFERENCE_PLAN = PhasePlan(
    {
        1: ("app_settings", "client_state", "style_presets", "workflows"),
        2: ("users", "boards", "board_images", "images", "models", "model_relationships"),
        3: ("session_queue",),
    }
)
"""The reference app's plan (docs/reference-app.md, "Services, by cutover phase")."""

REFERENCE_CONTRACTS = {
    "app_settings": "imagegen.services.contracts.app_settings:AppSettingsService",
    "client_state": "imagegen.services.contracts.client_state:ClientStateService",
    "style_presets": "imagegen.services.contracts.style_presets:StylePresetsService",
    "workflows": "imagegen.services.contracts.workflows:WorkflowsService",
    "users": "imagegen.services.contracts.users:UsersService",
    "boards": "imagegen.services.contracts.boards:BoardsService",
    "board_images": "imagegen.services.contracts.board_images:BoardImagesService",
    "images": "imagegen.services.contracts.images:ImagesService",
    "models": "imagegen.services.contracts.models:ModelsService",
    "model_relationships": (
        "imagegen.services.contracts.model_relationships:ModelRelationshipsService"
    ),
    "session_queue": "imagegen.services.contracts.session_queue:SessionQueueService",
}
"""The reference app's contract per service, as import paths (loaded on use)."""


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


def conflict_domains() -> list[tuple[str, ...]]:
    """The reference app's conflict domains, for ``Runtime(domains=...)``: busiest first.

    Services joined, directly or through others, by a table in their
    :data:`SERVICE_TABLES` share a domain (every table a service's code reads
    or writes is in the tables of its domain: ``tests/demo/test_domains.py``).
    Six domains: the identity and gallery services (users, client_state,
    boards, board_images, images), the model registry (models,
    model_relationships), and app_settings, style_presets, workflows and
    session_queue alone. Ordered by cutover phase, latest first (the session
    queue, the hot path, is phase 3), then by size, so with fewer workers than
    domains the busiest are spread first.
    """
    domain_of = {service: {service} for service in SERVICE_TABLES}
    owners: dict[str, str] = {}
    for service, tables in SERVICE_TABLES.items():
        for table in tables:
            other = owners.setdefault(table, service)
            if domain_of[other] is not domain_of[service]:
                merged = domain_of[other] | domain_of[service]
                for member in merged:
                    domain_of[member] = merged
    phase = {name: number for number, names in REFERENCE_PLAN.phases.items() for name in names}
    unique = {id(members): members for members in domain_of.values()}.values()
    return sorted(
        (tuple(sorted(members)) for members in unique),
        key=lambda members: (-max(phase[name] for name in members), -len(members), members),
    )


def reference_data_schema() -> DataSchema:
    """What ``shadow data`` needs of the reference app: its 14 tables, rules and services.

    The rules (:mod:`imagegen.db.data_rules`) compare JSON documents as JSON,
    the timestamps the database fills itself within a tolerance, and leave out
    the independently salted password hashes. Imported on use: the schema
    pulls in SQLAlchemy, which ``shadow --help`` must not load.
    """
    from imagegen.db.data_rules import reference_rules  # noqa: PLC0415  (lazy, see above)
    from imagegen.db.tables import metadata  # noqa: PLC0415
    from shadow.data import DataSchema  # noqa: PLC0415

    return DataSchema(metadata, reference_rules(), SERVICE_TABLES)


def reference_contracts() -> Mapping[str, type]:
    """The reference app's contract classes per service (imports them)."""
    found: dict[str, type] = {}
    for service, path in REFERENCE_CONTRACTS.items():
        contract = load_object(path)
        assert isinstance(contract, type), path  # the paths above name classes
        found[service] = contract
    return found


def reference_declared_methods() -> dict[str, frozenset[str]]:
    """The reference app's declared methods per service, read from its contracts."""
    return declared_methods(reference_contracts())


DEMO_POLICY_TOML = """\
# Gate policy for `shadow demo`: a short run on embedded SQLite. It checks
# coverage and correctness (every declared method seen, no unexplained
# divergence, no candidate error) but cannot show a production soak: a demo
# lasts a minute, and many methods are called only a few times in it. Latency
# is only a gross check here (a few dozen calls on a shared machine give a
# noisy p95); the overhead figures come from the benchmarks in bench/.
# min_coverage: the demo measures which candidate lines and branches compared
# calls run; its traffic plus exploration reach 71% to 94% per service (traffic
# alone: 58% for board_images, 70-100% for the others; docs/benchmarks.md).
[defaults]
min_comparisons = 1
max_divergence_rate = 0.05
max_candidate_error_rate = 0.01
max_p95_ratio = 10.0
min_latency_samples = 50
min_soak = "0s"
min_coverage = 0.65
# The demo ends with `shadow data verify` of every table: its stores must hold
# the same rows, not only answer the same.
require_data_verified = true
"""
"""The demo's policy: write it as ``gate-policy.toml`` in the demo's work directory."""
