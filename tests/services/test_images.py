"""Contract tests of the images service, run on all four backends.

Rows that the service has no method for (boards, board membership) and exact
``created_at`` values (so ordering is deterministic) are set up with plain SQL
through the backend's own connection.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa

from imagegen.db.tables import ImageTable
from imagegen.services.contracts.images import (
    ImageCategory,
    ImageChanges,
    ImageLocation,
    ImageNames,
    ImageOrigin,
    ImageRecord,
    ImagesService,
    OrderDirection,
)
from imagegen.services.contracts.pages import OffsetPage
from imagegen.services.core.images import CoreImagesService
from imagegen.services.errors import NotFoundError, RuleViolationError
from imagegen.services.legacy.images import LegacyImagesService
from shadow import Order, contract_methods
from shadow.runtime import compare_values

if TYPE_CHECKING:
    from tests.conftest import Backend

T0 = datetime(2024, 5, 17, 10, 11, 12, 345000, tzinfo=UTC)


@pytest.fixture
def images(backend: Backend) -> ImagesService:
    return backend.build(LegacyImagesService, CoreImagesService)


def _sql(backend: Backend, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Run one statement with named parameters on the backend's own store."""
    if backend.legacy_db is not None:
        with backend.legacy_db.transaction() as cur:
            return [tuple(row) for row in cur.execute(sql, params).fetchall()]
    assert backend.engine is not None
    with backend.engine.begin() as conn:
        result = conn.execute(sa.text(sql), params)
        return [tuple(row) for row in result.all()] if result.returns_rows else []


def _board(backend: Backend, board_id: str, cover: str | None = None) -> None:
    _sql(
        backend,
        "INSERT INTO boards (board_id, board_name, cover_image_name) VALUES (:b, :n, :c)",
        b=board_id,
        n=f"board {board_id}",
        c=cover,
    )


def _put_on_board(backend: Backend, board_id: str, *names: str) -> None:
    for name in names:
        _sql(
            backend,
            "INSERT INTO board_images (board_id, image_name) VALUES (:b, :i)",
            b=board_id,
            i=name,
        )


def _set_created_at(backend: Backend, name: str, when: datetime) -> None:
    """Give an image an exact created_at, in the storage format of the backend."""
    if backend.legacy_db is not None:
        text = when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        _sql(backend, "UPDATE images SET created_at = :t WHERE image_name = :n", t=text, n=name)
        return
    assert backend.engine is not None
    table: sa.Table = ImageTable.__table__  # type: ignore[attr-defined]
    with backend.engine.begin() as conn:
        conn.execute(sa.update(table).where(table.c.image_name == name).values(created_at=when))


def _save(images: ImagesService, name: str, **options: Any) -> None:
    values: dict[str, Any] = {
        "image_origin": ImageOrigin.INTERNAL,
        "image_category": ImageCategory.GENERAL,
        "width": 64,
        "height": 32,
        "has_workflow": False,
    }
    values.update(options)
    images.save(name, **values)


def _gallery(backend: Backend, images: ImagesService, specs: list[tuple[str, int, bool]]) -> None:
    """Save images named by spec with created_at = T0 + seconds and the starred flag."""
    for name, seconds, starred in specs:
        _save(images, name, starred=starred)
        _set_created_at(backend, name, T0 + timedelta(seconds=seconds))


def _names(page: Any) -> list[str]:
    return [record.image_name for record in page.items]


# --- save / get -------------------------------------------------------------------------------


def test_save_then_get_returns_the_stored_record_without_metadata(images: ImagesService) -> None:
    saved = images.save(
        "a.png",
        ImageOrigin.EXTERNAL,
        ImageCategory.CONTROL,
        640,
        480,
        has_workflow=True,
        is_intermediate=True,
        starred=True,
        session_id="s1",
        node_id="n1",
        metadata={"prompt": "a cat"},
        user_id="alice",
        image_subfolder="2024/05",
    )
    record = images.get("a.png")
    assert saved.image_name == "a.png"
    assert saved.created_at == record.created_at
    assert record.created_at.tzinfo is not None and record.created_at.utcoffset() == timedelta(0)
    assert record.model_dump(exclude={"created_at", "updated_at"}) == {
        "image_name": "a.png",
        "image_origin": ImageOrigin.EXTERNAL,
        "image_category": ImageCategory.CONTROL,
        "width": 640,
        "height": 480,
        "session_id": "s1",
        "node_id": "n1",
        "is_intermediate": True,
        "deleted_at": None,
        "starred": True,
        "has_workflow": True,
        "user_id": "alice",
        "image_subfolder": "2024/05",
    }
    assert "metadata" not in type(record).model_fields


