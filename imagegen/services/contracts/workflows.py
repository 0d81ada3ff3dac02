"""The workflows service: the workflow library (table ``workflow_library``).

A workflow is a JSON document; the table derives ``category``
(``$.meta.category``), ``name``, ``description`` and ``tags`` from it.
``tags`` is one comma-separated string (``"portrait, upscale"``).

Behaviour both implementations share (docs/reference-app.md, plus the choices
written here where it is silent):

* ``get`` raises :class:`~imagegen.services.errors.NotFoundError` for a missing id.
* ``create`` refuses category ``default`` (:class:`RuleViolationError`
  ``default_workflow``), draws the id from the id source, stores the document
  with that ``id`` and returns the row. Creating it public also adds the tag
  ``shared``, as ``update_is_public`` does.
* ``update`` replaces the document of a ``user``-category row (its ``id`` names
  the row); with ``user_id`` only that user's row. A document of category
  ``default`` is refused (``default_workflow``); a row that is missing, not of
  category ``user`` or not the user's raises ``NotFoundError``.
* ``delete``: ``NotFoundError`` when missing (or, with ``user_id``, not the
  user's); a ``default`` row is refused (``default_workflow``).
* ``update_is_public`` sets the flag and adds the tag ``shared`` (making public)
  or removes every ``shared`` tag (making private) in the document; other tags
  keep their text and order. Same not-found and ``default`` rules as ``update``.
* ``update_opened_at`` sets ``opened_at`` to the clock's now. With ``user_id``
  the row must be visible to that user (their own, a ``default`` one, or a
  public one); otherwise, or when missing, ``NotFoundError``.
* Filters of ``get_many`` and the counts: ``categories`` (any of),
  ``has_been_opened`` (``opened_at`` set or not), ``is_public``, ``user_id``
  (the user's own rows plus category ``default``), ``tags`` (an OR of substring
  matches on the tags string), ``query`` (a substring of name, description or
  tags; surrounding blanks ignored, an empty query is no filter). Substring
  matches fold ASCII letters only (SQLite ``LIKE``) and ``%``/``_`` match
  themselves.
* ``get_many`` orders by ``order_by`` (``name`` case-insensitively, ASCII
  folding) in ``direction``; both implementations break ties by
  ``workflow_id``, but the contract only promises the ``order_by`` order (two
  stores stamp ``created_at`` a few milliseconds apart, so their ties differ).
  ``per_page=None`` returns every row as one page (``pages`` 1); otherwise
  ``pages`` is ``ceil(total / per_page)`` and a page past the end is empty.
* ``counts_by_category`` and ``counts_by_tag`` return a count for every
  requested category or tag, zero included; ``get_all_tags`` returns the
  distinct non-blank tags (each stripped) in code point order.
"""

from __future__ import annotations

import enum
import string
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field

from imagegen.services.contracts.edges import NAMES, PAGE, PATTERNS, PER_PAGE, USER_ID
from imagegen.services.contracts.pages import Page, Record
from imagegen.services.errors import RuleViolationError
from shadow._contract import Order, read, write
from shadow._inputs import Arg, explore_inputs

__all__ = [
    "LIKE_ESCAPE",
    "SHARED_TAG",
    "Direction",
    "Workflow",
    "WorkflowCategory",
    "WorkflowListItem",
    "WorkflowMeta",
    "WorkflowOrderBy",
    "WorkflowRecord",
    "WorkflowWithoutId",
    "WorkflowsService",
    "check_not_default",
    "check_paging",
    "contains_pattern",
    "page_count",
    "split_tags",
    "with_shared_tag",
]

_TIMESTAMPS = {"created_at": 0.001, "updated_at": 0.001}  # millisecond columns

SHARED_TAG = "shared"
"""The tag ``update_is_public`` adds to a public workflow's document."""

LIKE_ESCAPE = "/"
"""The LIKE escape character: not a backslash, which MariaDB string literals also use."""

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


class WorkflowCategory(enum.StrEnum):
    """Who a workflow belongs to: a user, or the application (shipped defaults)."""

    USER = "user"
    DEFAULT = "default"


class WorkflowOrderBy(enum.StrEnum):
    """The columns ``get_many`` can order by."""

    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    OPENED_AT = "opened_at"
    NAME = "name"
    IS_PUBLIC = "is_public"


class Direction(enum.StrEnum):
    """Sort direction."""

    ASC = "ASC"
    DESC = "DESC"


class WorkflowMeta(Record):
    """The document's ``meta`` object."""

    model_config = ConfigDict(extra="allow")

    category: WorkflowCategory
    version: str = "1.0.0"


class WorkflowWithoutId(Record):
    """A workflow document to create. Unknown keys are kept as they are."""

    model_config = ConfigDict(extra="allow")

    name: str
    author: str = ""
    description: str = ""
    version: str = ""
    contact: str = ""
    tags: str = ""
    notes: str = ""
    exposedFields: list[Any] = Field(default_factory=list)
    meta: WorkflowMeta
    nodes: list[Any] = Field(default_factory=list)
    edges: list[Any] = Field(default_factory=list)


class Workflow(WorkflowWithoutId):
    """A stored workflow document, with its id."""

    id: str


class WorkflowRecord(Record):
    """One row of the library, with the whole document."""

    workflow_id: str
    workflow: Workflow
    name: str
    user_id: str
    is_public: bool
    created_at: datetime
    updated_at: datetime
    opened_at: datetime | None


