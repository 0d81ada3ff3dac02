"""Contract tests of the models service, run on all four backends."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

import pytest
from pydantic import ValidationError

from imagegen.services.contracts.models import (
    ModelChanges,
    ModelConfig,
    ModelOrderBy,
    ModelsService,
    OrderDirection,
)
from imagegen.services.core.model_relationships import CoreModelRelationshipsService
from imagegen.services.core.models import CoreModelsService
from imagegen.services.errors import DuplicateError, NotFoundError, RuleViolationError
from imagegen.services.legacy.model_relationships import LegacyModelRelationshipsService
from imagegen.services.legacy.models import LegacyModelsService
from shadow import contract_methods

if TYPE_CHECKING:
    from tests.conftest import Backend


@pytest.fixture
def models(backend: Backend) -> ModelsService:
    return backend.build(LegacyModelsService, CoreModelsService)


def config(key: str, **fields: Any) -> ModelConfig:
    """A valid config; every field can be overridden."""
    values: dict[str, Any] = {
        "key": key,
        "hash": f"blake3:{key}",
        "base": "sd-1",
        "type": "main",
        "path": f"/models/{key}.safetensors",
        "format": "checkpoint",
        "name": f"Model {key}",
        "source": f"https://example.com/{key}",
        "source_type": "url",
        "description": None,
        "source_api_response": None,
        "trigger_phrases": None,
        "file_size": 1000,
    }
    values.update(fields)
    return ModelConfig(**values)


def keys(configs: list[ModelConfig]) -> list[str]:
    return [item.key for item in configs]


# --- add / get / exists -----------------------------------------------------------------------


def test_add_model_returns_and_stores_the_full_config_with_extra_fields(
    models: ModelsService,
) -> None:
    original = config(
        "k1",
        description="Ünïcode déscription 模型",
        source_api_response='{"id": 7}',
        trigger_phrases=["a cat", "ねこ"],
        file_size=7_000_000_000,
        variant="inpaint",
        settings={"steps": 30, "nested": [1, {"x": None}]},
    )
    assert models.add_model(original) == original
    fetched = models.get_model("k1")
    assert fetched == original
    assert fetched.model_extra == {
        "variant": "inpaint",
        "settings": {"steps": 30, "nested": [1, {"x": None}]},
    }
    assert models.exists("k1") is True
    assert models.exists("k2") is False


def test_add_model_with_a_taken_key_is_a_duplicate_naming_key(models: ModelsService) -> None:
    models.add_model(config("k1"))
    with pytest.raises(DuplicateError) as caught:
        models.add_model(config("k1", path="/elsewhere"))
    assert caught.value.field == "key"
    assert models.get_model("k1").path == "/models/k1.safetensors"


def test_add_model_with_a_taken_path_is_a_duplicate_naming_path(models: ModelsService) -> None:
    models.add_model(config("k1"))
    with pytest.raises(DuplicateError) as caught:
        models.add_model(config("k2", path="/models/k1.safetensors"))
    assert caught.value.field == "path"
    assert models.exists("k2") is False


def test_taken_key_and_path_together_report_the_key(models: ModelsService) -> None:
    models.add_model(config("k1"))
    with pytest.raises(DuplicateError) as caught:
        models.add_model(config("k1"))
    assert caught.value.field == "key"


def test_unknown_key_is_not_found_for_every_keyed_call(models: ModelsService) -> None:
    with pytest.raises(NotFoundError):
        models.get_model("nope")
    with pytest.raises(NotFoundError):
        models.del_model("nope")
    with pytest.raises(NotFoundError):
        models.replace_model("nope", config("nope"))
    with pytest.raises(NotFoundError):
        models.update_model("nope", ModelChanges(name="x"))
    with pytest.raises(NotFoundError):
        models.get_model_by_hash("blake3:nope")


def test_a_config_missing_a_required_field_is_refused_before_storage() -> None:
    with pytest.raises(ValidationError):
        ModelConfig(key="k", hash="h")  # type: ignore[call-arg]


def test_long_paths_and_names_round_trip(models: ModelsService) -> None:
    long = config("long", path="/m/" + "p" * 700, name="N" * 700, description="d" * 50_000)
    models.add_model(long)
    assert models.get_model("long") == long
    assert keys(models.search_by_path("/m/" + "p" * 700)) == ["long"]


def test_keys_and_paths_differing_only_in_case_are_distinct(models: ModelsService) -> None:
    models.add_model(config("k", path="/p"))
    models.add_model(config("K", path="/P"))
    assert keys(models.all_models()) == ["K", "k"]
    assert models.get_model("K").path == "/P"


# --- delete / replace / update -----------------------------------------------------------------


def test_del_model_removes_it(models: ModelsService) -> None:
    models.add_model(config("k1"))
    models.del_model("k1")
    assert models.exists("k1") is False
    assert models.all_models() == []


def test_deleting_a_model_cascades_its_relationships(
    backend: Backend, models: ModelsService
) -> None:
    relationships = backend.build(LegacyModelRelationshipsService, CoreModelRelationshipsService)
    for key in ("a", "b", "c"):
        models.add_model(config(key))
    relationships.add_model_relationship("a", "b")
    relationships.add_model_relationship("c", "a")
    relationships.add_model_relationship("b", "c")
    models.del_model("a")
    assert relationships.get_related_model_keys("b") == ["c"]
    assert relationships.get_related_model_keys("a") == []
    # The freed key can be registered again with no stale relationship attached.
    models.add_model(config("a"))
    assert relationships.get_related_model_keys("a") == []


def test_replace_model_swaps_the_whole_config(models: ModelsService) -> None:
    models.add_model(config("k1", description="old", variant="x"))
    replacement = config("k1", name="New", base="sdxl", path="/new/path", trigger_phrases=["t"])
    assert models.replace_model("k1", replacement) == replacement
    stored = models.get_model("k1")
    assert stored == replacement
    assert stored.model_extra == {}
    assert keys(models.search_by_attr(base="sdxl")) == ["k1"]
    assert models.search_by_path("/models/k1.safetensors") == []


def test_replace_model_refuses_a_different_key(models: ModelsService) -> None:
    models.add_model(config("k1"))
    with pytest.raises(RuleViolationError) as caught:
        models.replace_model("k1", config("k2"))
    assert caught.value.rule == "key_mismatch"
    assert models.exists("k2") is False


def test_replace_or_update_onto_another_models_path_is_a_duplicate_path(
    models: ModelsService,
) -> None:
    models.add_model(config("k1"))
    models.add_model(config("k2"))
    with pytest.raises(DuplicateError) as caught:
        models.replace_model("k2", config("k2", path="/models/k1.safetensors"))
    assert caught.value.field == "path"
    with pytest.raises(DuplicateError) as caught:
        models.update_model("k2", ModelChanges(path="/models/k1.safetensors"))
    assert caught.value.field == "path"
    assert models.get_model("k2").path == "/models/k2.safetensors"


def test_keeping_its_own_path_is_not_a_duplicate(models: ModelsService) -> None:
    models.add_model(config("k1"))
    assert models.update_model("k1", ModelChanges(name="Renamed")).name == "Renamed"
    assert models.replace_model("k1", config("k1", file_size=5)).file_size == 5


def test_update_model_merges_only_the_set_fields(models: ModelsService) -> None:
    models.add_model(config("k1", description="keep me", variant="normal"))
    updated = models.update_model(
        "k1", ModelChanges(name="Renamed", trigger_phrases=["x"], variant="inpaint")
    )
    assert updated.name == "Renamed"
    assert updated.description == "keep me"
    assert updated.trigger_phrases == ["x"]
    assert updated.model_extra == {"variant": "inpaint"}
    assert models.get_model("k1") == updated
    cleared = models.update_model("k1", ModelChanges(description=None))
    assert cleared.description is None
    assert cleared.name == "Renamed"
    assert keys(models.search_by_attr(model_name="Renamed")) == ["k1"]


def test_update_model_cannot_change_the_key(models: ModelsService) -> None:
    models.add_model(config("k1"))
    with pytest.raises(RuleViolationError) as caught:
        models.update_model("k1", ModelChanges(key="k9"))
    assert caught.value.rule == "key_mismatch"


def test_update_model_cannot_clear_a_required_field(models: ModelsService) -> None:
    models.add_model(config("k1"))
    with pytest.raises(RuleViolationError) as caught:
        models.update_model("k1", ModelChanges(name=None))
    assert caught.value.rule == "invalid_config"
    assert models.get_model("k1").name == "Model k1"


# --- lookups by hash and path ------------------------------------------------------------------


def test_lookups_by_hash_and_path(models: ModelsService) -> None:
    models.add_model(config("b", hash="same", type="lora"))
    models.add_model(config("a", hash="same", type="main"))
    models.add_model(config("c", hash="other"))
    assert models.get_model_by_hash("same").key == "a"
    assert keys(models.search_by_hash("same")) == ["b", "a"]  # default order: type first
    assert models.search_by_hash("missing") == []
    assert keys(models.search_by_path("/models/c.safetensors")) == ["c"]
    assert models.search_by_path("/models/none") == []


# --- searching and ordering --------------------------------------------------------------------


@pytest.fixture
def registry(models: ModelsService) -> ModelsService:
    """Models whose default order exercises every key: type, base, name (any case), format."""
    models.add_model(config("m1", type="main", base="sdxl", name="beta", format="diffusers"))
    models.add_model(config("m2", type="main", base="sd-1", name="Zeta", format="checkpoint"))
    models.add_model(config("m3", type="lora", base="sdxl", name="alpha", format="lycoris"))
    models.add_model(config("m4", type="main", base="sd-1", name="alpha", format="diffusers"))
    models.add_model(config("m5", type="main", base="sd-1", name="Alpha", format="checkpoint"))
    models.add_model(config("m6", type="main", base="sd-1", name="alpha", format="checkpoint"))
    models.add_model(
        config("m7", type="vae", base="sd-1", name="a_b", format="checkpoint", file_size=1)
    )
    models.add_model(
        config("m8", type="vae", base="sd-1", name="ab", format="checkpoint", file_size=9)
    )
    return models


DEFAULT_ORDER = ["m3", "m5", "m6", "m4", "m2", "m1", "m7", "m8"]


def test_all_models_uses_the_default_order_with_the_key_breaking_ties(
    registry: ModelsService,
) -> None:
    assert keys(registry.all_models()) == DEFAULT_ORDER


ORDER_CASES: list[tuple[ModelOrderBy, OrderDirection, list[str]]] = [
    (ModelOrderBy.DEFAULT, OrderDirection.ASC, DEFAULT_ORDER),
    (ModelOrderBy.DEFAULT, OrderDirection.DESC, DEFAULT_ORDER[::-1]),
    (ModelOrderBy.TYPE, OrderDirection.ASC, ["m3", "m1", "m2", "m4", "m5", "m6", "m7", "m8"]),
    (ModelOrderBy.BASE, OrderDirection.ASC, ["m2", "m4", "m5", "m6", "m7", "m8", "m1", "m3"]),
    # ASCII case folding; '_' (0x5F) sorts before 'b' (0x62) by code point.
    (ModelOrderBy.NAME, OrderDirection.ASC, ["m7", "m8", "m3", "m4", "m5", "m6", "m1", "m2"]),
    (ModelOrderBy.NAME, OrderDirection.DESC, ["m2", "m1", "m6", "m5", "m4", "m3", "m8", "m7"]),
    (ModelOrderBy.FORMAT, OrderDirection.ASC, ["m2", "m5", "m6", "m7", "m8", "m1", "m4", "m3"]),
    (ModelOrderBy.SIZE, OrderDirection.DESC, ["m6", "m5", "m4", "m3", "m2", "m1", "m8", "m7"]),
    (ModelOrderBy.PATH, OrderDirection.ASC, ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8"]),
]


def test_search_by_attr_orders_as_requested(registry: ModelsService) -> None:
    for order_by, direction, expected in ORDER_CASES:
        found = keys(registry.search_by_attr(order_by=order_by, direction=direction))
        assert found == expected, (order_by, direction)


class SearchFilters(TypedDict, total=False):
    """The keyword filters of ``search_by_attr``."""

    model_name: str
    base: str
    type: str
    format: str


FILTER_CASES: list[tuple[SearchFilters, list[str]]] = [
    ({"base": "sd-1"}, ["m5", "m6", "m4", "m2", "m7", "m8"]),
    ({"type": "lora"}, ["m3"]),
    ({"format": "diffusers"}, ["m4", "m1"]),
    ({"model_name": "alpha"}, ["m3", "m6", "m4"]),
    ({"model_name": "Alpha"}, ["m5"]),
    ({"base": "SD-1"}, []),
    ({"base": "sd-1", "type": "main", "format": "checkpoint"}, ["m5", "m6", "m2"]),
    ({"model_name": "nothing"}, []),
]


def test_search_by_attr_filters_by_exact_values(registry: ModelsService) -> None:
    for filters, expected in FILTER_CASES:
        assert keys(registry.search_by_attr(**filters)) == expected, filters


def test_list_models_pages_in_order_with_counts(registry: ModelsService) -> None:
    first = registry.list_models(page=0, per_page=3)
    last = registry.list_models(page=2, per_page=3)
    beyond = registry.list_models(page=5, per_page=3)
    everything = registry.list_models(page=0, per_page=None)
    assert (keys(first.items), first.page, first.pages, first.per_page, first.total) == (
        DEFAULT_ORDER[:3],
        0,
        3,
        3,
        8,
    )
    assert keys(last.items) == DEFAULT_ORDER[6:]
    assert (beyond.items, beyond.pages, beyond.total) == ([], 3, 8)
    assert (keys(everything.items), everything.pages, everything.per_page) == (
        DEFAULT_ORDER,
        1,
        None,
    )
    by_size = registry.list_models(page=0, per_page=2, order_by=ModelOrderBy.SIZE)
    assert keys(by_size.items) == ["m7", "m8"]


def test_list_models_of_an_empty_registry(models: ModelsService) -> None:
    page = models.list_models()
    assert (page.items, page.pages, page.total) == ([], 0, 0)
    assert models.list_models(per_page=None).pages == 1


def test_list_models_refuses_a_negative_page_or_zero_per_page(models: ModelsService) -> None:
    with pytest.raises(RuleViolationError):
        models.list_models(page=-1)
    with pytest.raises(RuleViolationError):
        models.list_models(per_page=0)


def test_every_public_method_is_declared_read_or_write() -> None:
    specs = contract_methods(ModelsService)
    assert {name for name, spec in specs.items() if spec.kind.mutates} == {
        "add_model",
        "del_model",
        "replace_model",
        "update_model",
    }
    assert specs["list_models"].compare.rows == "items"
