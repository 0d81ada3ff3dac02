"""The app_settings contract, on every backend (legacy sqlite3; SQLModel on SQLite,
PostgreSQL and MariaDB)."""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from imagegen.db.tables import metadata
from imagegen.db.types import parse_utc
from imagegen.services.contracts.app_settings import JWT_SECRET_KEY, AppSettingsService
from imagegen.services.core.app_settings import CoreAppSettingsService
from imagegen.services.errors import NotFoundError
from imagegen.services.legacy.app_settings import LegacyAppSettingsService
from shadow import contract_methods
from tests.conftest import Backend

_settings = metadata.tables["app_settings"]


def _service(backend: Backend) -> AppSettingsService:
    return backend.build(LegacyAppSettingsService, CoreAppSettingsService)


def _stamps(backend: Backend, key: str) -> tuple[datetime, datetime]:
    """(created_at, updated_at) of a setting, read past the service."""
    if backend.legacy_db is not None:
        with backend.legacy_db.transaction() as cursor:
            row: Any = cursor.execute(
                "SELECT created_at, updated_at FROM app_settings WHERE key = ?", (key,)
            ).fetchone()
        return parse_utc(row[0]), parse_utc(row[1])
    assert backend.engine is not None
    with backend.engine.connect() as conn:
        found = conn.execute(
            sa.select(_settings.c.created_at, _settings.c.updated_at).where(_settings.c.key == key)
        ).one()
    return found[0], found[1]


def _delete_row(backend: Backend, key: str) -> None:
    if backend.legacy_db is not None:
        with backend.legacy_db.transaction() as cursor:
            cursor.execute("DELETE FROM app_settings WHERE key = ?", (key,))
        return
    assert backend.engine is not None
    with backend.engine.begin() as conn:
        conn.execute(sa.delete(_settings).where(_settings.c.key == key))


def test_get_of_a_missing_key_is_none(backend: Backend) -> None:
    assert _service(backend).get("no-such-key") is None


def test_set_inserts_then_replaces_the_value(backend: Backend) -> None:
    service = _service(backend)
    service.set("theme", "dark")
    assert service.get("theme") == "dark"
    service.set("theme", "light")
    assert service.get("theme") == "light"


def test_replacing_a_value_keeps_created_at_and_refreshes_updated_at(backend: Backend) -> None:
    service = _service(backend)
    service.set("theme", "dark")
    created, updated = _stamps(backend, "theme")
    assert created.tzinfo is not None and updated >= created
    time.sleep(0.02)
    service.set("theme", "light")
    created_after, updated_after = _stamps(backend, "theme")
    assert created_after == created
    assert updated_after > updated


def test_keys_are_independent(backend: Backend) -> None:
    service = _service(backend)
    service.set("a", "1")
    service.set("b", "2")
    assert (service.get("a"), service.get("b")) == ("1", "2")


def test_unicode_and_long_values_round_trip(backend: Backend) -> None:
    """45 kB of 2-, 3- and 4-byte characters (MariaDB's TEXT column holds up to 64 KiB)."""
    service = _service(backend)
    long_value = "é漢🙂" * 5_000
    service.set("ünïcødé-キー", long_value)
    assert service.get("ünïcødé-キー") == long_value
    service.set("empty", "")
    assert service.get("empty") == ""


def test_the_jwt_secret_is_seeded_as_64_hex_characters(backend: Backend) -> None:
    secret = _service(backend).get_jwt_secret()
    assert re.fullmatch(r"[0-9a-f]{64}", secret)
    assert _service(backend).get(JWT_SECRET_KEY) == secret


def test_the_jwt_secret_follows_set(backend: Backend) -> None:
    service = _service(backend)
    service.set(JWT_SECRET_KEY, "f" * 64)
    assert service.get_jwt_secret() == "f" * 64


def test_a_missing_jwt_secret_is_not_found_and_the_error_names_only_the_key(
    backend: Backend,
) -> None:
    service = _service(backend)
    service.set(JWT_SECRET_KEY, "topsecretvalue")
    _delete_row(backend, JWT_SECRET_KEY)
    with pytest.raises(NotFoundError) as caught:
        service.get_jwt_secret()
    assert caught.value.key == JWT_SECRET_KEY
    assert "topsecretvalue" not in str(caught.value)
    assert "topsecretvalue" not in repr(caught.value)


def test_declarations_mark_values_and_the_secret_as_sensitive() -> None:
    specs = contract_methods(AppSettingsService)
    assert set(specs) == {"get", "set", "get_jwt_secret"}
    assert specs["get_jwt_secret"].compare.sensitive_result
    assert specs["get"].compare.sensitive_result
    assert "value" in specs["set"].compare.sensitive
    assert specs["set"].kind.mutates and not specs["get"].kind.mutates
