"""The style_presets contract, on every backend (legacy sqlite3; SQLModel on SQLite,
PostgreSQL and MariaDB)."""

from __future__ import annotations

import time

import pytest

from imagegen.services.contracts.style_presets import (
    PresetData,
    PresetType,
    StylePresetChanges,
    StylePresetRecord,
    StylePresetsService,
    StylePresetWithoutId,
)
from imagegen.services.core.style_presets import CoreStylePresetsService
from imagegen.services.errors import NotFoundError
from imagegen.services.legacy.style_presets import LegacyStylePresetsService
from shadow import Order, contract_methods
from tests.conftest import Backend


@pytest.fixture
def service(backend: Backend) -> StylePresetsService:
    return backend.build(LegacyStylePresetsService, CoreStylePresetsService)


def _preset(
    name: str,
    *,
    type: PresetType = PresetType.USER,
    is_public: bool = False,
    positive: str = "a castle",
    negative: str = "blurry",
) -> StylePresetWithoutId:
    return StylePresetWithoutId(
        name=name,
        preset_data=PresetData(positive_prompt=positive, negative_prompt=negative),
        type=type,
        is_public=is_public,
    )


def _names(records: list[StylePresetRecord]) -> list[str]:
    return [record.name for record in records]


def test_create_draws_the_id_and_returns_the_stored_row(
    backend: Backend, service: StylePresetsService
) -> None:
    created = service.create(_preset("Noir", is_public=True), "alice")
    assert created.id == "id-000001"
    assert (created.name, created.type, created.user_id, created.is_public) == (
        "Noir",
        PresetType.USER,
        "alice",
        True,
    )
    assert created.preset_data == PresetData(positive_prompt="a castle", negative_prompt="blurry")
    assert created.created_at.tzinfo is not None
    assert created.updated_at >= created.created_at
    assert service.get(created.id) == created


def test_get_of_a_missing_id_is_not_found(service: StylePresetsService) -> None:
    with pytest.raises(NotFoundError) as caught:
        service.get("nope")
    assert (caught.value.entity, caught.value.key) == ("style_preset", "nope")


def test_create_many_returns_rows_in_order_with_ids_drawn_in_order(
    service: StylePresetsService,
) -> None:
    created = service.create_many(
        [_preset("b"), _preset("a", type=PresetType.DEFAULT), _preset("c")], "bob"
    )
    assert [(r.id, r.name) for r in created] == [
        ("id-000001", "b"),
        ("id-000002", "a"),
        ("id-000003", "c"),
    ]
    assert all(r.user_id == "bob" for r in created)
    assert [service.get(r.id) for r in created] == created
    assert service.create_many([], "bob") == []


def test_update_changes_only_given_fields_and_refreshes_updated_at(
    service: StylePresetsService,
) -> None:
    created = service.create(_preset("Noir"), "alice")
    time.sleep(0.02)
    renamed = service.update(created.id, StylePresetChanges(name="Film noir"))
    assert renamed.name == "Film noir"
    assert (renamed.preset_data, renamed.type, renamed.is_public) == (
        created.preset_data,
        created.type,
        created.is_public,
    )
    assert renamed.created_at == created.created_at
    assert renamed.updated_at > created.updated_at
    new_data = PresetData(positive_prompt="rain", negative_prompt="")
    changed = service.update(
        created.id,
        StylePresetChanges(preset_data=new_data, type=PresetType.DEFAULT, is_public=True),
    )
    assert (changed.name, changed.preset_data, changed.type, changed.is_public) == (
        "Film noir",
        new_data,
        PresetType.DEFAULT,
        True,
    )
    assert service.get(created.id) == changed


def test_an_empty_update_keeps_the_fields_and_touches_updated_at(
    service: StylePresetsService,
) -> None:
    created = service.create(_preset("Noir"), "alice")
    time.sleep(0.02)
    same = service.update(created.id, StylePresetChanges())
    assert same.model_dump(exclude={"updated_at"}) == created.model_dump(exclude={"updated_at"})
    assert same.updated_at > created.updated_at


def test_update_of_a_missing_id_is_not_found(service: StylePresetsService) -> None:
    with pytest.raises(NotFoundError):
        service.update("nope", StylePresetChanges(name="x"))
    with pytest.raises(NotFoundError):
        service.update("nope", StylePresetChanges())


