"""The reference domain's edge classes, shared by the contracts' exploration declarations.

Each contract declares, with :func:`shadow.explore_inputs`, what differential
exploration should feed its methods beyond what the annotations say. The
values here are the domain's edges (DOMAIN.md and the legacy code): names at
and past the length limits the legacy layer enforces, case variants, spaces
around, non-ASCII text, LIKE metacharacters (``%``, ``_``, ``\\`` and the
``/`` escape both implementations use) in anything used as a pattern, ids
that never existed, every page boundary. Pools name values that earlier calls
returned (ids that exist, and, after a delete, ids that were deleted); the
exploration target (``imagegen.demo.explore``) starts them with the ids of a
seeded world: an admin, users (one inactive), boards shared with and without
edit rights, queue items in every state, and so on.
"""

from __future__ import annotations

from shadow._inputs import Arg

__all__ = [
    "BOARD_ID",
    "EMAIL",
    "IMAGE_NAME",
    "LIMIT",
    "NAMES",
    "OFFSET",
    "PAGE",
    "PASSWORD",
    "PATTERNS",
    "PER_PAGE",
    "USER_ID",
]

NAMES: tuple[str, ...] = (
    "Board 1",
    "board 1",
    "BOARD 1",
    " Board 1",
    "Board 1 ",
    "",
    " ",
    "x" * 299,
    "x" * 300,
    "x" * 301,
    "Été",
    "été",
    "straße",
    "STRASSE",
    "İstanbul",
    "日本語",
    "😀",
    "a%b",
    "a_b",
    "a\\b",
    "a/b",
    "'quoted'",
)
"""Names (boards, presets, workflows, models): the 300-character limit, case and Unicode."""

PATTERNS: tuple[str, ...] = (
    "",
    "%",
    "_",
    "\\",
    "/",
    "//",
    "a%",
    "%a",
    "a_b",
    "A",
    "a",
    "É",
    "é",
    "ß",
    "gallery.",
    "GALLERY.",
    "gallery%",
    "gallery_",
    "light",
    "LIGHT",
    "lighthouse",
    "portrait",
    "shared",
    " ",
)
"""Anything used as a LIKE pattern or a search term: metacharacters, escapes, case."""

USER_ID = Arg(pool="user_id", keep=True, examples=("system", "never-existed-user", ""))
"""A user: ``system``, the seeded admin, owners, other users, an inactive one, none.

Kept (like :data:`BOARD_ID`): the user a call just acted on becomes the pool's
latest value, which later calls draw often, so a write is read back (an
unshare, then the board's shares)."""

BOARD_ID = Arg(pool="board_id", keep=True, examples=("none", "never-existed-board", ""))
"""A board: one that exists, was deleted, never existed, or ``none`` (no board)."""

IMAGE_NAME = Arg(pool="image_name", examples=("never-existed.png", "", "a%.png", "a_b.png"))
"""An image name (``images.save`` declares its own, kept in the pool)."""

OFFSET = Arg(examples=(0, 1, 2, 3, 5, 10, 1000, -1), only=True)
LIMIT = Arg(examples=(0, 1, 2, 3, 10, 100, 1000, -1), only=True)
PAGE = Arg(examples=(0, 1, 2, 3, 100, -1), only=True)
PER_PAGE = Arg(examples=(None, 1, 2, 3, 10, 0, -1), only=True)
"""Pagination: first page, at and past the total, zero, the maximum, negative."""

EMAIL = Arg(
    pool="email",
    examples=(
        "admin@example.invalid",
        "ADMIN@example.invalid",
        " user1@example.invalid ",
        "User1@Example.Invalid",
        "never@example.invalid",
        "",
        "no-at-sign",
        "x" * 241 + "@example.inv",
        "x" * 242 + "@example.inv",
        "é@example.invalid",
    ),
)
"""Emails: existing, case and space variants, at and past the 254-character limit."""

PASSWORD = Arg(
    pool="password",
    keep=True,
    examples=("password-1", "admin-password", "", "wrong-password", "pässwörd"),
)
"""Passwords: the seeded ones (right), wrong ones, the empty one (refused)."""
