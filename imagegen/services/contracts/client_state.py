"""The client_state service: per-user key/value state of the web UI.

Behaviour both implementations share (docs/reference-app.md, plus the choices
written here where it is silent):

* ``set_by_key`` inserts or replaces the value and returns it; ``updated_at``
  is set by the database (second precision) on insert and on replace.
  Setting state for a user that does not exist raises
  :class:`~imagegen.services.errors.NotFoundError` (``user``), because the row
  references ``users`` with a foreign key.
* ``get_by_key`` returns the value or ``None``.
* ``get_keys_by_prefix`` returns the user's keys that start with ``prefix``,
  matched with ``LIKE`` semantics: ASCII letters match case-insensitively,
  everything else exactly, and ``%``/``_`` in the prefix match themselves.
  Newest (``updated_at``) first; keys written in the same second come in any
  order, so the runtime compares the list as a set.
* ``delete_by_key`` and ``delete`` (all of a user's keys) are silent when
  nothing matches. Deleting the user deletes their state (cascade).
"""

from __future__ import annotations

import string
from abc import ABC, abstractmethod

from imagegen.services.contracts.edges import PATTERNS, USER_ID
from shadow._contract import Order, read, write
from shadow._inputs import Arg, explore_inputs

__all__ = ["LIKE_ESCAPE", "ClientStateService", "prefix_pattern"]

LIKE_ESCAPE = "/"
"""The LIKE escape character: not a backslash, which MariaDB string literals also use."""

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def prefix_pattern(prefix: str) -> str:
    """The LIKE pattern matching keys that start with ``prefix``.

    ASCII letters are folded to lower case (the implementations compare it with
    the ASCII-lowered key, which is what SQLite's ``LIKE`` does) and ``%``,
    ``_`` and the escape character are escaped so they match themselves.
    """
    folded = prefix.translate(_ASCII_LOWER)
    escaped = "".join(LIKE_ESCAPE + char if char in "%_/" else char for char in folded)
    return escaped + "%"


@explore_inputs(
    user_id=USER_ID,
    key=Arg(
        pool="client_key",
        keep=True,
        examples=("gallery.view", "gallery.scroll", "GALLERY.VIEW", "gallery%", "a_b", "a/b", ""),
    ),
    prefix=Arg(examples=PATTERNS),
)
class ClientStateService(ABC):
    """Per-user UI state (see the module docstring for the rules)."""

    @write()
    @abstractmethod
    def set_by_key(self, user_id: str, key: str, value: str) -> str:
        """Store ``value`` under ``(user_id, key)`` and return it."""

    @read()
    @abstractmethod
    def get_by_key(self, user_id: str, key: str) -> str | None:
        """The value under ``(user_id, key)``, or ``None``."""

    @read(order=Order.UNORDERED, key=("key",))
    @abstractmethod
    def get_keys_by_prefix(self, user_id: str, prefix: str) -> list[str]:
        """The user's keys starting with ``prefix``, newest first (ties in any order)."""

    @write()
    @abstractmethod
    def delete_by_key(self, user_id: str, key: str) -> None:
        """Delete one key of the user (silent when missing)."""

    @write()
    @abstractmethod
    def delete(self, user_id: str) -> None:
        """Delete every key of the user (silent when there are none)."""