def test_save_defaults_owner_to_system_and_flags_to_false(images: ImagesService) -> None:
    _save(images, "b.png")
    record = images.get("b.png")
    assert (record.user_id, record.is_intermediate, record.starred, record.image_subfolder) == (
        "system",
        False,
        False,
        "",
    )
    assert images.get_metadata("b.png") is None


def test_saving_a_duplicate_name_is_ignored_and_returns_the_first_created_at(
    backend: Backend, images: ImagesService
) -> None:
    _save(images, "dup.png", width=1, metadata={"v": 1})
    _set_created_at(backend, "dup.png", T0)
    again = images.save(
        "dup.png",
        ImageOrigin.EXTERNAL,
        ImageCategory.MASK,
        999,
        999,
        has_workflow=True,
        metadata={"v": 2},
    )
    assert again.created_at == T0
    record = images.get("dup.png")
    assert (record.width, record.image_origin, record.image_category) == (1, "internal", "general")
    assert images.get_metadata("dup.png") == {"v": 1}


@pytest.mark.parametrize(
    ("origin", "category", "rule"),
    [("alien", "general", "image_origin"), ("internal", "selfie", "image_category")],
)
def test_save_refuses_unknown_origin_or_category_and_stores_nothing(
    images: ImagesService, origin: str, category: str, rule: str
) -> None:
    with pytest.raises(RuleViolationError) as caught:
        images.save("x.png", origin, category, 1, 1, has_workflow=False)  # type: ignore[arg-type]
    assert caught.value.rule == rule
    assert images.get_user_id("x.png") is None


def test_missing_image_get_and_get_metadata_raise_not_found(images: ImagesService) -> None:
    with pytest.raises(NotFoundError):
        images.get("nope.png")
    with pytest.raises(NotFoundError):
        images.get_metadata("nope.png")


def test_get_user_id_names_the_owner_or_none_for_a_missing_image(images: ImagesService) -> None:
    _save(images, "own.png", user_id="bob")
    assert images.get_user_id("own.png") == "bob"
    assert images.get_user_id("nope.png") is None


def test_metadata_round_trips_unicode_and_long_values(images: ImagesService) -> None:
    metadata = {
        "prompt": "Ein Bild von café crème, 猫, emoji 🐱 " + "x" * 100_000,
        "nested": {"seed": 42, "steps": [1, 2, 3], "cfg": 7.5, "none": None, "flag": True},
    }
    _save(images, "long.png", metadata=metadata)
    assert images.get_metadata("long.png") == metadata


def test_unicode_and_long_names_and_fields_round_trip(images: ImagesService) -> None:
    name = "画像-ü-" + "n" * 200 + ".png"
    _save(images, name, session_id="s" * 5000, node_id="ノード", image_subfolder="ä/ö")
    record = images.get(name)
    assert (record.image_name, record.session_id, record.node_id, record.image_subfolder) == (
        name,
        "s" * 5000,
        "ノード",
        "ä/ö",
    )


def test_names_differing_in_case_accent_or_trailing_space_are_different_images(
    images: ImagesService,
) -> None:
    names = ["e.png", "E.png", "é.png", "e.png "]
    for width, name in enumerate(names, start=1):
        _save(images, name, width=width)
    assert [images.get(name).width for name in names] == [1, 2, 3, 4]
    assert sorted(images.get_image_names().image_names) == sorted(names)


# --- update -----------------------------------------------------------------------------------


def test_update_changes_only_the_given_fields(images: ImagesService) -> None:
    _save(images, "u.png", session_id="s1")
    images.update("u.png", ImageChanges(starred=True))
    record = images.get("u.png")
    assert (record.starred, record.image_category, record.session_id) == (True, "general", "s1")
    images.update(
        "u.png",
        ImageChanges(
            image_category=ImageCategory.MASK, session_id="s2", is_intermediate=True, starred=False
        ),
    )
    record = images.get("u.png")
    assert (record.image_category, record.session_id, record.is_intermediate, record.starred) == (
        "mask",
        "s2",
        True,
        False,
    )


