"""The users service: accounts, login sessions and invitations.

Behaviour both implementations share (docs/reference-app.md, plus the choices
written here where it is silent):

* **Emails** are stored and looked up normalized: surrounding whitespace
  stripped and lower-cased (``str.lower`` in Python, on both sides), so
  ``Ann@Example.com`` and ``ann@example.com`` are one account on every backend
  (MariaDB compares case-insensitively and SQLite does not; normalizing first
  makes them agree). An empty email is refused (``RuleViolationError``, rule
  ``email_required``), as is an empty password (``password_required``).
* **Passwords** are stored only as a salted slow hash
  (:mod:`imagegen.services.passwords`); no record carries the hash.
* **The system user** (``user_id == "system"``, the owner of legacy content)
  cannot be deleted, deactivated, promoted or given a password (rule
  ``system_user``); ``authenticate`` never succeeds for it and
  :meth:`UsersService.create_session` refuses it. ``list_users`` leaves it out
  (it is not an account a person manages); ``get`` and ``get_many`` return it.
  ``list_users`` orders newest first, equal ``created_at`` by ``user_id``
  descending, so offset paging never repeats or skips an account.
* **The last active admin** cannot be demoted, deactivated or deleted (rule
  ``last_admin``). ``has_admin`` and ``count_admins`` count *active* admins.
* ``update`` takes keyword changes where ``None`` means "unchanged"; a call
  with no change writes nothing and returns the user as stored.
  ``delete`` of an unknown user raises ``NotFoundError`` (an admin deleting a
  user that is not there should hear about it); deleting a user cascades their
  sessions, the invitations they sent, their board shares and client state.
* ``authenticate`` returns ``None`` for an unknown email, a wrong password, an
  inactive user and ``system``; on success it writes ``last_login_at`` (from
  the injected clock) and returns the user with it.
* **Sessions** store only the sha256 of the token. ``create_session`` needs an
  existing user (``NotFoundError``); ``get_session_by_token`` returns ``None``
  for an unknown token, an expired session (``expires_at <= clock.now()``) or
  an inactive user; ``touch_session`` sets ``last_activity_at`` to now
  (``NotFoundError`` for an unknown session); ``revoke_session`` is silent
  when the session is gone (logging out twice is fine); ``purge_expired(now)``
  deletes sessions with ``expires_at <= now`` and returns how many.
* **Invitations**: the id and the code both come from the injected id source.
  Inviting an email that already has an account is a ``DuplicateError``; an
  unknown inviter a ``NotFoundError``. ``redeem`` raises ``NotFoundError`` for
  an unknown code, ``RuleViolationError`` (``invitation_used`` /
  ``invitation_expired``) for a used or expired one, and otherwise creates the
  user (the invitation's email and admin flag) and marks the invitation used.
* Invitation codes, like session tokens, are stored only as their sha256
  (:func:`secret_digest`): a copy of the database hands out no usable secret.
* Emails longer than 254 characters (the SMTP limit) are refused
  (``email_too_long``); ``limit``/``offset`` below zero are refused
  (``pagination``).
* Naive datetimes passed in (``expires_at``, ``now``) are taken as UTC.

The helpers at the bottom (:func:`normalize_email`, :func:`secret_digest`,
:func:`as_utc`) are part of the contract: both implementations call them, so
the normalized values they store are the same by construction.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from datetime import UTC, datetime

from pydantic import Field

from imagegen.services.contracts.edges import EMAIL, LIMIT, OFFSET, PASSWORD, USER_ID
from imagegen.services.contracts.pages import OffsetPage, Record
from imagegen.services.errors import RuleViolationError
from shadow._contract import Order, read, read_write, write
from shadow._inputs import Arg, explore_inputs

__all__ = [
    "MAX_EMAIL_LENGTH",
    "SYSTEM_USER_ID",
    "CreatedInvitation",
    "Invitation",
    "User",
    "UserSession",
    "UsersService",
    "as_utc",
    "normalize_email",
    "require_password",
    "secret_digest",
]

SYSTEM_USER_ID = "system"
"""The seeded owner of legacy content; never a login."""

MAX_EMAIL_LENGTH = 254

_USER_TIMESTAMPS = {"created_at": 0.001, "updated_at": 0.001}  # millisecond columns
_CREATED_AT = {"created_at": 0.001}
_PII = ("email", "display_name")
_SECRETS = ("password", "token", "code")
_SENSITIVE = _PII + _SECRETS


class User(Record):
    """An account, without its password hash."""

    user_id: str
    email: str
    display_name: str | None
    is_admin: bool
    is_active: bool
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None


class UserSession(Record):
    """A login session, without its token or the token's hash."""

    session_id: str
    user_id: str
    expires_at: datetime
    created_at: datetime
    last_activity_at: datetime | None


class Invitation(Record):
    """An invitation to create an account, without its code."""

    invitation_id: str
    email: str
    invited_by: str
    is_admin: bool
    expires_at: datetime
    used_at: datetime | None
    created_at: datetime


class CreatedInvitation(Record):
    """A new invitation and its code: the only time the code is handed out.

    The code is left out of ``repr`` (it is a secret); the comparison spec of
    ``create_invitation`` declares it sensitive.
    """

    invitation: Invitation
    code: str = Field(repr=False)


