"""The images service: the gallery's image records.

Behaviour both implementations share (docs/reference-app.md, plus the choices
written here where it is silent):

* ``save`` inserts a row and returns the stored ``created_at``; saving a name
  that already exists changes nothing (like ``INSERT OR IGNORE``) and returns the
  *existing* row's ``created_at``. ``user_id=None`` stores the column default,
  ``'system'``. ``metadata`` is stored as JSON text (non-ASCII kept as is) and is
  never part of an :class:`ImageRecord`: read it with ``get_metadata``.
* ``get`` and ``get_metadata`` raise :class:`~imagegen.services.errors.NotFoundError`
  for a missing name; ``get_user_id`` returns ``None`` for one. ``update``,
  ``delete`` and ``delete_many`` are silent for missing names. Deleting an image
  deletes its board membership (``board_images`` cascades) and clears any board
  cover that pointed at it.
* ``ImageChanges`` fields left ``None`` are not changed (so ``session_id``
  cannot be cleared through ``update``, as in the application this models).
* Filters of ``get_many``, ``get_image_names`` and ``get_intermediates_count``:
  ``board_id=None`` means any board or none, ``board_id="none"`` means images on
  no board; ``user_id`` restricts to that user's images unless ``is_admin``;
  ``search_term`` is a case-insensitive substring match over the metadata JSON
  text and the textual ``created_at`` (``%`` and ``_`` in the term match
  themselves). Case folding is ASCII-only on every backend (what SQLite's
  ``lower()`` does), so results agree everywhere. A ``created_at`` is rendered as
  text differently by each backend; a date (``2026-08-19``) or a date and minute
  (``2026-08-19 01:13``) matches the same rows on all of them.
* Order: ``starred DESC, created_at <order_dir>`` when ``starred_first``, else
  ``created_at <order_dir>``, then ``image_name <order_dir>``: DOMAIN.md leaves
  ties unordered, but an undecided order under ``LIMIT`` lets two stores (or two
  query plans) return different rows for one page, so both implementations
  break ties by name; the comparison still allows ties in any order (the two
  stores' timestamps differ). ``get_image_names`` lists names in that same order.
* ``delete_intermediates`` deletes every intermediate image (all users) and
  returns the deleted ones' locations sorted by name (code point order).
* ``get_most_recent_image_for_board`` is the first non-intermediate image of the
  board in ``starred DESC, created_at DESC, image_name DESC`` order, or ``None``.
"""

from __future__ import annotations

import enum
import string
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from imagegen.services.contracts.edges import BOARD_ID, IMAGE_NAME, LIMIT, OFFSET, PATTERNS, USER_ID
from imagegen.services.contracts.pages import OffsetPage, Record
from imagegen.services.errors import RuleViolationError
from shadow._contract import Order, read, write
from shadow._inputs import Arg, explore_inputs

__all__ = [
    "LIKE_ESCAPE",
    "ImageCategory",
    "ImageChanges",
    "ImageLocation",
    "ImageNames",
    "ImageOrigin",
    "ImageRecord",
    "ImagesService",
    "OrderDirection",
    "SavedImage",
    "check_image_values",
    "check_page",
    "search_pattern",
]

# Database-generated datetimes of an image row.
_TIMESTAMPS = {"created_at": 0.001, "updated_at": 0.001}  # millisecond columns
# metadata holds prompts (PII); a search term is usually a piece of one.
_SENSITIVE = {"metadata", "search_term"}


class ImageOrigin(enum.StrEnum):
    """Where an image came from."""

    INTERNAL = "internal"
    EXTERNAL = "external"


class ImageCategory(enum.StrEnum):
    """What an image is used as."""

    GENERAL = "general"
    MASK = "mask"
    CONTROL = "control"
    USER = "user"
    OTHER = "other"


class OrderDirection(enum.StrEnum):
    """Direction of the ``created_at`` ordering."""

    ASC = "ASC"
    DESC = "DESC"


class ImageRecord(Record):
    """One image row, without its metadata."""

    image_name: str
    image_origin: ImageOrigin
    image_category: ImageCategory
    width: int
    height: int
    session_id: str | None
    node_id: str | None
    is_intermediate: bool
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    starred: bool
    has_workflow: bool
    user_id: str
    image_subfolder: str


class SavedImage(Record):
    """What ``save`` returns: the name and the stored row's ``created_at``.

    docs/reference-app.md has ``save`` return ``created_at``; it is wrapped in a record so the
    comparison spec can name it as a database-generated timestamp.
    """

    image_name: str
    created_at: datetime


class ImageChanges(Record):
    """Fields ``update`` may change; ``None`` leaves a field as it is."""

    image_category: ImageCategory | None = None
    session_id: str | None = None
    is_intermediate: bool | None = None
    starred: bool | None = None


class ImageLocation(Record):
    """Where a deleted image's file lives (the caller removes the files)."""

    image_name: str
    image_subfolder: str


class ImageNames(Record):
    """Names matching a filter in list order, with the starred and total counts."""

    image_names: list[str]
    starred_count: int
    total_count: int


def check_image_values(image_origin: str, image_category: str) -> None:
    """Refuse an origin or category outside the allowed values (before any SQL runs)."""
    if image_origin not in ImageOrigin.__members__.values():
        raise RuleViolationError("image_origin", f"unknown image origin: {image_origin!r}")
    if image_category not in ImageCategory.__members__.values():
        raise RuleViolationError("image_category", f"unknown image category: {image_category!r}")


def check_page(offset: int, limit: int) -> None:
    """Refuse a negative offset or limit (SQLite would read -1 as "no limit")."""
    if offset < 0 or limit < 0:
        raise RuleViolationError("pagination", "offset and limit must not be negative")


