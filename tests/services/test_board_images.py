"""Contract tests for the board_images service, run on all four backends.

Boards come from the boards service; images (owned by another service) are
inserted with plain SQL through the backend's own connection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa

from imagegen.db.tables import metadata
from imagegen.services.contracts.board_images import NO_BOARD, BoardImagesService
from imagegen.services.contracts.boards import BoardsService
from imagegen.services.core.board_images import CoreBoardImagesService
from imagegen.services.core.boards import CoreBoardsService
from imagegen.services.errors import NotFoundError
from imagegen.services.legacy.board_images import LegacyBoardImagesService
from imagegen.services.legacy.boards import LegacyBoardsService
from shadow import Order, contract_methods

if TYPE_CHECKING:
    from tests.conftest import Backend


@pytest.fixture
def links(backend: Backend) -> BoardImagesService:
    return backend.build(LegacyBoardImagesService, CoreBoardImagesService)


@pytest.fixture
def boards(backend: Backend) -> BoardsService:
    return backend.build(LegacyBoardsService, CoreBoardsService)


def _execute(backend: Backend, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    if backend.legacy_db is not None:
        with backend.legacy_db.transaction() as cur:
            return [tuple(row) for row in cur.execute(sql, params).fetchall()]
    assert backend.engine is not None
    with backend.engine.begin() as conn:
        result = conn.execute(sa.text(sql), params)
        return [tuple(row) for row in result.fetchall()] if result.returns_rows else []


def _image(
    backend: Backend,
    name: str,
    category: str = "general",
    *,
    intermediate: bool = False,
    user_id: str = "system",
) -> str:
    values = {
        "image_name": name,
        "image_origin": "internal",
        "image_category": category,
        "width": 64,
        "height": 64,
        "is_intermediate": intermediate,
        "user_id": user_id,
    }
    if backend.legacy_db is not None:
        columns = ", ".join(values)
        marks = ", ".join(f":{column}" for column in values)
        with backend.legacy_db.transaction() as cur:
            cur.execute(f"INSERT INTO images ({columns}) VALUES ({marks})", values)
    else:
        assert backend.engine is not None
        with backend.engine.begin() as conn:
            conn.execute(metadata.tables["images"].insert(), values)
    return name


# -- add / move / remove ---------------------------------------------------------------


def test_add_puts_an_image_on_a_board(
    links: BoardImagesService, boards: BoardsService, backend: Backend
) -> None:
    board = boards.save("B", "u").board_id
    image = _image(backend, "a.png")
    assert links.get_board_for_image(image) is None
    links.add_image_to_board(board, image)
    assert links.get_board_for_image(image) == board
    assert links.get_board_for_image("unknown.png") is None


def test_add_moves_an_image_and_keeps_when_it_was_first_filed(
    links: BoardImagesService, boards: BoardsService, backend: Backend
) -> None:
    first = boards.save("First", "u").board_id
    second = boards.save("Second", "u").board_id
    image = _image(backend, "a.png")
    links.add_image_to_board(first, image)
    (filed_at,) = _execute(backend, "SELECT created_at FROM board_images")[0]
    links.add_image_to_board(second, image)
    assert links.get_board_for_image(image) == second
    assert links.get_all_board_image_names_for_board(first) == []
    assert links.get_all_board_image_names_for_board(second) == [image]
    assert _execute(backend, "SELECT created_at FROM board_images") == [(filed_at,)]
    links.add_image_to_board(second, image)  # adding it again changes nothing
    assert links.get_all_board_image_names_for_board(second) == [image]


def test_add_needs_an_existing_board_and_image(
    links: BoardImagesService, boards: BoardsService, backend: Backend
) -> None:
    board = boards.save("B", "u").board_id
    image = _image(backend, "a.png")
    with pytest.raises(NotFoundError) as no_board:
        links.add_image_to_board("nope", image)
    assert no_board.value.entity == "board"
    with pytest.raises(NotFoundError) as no_image:
        links.add_image_to_board(board, "missing.png")
    assert no_image.value.entity == "image"
    assert links.get_board_for_image(image) is None


def test_remove_takes_an_image_off_and_is_silent_when_unfiled(
    links: BoardImagesService, boards: BoardsService, backend: Backend
) -> None:
    board = boards.save("B", "u").board_id
    image = _image(backend, "a.png")
    links.add_image_to_board(board, image)
    links.remove_image_from_board(image)
    assert links.get_board_for_image(image) is None
    links.remove_image_from_board(image)
    links.remove_image_from_board("never-existed.png")
    assert _execute(backend, "SELECT COUNT(*) FROM images") == [(1,)]


def test_deleting_an_image_or_a_board_removes_its_links(
    links: BoardImagesService, boards: BoardsService, backend: Backend
) -> None:
    board = boards.save("B", "u").board_id
    other = boards.save("Other", "u").board_id
    doomed = _image(backend, "doomed.png")
    survivor = _image(backend, "survivor.png")
    links.add_image_to_board(board, doomed)
    links.add_image_to_board(other, survivor)
    _execute(backend, "DELETE FROM images WHERE image_name = :n", n=doomed)
    assert links.get_all_board_image_names_for_board(board) == []
    boards.delete(other)
    assert links.get_board_for_image(survivor) is None
    assert links.get_all_board_image_names_for_board(NO_BOARD) == [survivor]


# -- listing and filters ---------------------------------------------------------------


@pytest.fixture
def gallery(links: BoardImagesService, boards: BoardsService, backend: Backend) -> str:
    """One board with a mix of images, and a mix of images on no board."""
    board = boards.save("Gallery", "u").board_id
    other = boards.save("Elsewhere", "u").board_id
    for name, category, intermediate, owner in [
        ("g1.png", "general", False, "ann"),
        ("g2.png", "general", False, "bob"),
        ("g3-tmp.png", "general", True, "ann"),
        ("m1.png", "mask", False, "ann"),
        ("c1.png", "control", False, "bob"),
        ("u1.png", "user", False, "ann"),
        ("o1-tmp.png", "other", True, "bob"),
        ("o2.png", "other", False, "bob"),
    ]:
        links.add_image_to_board(
            board, _image(backend, name, category, intermediate=intermediate, user_id=owner)
        )
    for name, category, intermediate, owner in [
        ("free-g.png", "general", False, "ann"),
        ("free-g-tmp.png", "general", True, "bob"),
        ("free-m.png", "mask", False, "bob"),
    ]:
        _image(backend, name, category, intermediate=intermediate, user_id=owner)
    links.add_image_to_board(other, _image(backend, "elsewhere.png"))
    return board


def test_names_for_a_board_with_each_filter(links: BoardImagesService, gallery: str) -> None:
    def names(**filters: Any) -> set[str]:
        return set(links.get_all_board_image_names_for_board(gallery, **filters))

    everything = {
        "g1.png",
        "g2.png",
        "g3-tmp.png",
        "m1.png",
        "c1.png",
        "u1.png",
        "o1-tmp.png",
        "o2.png",
    }
    assert names() == everything
    assert names(categories=["general"]) == {"g1.png", "g2.png", "g3-tmp.png"}
    assert names(categories=["mask", "other"]) == {"m1.png", "o1-tmp.png", "o2.png"}
    assert names(categories=[]) == set()
    assert names(is_intermediate=True) == {"g3-tmp.png", "o1-tmp.png"}
    assert names(is_intermediate=False) == everything - {"g3-tmp.png", "o1-tmp.png"}
    assert names(user_id="bob") == {"g2.png", "c1.png", "o1-tmp.png", "o2.png"}
    assert names(categories=["general", "other"], is_intermediate=False, user_id="bob") == {
        "g2.png",
        "o2.png",
    }


def test_names_for_no_board_are_the_unfiled_images(links: BoardImagesService, gallery: str) -> None:
    unfiled = links.get_all_board_image_names_for_board(NO_BOARD)
    assert sorted(unfiled) == ["free-g-tmp.png", "free-g.png", "free-m.png"]
    assert links.get_all_board_image_names_for_board(
        NO_BOARD, is_intermediate=False, user_id="bob"
    ) == ["free-m.png"]
    assert links.get_all_board_image_names_for_board("no-such-board") == []


def test_counts_split_images_from_assets_and_skip_intermediates(
    links: BoardImagesService, gallery: str
) -> None:
    assert links.get_image_count_for_board(gallery) == 2
    assert links.get_asset_count_for_board(gallery) == 4
    assert links.get_image_count_for_board(NO_BOARD) == 1
    assert links.get_asset_count_for_board(NO_BOARD) == 1
    assert links.get_image_count_for_board("no-such-board") == 0
    assert links.get_asset_count_for_board("no-such-board") == 0


def test_unicode_and_long_image_names(
    links: BoardImagesService, boards: BoardsService, backend: Backend
) -> None:
    board = boards.save("B", "u").board_id
    name = "画像-ñ-🎨-" + "x" * 200 + ".png"
    links.add_image_to_board(board, _image(backend, name))
    assert links.get_all_board_image_names_for_board(board) == [name]
    assert links.get_board_for_image(name) == board


def test_every_method_is_declared_and_name_lists_compare_as_sets() -> None:
    specs = contract_methods(BoardImagesService)
    writes = {name for name, spec in specs.items() if spec.kind.mutates}
    assert writes == {"add_image_to_board", "remove_image_from_board"}
    assert specs["get_all_board_image_names_for_board"].compare.order is Order.UNORDERED