@explore_inputs(
    user_id=USER_ID,
    user_ids=USER_ID,
    invited_by=USER_ID,
    email=EMAIL,
    password=PASSWORD,
    display_name=Arg(examples=(None, "", "Admin", "ädmin", "x" * 300)),
    token=Arg(
        pool="token",
        keep=True,
        examples=("never-existed-token", "expired-token", "stale-token", ""),
    ),
    session_id=Arg(pool="session_id", examples=("never-existed-session",)),
    code=Arg(pool="invitation_code", harvest=("code",), examples=("never-existed-code", "")),
    limit=LIMIT,
    offset=OFFSET,
)
class UsersService(ABC):
    """Accounts, sessions and invitations (see the module docstring for the rules)."""

    @write(timestamps=_USER_TIMESTAMPS, sensitive=_SENSITIVE)
    @abstractmethod
    def create(
        self, email: str, display_name: str | None, password: str, is_admin: bool = False
    ) -> User:
        """Create an account; ``DuplicateError`` (field ``email``) if the email is taken."""

    @read(timestamps=_USER_TIMESTAMPS, sensitive=_SENSITIVE)
    @abstractmethod
    def get(self, user_id: str) -> User | None:
        """The user with this id, or ``None``."""

    @read(order=Order.UNORDERED, key="user_id", timestamps=_USER_TIMESTAMPS, sensitive=_SENSITIVE)
    @abstractmethod
    def get_many(self, user_ids: list[str]) -> dict[str, User]:
        """The users among ``user_ids`` that exist, by id (unknown ids are left out)."""

    @read(timestamps=_USER_TIMESTAMPS, sensitive=_SENSITIVE)
    @abstractmethod
    def get_by_email(self, email: str) -> User | None:
        """The user with this (normalized) email, or ``None``."""

    @write(timestamps=_USER_TIMESTAMPS, sensitive=_SENSITIVE)
    @abstractmethod
    def update(
        self,
        user_id: str,
        *,
        display_name: str | None = None,
        password: str | None = None,
        is_admin: bool | None = None,
        is_active: bool | None = None,
    ) -> User:
        """Apply the given changes (``None`` = unchanged) and return the user."""

    @write(sensitive=_SENSITIVE)
    @abstractmethod
    def delete(self, user_id: str) -> None:
        """Delete a user and, by cascade, their sessions, invitations, shares, client state."""

    @read_write(timestamps=_USER_TIMESTAMPS, sensitive=_SENSITIVE)
    @abstractmethod
    def authenticate(self, email: str, password: str) -> User | None:
        """The user if the password matches an active account (never ``system``)."""

    @read()
    @abstractmethod
    def has_admin(self) -> bool:
        """True when at least one active admin exists."""

    @read()
    @abstractmethod
    def count_admins(self) -> int:
        """How many active admins exist."""

    @read(
        order=Order.TIES,
        rows="items",
        key="user_id",
        sort_key="created_at",
        timestamps=_USER_TIMESTAMPS,
        sensitive=_SENSITIVE,
    )
    @abstractmethod
    def list_users(self, limit: int = 100, offset: int = 0) -> OffsetPage[User]:
        """Accounts (not ``system``), newest first; ``total`` counts them all."""

    @write(timestamps=_CREATED_AT, sensitive=_SENSITIVE)
    @abstractmethod
    def create_session(self, user_id: str, token: str, expires_at: datetime) -> UserSession:
        """Start a session for ``user_id``; only the token's hash is stored."""

    @read(timestamps=_CREATED_AT, sensitive=_SENSITIVE)
    @abstractmethod
    def get_session_by_token(self, token: str) -> UserSession | None:
        """The live session for ``token`` (not expired, user active), or ``None``."""

    @write()
    @abstractmethod
    def touch_session(self, session_id: str) -> None:
        """Record activity on a session now (``last_activity_at``)."""

    @write()
    @abstractmethod
    def revoke_session(self, session_id: str) -> None:
        """End a session; silent when it is already gone."""

    @write()
    @abstractmethod
    def purge_expired(self, now: datetime) -> int:
        """Delete sessions that expired at or before ``now``; return how many."""

    @write(timestamps=_CREATED_AT, sensitive=_SENSITIVE)
    @abstractmethod
    def create_invitation(
        self, email: str, invited_by: str, is_admin: bool, expires_at: datetime
    ) -> CreatedInvitation:
        """Invite ``email``; the result carries the code (sensitive)."""

    @write(timestamps=_USER_TIMESTAMPS, sensitive=_SENSITIVE)
    @abstractmethod
    def redeem(self, code: str, password: str, display_name: str | None = None) -> User:
        """Create the invited account and mark the invitation used."""


def normalize_email(email: str) -> str:
    """The stored form of an email: stripped and lower-cased; refuses empty or too long."""
    normalized = email.strip().lower()
    if not normalized:
        raise RuleViolationError("email_required", "an email address is required")
    if len(normalized) > MAX_EMAIL_LENGTH:
        raise RuleViolationError(
            "email_too_long", f"an email address has at most {MAX_EMAIL_LENGTH} characters"
        )
    return normalized


def require_password(password: str) -> None:
    """Refuse an empty password (``RuleViolationError``, rule ``password_required``)."""
    if not password:
        raise RuleViolationError("password_required", "a password is required")


def secret_digest(secret: str) -> str:
    """The stored form of a random secret (session token, invitation code): sha256 hex.

    A plain fast hash is enough here: tokens and codes are long random values, not
    guessable passwords.
    """
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def as_utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime; a naive one is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