class WorkflowListItem(Record):
    """One row of a ``get_many`` page: the derived columns, not the document."""

    workflow_id: str
    category: WorkflowCategory
    name: str
    description: str
    tags: str | None
    user_id: str
    is_public: bool
    created_at: datetime
    updated_at: datetime
    opened_at: datetime | None


def check_not_default(category: WorkflowCategory | str) -> None:
    """Refuse to write a ``default`` workflow through the service."""
    if category == WorkflowCategory.DEFAULT:
        raise RuleViolationError(
            "default_workflow", "default workflows cannot be created, changed or deleted"
        )


def split_tags(tags: str | None) -> list[str]:
    """The non-blank tags of a tags string, stripped, in their order."""
    return [tag.strip() for tag in (tags or "").split(",") if tag.strip()]


def with_shared_tag(tags: str, is_public: bool) -> str:
    """``tags`` with the ``shared`` tag added (public) or removed (private).

    An already correct tags string is returned unchanged, so the user's
    formatting survives; otherwise the tags are rejoined with ``", "``.
    """
    current = split_tags(tags)
    if is_public and SHARED_TAG not in current:
        return ", ".join([*current, SHARED_TAG])
    if not is_public and SHARED_TAG in current:
        return ", ".join(tag for tag in current if tag != SHARED_TAG)
    return tags


def contains_pattern(text: str) -> str:
    """The LIKE pattern for a substring match on ASCII-lowered text.

    ASCII letters are folded to lower case and ``%``, ``_`` and the escape
    character are escaped, so they match themselves.
    """
    folded = text.translate(_ASCII_LOWER)
    escaped = "".join(LIKE_ESCAPE + char if char in "%_/" else char for char in folded)
    return f"%{escaped}%"


def page_count(total: int, per_page: int | None) -> int:
    """How many pages ``total`` rows fill: 1 for "all rows", else a ceiling."""
    if per_page is None:
        return 1
    return -(-total // per_page)


def check_paging(page: int, per_page: int | None) -> None:
    """Refuse a negative page or a per_page below 1."""
    if page < 0 or (per_page is not None and per_page < 1):
        raise RuleViolationError("pagination", "page must be >= 0 and per_page >= 1")


@explore_inputs(
    workflow_id=Arg(pool="workflow_id", examples=("never-existed-workflow",)),
    user_id=USER_ID,
    name=Arg(examples=NAMES),
    query=Arg(examples=PATTERNS),
    tags=Arg(examples=("", "shared", "portrait", "portrait, landscape", "a%", "a_b", "SHARED")),
    page=PAGE,
    per_page=PER_PAGE,
)
class WorkflowsService(ABC):
    """The workflow library (see the module docstring for the rules)."""

    @read(timestamps=_TIMESTAMPS)
    @abstractmethod
    def get(self, workflow_id: str) -> WorkflowRecord:
        """The row with this id; ``NotFoundError`` when missing."""

    @write(timestamps=_TIMESTAMPS)
    @abstractmethod
    def create(
        self, workflow: WorkflowWithoutId, user_id: str = "system", is_public: bool = False
    ) -> WorkflowRecord:
        """Store a new user workflow and return its row."""

    @write(timestamps=_TIMESTAMPS)
    @abstractmethod
    def update(self, workflow: Workflow, user_id: str | None = None) -> WorkflowRecord:
        """Replace a user workflow's document; return the row."""

    @write()
    @abstractmethod
    def delete(self, workflow_id: str, user_id: str | None = None) -> None:
        """Delete a user workflow."""

    @write(timestamps=_TIMESTAMPS)
    @abstractmethod
    def update_is_public(
        self, workflow_id: str, is_public: bool, user_id: str | None = None
    ) -> WorkflowRecord:
        """Make a workflow public (tag ``shared``) or private; return the row."""

    @write()
    @abstractmethod
    def update_opened_at(self, workflow_id: str, user_id: str | None = None) -> None:
        """Record that the workflow was opened now."""

    @read(order=Order.UNORDERED, rows="items", key=("workflow_id",), timestamps=_TIMESTAMPS)
    @abstractmethod
    def get_many(
        self,
        order_by: WorkflowOrderBy,
        direction: Direction,
        categories: Sequence[WorkflowCategory] | None = None,
        *,
        page: int = 0,
        per_page: int | None = None,
        query: str | None = None,
        tags: Sequence[str] | None = None,
        has_been_opened: bool | None = None,
        user_id: str | None = None,
        is_public: bool | None = None,
    ) -> Page[WorkflowListItem]:
        """One page of the rows matching the filters, in the requested order."""

    @read()
    @abstractmethod
    def counts_by_category(
        self,
        categories: Sequence[WorkflowCategory],
        has_been_opened: bool | None = None,
        user_id: str | None = None,
        is_public: bool | None = None,
    ) -> dict[str, int]:
        """How many rows match the filters in each requested category."""

    @read()
    @abstractmethod
    def counts_by_tag(
        self,
        tags: Sequence[str],
        categories: Sequence[WorkflowCategory] | None = None,
        has_been_opened: bool | None = None,
        user_id: str | None = None,
        is_public: bool | None = None,
    ) -> dict[str, int]:
        """How many rows match the filters and contain each requested tag."""

    @read()
    @abstractmethod
    def get_all_tags(
        self,
        categories: Sequence[WorkflowCategory] | None = None,
        user_id: str | None = None,
        is_public: bool | None = None,
    ) -> list[str]:
        """The distinct tags of the rows matching the filters, sorted."""
