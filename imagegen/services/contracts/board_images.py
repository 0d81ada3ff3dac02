"""The board_images service: which board an image is on (at most one).

Behaviour both implementations share (docs/reference-app.md, plus the choices
written here where it is silent):

* ``add_image_to_board`` is an upsert: an image already on a board moves to the
  new one (its link keeps its ``created_at``). The board and the image must
  exist (``NotFoundError``).
* ``remove_image_from_board`` is silent when the image is on no board.
* In every method taking a ``board_id``, the id ``"none"`` means "images on no
  board".
* ``categories`` filters by image category; an empty list matches nothing (as
  SQLite's ``IN ()`` does), ``None`` matches every category. ``is_intermediate``
  and ``user_id`` (the image's owner) filter when given.
* Counts: ``get_image_count_for_board`` counts non-intermediate images of
  category ``general``; ``get_asset_count_for_board`` non-intermediate images
  of category ``control``, ``mask``, ``user`` or ``other``.
* Name lists come in no particular order (compared as sets).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from imagegen.services.contracts.edges import BOARD_ID, IMAGE_NAME, USER_ID
from shadow._contract import Order, read, write
from shadow._inputs import explore_inputs

__all__ = [
    "ASSET_CATEGORIES",
    "IMAGE_CATEGORIES",
    "NO_BOARD",
    "BoardImagesService",
]

NO_BOARD = "none"
"""The board id that stands for "on no board"."""

IMAGE_CATEGORIES: tuple[str, ...] = ("general",)
"""Image categories counted by ``get_image_count_for_board``."""
ASSET_CATEGORIES: tuple[str, ...] = ("control", "mask", "user", "other")
"""Image categories counted by ``get_asset_count_for_board``."""


@explore_inputs(
    board_id=BOARD_ID,
    image_name=IMAGE_NAME,
    user_id=USER_ID,
)
class BoardImagesService(ABC):
    """Links between boards and images (see the module docstring for the rules)."""

    @write()
    @abstractmethod
    def add_image_to_board(self, board_id: str, image_name: str) -> None:
        """Put an image on a board, moving it off any other board."""

    @write()
    @abstractmethod
    def remove_image_from_board(self, image_name: str) -> None:
        """Take an image off its board; silent when it is on none."""

    @read()
    @abstractmethod
    def get_board_for_image(self, image_name: str) -> str | None:
        """The id of the board the image is on, or ``None``."""

    @read(order=Order.UNORDERED, key="image_name")
    @abstractmethod
    def get_all_board_image_names_for_board(
        self,
        board_id: str,
        categories: Sequence[str] | None = None,
        is_intermediate: bool | None = None,
        user_id: str | None = None,
    ) -> list[str]:
        """Names of the images on ``board_id`` (``"none"``: on no board), filtered."""

    @read()
    @abstractmethod
    def get_image_count_for_board(self, board_id: str) -> int:
        """How many non-intermediate ``general`` images are on the board."""

    @read()
    @abstractmethod
    def get_asset_count_for_board(self, board_id: str) -> int:
        """How many non-intermediate asset images (control/mask/user/other) are on it."""