def test_delete_removes_the_row_and_is_silent_when_missing(service: StylePresetsService) -> None:
    kept = service.create(_preset("keep"), "alice")
    gone = service.create(_preset("gone"), "alice")
    service.delete(gone.id)
    with pytest.raises(NotFoundError):
        service.get(gone.id)
    service.delete(gone.id)
    service.delete("never-existed")
    assert service.get(kept.id) == kept


@pytest.fixture
def library(service: StylePresetsService) -> StylePresetsService:
    service.create(_preset("shipped", type=PresetType.DEFAULT), "system")
    service.create(_preset("alice private"), "alice")
    service.create(_preset("alice public", is_public=True), "alice")
    service.create(_preset("bob private"), "bob")
    service.create(_preset("bob public", is_public=True), "bob")
    return service


def test_admins_see_every_preset(library: StylePresetsService) -> None:
    assert sorted(_names(library.get_many(is_admin=True))) == [
        "alice private",
        "alice public",
        "bob private",
        "bob public",
        "shipped",
    ]
    assert len(library.get_many(user_id="alice", is_admin=True)) == 5


def test_users_see_defaults_public_ones_and_their_own(library: StylePresetsService) -> None:
    assert sorted(_names(library.get_many(user_id="alice"))) == [
        "alice private",
        "alice public",
        "bob public",
        "shipped",
    ]
    assert sorted(_names(library.get_many(user_id="carol"))) == [
        "alice public",
        "bob public",
        "shipped",
    ]


def test_without_a_user_only_defaults_and_public_ones_are_visible(
    library: StylePresetsService,
) -> None:
    assert sorted(_names(library.get_many())) == ["alice public", "bob public", "shipped"]


def test_type_filter_narrows_the_visible_presets(library: StylePresetsService) -> None:
    assert _names(library.get_many(type=PresetType.DEFAULT, user_id="alice")) == ["shipped"]
    assert sorted(_names(library.get_many(type=PresetType.USER, user_id="bob"))) == [
        "alice public",
        "bob private",
        "bob public",
    ]
    assert len(library.get_many(type=PresetType.USER, is_admin=True)) == 4


def test_get_many_orders_by_name_case_insensitively(service: StylePresetsService) -> None:
    for name in ("banana", "Apple", "cherry", "apple pie", "_under", "Zed", "a_b", "ab"):
        service.create(_preset(name), "alice")
    # Code point order of the ASCII-lowered names: " " < "_" < letters.
    assert _names(service.get_many(user_id="alice")) == [
        "_under",
        "a_b",
        "ab",
        "Apple",
        "apple pie",
        "banana",
        "cherry",
        "Zed",
    ]


def test_names_equal_but_for_case_are_ties(service: StylePresetsService) -> None:
    for name in ("b", "A", "a"):
        service.create(_preset(name), "alice")
    names = _names(service.get_many(user_id="alice"))
    assert sorted(names[:2]) == ["A", "a"]
    assert names[2] == "b"


def test_empty_list_when_nothing_is_visible(service: StylePresetsService) -> None:
    service.create(_preset("private"), "alice")
    assert service.get_many(user_id="bob") == []
    assert service.get_many(type=PresetType.DEFAULT, is_admin=True) == []


def test_unicode_and_long_values_round_trip(service: StylePresetsService) -> None:
    prompt = "雨の夜 🌧️, éclairage doux, " * 4_000
    created = service.create(_preset("Ünïcødé ✓ 名前", positive=prompt, negative="无"), "ユーザー")
    fetched = service.get(created.id)
    assert fetched.name == "Ünïcødé ✓ 名前"
    assert fetched.preset_data.positive_prompt == prompt
    assert fetched.user_id == "ユーザー"
    assert [r.id for r in service.get_many(user_id="ユーザー")] == [created.id]


def test_declarations_mark_prompts_sensitive_and_the_list_as_name_ties() -> None:
    specs = contract_methods(StylePresetsService)
    assert set(specs) == {"get", "create", "create_many", "update", "delete", "get_many"}
    listing = specs["get_many"].compare
    assert (listing.order, listing.key, listing.sort_key) == (Order.TIES, ("id",), ("name",))
    for name in ("get", "create", "create_many", "update", "get_many"):
        assert "preset_data" in specs[name].compare.sensitive
        assert {"created_at", "updated_at"} <= specs[name].compare.timestamps
