"""Contract tests of the model_relationships service, run on all four backends."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa

from imagegen.services.contracts.model_relationships import ModelRelationshipsService
from imagegen.services.contracts.models import ModelConfig, ModelsService
from imagegen.services.core.model_relationships import CoreModelRelationshipsService
from imagegen.services.core.models import CoreModelsService
from imagegen.services.errors import NotFoundError, RuleViolationError
from imagegen.services.legacy.model_relationships import LegacyModelRelationshipsService
from imagegen.services.legacy.models import LegacyModelsService
from shadow import contract_methods

if TYPE_CHECKING:
    from tests.conftest import Backend

KEYS = ("a", "b", "c", "d", "Z", "ü-模型-" + "k" * 100)


@pytest.fixture
def models(backend: Backend) -> ModelsService:
    service = backend.build(LegacyModelsService, CoreModelsService)
    for key in KEYS:
        service.add_model(
            ModelConfig(
                key=key,
                hash=f"h-{key}",
                base="sd-1",
                type="main",
                path=f"/m/{key}",
                format="checkpoint",
                name=key,
                source="s",
                source_type="path",
                file_size=1,
            )
        )
    return service


@pytest.fixture
def relationships(backend: Backend, models: ModelsService) -> ModelRelationshipsService:
    return backend.build(LegacyModelRelationshipsService, CoreModelRelationshipsService)


def _stored_pairs(backend: Backend) -> list[tuple[Any, ...]]:
    sql = "SELECT model_key_1, model_key_2 FROM model_relationships"
    if backend.legacy_db is not None:
        with backend.legacy_db.transaction() as cur:
            return sorted(tuple(row) for row in cur.execute(sql).fetchall())
    assert backend.engine is not None
    with backend.engine.connect() as conn:
        return sorted(tuple(row) for row in conn.execute(sa.text(sql)).all())


def test_a_relationship_is_stored_once_as_the_sorted_pair(
    backend: Backend, relationships: ModelRelationshipsService
) -> None:
    relationships.add_model_relationship("c", "a")
    relationships.add_model_relationship("a", "c")  # the same pair: ignored
    relationships.add_model_relationship("c", "a")  # a duplicate: ignored
    relationships.add_model_relationship("b", "Z")  # 'Z' sorts before 'b' by code point
    assert _stored_pairs(backend) == [("Z", "b"), ("a", "c")]


def test_lookups_work_from_either_end(relationships: ModelRelationshipsService) -> None:
    relationships.add_model_relationship("b", "a")
    relationships.add_model_relationship("b", "c")
    assert relationships.get_related_model_keys("a") == ["b"]
    assert relationships.get_related_model_keys("b") == ["a", "c"]
    assert relationships.get_related_model_keys("c") == ["b"]
    assert relationships.get_related_model_keys("d") == []
    assert relationships.get_related_model_keys("unknown") == []


def test_relating_a_model_to_itself_is_a_rule_violation(
    backend: Backend, relationships: ModelRelationshipsService
) -> None:
    with pytest.raises(RuleViolationError) as caught:
        relationships.add_model_relationship("a", "a")
    assert caught.value.rule == "self_relationship"
    with pytest.raises(RuleViolationError):
        relationships.remove_model_relationship("a", "a")
    assert _stored_pairs(backend) == []


def test_an_unknown_model_is_not_found_naming_the_first_missing_key(
    backend: Backend, relationships: ModelRelationshipsService
) -> None:
    with pytest.raises(NotFoundError) as caught:
        relationships.add_model_relationship("a", "ghost")
    assert caught.value.key == "ghost"
    with pytest.raises(NotFoundError) as caught:
        relationships.add_model_relationship("phantom", "ghost")
    assert caught.value.key == "phantom"
    assert _stored_pairs(backend) == []


def test_remove_deletes_the_pair_from_either_order_and_is_silent_when_absent(
    relationships: ModelRelationshipsService,
) -> None:
    relationships.add_model_relationship("a", "b")
    relationships.add_model_relationship("a", "c")
    relationships.remove_model_relationship("b", "a")
    assert relationships.get_related_model_keys("a") == ["c"]
    relationships.remove_model_relationship("b", "a")
    relationships.remove_model_relationship("a", "ghost")
    assert relationships.get_related_model_keys("a") == ["c"]


def test_batch_returns_every_related_key_deduplicated_and_sorted(
    relationships: ModelRelationshipsService,
) -> None:
    relationships.add_model_relationship("a", "c")
    relationships.add_model_relationship("b", "c")
    relationships.add_model_relationship("b", "d")
    relationships.add_model_relationship("d", KEYS[-1])
    assert relationships.get_related_model_keys_batch(["a", "b"]) == ["c", "d"]
    # 'a' and 'c' are given and related to each other, so both are listed.
    assert relationships.get_related_model_keys_batch(["c", "d", "a"]) == [
        "a",
        "b",
        "c",
        KEYS[-1],
    ]
    assert relationships.get_related_model_keys_batch(["Z", "ghost"]) == []
    assert relationships.get_related_model_keys_batch([]) == []


def test_deleting_a_model_removes_its_relationships_from_both_ends(
    backend: Backend, models: ModelsService, relationships: ModelRelationshipsService
) -> None:
    relationships.add_model_relationship("a", "b")
    relationships.add_model_relationship("c", "b")
    relationships.add_model_relationship("c", "d")
    models.del_model("b")
    assert _stored_pairs(backend) == [("c", "d")]
    assert relationships.get_related_model_keys("a") == []
    assert relationships.get_related_model_keys_batch(["a", "c"]) == ["d"]


def test_batch_lookup_of_thousands_of_keys_works(relationships: ModelRelationshipsService) -> None:
    relationships.add_model_relationship("a", "b")
    many = [f"missing-{n}" for n in range(20_000)]
    assert relationships.get_related_model_keys_batch([*many, "a"]) == ["b"]


def test_every_public_method_is_declared_read_or_write() -> None:
    specs = contract_methods(ModelRelationshipsService)
    assert {name for name, spec in specs.items() if spec.kind.mutates} == {
        "add_model_relationship",
        "remove_model_relationship",
    }