def test_update_with_no_changes_or_of_a_missing_image_is_silent(images: ImagesService) -> None:
    _save(images, "u.png")
    images.update("u.png", ImageChanges())
    images.update("missing.png", ImageChanges(starred=True))
    assert images.get("u.png").starred is False
    assert images.get_user_id("missing.png") is None


def test_update_refreshes_updated_at_but_not_created_at(
    backend: Backend, images: ImagesService
) -> None:
    _save(images, "u.png")
    _sql(
        backend,
        "UPDATE images SET updated_at = created_at WHERE image_name = :n",
        n="u.png",
    )
    _set_created_at(backend, "u.png", T0)
    before = images.get("u.png")
    images.update("u.png", ImageChanges(starred=True))
    after = images.get("u.png")
    assert after.created_at == before.created_at == T0
    assert after.updated_at > T0


# --- delete -----------------------------------------------------------------------------------


def test_delete_cascades_board_membership_and_clears_a_board_cover(
    backend: Backend, images: ImagesService
) -> None:
    _save(images, "d.png")
    _save(images, "keep.png")
    _board(backend, "b1", cover="d.png")
    _put_on_board(backend, "b1", "d.png", "keep.png")
    images.delete("d.png")
    with pytest.raises(NotFoundError):
        images.get("d.png")
    assert _sql(backend, "SELECT image_name FROM board_images") == [("keep.png",)]
    assert _sql(backend, "SELECT cover_image_name FROM boards") == [(None,)]
    images.delete("d.png")  # already gone: silent


def test_delete_many_deletes_the_named_images_and_skips_missing_ones(
    backend: Backend, images: ImagesService
) -> None:
    for name in ("a", "b", "c"):
        _save(images, name)
    _board(backend, "b1")
    _put_on_board(backend, "b1", "a")
    images.delete_many(["a", "c", "zzz"])
    images.delete_many([])
    assert images.get_image_names().image_names == ["b"]
    assert _sql(backend, "SELECT COUNT(*) FROM board_images") == [(0,)]


def test_delete_many_handles_thousands_of_names(images: ImagesService) -> None:
    _save(images, "kept")
    _save(images, "gone")
    images.delete_many([*(f"missing-{n}" for n in range(40_000)), "gone"])
    assert images.get_image_names().image_names == ["kept"]


def test_delete_intermediates_returns_sorted_locations_and_keeps_the_rest(
    backend: Backend, images: ImagesService
) -> None:
    _save(images, "m2", is_intermediate=True, image_subfolder="sub")
    _save(images, "final", is_intermediate=False)
    _save(images, "m1", is_intermediate=True, user_id="alice")
    _board(backend, "b1")
    _put_on_board(backend, "b1", "m1", "final")
    assert images.delete_intermediates() == [
        ImageLocation(image_name="m1", image_subfolder=""),
        ImageLocation(image_name="m2", image_subfolder="sub"),
    ]
    assert images.get_image_names().image_names == ["final"]
    assert _sql(backend, "SELECT image_name FROM board_images") == [("final",)]
    assert images.delete_intermediates() == []


def test_intermediates_count_for_everyone_or_one_user(images: ImagesService) -> None:
    assert images.get_intermediates_count() == 0
    _save(images, "i1", is_intermediate=True, user_id="alice")
    _save(images, "i2", is_intermediate=True)
    _save(images, "f1", user_id="alice")
    assert images.get_intermediates_count() == 2
    assert images.get_intermediates_count(user_id="alice") == 1
    assert images.get_intermediates_count(user_id="nobody") == 0


# --- get_many: order and pagination -------------------------------------------------------------

ORDER_SPECS = [("a", 1, False), ("b", 2, True), ("c", 3, False), ("d", 4, True), ("e", 5, False)]


ORDER_CASES = [
    (True, OrderDirection.DESC, ["d", "b", "e", "c", "a"]),
    (True, OrderDirection.ASC, ["b", "d", "a", "c", "e"]),
    (False, OrderDirection.DESC, ["e", "d", "c", "b", "a"]),
    (False, OrderDirection.ASC, ["a", "b", "c", "d", "e"]),
]


def test_get_many_orders_by_starred_then_created_at_in_the_given_direction(
    backend: Backend, images: ImagesService
) -> None:
    _gallery(backend, images, ORDER_SPECS)
    for starred_first, order_dir, expected in ORDER_CASES:
        case = f"starred_first={starred_first} order_dir={order_dir}"
        page = images.get_many(0, 10, starred_first=starred_first, order_dir=order_dir)
        assert _names(page) == expected, case
        names = images.get_image_names(starred_first=starred_first, order_dir=order_dir)
        assert names.image_names == expected, case
        assert (names.starred_count, names.total_count) == (2, 5), case


