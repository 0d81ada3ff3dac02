"""Contract tests for the boards service, run on all four backends.

Users come from the users service; images (which have no service method here)
are inserted with plain SQL through the backend's own connection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pydantic
import pytest
import sqlalchemy as sa

from imagegen.db.tables import metadata
from imagegen.services.contracts.boards import (
    Board,
    BoardChanges,
    BoardOrder,
    BoardsService,
    BoardVisibility,
    Direction,
)
from imagegen.services.contracts.users import UsersService
from imagegen.services.core.boards import CoreBoardsService
from imagegen.services.core.users import CoreUsersService
from imagegen.services.errors import NotFoundError, RuleViolationError
from imagegen.services.legacy.boards import LegacyBoardsService
from imagegen.services.legacy.users import LegacyUsersService
from imagegen.services.passwords import PasswordHasher
from shadow import Order, contract_methods

if TYPE_CHECKING:
    from tests.conftest import Backend


@pytest.fixture
def boards(backend: Backend) -> BoardsService:
    return backend.build(LegacyBoardsService, CoreBoardsService)


@pytest.fixture
def users(backend: Backend) -> UsersService:
    return backend.build(LegacyUsersService, CoreUsersService, passwords=PasswordHasher(cost=2))


def _insert(backend: Backend, table: str, **values: Any) -> None:
    """Insert one row with plain SQL (legacy) or a Core insert (ORM backends)."""
    if backend.legacy_db is not None:
        columns = ", ".join(f'"{name}"' for name in values)
        marks = ", ".join(f":{name}" for name in values)
        with backend.legacy_db.transaction() as cur:
            cur.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", values)
        return
    assert backend.engine is not None
    with backend.engine.begin() as conn:
        conn.execute(metadata.tables[table].insert(), values)


def _execute(backend: Backend, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    if backend.legacy_db is not None:
        with backend.legacy_db.transaction() as cur:
            return [tuple(row) for row in cur.execute(sql, params).fetchall()]
    assert backend.engine is not None
    with backend.engine.begin() as conn:
        result = conn.execute(sa.text(sql), params)
        return [tuple(row) for row in result.fetchall()] if result.returns_rows else []


def _image(backend: Backend, name: str) -> str:
    _insert(
        backend,
        "images",
        image_name=name,
        image_origin="internal",
        image_category="general",
        width=64,
        height=64,
    )
    return name


def _ids(boards: list[Board]) -> list[str]:
    return [board.board_id for board in boards]


# -- save / get ------------------------------------------------------------------------


def test_save_returns_a_private_board_owned_by_the_user(boards: BoardsService) -> None:
    board = boards.save("Landscapes", "user-1")
    assert board.board_id == "id-000001"
    assert (board.board_name, board.user_id) == ("Landscapes", "user-1")
    assert board.board_visibility is BoardVisibility.PRIVATE
    assert (board.is_public, board.archived, board.cover_image_name) == (False, False, None)
    assert board.deleted_at is None
    assert board.created_at.tzinfo is not None and board.updated_at.tzinfo is not None
    assert boards.get(board.board_id) == board


def test_board_names_keep_unicode_and_may_have_300_characters(boards: BoardsService) -> None:
    name = "Ünïcødé 🎨 ボード " + "x" * 286
    assert len(name) == 300
    board = boards.save(name, "user-1")
    assert boards.get(board.board_id).board_name == name


@pytest.mark.parametrize("name", ["", "x" * 301], ids=["empty", "301-chars"])
def test_save_refuses_an_empty_or_too_long_name(boards: BoardsService, name: str) -> None:
    with pytest.raises(RuleViolationError) as raised:
        boards.save(name, "user-1")
    assert raised.value.rule == "board_name_length"


def test_get_of_an_unknown_board_is_not_found(boards: BoardsService) -> None:
    with pytest.raises(NotFoundError):
        boards.get("nope")


# -- update ----------------------------------------------------------------------------


def test_update_renames_and_archives(boards: BoardsService) -> None:
    board = boards.save("Old", "user-1")
    renamed = boards.update(board.board_id, BoardChanges(board_name="New"))
    assert renamed.board_name == "New" and not renamed.archived
    archived = boards.update(board.board_id, BoardChanges(archived=True))
    assert archived.archived and archived.board_name == "New"
    assert boards.update(board.board_id, BoardChanges(archived=False)).archived is False


def test_update_refuses_a_too_long_name(boards: BoardsService) -> None:
    board = boards.save("Old", "user-1")
    with pytest.raises(RuleViolationError):
        boards.update(board.board_id, BoardChanges(board_name="y" * 301))
    assert boards.get(board.board_id).board_name == "Old"


def test_visibility_keeps_is_public_in_step(boards: BoardsService) -> None:
    board = boards.save("B", "user-1")
    public = boards.update(board.board_id, BoardChanges(board_visibility=BoardVisibility.PUBLIC))
    assert (public.board_visibility, public.is_public) == (BoardVisibility.PUBLIC, True)
    shared = boards.update(board.board_id, BoardChanges(board_visibility="shared"))
    assert (shared.board_visibility, shared.is_public) == (BoardVisibility.SHARED, False)


def test_cover_image_is_set_checked_and_cleared(boards: BoardsService, backend: Backend) -> None:
    board = boards.save("B", "user-1")
    cover = _image(backend, "cover.png")
    assert boards.update(board.board_id, BoardChanges(cover_image_name=cover)).cover_image_name == (
        cover
    )
    with pytest.raises(NotFoundError):
        boards.update(board.board_id, BoardChanges(cover_image_name="missing.png"))
    assert boards.get(board.board_id).cover_image_name == cover
    cleared = boards.update(board.board_id, BoardChanges(cover_image_name=None))
    assert cleared.cover_image_name is None


def test_deleting_the_cover_image_clears_the_cover(boards: BoardsService, backend: Backend) -> None:
    board = boards.save("B", "user-1")
    cover = _image(backend, "cover.png")
    boards.update(board.board_id, BoardChanges(cover_image_name=cover))
    _execute(backend, "DELETE FROM images WHERE image_name = :n", n=cover)
    assert boards.get(board.board_id).cover_image_name is None


def test_update_with_no_field_set_returns_the_board_as_stored(boards: BoardsService) -> None:
    board = boards.save("B", "user-1")
    assert boards.update(board.board_id, BoardChanges()) == board


def test_update_of_an_unknown_board_is_not_found(boards: BoardsService) -> None:
    with pytest.raises(NotFoundError):
        boards.update("nope", BoardChanges(board_name="x"))


def test_changes_refuse_none_except_for_the_cover() -> None:
    for field in ("board_name", "archived", "board_visibility"):
        with pytest.raises(pydantic.ValidationError):
            BoardChanges.model_validate({field: None})
    assert BoardChanges(cover_image_name=None).model_fields_set == {"cover_image_name"}


# -- delete ----------------------------------------------------------------------------


def test_delete_cascades_image_links_and_shares_but_keeps_the_images(
    boards: BoardsService, users: UsersService, backend: Backend
) -> None:
    ann = users.create("ann@example.com", "Ann", "pw")
    board = boards.save("B", "user-1")
    other = boards.save("Other", "user-1")
    image = _image(backend, "a.png")
    kept = _image(backend, "b.png")
    _insert(backend, "board_images", board_id=board.board_id, image_name=image)
    _insert(backend, "board_images", board_id=other.board_id, image_name=kept)
    boards.share(board.board_id, ann.user_id)

    boards.delete(board.board_id)

    with pytest.raises(NotFoundError):
        boards.get(board.board_id)
    assert _execute(backend, "SELECT image_name FROM board_images") == [(kept,)]
    assert _execute(backend, "SELECT COUNT(*) FROM shared_boards") == [(0,)]
    names = _execute(backend, "SELECT image_name FROM images ORDER BY image_name")
    assert names == [(image,), (kept,)]


def test_delete_of_an_unknown_board_is_silent(boards: BoardsService) -> None:
    board = boards.save("B", "user-1")
    boards.delete("nope")
    boards.delete(board.board_id)
    boards.delete(board.board_id)
    assert boards.get_all("user-1", is_admin=True) == []


# -- sharing ---------------------------------------------------------------------------


def test_share_lists_by_user_and_resharing_changes_only_can_edit(
    boards: BoardsService, users: UsersService, backend: Backend
) -> None:
    bob = users.create("bob@example.com", None, "pw")  # id-000001
    ann = users.create("ann@example.com", None, "pw")  # id-000002
    board = boards.save("B", "owner")
    assert boards.list_shares(board.board_id) == []
    boards.share(board.board_id, ann.user_id)
    boards.share(board.board_id, bob.user_id, can_edit=True)
    shares = boards.list_shares(board.board_id)
    assert [(s.user_id, s.can_edit) for s in shares] == [(bob.user_id, True), (ann.user_id, False)]
    assert {s.board_id for s in shares} == {board.board_id}
    backend.clock.advance(5)
    boards.share(board.board_id, ann.user_id, can_edit=True)
    reshared = boards.list_shares(board.board_id)
    assert [(s.user_id, s.can_edit) for s in reshared] == [(bob.user_id, True), (ann.user_id, True)]
    assert reshared[1].shared_at == shares[1].shared_at


def test_share_needs_a_board_and_a_user(boards: BoardsService, users: UsersService) -> None:
    ann = users.create("ann@example.com", None, "pw")
    board = boards.save("B", "owner")
    with pytest.raises(NotFoundError) as no_board:
        boards.share("nope", ann.user_id)
    assert no_board.value.entity == "board"
    with pytest.raises(NotFoundError) as no_user:
        boards.share(board.board_id, "nobody")
    assert no_user.value.entity == "user"


def test_unshare_removes_the_share_and_is_silent_when_missing(
    boards: BoardsService, users: UsersService
) -> None:
    ann = users.create("ann@example.com", None, "pw")
    board = boards.save("B", "owner")
    boards.share(board.board_id, ann.user_id)
    boards.unshare(board.board_id, ann.user_id)
    assert boards.list_shares(board.board_id) == []
    boards.unshare(board.board_id, ann.user_id)
    boards.unshare("nope", "nobody")


# -- visibility ------------------------------------------------------------------------


@pytest.fixture
def world(boards: BoardsService, users: UsersService) -> dict[str, Any]:
    """Boards of every kind, as seen by ``viewer``."""
    viewer = users.create("viewer@example.com", None, "pw")
    made = {
        "own": boards.save("own", viewer.user_id),
        "own_archived": boards.save("own archived", viewer.user_id),
        "shared_with_me": boards.save("shared with me", "stranger"),
        "shared_and_public": boards.save("shared and public", "stranger"),
        "visibility_shared": boards.save("visibility shared", "stranger"),
        "public": boards.save("public", "stranger"),
        "private": boards.save("private", "stranger"),
        "private_archived_shared": boards.save("private archived shared", "stranger"),
    }
    boards.update(made["own_archived"].board_id, BoardChanges(archived=True))
    boards.share(made["shared_with_me"].board_id, viewer.user_id)
    boards.share(made["shared_and_public"].board_id, viewer.user_id, can_edit=True)
    boards.update(made["shared_and_public"].board_id, BoardChanges(board_visibility="public"))
    boards.update(made["visibility_shared"].board_id, BoardChanges(board_visibility="shared"))
    boards.update(made["public"].board_id, BoardChanges(board_visibility="public"))
    boards.share(made["private_archived_shared"].board_id, viewer.user_id)
    boards.update(made["private_archived_shared"].board_id, BoardChanges(archived=True))
    # The viewer shares their own board with themselves: still one board in the total.
    boards.share(made["own"].board_id, viewer.user_id)
    return {"viewer": viewer.user_id, **{key: board.board_id for key, board in made.items()}}


def test_users_see_their_own_shared_and_public_boards(
    boards: BoardsService, world: dict[str, Any]
) -> None:
    page = boards.get_many(world["viewer"], is_admin=False, limit=100)
    expected = {world[k] for k in ("own", "shared_with_me", "shared_and_public")} | {
        world["visibility_shared"],
        world["public"],
    }
    assert set(_ids(page.items)) == expected
    assert page.total == len(expected) == len(page.items)


def test_archived_boards_appear_only_when_asked(
    boards: BoardsService, world: dict[str, Any]
) -> None:
    page = boards.get_many(world["viewer"], is_admin=False, limit=100, include_archived=True)
    assert world["own_archived"] in _ids(page.items)
    assert world["private_archived_shared"] in _ids(page.items)
    assert world["private"] not in _ids(page.items)
    assert page.total == 7


def test_admins_see_every_board(boards: BoardsService, world: dict[str, Any]) -> None:
    page = boards.get_many("anyone", is_admin=True, limit=100, include_archived=True)
    assert page.total == 8 == len(page.items)
    assert boards.get_many("anyone", is_admin=True, limit=100).total == 6


def test_a_stranger_sees_only_shared_and_public_boards(
    boards: BoardsService, world: dict[str, Any]
) -> None:
    seen = boards.get_all("nobody-else", is_admin=False)
    assert set(_ids(seen)) == {
        world["shared_and_public"],
        world["visibility_shared"],
        world["public"],
    }


def test_get_all_applies_the_same_visibility_as_get_many(
    boards: BoardsService, world: dict[str, Any]
) -> None:
    for include_archived in (False, True):
        for is_admin in (False, True):
            every = boards.get_many(
                world["viewer"], is_admin, limit=100, include_archived=include_archived
            )
            assert boards.get_all(world["viewer"], is_admin, include_archived=include_archived) == (
                every.items
            )


# -- order and paging ------------------------------------------------------------------


def test_created_at_order_both_ways(boards: BoardsService) -> None:
    made = [boards.save(f"board {n}", "u") for n in range(4)]
    newest_first = boards.get_all("u", is_admin=False)
    assert _ids(newest_first) == _ids(made)[::-1]
    oldest_first = boards.get_all("u", False, BoardOrder.CREATED_AT, Direction.ASC)
    assert _ids(oldest_first) == _ids(made)
    stamps = [board.created_at for board in oldest_first]
    assert stamps == sorted(stamps)


def test_name_order_is_case_insensitive_and_code_point_based(boards: BoardsService) -> None:
    names = ["banana", "Apple", "ab", "a_b", "Cherry", "apple pie", "Zebra", "émile", "日本"]
    for name in names:
        boards.save(name, "u")
    ascending = boards.get_all("u", False, BoardOrder.BOARD_NAME, Direction.ASC)
    expected = ["a_b", "ab", "Apple", "apple pie", "banana", "Cherry", "Zebra", "émile", "日本"]
    assert [board.board_name for board in ascending] == expected
    descending = boards.get_all("u", False, BoardOrder.BOARD_NAME, Direction.DESC)
    assert [board.board_name for board in descending] == expected[::-1]


def test_name_order_folds_only_ascii_letters_as_sqlite_lower_does(boards: BoardsService) -> None:
    # SQLite's lower() leaves "É" (U+00C9) alone, so it sorts before "é" (U+00E9).
    for name in ["éa", "Éb", "Ea", "eB"]:
        boards.save(name, "u")
    ascending = boards.get_all("u", False, BoardOrder.BOARD_NAME, Direction.ASC)
    assert [board.board_name for board in ascending] == ["Ea", "eB", "Éb", "éa"]


def test_equal_names_are_ordered_by_board_id(boards: BoardsService) -> None:
    first = boards.save("Same", "u")
    second = boards.save("same", "u")
    third = boards.save("SAME", "u")
    ascending = boards.get_all("u", False, BoardOrder.BOARD_NAME, Direction.ASC)
    assert _ids(ascending) == [first.board_id, second.board_id, third.board_id]
    descending = boards.get_all("u", False, BoardOrder.BOARD_NAME, Direction.DESC)
    assert _ids(descending) == [third.board_id, second.board_id, first.board_id]


@pytest.mark.parametrize(
    ("offset", "limit", "expected"),
    [(0, 2, [0, 1]), (2, 2, [2, 3]), (4, 2, [4]), (5, 2, []), (50, 10, []), (1, 0, [])],
    ids=["first", "middle", "last-partial", "at-end", "beyond-end", "zero-limit"],
)
def test_get_many_pages(
    boards: BoardsService, offset: int, limit: int, expected: list[int]
) -> None:
    made = [boards.save(name, "u") for name in ["a", "B", "c", "D", "e"]]
    page = boards.get_many(
        "u", False, BoardOrder.BOARD_NAME, Direction.ASC, offset=offset, limit=limit
    )
    assert _ids(page.items) == [made[n].board_id for n in expected]
    assert (page.offset, page.limit, page.total) == (offset, limit, 5)


def test_get_many_on_no_boards_is_an_empty_page(boards: BoardsService) -> None:
    page = boards.get_many("u", is_admin=False)
    assert page.model_dump() == {"items": [], "offset": 0, "limit": 10, "total": 0}


def test_get_many_refuses_negative_paging(boards: BoardsService) -> None:
    with pytest.raises(RuleViolationError):
        boards.get_many("u", False, offset=-1)
    with pytest.raises(RuleViolationError):
        boards.get_many("u", False, limit=-1)


def test_every_method_is_declared_with_its_comparison_spec() -> None:
    specs = contract_methods(BoardsService)
    writes = {name for name, spec in specs.items() if spec.kind.mutates}
    assert writes == {"save", "update", "delete", "share", "unshare"}
    for name in ("get_many", "get_all"):
        compare = specs[name].compare
        # The sort key depends on an argument, so rows are matched by id (see the contract).
        assert (compare.order, compare.key) == (Order.UNORDERED, ("board_id",)), name
        assert {"created_at", "updated_at"} <= compare.timestamps
    assert specs["get_many"].compare.rows == "items"
    assert specs["list_shares"].compare.timestamps == {"shared_at"}
