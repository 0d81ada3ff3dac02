"""The workflows contract, on every backend (legacy sqlite3; SQLModel on SQLite,
PostgreSQL and MariaDB)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import timedelta

import pytest
import sqlalchemy as sa

from imagegen.db.tables import metadata
from imagegen.services.contracts.workflows import (
    Direction,
    Workflow,
    WorkflowCategory,
    WorkflowListItem,
    WorkflowMeta,
    WorkflowOrderBy,
    WorkflowsService,
    WorkflowWithoutId,
    with_shared_tag,
)
from imagegen.services.core.workflows import CoreWorkflowsService
from imagegen.services.errors import NotFoundError, RuleViolationError
from imagegen.services.legacy.workflows import LegacyWorkflowsService
from shadow import Order, contract_methods
from tests.conftest import Backend

_library = metadata.tables["workflow_library"]
USER = WorkflowCategory.USER
DEFAULT = WorkflowCategory.DEFAULT


@pytest.fixture
def service(backend: Backend) -> WorkflowsService:
    return backend.build(LegacyWorkflowsService, CoreWorkflowsService)


def _doc(
    name: str,
    *,
    description: str = "",
    tags: str = "",
    category: WorkflowCategory = USER,
) -> WorkflowWithoutId:
    return WorkflowWithoutId(
        name=name,
        description=description,
        tags=tags,
        meta=WorkflowMeta(category=category),
        nodes=[{"id": "n1", "type": "noise"}],
    )


def _add_default(backend: Backend, workflow_id: str, name: str, tags: str = "") -> None:
    """Insert a shipped (category ``default``) workflow past the service, which refuses them."""
    document = _doc(name, tags=tags, category=DEFAULT).model_dump(mode="json")
    text = json.dumps({**document, "id": workflow_id})
    if backend.legacy_db is not None:
        with backend.legacy_db.transaction() as cursor:
            cursor.execute(
                "INSERT INTO workflow_library (workflow_id, workflow) VALUES (?, ?)",
                (workflow_id, text),
            )
        return
    assert backend.engine is not None
    with backend.engine.begin() as conn:
        conn.execute(sa.insert(_library).values(workflow_id=workflow_id, workflow=text))


def _ids(page_items: Sequence[WorkflowListItem]) -> list[str]:
    return [item.workflow_id for item in page_items]


# -- get / create ---------------------------------------------------------------------


def test_create_draws_the_id_and_returns_the_stored_row(service: WorkflowsService) -> None:
    record = service.create(_doc("Upscale", description="2x", tags="a, b"), "alice")
    assert record.workflow_id == "id-000001"
    assert record.workflow.id == record.workflow_id
    assert (record.name, record.user_id, record.is_public, record.opened_at) == (
        "Upscale",
        "alice",
        False,
        None,
    )
    assert record.workflow.description == "2x"
    assert record.workflow.tags == "a, b"
    assert record.workflow.nodes == [{"id": "n1", "type": "noise"}]
    assert record.created_at.tzinfo is not None and record.updated_at >= record.created_at
    assert service.get(record.workflow_id) == record


def test_create_defaults_to_the_system_user_and_private(service: WorkflowsService) -> None:
    record = service.create(_doc("w"))
    assert (record.user_id, record.is_public) == ("system", False)


def test_create_keeps_unknown_document_keys(service: WorkflowsService) -> None:
    document = WorkflowWithoutId.model_validate(
        {**_doc("w").model_dump(mode="json"), "form": {"rows": [1, 2]}}
    )
    record = service.create(document)
    assert record.workflow.model_extra == {"form": {"rows": [1, 2]}}


def test_create_refuses_a_default_workflow(service: WorkflowsService) -> None:
    with pytest.raises(RuleViolationError) as caught:
        service.create(_doc("shipped", category=DEFAULT))
    assert caught.value.rule == "default_workflow"
    assert service.get_many(WorkflowOrderBy.NAME, Direction.ASC).total == 0


def test_creating_a_public_workflow_adds_the_shared_tag(service: WorkflowsService) -> None:
    record = service.create(_doc("w", tags="portrait"), "alice", is_public=True)
    assert record.is_public
    assert record.workflow.tags == "portrait, shared"


def test_get_of_a_missing_id_is_not_found(service: WorkflowsService) -> None:
    with pytest.raises(NotFoundError) as caught:
        service.get("nope")
    assert (caught.value.entity, caught.value.key) == ("workflow", "nope")


# -- update -----------------------------------------------------------------------------


def _edited(record_workflow: Workflow, **changes: object) -> Workflow:
    return record_workflow.model_copy(update=changes)


def test_update_replaces_the_document_and_refreshes_updated_at(
    service: WorkflowsService,
) -> None:
    created = service.create(_doc("old", description="d"), "alice")
    time.sleep(0.02)
    updated = service.update(_edited(created.workflow, name="new", description="dd"), "alice")
    assert updated.name == "new"
    assert updated.workflow.description == "dd"
    assert updated.created_at == created.created_at
    assert updated.updated_at > created.updated_at
    assert service.get(created.workflow_id) == updated
    listed = service.get_many(WorkflowOrderBy.NAME, Direction.ASC).items
    assert [(item.name, item.description) for item in listed] == [("new", "dd")]


def test_update_with_an_unchanged_document_still_returns_the_row(
    service: WorkflowsService,
) -> None:
    """A matched row counts as updated even when nothing changes (MariaDB counts matches)."""
    created = service.create(_doc("same"), "alice")
    again = service.update(created.workflow, "alice")
    assert again.workflow == created.workflow
    assert service.update(created.workflow).name == "same"


def test_update_without_a_user_updates_any_user_workflow(service: WorkflowsService) -> None:
    created = service.create(_doc("old"), "alice")
    assert service.update(_edited(created.workflow, name="new")).name == "new"


def test_update_of_another_users_workflow_is_not_found(service: WorkflowsService) -> None:
    created = service.create(_doc("old"), "alice")
    with pytest.raises(NotFoundError):
        service.update(_edited(created.workflow, name="new"), "bob")
    assert service.get(created.workflow_id).name == "old"


def test_update_of_a_missing_workflow_is_not_found(service: WorkflowsService) -> None:
    created = service.create(_doc("w"))
    with pytest.raises(NotFoundError):
        service.update(_edited(created.workflow, id="missing"))


def test_update_refuses_a_default_document_and_cannot_reach_default_rows(
    backend: Backend, service: WorkflowsService
) -> None:
    created = service.create(_doc("w"))
    as_default = _edited(created.workflow, meta=WorkflowMeta(category=DEFAULT))
    with pytest.raises(RuleViolationError):
        service.update(as_default)
    _add_default(backend, "shipped-1", "Shipped")
    shipped = service.get("shipped-1").workflow
    with pytest.raises(NotFoundError):
        service.update(_edited(shipped, meta=WorkflowMeta(category=USER), name="hijack"))
    assert service.get("shipped-1").name == "Shipped"


# -- delete -----------------------------------------------------------------------------


def test_delete_removes_the_workflow(service: WorkflowsService) -> None:
    kept = service.create(_doc("keep"), "alice")
    gone = service.create(_doc("gone"), "alice")
    service.delete(gone.workflow_id, "alice")
    with pytest.raises(NotFoundError):
        service.get(gone.workflow_id)
    assert service.get(kept.workflow_id) == kept


def test_delete_of_a_missing_workflow_is_not_found(service: WorkflowsService) -> None:
    with pytest.raises(NotFoundError):
        service.delete("nope")


def test_delete_of_another_users_workflow_is_not_found(service: WorkflowsService) -> None:
    created = service.create(_doc("w"), "alice")
    with pytest.raises(NotFoundError):
        service.delete(created.workflow_id, "bob")
    service.delete(created.workflow_id)  # without a user: any user workflow
    with pytest.raises(NotFoundError):
        service.get(created.workflow_id)


def test_delete_refuses_default_workflows(backend: Backend, service: WorkflowsService) -> None:
    _add_default(backend, "shipped-1", "Shipped")
    with pytest.raises(RuleViolationError):
        service.delete("shipped-1")
    assert service.get("shipped-1").name == "Shipped"


# -- update_is_public / update_opened_at ------------------------------------------------


def test_making_public_adds_the_shared_tag_and_private_removes_it(
    service: WorkflowsService,
) -> None:
    created = service.create(_doc("w", tags="portrait,  upscale"), "alice")
    public = service.update_is_public(created.workflow_id, True, "alice")
    assert public.is_public
    assert public.workflow.tags == "portrait, upscale, shared"
    again = service.update_is_public(created.workflow_id, True)
    assert again.workflow.tags == "portrait, upscale, shared"
    private = service.update_is_public(created.workflow_id, False, "alice")
    assert not private.is_public
    assert private.workflow.tags == "portrait, upscale"
    assert service.get(created.workflow_id) == private


def test_making_private_a_workflow_without_the_tag_keeps_its_tags_text(
    service: WorkflowsService,
) -> None:
    created = service.create(_doc("w", tags="a ,b"), "alice")
    assert service.update_is_public(created.workflow_id, False).workflow.tags == "a ,b"


def test_update_is_public_obeys_the_write_rules(
    backend: Backend, service: WorkflowsService
) -> None:
    created = service.create(_doc("w"), "alice")
    with pytest.raises(NotFoundError):
        service.update_is_public(created.workflow_id, True, "bob")
    with pytest.raises(NotFoundError):
        service.update_is_public("nope", True)
    _add_default(backend, "shipped-1", "Shipped")
    with pytest.raises(RuleViolationError):
        service.update_is_public("shipped-1", True)
    assert not service.get(created.workflow_id).is_public


def test_update_opened_at_stores_the_clocks_now(
    backend: Backend, service: WorkflowsService
) -> None:
    created = service.create(_doc("w"), "alice")
    backend.clock.advance(90.5)
    service.update_opened_at(created.workflow_id, "alice")
    assert service.get(created.workflow_id).opened_at == backend.clock.now()


def test_update_opened_at_twice_at_the_same_instant_succeeds(
    backend: Backend, service: WorkflowsService
) -> None:
    created = service.create(_doc("w"), "alice")
    service.update_opened_at(created.workflow_id, "alice")
    service.update_opened_at(created.workflow_id, "alice")
    assert service.get(created.workflow_id).opened_at == backend.clock.now()


def test_update_opened_at_needs_a_row_visible_to_the_user(
    backend: Backend, service: WorkflowsService
) -> None:
    private = service.create(_doc("private"), "alice")
    public = service.create(_doc("public"), "alice", is_public=True)
    _add_default(backend, "shipped-1", "Shipped")
    with pytest.raises(NotFoundError):
        service.update_opened_at(private.workflow_id, "bob")
    with pytest.raises(NotFoundError):
        service.update_opened_at("nope")
    service.update_opened_at(public.workflow_id, "bob")
    service.update_opened_at("shipped-1", "bob")
    service.update_opened_at(private.workflow_id)
    now = backend.clock.now()
    assert service.get(private.workflow_id).opened_at == now
    assert service.get(public.workflow_id).opened_at == now
    assert service.get("shipped-1").opened_at == now


# -- get_many ---------------------------------------------------------------------------


@pytest.fixture
def library(backend: Backend, service: WorkflowsService) -> WorkflowsService:
    """Five rows with distinct created_at: shipped, then alice's three, then bob's one."""
    _add_default(backend, "d-1", "Shipped sampler", tags="sampler, default")
    time.sleep(0.005)
    service.create(_doc("beta", description="Face fix", tags="portrait, face"), "alice")
    time.sleep(0.005)
    service.create(_doc("Alpha", description="Upscaler 100%", tags="upscale"), "alice")
    time.sleep(0.005)
    service.create(_doc("gamma", description="big_model"), "alice", is_public=True)
    time.sleep(0.005)
    service.create(_doc("delta", tags="portrait"), "bob")
    return service


def test_get_many_without_paging_returns_every_row_as_one_page(library: WorkflowsService) -> None:
    page = library.get_many(WorkflowOrderBy.NAME, Direction.ASC)
    assert (page.page, page.pages, page.per_page, page.total) == (0, 1, None, 5)
    assert [item.name for item in page.items] == [
        "Alpha",
        "beta",
        "delta",
        "gamma",
        "Shipped sampler",
    ]
    first = page.items[0]
    assert (first.workflow_id, first.category, first.description, first.tags) == (
        "id-000002",
        USER,
        "Upscaler 100%",
        "upscale",
    )


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (WorkflowOrderBy.CREATED_AT, ["d-1", "id-000001", "id-000002", "id-000003", "id-000004"]),
        (WorkflowOrderBy.NAME, ["id-000002", "id-000001", "id-000004", "id-000003", "d-1"]),
    ],
)
def test_get_many_orders_by_the_requested_column_both_ways(
    library: WorkflowsService, order_by: WorkflowOrderBy, expected: list[str]
) -> None:
    assert _ids(library.get_many(order_by, Direction.ASC).items) == expected
    assert _ids(library.get_many(order_by, Direction.DESC).items) == expected[::-1]


def test_get_many_orders_by_updated_at(library: WorkflowsService) -> None:
    time.sleep(0.005)
    library.update_is_public("id-000001", True)
    ids = _ids(library.get_many(WorkflowOrderBy.UPDATED_AT, Direction.DESC).items)
    assert ids[0] == "id-000001"


def test_get_many_orders_by_opened_at_with_unopened_rows_first_ascending(
    backend: Backend, library: WorkflowsService
) -> None:
    library.update_opened_at("id-000003")
    backend.clock.advance(5)
    library.update_opened_at("id-000001")
    ascending = _ids(library.get_many(WorkflowOrderBy.OPENED_AT, Direction.ASC).items)
    assert sorted(ascending[:3]) == ["d-1", "id-000002", "id-000004"]
    assert ascending[3:] == ["id-000003", "id-000001"]
    descending = _ids(library.get_many(WorkflowOrderBy.OPENED_AT, Direction.DESC).items)
    assert descending[:2] == ["id-000001", "id-000003"]


def test_get_many_orders_by_is_public(library: WorkflowsService) -> None:
    ids = _ids(library.get_many(WorkflowOrderBy.IS_PUBLIC, Direction.DESC).items)
    assert ids[0] == "id-000003"
    ids = _ids(library.get_many(WorkflowOrderBy.IS_PUBLIC, Direction.ASC).items)
    assert ids[-1] == "id-000003"


def test_pagination_pages_last_page_and_beyond_the_end(library: WorkflowsService) -> None:
    pages = [
        library.get_many(WorkflowOrderBy.NAME, Direction.ASC, page=n, per_page=2) for n in range(4)
    ]
    assert [(p.page, p.pages, p.per_page, p.total) for p in pages] == [
        (0, 3, 2, 5),
        (1, 3, 2, 5),
        (2, 3, 2, 5),
        (3, 3, 2, 5),
    ]
    assert [[item.name for item in p.items] for p in pages] == [
        ["Alpha", "beta"],
        ["delta", "gamma"],
        ["Shipped sampler"],
        [],
    ]


def test_pagination_of_an_empty_library(service: WorkflowsService) -> None:
    page = service.get_many(WorkflowOrderBy.CREATED_AT, Direction.DESC, page=0, per_page=10)
    assert (page.pages, page.total, page.items) == (0, 0, [])
    everything = service.get_many(WorkflowOrderBy.CREATED_AT, Direction.DESC)
    assert (everything.pages, everything.total, everything.items) == (1, 0, [])


def test_bad_paging_arguments_are_refused(service: WorkflowsService) -> None:
    with pytest.raises(RuleViolationError):
        service.get_many(WorkflowOrderBy.NAME, Direction.ASC, page=-1, per_page=2)
    with pytest.raises(RuleViolationError):
        service.get_many(WorkflowOrderBy.NAME, Direction.ASC, per_page=0)


def _names_for(service: WorkflowsService, **filters: object) -> list[str]:
    page = service.get_many(WorkflowOrderBy.NAME, Direction.ASC, **filters)  # type: ignore[arg-type]
    assert page.total == len(page.items)
    return [item.name for item in page.items]


def test_category_filter(library: WorkflowsService) -> None:
    assert _names_for(library, categories=[DEFAULT]) == ["Shipped sampler"]
    assert len(_names_for(library, categories=[USER])) == 4
    assert len(_names_for(library, categories=[USER, DEFAULT])) == 5
    assert len(_names_for(library, categories=[])) == 5


def test_query_matches_name_description_or_tags_case_insensitively(
    library: WorkflowsService,
) -> None:
    assert _names_for(library, query="ALPHA") == ["Alpha"]
    assert _names_for(library, query="face") == ["beta"]
    assert _names_for(library, query="Portrait") == ["beta", "delta"]
    assert _names_for(library, query="  upscale  ") == ["Alpha"]
    assert len(_names_for(library, query="   ")) == 5
    assert _names_for(library, query="nothing like it") == []


def test_query_percent_and_underscore_match_themselves(library: WorkflowsService) -> None:
    assert _names_for(library, query="100%") == ["Alpha"]
    assert _names_for(library, query="%") == ["Alpha"]
    assert _names_for(library, query="g_x") == []
    assert _names_for(library, query="big_") == ["gamma"]
    assert _names_for(library, query="_") == ["gamma"]


def test_tags_filter_is_an_or_of_substrings(library: WorkflowsService) -> None:
    assert _names_for(library, tags=["face"]) == ["beta"]
    assert _names_for(library, tags=["face", "upscale"]) == ["Alpha", "beta"]
    assert _names_for(library, tags=[" portrait "]) == ["beta", "delta"]
    assert _names_for(library, tags=["none-such"]) == []


def test_has_been_opened_filter(library: WorkflowsService) -> None:
    library.update_opened_at("id-000002")
    assert _names_for(library, has_been_opened=True) == ["Alpha"]
    assert len(_names_for(library, has_been_opened=False)) == 4


def test_a_user_sees_their_own_rows_plus_defaults(library: WorkflowsService) -> None:
    assert _names_for(library, user_id="bob") == ["delta", "Shipped sampler"]
    assert _names_for(library, user_id="carol") == ["Shipped sampler"]
    assert len(_names_for(library, user_id="alice")) == 4


def test_is_public_filter(library: WorkflowsService) -> None:
    assert _names_for(library, is_public=True) == ["gamma"]
    assert len(_names_for(library, is_public=False)) == 4
    assert _names_for(library, is_public=True, user_id="bob") == []


def test_filters_combine_and_apply_to_every_page(library: WorkflowsService) -> None:
    first = library.get_many(
        WorkflowOrderBy.NAME,
        Direction.ASC,
        [USER],
        page=0,
        per_page=1,
        tags=["portrait", "upscale"],
        user_id="alice",
    )
    second = library.get_many(
        WorkflowOrderBy.NAME,
        Direction.ASC,
        [USER],
        page=1,
        per_page=1,
        tags=["portrait", "upscale"],
        user_id="alice",
    )
    assert (first.total, first.pages) == (2, 2)
    assert [i.name for i in first.items] + [i.name for i in second.items] == ["Alpha", "beta"]


# -- counts and tags --------------------------------------------------------------------


def test_counts_by_category_include_zeros(library: WorkflowsService) -> None:
    assert library.counts_by_category([USER, DEFAULT]) == {"user": 4, "default": 1}
    assert library.counts_by_category([USER], user_id="bob") == {"user": 1}
    assert library.counts_by_category([USER, DEFAULT], is_public=True) == {
        "user": 1,
        "default": 0,
    }
    assert library.counts_by_category([DEFAULT], has_been_opened=True) == {"default": 0}
    assert library.counts_by_category([]) == {}


def test_counts_by_tag_include_zeros(library: WorkflowsService) -> None:
    assert library.counts_by_tag(["portrait", "upscale", "missing"]) == {
        "portrait": 2,
        "upscale": 1,
        "missing": 0,
    }
    assert library.counts_by_tag(["portrait"], user_id="bob") == {"portrait": 1}
    assert library.counts_by_tag(["sampler"], categories=[USER]) == {"sampler": 0}
    assert library.counts_by_tag(["portrait"], is_public=False, has_been_opened=False) == {
        "portrait": 2
    }


def test_get_all_tags_is_sorted_unique_and_filtered(library: WorkflowsService) -> None:
    assert library.get_all_tags() == [
        "default",
        "face",
        "portrait",
        "sampler",
        "shared",
        "upscale",
    ]
    assert library.get_all_tags(categories=[USER], user_id="bob") == ["portrait"]
    assert library.get_all_tags(is_public=True) == ["shared"]


def test_get_all_tags_of_an_empty_library(service: WorkflowsService) -> None:
    assert service.get_all_tags() == []
    service.create(_doc("no tags"))
    assert service.get_all_tags() == []


# -- values ----------------------------------------------------------------------------


def test_unicode_and_long_values_round_trip(service: WorkflowsService) -> None:
    description = "説明 ✓ é " * 60
    nodes = [{"id": f"n{i}", "data": "ノード🙂" * 200} for i in range(40)]
    document = WorkflowWithoutId(
        name="ワークフロー Ünïcødé",
        description=description,
        tags="日本, été",
        meta=WorkflowMeta(category=USER),
        nodes=nodes,
    )
    record = service.create(document, "ユーザー")
    assert service.get(record.workflow_id).workflow.nodes == nodes
    assert _names_for(service, query="ワーク") == ["ワークフロー Ünïcødé"]
    assert _names_for(service, tags=["été"]) == ["ワークフロー Ünïcødé"]
    assert service.get_all_tags() == ["été", "日本"]


def test_with_shared_tag_only_rewrites_when_the_tag_changes() -> None:
    assert with_shared_tag("a ,b", True) == "a, b, shared"
    assert with_shared_tag("a, shared", True) == "a, shared"
    assert with_shared_tag("shared, a, shared", False) == "a"
    assert with_shared_tag("", True) == "shared"
    assert with_shared_tag("x", False) == "x"


def test_clock_times_are_written_as_given(backend: Backend, service: WorkflowsService) -> None:
    created = service.create(_doc("w"))
    backend.clock.advance(0.123456)
    service.update_opened_at(created.workflow_id)
    opened = service.get(created.workflow_id).opened_at
    assert opened is not None
    assert opened - backend.clock.now() == timedelta(0)


def test_declarations() -> None:
    specs = contract_methods(WorkflowsService)
    assert set(specs) == {
        "get",
        "create",
        "update",
        "delete",
        "update_is_public",
        "update_opened_at",
        "get_many",
        "counts_by_category",
        "counts_by_tag",
        "get_all_tags",
    }
    listing = specs["get_many"].compare
    assert (listing.order, listing.rows, listing.key) == (
        Order.UNORDERED,
        "items",
        ("workflow_id",),
    )
    assert {name for name, spec in specs.items() if spec.kind.mutates} == {
        "create",
        "update",
        "delete",
        "update_is_public",
        "update_opened_at",
    }