def test_get_many_ties_on_created_at_keep_the_starred_split(
    backend: Backend, images: ImagesService
) -> None:
    _gallery(backend, images, [("t1", 0, False), ("t2", 0, True), ("t3", 0, False)])
    names = _names(images.get_many())
    assert names[0] == "t2"
    assert sorted(names[1:]) == ["t1", "t3"]


def test_get_many_pages_through_the_list_with_the_filtered_total(
    backend: Backend, images: ImagesService
) -> None:
    _gallery(backend, images, ORDER_SPECS)
    first = images.get_many(0, 2, starred_first=False)
    last = images.get_many(4, 2, starred_first=False)
    beyond = images.get_many(10, 2, starred_first=False)
    assert (_names(first), first.offset, first.limit, first.total) == (["e", "d"], 0, 2, 5)
    assert (_names(last), last.total) == (["a"], 5)
    assert (_names(beyond), beyond.offset, beyond.total) == ([], 10, 5)
    assert _names(images.get_many(0, 0)) == []


def test_get_many_on_an_empty_gallery_is_an_empty_page(images: ImagesService) -> None:
    page = images.get_many()
    assert (page.items, page.offset, page.limit, page.total) == ([], 0, 10, 0)
    assert images.get_image_names().model_dump() == {
        "image_names": [],
        "starred_count": 0,
        "total_count": 0,
    }


def test_get_many_refuses_negative_offset_or_limit(images: ImagesService) -> None:
    with pytest.raises(RuleViolationError):
        images.get_many(-1, 10)
    with pytest.raises(RuleViolationError):
        images.get_many(0, -1)


# --- get_many: filters --------------------------------------------------------------------------


@pytest.fixture
def filtered(backend: Backend, images: ImagesService) -> ImagesService:
    """A gallery exercising every filter: origin, category, intermediate, board, owner."""
    _save(images, "gen", user_id="alice")
    _save(images, "ext", image_origin=ImageOrigin.EXTERNAL, user_id="bob")
    _save(images, "mask", image_category=ImageCategory.MASK, user_id="alice")
    _save(images, "ctl", image_category=ImageCategory.CONTROL, is_intermediate=True)
    _save(images, "usr", image_category=ImageCategory.USER, user_id="bob")
    for seconds, name in enumerate(["gen", "ext", "mask", "ctl", "usr"]):
        _set_created_at(backend, name, T0 + timedelta(seconds=seconds))
    _board(backend, "b1")
    _board(backend, "b2")
    _put_on_board(backend, "b1", "gen", "mask")
    _put_on_board(backend, "b2", "usr")
    return images


FILTER_CASES: list[tuple[dict[str, Any], set[str]]] = [
    ({}, {"gen", "ext", "mask", "ctl", "usr"}),
    ({"image_origin": ImageOrigin.EXTERNAL}, {"ext"}),
    ({"image_origin": ImageOrigin.INTERNAL}, {"gen", "mask", "ctl", "usr"}),
    ({"categories": [ImageCategory.GENERAL]}, {"gen", "ext"}),
    ({"categories": [ImageCategory.MASK, ImageCategory.USER]}, {"mask", "usr"}),
    ({"categories": []}, set()),
    ({"is_intermediate": True}, {"ctl"}),
    ({"is_intermediate": False}, {"gen", "ext", "mask", "usr"}),
    ({"board_id": "b1"}, {"gen", "mask"}),
    ({"board_id": "b2"}, {"usr"}),
    ({"board_id": "none"}, {"ext", "ctl"}),
    ({"board_id": "no-such-board"}, set()),
    ({"user_id": "alice"}, {"gen", "mask"}),
    ({"user_id": "alice", "is_admin": True}, {"gen", "ext", "mask", "ctl", "usr"}),
    ({"user_id": "system"}, {"ctl"}),
    ({"board_id": "b1", "categories": [ImageCategory.MASK], "user_id": "alice"}, {"mask"}),
    ({"board_id": "none", "is_intermediate": False}, {"ext"}),
]


def test_get_many_and_get_image_names_apply_each_filter(filtered: ImagesService) -> None:
    for filters, expected in FILTER_CASES:
        page = filtered.get_many(0, 100, **filters)
        assert set(_names(page)) == expected, filters
        assert page.total == len(expected), filters
        names = filtered.get_image_names(**filters)
        assert set(names.image_names) == expected, filters
        assert names.total_count == len(expected), filters


