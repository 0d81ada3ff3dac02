"""Candidate factories with one planted bug each, for `shadow demo --candidate-factory`.

``build`` returns the real SQLModel services except that ``style_presets.get``
upper-cases the preset's name: a wrong result in one method of one phase-1
service, which the runtime must report under exactly that service, method and
path. ``build_wrong_secret`` returns a wrong jwt secret: compared, but never
stored or shown. ``build_whole_rows`` returns whole user rows from ``users.get``
(``password_hash``, ``token_hash`` and a code the contract never declared).
``build_two_bugs`` adds to ``build``'s bug one that traffic meets often:
``workflows.get`` loses the document's last node (the picture in
docs/img/report.png, made by docs/screenshots/report.py).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from imagegen.db.engine import create_engine
from imagegen.demo.wiring import DEMO_PASSWORD_COST, build_candidate
from imagegen.services.contracts.style_presets import StylePresetRecord
from imagegen.services.contracts.workflows import WorkflowRecord
from imagegen.services.core.app_settings import CoreAppSettingsService
from imagegen.services.core.style_presets import CoreStylePresetsService
from imagegen.services.core.users import CoreUsersService
from imagegen.services.core.workflows import CoreWorkflowsService
from imagegen.services.passwords import PasswordHasher
from shadow._sources import Clock, IdSource


class _ShoutingStylePresets(CoreStylePresetsService):
    def get(self, style_preset_id: str) -> StylePresetRecord:
        record = super().get(style_preset_id)
        return record.model_copy(update={"name": record.name.upper()})


def build(*, ids: IdSource, clock: Clock, url: str) -> dict[str, Any]:
    services = build_candidate(ids=ids, clock=clock, url=url)
    services["style_presets"] = _ShoutingStylePresets(create_engine(url), ids=ids, clock=clock)
    return services


WRONG_SECRET = "f" * 64
"""What the candidate below claims the jwt secret is: it must never be stored or shown."""


class _WrongSecretSettings(CoreAppSettingsService):
    def get_jwt_secret(self) -> str:
        return WRONG_SECRET


def build_wrong_secret(*, ids: IdSource, clock: Clock, url: str) -> dict[str, Any]:
    services = build_candidate(ids=ids, clock=clock, url=url)
    services["app_settings"] = _WrongSecretSettings(create_engine(url), ids=ids, clock=clock)
    return services


def build_nothing(*, ids: IdSource, clock: Clock, url: str) -> dict[str, Any]:
    """A factory that builds no service at all: nothing can be compared."""
    return {}


class _FailingStylePresets(CoreStylePresetsService):
    def get(self, style_preset_id: str) -> StylePresetRecord:
        raise RuntimeError("planted candidate failure")


def build_failing(*, ids: IdSource, clock: Clock, url: str) -> dict[str, Any]:
    """``style_presets.get`` raises where legacy answers: candidate errors, no divergence."""
    services = build_candidate(ids=ids, clock=clock, url=url)
    services["style_presets"] = _FailingStylePresets(create_engine(url), ids=ids, clock=clock)
    return services


class _WholeRowUsers(CoreUsersService):
    """``get`` answers with the user's whole database row, secrets and all, as a dict."""

    def get(self, user_id: str) -> Any:
        with self._reader.connect() as conn:
            row = (
                conn.execute(
                    sa.text("SELECT * FROM users WHERE user_id = :user_id"), {"user_id": user_id}
                )
                .mappings()
                .first()
            )
            if row is None:
                return None
            token = conn.execute(
                sa.text("SELECT token_hash FROM user_sessions WHERE user_id = :user_id"),
                {"user_id": user_id},
            ).scalar()
        return {**dict(row), "token_hash": token or "no-session", "invite_code": "planted-code"}


def build_whole_rows(*, ids: IdSource, clock: Clock, url: str) -> dict[str, Any]:
    """The reference candidate, except that ``users.get`` returns whole rows (with hashes)."""
    services = build_candidate(ids=ids, clock=clock, url=url)
    services["users"] = _WholeRowUsers(
        create_engine(url), ids=ids, clock=clock, passwords=PasswordHasher(DEMO_PASSWORD_COST)
    )
    return services


class _LastNodeLostWorkflows(CoreWorkflowsService):
    """``get`` drops the document's last node (an off-by-one in a port's node query)."""

    def get(self, workflow_id: str) -> WorkflowRecord:
        record = super().get(workflow_id)
        document = record.workflow.model_copy(update={"nodes": record.workflow.nodes[:-1]})
        return record.model_copy(update={"workflow": document})


def build_two_bugs(*, ids: IdSource, clock: Clock, url: str) -> dict[str, Any]:
    """``build``'s upper-cased preset names, and workflows that lose their last node."""
    services = build(ids=ids, clock=clock, url=url)
    services["workflows"] = _LastNodeLostWorkflows(create_engine(url), ids=ids, clock=clock)
    return services


def build_unreachable(*, ids: IdSource, clock: Clock, url: str) -> dict[str, Any]:
    """A factory that cannot build at all (its database is unreachable)."""
    raise ConnectionError("could not connect to postgresql://demo:hunter2@candidate-db/app")
