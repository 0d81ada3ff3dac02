"""The client_state contract, on every backend (legacy sqlite3; SQLModel on SQLite,
PostgreSQL and MariaDB)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from imagegen.db.tables import metadata
from imagegen.services.contracts.client_state import ClientStateService
from imagegen.services.core.client_state import CoreClientStateService
from imagegen.services.errors import NotFoundError
from imagegen.services.legacy.client_state import LegacyClientStateService
from shadow import Order, contract_methods
from tests.conftest import Backend

_users = metadata.tables["users"]
_state = metadata.tables["client_state"]


def _service(backend: Backend) -> ClientStateService:
    return backend.build(LegacyClientStateService, CoreClientStateService)


def _add_user(backend: Backend, user_id: str) -> None:
    if backend.legacy_db is not None:
        with backend.legacy_db.transaction() as cursor:
            cursor.execute(
                "INSERT INTO users (user_id, email, password_hash) VALUES (?, ?, '')",
                (user_id, f"{user_id}@example.test"),
            )
        return
    assert backend.engine is not None
    with backend.engine.begin() as conn:
        conn.execute(
            sa.insert(_users).values(
                user_id=user_id, email=f"{user_id}@example.test", password_hash=""
            )
        )


def _delete_user(backend: Backend, user_id: str) -> None:
    if backend.legacy_db is not None:
        with backend.legacy_db.transaction() as cursor:
            cursor.execute("DELETE FROM users WHERE user_id = ?", (user_id,))
        return
    assert backend.engine is not None
    with backend.engine.begin() as conn:
        conn.execute(sa.delete(_users).where(_users.c.user_id == user_id))


def _insert_at(backend: Backend, user_id: str, key: str, at: datetime) -> None:
    """Insert a row with a chosen updated_at (inserts fire no update trigger)."""
    if backend.legacy_db is not None:
        with backend.legacy_db.transaction() as cursor:
            cursor.execute(
                "INSERT INTO client_state (user_id, key, value, updated_at) VALUES (?, ?, 'v', ?)",
                (user_id, key, at.strftime("%Y-%m-%d %H:%M:%S")),
            )
        return
    assert backend.engine is not None
    with backend.engine.begin() as conn:
        conn.execute(sa.insert(_state).values(user_id=user_id, key=key, value="v", updated_at=at))


@pytest.fixture
def service(backend: Backend) -> ClientStateService:
    _add_user(backend, "alice")
    _add_user(backend, "bob")
    return _service(backend)


def test_set_by_key_returns_the_value_and_get_by_key_reads_it(service: ClientStateService) -> None:
    assert service.set_by_key("alice", "layout", '{"panels": 2}') == '{"panels": 2}'
    assert service.get_by_key("alice", "layout") == '{"panels": 2}'


def test_get_by_key_of_a_missing_key_is_none(service: ClientStateService) -> None:
    assert service.get_by_key("alice", "nothing") is None
    assert service.get_by_key("nobody", "nothing") is None


def test_set_by_key_replaces_an_existing_value(service: ClientStateService) -> None:
    service.set_by_key("alice", "layout", "one")
    assert service.set_by_key("alice", "layout", "two") == "two"
    assert service.get_by_key("alice", "layout") == "two"


def test_state_is_per_user(service: ClientStateService) -> None:
    service.set_by_key("alice", "layout", "a")
    service.set_by_key("bob", "layout", "b")
    assert service.get_by_key("alice", "layout") == "a"
    assert service.get_by_key("bob", "layout") == "b"


def test_set_by_key_for_an_unknown_user_is_not_found(service: ClientStateService) -> None:
    with pytest.raises(NotFoundError) as caught:
        service.set_by_key("ghost", "layout", "x")
    assert (caught.value.entity, caught.value.key) == ("user", "ghost")
    assert service.get_by_key("ghost", "layout") is None


def test_keys_by_prefix_filter_by_prefix_and_user(service: ClientStateService) -> None:
    for key in ("gallery.size", "gallery.order", "canvas.zoom", "xgallery"):
        service.set_by_key("alice", key, "1")
    service.set_by_key("bob", "gallery.bob", "1")
    assert sorted(service.get_keys_by_prefix("alice", "gallery.")) == [
        "gallery.order",
        "gallery.size",
    ]
    assert service.get_keys_by_prefix("alice", "nomatch") == []
    assert sorted(service.get_keys_by_prefix("alice", "")) == [
        "canvas.zoom",
        "gallery.order",
        "gallery.size",
        "xgallery",
    ]


def test_percent_and_underscore_in_the_prefix_match_themselves(
    service: ClientStateService,
) -> None:
    for key in ("a%b", "axb", "a_c", "abc", "a/d", "a//e"):
        service.set_by_key("alice", key, "1")
    assert service.get_keys_by_prefix("alice", "a%") == ["a%b"]
    assert service.get_keys_by_prefix("alice", "a_") == ["a_c"]
    assert sorted(service.get_keys_by_prefix("alice", "a/")) == ["a//e", "a/d"]
    assert service.get_keys_by_prefix("alice", "a//") == ["a//e"]


def test_prefix_matching_folds_ascii_case_only(service: ClientStateService) -> None:
    service.set_by_key("alice", "Gallery.Size", "1")
    service.set_by_key("alice", "ÉCRAN", "1")
    assert service.get_keys_by_prefix("alice", "gallery.") == ["Gallery.Size"]
    assert service.get_keys_by_prefix("alice", "GALLERY.S") == ["Gallery.Size"]
    assert service.get_keys_by_prefix("alice", "ÉCR") == ["ÉCRAN"]
    assert service.get_keys_by_prefix("alice", "Écr") == ["ÉCRAN"]


def test_keys_by_prefix_come_newest_first(backend: Backend, service: ClientStateService) -> None:
    _insert_at(backend, "alice", "k.old", datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC))
    _insert_at(backend, "alice", "k.new", datetime(2026, 1, 1, 0, 0, 3, tzinfo=UTC))
    _insert_at(backend, "alice", "k.mid", datetime(2026, 1, 1, 0, 0, 2, tzinfo=UTC))
    assert service.get_keys_by_prefix("alice", "k.") == ["k.new", "k.mid", "k.old"]
    service.set_by_key("alice", "k.old", "touched")
    assert service.get_keys_by_prefix("alice", "k.")[0] == "k.old"


def test_delete_by_key_removes_one_key_only(service: ClientStateService) -> None:
    service.set_by_key("alice", "a", "1")
    service.set_by_key("alice", "b", "2")
    service.set_by_key("bob", "a", "3")
    service.delete_by_key("alice", "a")
    assert service.get_by_key("alice", "a") is None
    assert service.get_by_key("alice", "b") == "2"
    assert service.get_by_key("bob", "a") == "3"
    service.delete_by_key("alice", "a")  # silent when missing


def test_delete_removes_every_key_of_one_user(service: ClientStateService) -> None:
    service.set_by_key("alice", "a", "1")
    service.set_by_key("alice", "b", "2")
    service.set_by_key("bob", "a", "3")
    service.delete("alice")
    assert service.get_keys_by_prefix("alice", "") == []
    assert service.get_by_key("bob", "a") == "3"
    service.delete("alice")  # silent when there is nothing left


def test_deleting_the_user_deletes_their_state(
    backend: Backend, service: ClientStateService
) -> None:
    service.set_by_key("alice", "a", "1")
    service.set_by_key("bob", "a", "2")
    _delete_user(backend, "alice")
    assert service.get_by_key("alice", "a") is None
    assert service.get_by_key("bob", "a") == "2"


def test_unicode_keys_and_long_values_round_trip(service: ClientStateService) -> None:
    value = '{"note": "' + "漢字🙂é" * 50_000 + '"}'
    service.set_by_key("alice", "ノート.✓", value)
    assert service.get_by_key("alice", "ノート.✓") == value
    assert service.get_keys_by_prefix("alice", "ノート") == ["ノート.✓"]


def test_prefix_list_is_declared_unordered_by_key() -> None:
    specs = contract_methods(ClientStateService)
    assert specs["get_keys_by_prefix"].compare.order is Order.UNORDERED
    assert {name for name, spec in specs.items() if spec.kind.mutates} == {
        "set_by_key",
        "delete_by_key",
        "delete",
    }