def test_filtered_total_counts_all_matches_not_just_the_page(filtered: ImagesService) -> None:
    page = filtered.get_many(0, 1, board_id="none")
    assert (len(page.items), page.total) == (1, 2)


def _save_with_metadata(images: ImagesService, name: str, metadata: dict[str, Any]) -> None:
    _save(images, name, metadata=metadata)


SEARCH_CASES: list[tuple[str, set[str]]] = [
    ("cat", {"cat", "upper"}),
    ("CAT", {"cat", "upper"}),
    ("100%", {"percent"}),
    ("%", {"percent"}),
    ("a_b", {"underscore"}),
    ("_", {"underscore"}),
    ("/", {"slash"}),
    ("café", {"unicode"}),
    ("猫", {"unicode"}),
    ("2024-05-17", {"cat", "upper", "percent", "underscore", "slash", "unicode", "none"}),
    ("2024-05-17 10:11", {"cat", "upper", "percent", "underscore", "slash", "unicode", "none"}),
    (
        "2024-05-17 10:11:12.345",
        {"cat", "upper", "percent", "underscore", "slash", "unicode", "none"},
    ),
    # created_at is matched as millisecond text on every backend, never with microseconds.
    ("12.3450", set()),
    ("no such text", set()),
]


def test_search_term_matches_metadata_and_created_at_case_insensitively_and_escaped(
    backend: Backend, images: ImagesService
) -> None:
    _save_with_metadata(images, "cat", {"prompt": "a cat on a mat"})
    _save_with_metadata(images, "upper", {"prompt": "A CAT"})
    _save_with_metadata(images, "percent", {"prompt": "100% real"})
    _save_with_metadata(images, "underscore", {"prompt": "a_b"})
    _save_with_metadata(images, "slash", {"path": "x/y"})
    _save_with_metadata(images, "unicode", {"prompt": "café 猫"})
    _save(images, "none")
    _save(images, "old")
    for name in ("cat", "upper", "percent", "underscore", "slash", "unicode", "none"):
        _set_created_at(backend, name, T0)
    _set_created_at(backend, "old", datetime(2019, 1, 2, 3, 4, 5, tzinfo=UTC))
    for term, expected in SEARCH_CASES:
        page = images.get_many(0, 100, search_term=term)
        assert set(_names(page)) == expected, term
        assert page.total == len(expected), term
        assert set(images.get_image_names(search_term=term).image_names) == expected, term


def test_search_folds_ascii_case_only_on_every_backend(images: ImagesService) -> None:
    _save_with_metadata(images, "e", {"prompt": "école"})
    assert _names(images.get_many(search_term="ÉCOLE")) == []
    assert _names(images.get_many(search_term="école")) == ["e"]


# --- most recent image for a board -------------------------------------------------------------


def test_most_recent_image_for_board_prefers_starred_then_newest_non_intermediate(
    backend: Backend, images: ImagesService
) -> None:
    _gallery(backend, images, [("old_star", 1, True), ("new", 3, False), ("newer_star", 2, True)])
    _save(images, "inter", is_intermediate=True, starred=True)
    _set_created_at(backend, "inter", T0 + timedelta(seconds=9))
    _board(backend, "b1")
    _board(backend, "empty")
    _put_on_board(backend, "b1", "old_star", "new", "newer_star", "inter")
    record = images.get_most_recent_image_for_board("b1")
    assert record is not None and record.image_name == "newer_star"
    assert images.get_most_recent_image_for_board("empty") is None
    images.update("newer_star", ImageChanges(starred=False))
    images.update("old_star", ImageChanges(starred=False))
    record = images.get_most_recent_image_for_board("b1")
    assert record is not None and record.image_name == "new"


def test_every_public_method_is_declared_with_its_comparison_spec() -> None:
    specs = contract_methods(ImagesService)
    writes = {name for name, spec in specs.items() if spec.kind.mutates}
    assert writes == {"save", "update", "delete", "delete_many", "delete_intermediates"}
    page = specs["get_many"].compare
    assert (page.order, page.rows, page.sort_key) == (
        Order.TIES,
        "items",
        ("starred", "created_at"),
    )
    assert {"created_at", "updated_at"} <= page.timestamps
    names = specs["get_image_names"].compare
    assert (names.order, names.rows) == (Order.UNORDERED, "image_names")
    assert "metadata" in specs["save"].compare.sensitive
    assert specs["get_metadata"].compare.sensitive_result


