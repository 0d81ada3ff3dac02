"""The boards service: named collections of images, with sharing and visibility.

Behaviour both implementations share (docs/reference-app.md, plus the choices
written here where it is silent):

* A board name has 1 to 300 characters (``RuleViolationError``, rule
  ``board_name_length``), on ``save`` and ``update``; ``offset``/``limit``
  below zero are refused (rule ``pagination``). Both implementations call
  :func:`check_board_name` and :func:`check_page`, so they refuse the same calls.
* ``update`` applies the fields of :class:`BoardChanges` that were explicitly
  set (``model_fields_set``); setting ``cover_image_name=None`` clears the
  cover, the other fields refuse ``None``. A cover must name an existing image
  (``NotFoundError``). Setting ``board_visibility`` keeps ``is_public`` in step
  (true exactly when the visibility is ``public``). An update with no field set
  writes nothing and returns the board as stored.
* ``delete`` is silent for an unknown board and cascades ``board_images`` and
  ``shared_boards``; the images themselves stay.
* ``share`` needs an existing board and user (``NotFoundError``); sharing again
  updates ``can_edit`` and keeps the original ``shared_at``. ``unshare`` is
  silent when there is no share. :meth:`BoardsService.list_shares` (not in
  docs/reference-app.md) lists a board's shares by ``user_id``.
* Visibility in ``get_many``/``get_all``: admins see every board; others see
  their own, those shared with them through ``shared_boards``, and those whose
  ``board_visibility`` is ``shared`` or ``public``. Archived boards (``archived``
  true; NULL counts as not archived) only with ``include_archived``. ``total``
  counts distinct boards under the same filter.
* Order: ``created_at`` or the name case-insensitively (SQLite's ``lower()``,
  which folds ASCII letters only, then code-point order, on every backend), in
  ``direction``; equal keys are broken by
  ``board_id`` in the same direction so offset paging never repeats or skips a
  board. Because the sort key depends on an argument, and a :class:`Compare`
  spec is static, the runtime compares these lists as sets keyed by
  ``board_id``; the contract suite checks the order itself.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from datetime import datetime
from typing import Self

from pydantic import model_validator

from imagegen.services.contracts.edges import BOARD_ID, IMAGE_NAME, LIMIT, NAMES, OFFSET, USER_ID
from imagegen.services.contracts.pages import OffsetPage, Record
from imagegen.services.errors import RuleViolationError
from shadow._contract import Order, read, write
from shadow._inputs import Arg, explore_inputs

__all__ = [
    "MAX_BOARD_NAME_LENGTH",
    "Board",
    "BoardChanges",
    "BoardOrder",
    "BoardShare",
    "BoardVisibility",
    "BoardsService",
    "Direction",
    "check_board_name",
    "check_page",
]

MAX_BOARD_NAME_LENGTH = 300

# Database-generated, with the column's precision in seconds (updated_at is a
# CURRENT_TIMESTAMP column: whole seconds).
_TIMESTAMPS = {"created_at": 0.001, "updated_at": 1.0}


class BoardVisibility(enum.StrEnum):
    """Who besides the owner (and admins) sees a board."""

    PRIVATE = "private"
    SHARED = "shared"
    PUBLIC = "public"


class BoardOrder(enum.StrEnum):
    """What board lists are ordered by."""

    CREATED_AT = "created_at"
    BOARD_NAME = "board_name"


class Direction(enum.StrEnum):
    """Sort direction."""

    ASC = "ASC"
    DESC = "DESC"


class Board(Record):
    """A board row."""

    board_id: str
    board_name: str
    cover_image_name: str | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    archived: bool
    user_id: str | None
    is_public: bool
    board_visibility: BoardVisibility


class BoardShare(Record):
    """A board shared with a user."""

    board_id: str
    user_id: str
    can_edit: bool
    shared_at: datetime


class BoardChanges(Record):
    """Changes to a board; only the fields explicitly set are applied."""

    board_name: str | None = None
    cover_image_name: str | None = None
    archived: bool | None = None
    board_visibility: BoardVisibility | None = None

    @model_validator(mode="after")
    def _only_the_cover_clears(self) -> Self:
        for name in ("board_name", "archived", "board_visibility"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be set to None")
        return self


@explore_inputs(
    board_id=BOARD_ID,
    user_id=USER_ID,
    board_name=Arg(examples=NAMES),
    cover_image_name=IMAGE_NAME,
    offset=OFFSET,
    limit=LIMIT,
)
class BoardsService(ABC):
    """Boards with sharing and visibility (see the module docstring for the rules)."""

    @write(timestamps=_TIMESTAMPS)
    @abstractmethod
    def save(self, board_name: str, user_id: str) -> Board:
        """Create a board owned by ``user_id`` and return it."""

    @read(timestamps=_TIMESTAMPS)
    @abstractmethod
    def get(self, board_id: str) -> Board:
        """The board; ``NotFoundError`` when there is none."""

    @write(timestamps=_TIMESTAMPS)
    @abstractmethod
    def update(self, board_id: str, changes: BoardChanges) -> Board:
        """Apply ``changes`` and return the board; ``NotFoundError`` for an unknown id."""

    @write()
    @abstractmethod
    def delete(self, board_id: str) -> None:
        """Delete a board (silent when missing); its image links and shares go with it."""

    @write()
    @abstractmethod
    def share(self, board_id: str, user_id: str, can_edit: bool = False) -> None:
        """Share a board with a user (or change ``can_edit`` of an existing share)."""

    @write()
    @abstractmethod
    def unshare(self, board_id: str, user_id: str) -> None:
        """Stop sharing a board with a user; silent when it was not shared."""

    @read(timestamps={"shared_at": 0.001})
    @abstractmethod
    def list_shares(self, board_id: str) -> list[BoardShare]:
        """The board's shares, ordered by ``user_id``."""

    @read(order=Order.UNORDERED, rows="items", key="board_id", timestamps=_TIMESTAMPS)
    @abstractmethod
    def get_many(
        self,
        user_id: str,
        is_admin: bool,
        order_by: BoardOrder = BoardOrder.CREATED_AT,
        direction: Direction = Direction.DESC,
        *,
        offset: int = 0,
        limit: int = 10,
        include_archived: bool = False,
    ) -> OffsetPage[Board]:
        """A page of the boards ``user_id`` may see; ``total`` counts them all."""

    @read(order=Order.UNORDERED, key="board_id", timestamps=_TIMESTAMPS)
    @abstractmethod
    def get_all(
        self,
        user_id: str,
        is_admin: bool,
        order_by: BoardOrder = BoardOrder.CREATED_AT,
        direction: Direction = Direction.DESC,
        *,
        include_archived: bool = False,
    ) -> list[Board]:
        """Every board ``user_id`` may see, in the requested order."""


def check_board_name(board_name: str) -> None:
    """Refuse a board name that is empty or longer than 300 characters."""
    if not 1 <= len(board_name) <= MAX_BOARD_NAME_LENGTH:
        raise RuleViolationError(
            "board_name_length",
            f"a board name has 1 to {MAX_BOARD_NAME_LENGTH} characters, not {len(board_name)}",
        )


def check_page(offset: int, limit: int) -> None:
    """Refuse a negative offset or limit."""
    if offset < 0 or limit < 0:
        raise RuleViolationError("pagination", "offset and limit must not be negative")