LIKE_ESCAPE = "/"
"""The LIKE escape character: not a backslash, which MariaDB string literals also use."""

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def search_pattern(term: str) -> str:
    """The LIKE pattern for a case-insensitive substring search for ``term``.

    The term is folded to lower case for ASCII letters only (as SQLite's
    ``lower()`` folds the searched text) and ``%``, ``_`` and the escape
    character are escaped, so they match themselves.
    """
    folded = term.translate(_ASCII_LOWER)
    escaped = "".join(LIKE_ESCAPE + char if char in "%_/" else char for char in folded)
    return f"%{escaped}%"


@explore_inputs(
    image_name=Arg(
        pool="image_name",
        keep=True,
        examples=("never-existed.png", "", "a%.png", "a_b.png", "IMAGE-1.png"),
    ),
    image_names=IMAGE_NAME,
    board_id=BOARD_ID,
    user_id=USER_ID,
    session_id=Arg(examples=(None, "session-1", "")),
    width=Arg(examples=(64, 0, 1, -1, 4096), only=True),
    height=Arg(examples=(64, 0, 1, -1, 4096), only=True),
    search_term=Arg(examples=PATTERNS),
    offset=OFFSET,
    limit=LIMIT,
)
class ImagesService(ABC):
    """Image records of the gallery (see the module docstring for the rules)."""

    @write(timestamps=_TIMESTAMPS, sensitive=_SENSITIVE)
    @abstractmethod
    def save(
        self,
        image_name: str,
        image_origin: ImageOrigin,
        image_category: ImageCategory,
        width: int,
        height: int,
        *,
        has_workflow: bool,
        is_intermediate: bool = False,
        starred: bool = False,
        session_id: str | None = None,
        node_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        user_id: str | None = None,
        image_subfolder: str = "",
    ) -> SavedImage:
        """Store a new image (a duplicate name is ignored); return its ``created_at``."""

    @read(timestamps=_TIMESTAMPS)
    @abstractmethod
    def get(self, image_name: str) -> ImageRecord:
        """Return an image record (metadata excluded); NotFoundError when missing."""

    @read(sensitive_result=True)
    @abstractmethod
    def get_metadata(self, image_name: str) -> dict[str, Any] | None:
        """Return the parsed metadata (``None`` if none); NotFoundError when missing."""

    @read()
    @abstractmethod
    def get_user_id(self, image_name: str) -> str | None:
        """Return the owner of an image, or ``None`` when the image does not exist."""

    @write()
    @abstractmethod
    def update(self, image_name: str, changes: ImageChanges) -> None:
        """Change the given fields; silent when the image does not exist."""

    @write()
    @abstractmethod
    def delete(self, image_name: str) -> None:
        """Delete an image (cascading its board membership); silent when missing."""

    @write()
    @abstractmethod
    def delete_many(self, image_names: Sequence[str]) -> None:
        """Delete several images; names that do not exist are skipped."""

    @write(key=("image_name",))
    @abstractmethod
    def delete_intermediates(self) -> list[ImageLocation]:
        """Delete every intermediate image; return their locations sorted by name."""

    @read()
    @abstractmethod
    def get_intermediates_count(self, user_id: str | None = None) -> int:
        """Count intermediate images, of one user when ``user_id`` is given."""

    @read(
        order=Order.TIES,
        rows="items",
        key=("image_name",),
        sort_key=("starred", "created_at"),
        timestamps=_TIMESTAMPS,
        sensitive=_SENSITIVE,
    )
    @abstractmethod
    def get_many(
        self,
        offset: int = 0,
        limit: int = 10,
        *,
        starred_first: bool = True,
        order_dir: OrderDirection = OrderDirection.DESC,
        image_origin: ImageOrigin | None = None,
        categories: Sequence[ImageCategory] | None = None,
        is_intermediate: bool | None = None,
        board_id: str | None = None,
        search_term: str | None = None,
        user_id: str | None = None,
        is_admin: bool = False,
    ) -> OffsetPage[ImageRecord]:
        """A page of image records matching the filters, with the filtered total."""

    # The names carry no created_at, so ties (rows saved within the lag between the two
    # stores) cannot be told apart from a wrong order: the comparison checks the names as
    # a set and the counts exactly; the order is checked by the contract suite and, with
    # the same ORDER BY, by get_many's TIES comparison.
    @read(order=Order.UNORDERED, rows="image_names", key=("image_name",), sensitive=_SENSITIVE)
    @abstractmethod
    def get_image_names(
        self,
        *,
        starred_first: bool = True,
        order_dir: OrderDirection = OrderDirection.DESC,
        image_origin: ImageOrigin | None = None,
        categories: Sequence[ImageCategory] | None = None,
        is_intermediate: bool | None = None,
        board_id: str | None = None,
        search_term: str | None = None,
        user_id: str | None = None,
        is_admin: bool = False,
    ) -> ImageNames:
        """Every matching name in list order, with starred and total counts."""

    # The first row of get_many's order: two images of the board tied for first place
    # (equal starred and created_at on one store, within the write lag on the other)
    # may each be the answer, so the comparison accepts either (Order.TIES on a
    # single record); both implementations break exact ties by name, the same way.
    @read(
        order=Order.TIES,
        key=("image_name",),
        sort_key=("starred", "created_at"),
        timestamps=_TIMESTAMPS,
    )
    @abstractmethod
    def get_most_recent_image_for_board(self, board_id: str) -> ImageRecord | None:
        """The board's first non-intermediate image (starred, then newest), or None."""