def _record(name: str, created_at: datetime, *, starred: bool = False) -> ImageRecord:
    return ImageRecord(
        image_name=name,
        image_origin=ImageOrigin.INTERNAL,
        image_category=ImageCategory.GENERAL,
        width=1,
        height=1,
        session_id=None,
        node_id=None,
        is_intermediate=False,
        created_at=created_at,
        updated_at=created_at,
        deleted_at=None,
        starred=starred,
        has_workflow=False,
        user_id="system",
        image_subfolder="",
    )


def test_declared_specs_let_the_runtime_accept_ties_but_not_a_wrong_order() -> None:
    """Rows saved within the lag between the stores may come in either order; others not."""
    specs = contract_methods(ImagesService)
    page_spec, names_spec = specs["get_many"].compare, specs["get_image_names"].compare
    star = _record("star", T0, starred=True)
    a = _record("a", T0 + timedelta(milliseconds=1))
    b = _record("b", T0 + timedelta(milliseconds=2))
    legacy = OffsetPage[ImageRecord](items=[star, b, a], offset=0, limit=10, total=3)
    swapped = OffsetPage[ImageRecord](items=[star, a, b], offset=0, limit=10, total=3)
    wrong = OffsetPage[ImageRecord](items=[a, star, b], offset=0, limit=10, total=3)
    assert compare_values(page_spec, legacy, swapped, tolerance=0.01).equal
    assert not compare_values(page_spec, legacy, swapped, tolerance=0.0).equal
    assert not compare_values(page_spec, legacy, wrong, tolerance=0.01).equal
    names = ImageNames(image_names=["star", "b", "a"], starred_count=1, total_count=3)
    assert compare_values(
        names_spec, names, names.model_copy(update={"image_names": ["star", "a", "b"]})
    ).equal
    assert not compare_values(
        names_spec, names, names.model_copy(update={"starred_count": 2})
    ).equal


def test_two_images_of_a_board_with_the_same_created_at_resolve_by_name(
    backend: Backend, images: ImagesService
) -> None:
    """Regression (issue 10, point 8): a tie on starred and created_at is broken by name.

    The later-saved image (``a.png``) is what an index scan in descending order
    meets first, so an order without a tie-breaker returned it on one store and
    ``z.png`` on another; every backend now returns the name-last one.
    """
    _gallery(backend, images, [("z.png", 5, False), ("a.png", 5, False), ("m.png", 1, False)])
    _board(backend, "b1")
    _put_on_board(backend, "b1", "z.png", "a.png", "m.png")
    record = images.get_most_recent_image_for_board("b1")
    assert record is not None and record.image_name == "z.png"
    page = images.get_many(0, 2, starred_first=False, board_id="b1")
    assert _names(page) == ["z.png", "a.png"]
    ascending = images.get_many(0, 1, starred_first=False, order_dir=OrderDirection.ASC)
    assert _names(ascending) == ["m.png"]


def test_most_recent_image_accepts_either_of_two_tied_images_but_not_an_older_one() -> None:
    """Two images saved within the write lag may each be "most recent" on one store.

    The mirror stamps the same two saves up to the lag later, so a near-tie on
    one store can be an exact tie, or the other order, on the other: the
    comparison accepts the other tied image. An image whose created_at is
    beyond the tolerance, a different starred flag, or a missing result is
    still a divergence.
    """
    spec = contract_methods(ImagesService)["get_most_recent_image_for_board"].compare
    first = _record("z.png", T0 + timedelta(milliseconds=2))
    tied = _record("a.png", T0 + timedelta(milliseconds=3))
    older = _record("m.png", T0 - timedelta(seconds=5))
    starred = _record("a.png", T0 + timedelta(milliseconds=3), starred=True)
    assert compare_values(spec, first, tied, tolerance=0.01).equal
    assert compare_values(spec, first, first.model_copy(), tolerance=0.0).equal
    assert not compare_values(spec, first, older, tolerance=1.0).equal
    assert not compare_values(spec, first, starred, tolerance=1.0).equal
    assert not compare_values(spec, first, None, tolerance=1.0).equal
    other_owner = first.model_copy(update={"user_id": "mallory"})
    assert not compare_values(spec, first, other_owner, tolerance=1.0).equal
