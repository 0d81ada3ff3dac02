"""Legacy users service: raw SQL over the shared ``sqlite3`` connection.

One locked transaction per call, except where a call checks or makes a slow
password hash: the hash is computed outside the application-wide lock (a
production-cost scrypt takes tens of milliseconds, and every other service
call would wait behind it). ``authenticate`` therefore reads in one
transaction, verifies outside, and writes ``last_login_at`` in a second one.
Python-side times (``expires_at``, ``last_login_at`` ...) are written as
``isoformat()`` strings of aware UTC datetimes; those compare correctly as text
because they all share one offset (``+00:00``).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from imagegen.db.legacy import LegacyDatabase
from imagegen.db.types import parse_utc
from imagegen.services.contracts.pages import OffsetPage
from imagegen.services.contracts.users import (
    SYSTEM_USER_ID,
    CreatedInvitation,
    Invitation,
    User,
    UserSession,
    UsersService,
    as_utc,
    normalize_email,
    require_password,
    secret_digest,
)
from imagegen.services.errors import DuplicateError, NotFoundError, RuleViolationError
from imagegen.services.passwords import PasswordHasher
from shadow._sources import Clock, IdSource

__all__ = ["LegacyUsersService"]

_USER_COLUMNS = (
    "user_id, email, display_name, is_admin, is_active, created_at, updated_at, last_login_at"
)
_SESSION_COLUMNS = "session_id, user_id, expires_at, created_at, last_activity_at"
_INVITATION_COLUMNS = "invitation_id, email, invited_by, is_admin, expires_at, used_at, created_at"
ID_CHUNK = 500
"""How many ids one ``IN (...)`` lookup carries."""
_ACTIVE_ADMINS = "SELECT COUNT(*) FROM users WHERE is_admin = 1 AND is_active = 1"


def _ts(value: str | None) -> datetime | None:
    return None if value is None else parse_utc(value)


def _iso(moment: datetime) -> str:
    return as_utc(moment).isoformat()


def _user(row: sqlite3.Row) -> User:
    return User(
        user_id=row["user_id"],
        email=row["email"],
        display_name=row["display_name"],
        is_admin=bool(row["is_admin"]),
        is_active=bool(row["is_active"]),
        created_at=parse_utc(row["created_at"]),
        updated_at=parse_utc(row["updated_at"]),
        last_login_at=_ts(row["last_login_at"]),
    )


def _session(row: sqlite3.Row) -> UserSession:
    return UserSession(
        session_id=row["session_id"],
        user_id=row["user_id"],
        expires_at=parse_utc(row["expires_at"]),
        created_at=parse_utc(row["created_at"]),
        last_activity_at=_ts(row["last_activity_at"]),
    )


def _invitation(row: sqlite3.Row) -> Invitation:
    return Invitation(
        invitation_id=row["invitation_id"],
        email=row["email"],
        invited_by=row["invited_by"],
        is_admin=bool(row["is_admin"]),
        expires_at=parse_utc(row["expires_at"]),
        used_at=_ts(row["used_at"]),
        created_at=parse_utc(row["created_at"]),
    )


class LegacyUsersService(UsersService):
    """Users, sessions and invitations on the legacy SQLite database."""

    def __init__(
        self,
        db: LegacyDatabase,
        *,
        ids: IdSource,
        clock: Clock,
        passwords: PasswordHasher | None = None,
    ) -> None:
        self._db = db
        self._ids = ids
        self._clock = clock
        self._passwords = passwords or PasswordHasher()

    # -- helpers (all run inside the caller's transaction) -------------------------

    @staticmethod
    def _fetch_user(cur: sqlite3.Cursor, user_id: str) -> User | None:
        row = cur.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE user_id = ?", (user_id,))
        found = row.fetchone()
        return None if found is None else _user(found)

    @staticmethod
    def _email_taken(cur: sqlite3.Cursor, email: str) -> bool:
        return cur.execute("SELECT 1 FROM users WHERE email = ?", (email,)).fetchone() is not None

    def _insert_user(
        self,
        cur: sqlite3.Cursor,
        email: str,
        display_name: str | None,
        password_hash: str,
        is_admin: bool,
    ) -> User:
        user_id = self._ids.new_id()  # drawn first on both sides, so they draw alike
        if self._email_taken(cur, email):
            raise DuplicateError("user", "email")
        cur.execute(
            "INSERT INTO users (user_id, email, display_name, password_hash, is_admin)"
            " VALUES (?, ?, ?, ?, ?)",
            (user_id, email, display_name, password_hash, int(is_admin)),
        )
        user = self._fetch_user(cur, user_id)
        assert user is not None  # just inserted in this transaction
        return user

    @staticmethod
    def _guard_last_admin(cur: sqlite3.Cursor, user: User, *, removing: bool) -> None:
        if removing and user.is_admin and user.is_active:
            (admins,) = cur.execute(_ACTIVE_ADMINS).fetchone()
            if admins <= 1:
                raise RuleViolationError(
                    "last_admin", "the last active admin cannot be demoted, deactivated or deleted"
                )

    # -- accounts ------------------------------------------------------------------

    def create(
        self, email: str, display_name: str | None, password: str, is_admin: bool = False
    ) -> User:
        email = normalize_email(email)
        require_password(password)
        password_hash = self._passwords.hash(password)
        with self._db.transaction() as cur:
            return self._insert_user(cur, email, display_name, password_hash, is_admin)

    def get(self, user_id: str) -> User | None:
        with self._db.transaction() as cur:
            return self._fetch_user(cur, user_id)

    def get_many(self, user_ids: list[str]) -> dict[str, User]:
        wanted = list(dict.fromkeys(user_ids))
        if not wanted:
            return {}
        found: dict[str, User] = {}
        with self._db.transaction() as cur:
            # In chunks: one statement carries at most 32,766 parameters on a default
            # SQLite build and 65,535 on PostgreSQL.
            for start in range(0, len(wanted), ID_CHUNK):
                chunk = wanted[start : start + ID_CHUNK]
                marks = ", ".join("?" * len(chunk))
                rows = cur.execute(
                    f"SELECT {_USER_COLUMNS} FROM users WHERE user_id IN ({marks})", chunk
                )
                found.update((row["user_id"], _user(row)) for row in rows.fetchall())
        return found

    def get_by_email(self, email: str) -> User | None:
        email = email.strip().lower()
        with self._db.transaction() as cur:
            found = cur.execute(
                f"SELECT {_USER_COLUMNS} FROM users WHERE email = ?", (email,)
            ).fetchone()
        return None if found is None else _user(found)

    def update(
        self,
        user_id: str,
        *,
        display_name: str | None = None,
        password: str | None = None,
        is_admin: bool | None = None,
        is_active: bool | None = None,
    ) -> User:
        password_hash = None
        if password is not None and user_id != SYSTEM_USER_ID:
            require_password(password)
            password_hash = self._passwords.hash(password)
        with self._db.transaction() as cur:
            user = self._fetch_user(cur, user_id)
            if user is None:
                raise NotFoundError("user", user_id)
            if user_id == SYSTEM_USER_ID and (
                password is not None or is_admin is True or is_active is False
            ):
                raise RuleViolationError(
                    "system_user",
                    "the system user cannot be promoted, deactivated or given a password",
                )
            self._guard_last_admin(cur, user, removing=is_admin is False or is_active is False)
            changes: dict[str, Any] = {}
            if display_name is not None:
                changes["display_name"] = display_name
            if password_hash is not None:
                changes["password_hash"] = password_hash
            if is_admin is not None:
                changes["is_admin"] = int(is_admin)
            if is_active is not None:
                changes["is_active"] = int(is_active)
            if not changes:
                return user
            assignments = ", ".join(f"{column} = ?" for column in changes)
            cur.execute(
                f"UPDATE users SET {assignments} WHERE user_id = ?", (*changes.values(), user_id)
            )
            updated = self._fetch_user(cur, user_id)
            assert updated is not None
            return updated

    def delete(self, user_id: str) -> None:
        with self._db.transaction() as cur:
            user = self._fetch_user(cur, user_id)
            if user is None:
                raise NotFoundError("user", user_id)
            if user_id == SYSTEM_USER_ID:
                raise RuleViolationError("system_user", "the system user cannot be deleted")
            self._guard_last_admin(cur, user, removing=True)
            cur.execute("DELETE FROM users WHERE user_id = ?", (user_id,))

    def authenticate(self, email: str, password: str) -> User | None:
        email = email.strip().lower()
        with self._db.transaction() as cur:
            found = cur.execute(
                "SELECT user_id, password_hash, is_active FROM users WHERE email = ?", (email,)
            ).fetchone()
        if found is None or found["user_id"] == SYSTEM_USER_ID or not found["is_active"]:
            return None
        if not self._passwords.verify(password, found["password_hash"]):
            return None
        with self._db.transaction() as cur:
            # Matched on the hash too: a password changed meanwhile voids this login.
            cur.execute(
                "UPDATE users SET last_login_at = ?"
                " WHERE user_id = ? AND password_hash = ? AND is_active = 1",
                (_iso(self._clock.now()), found["user_id"], found["password_hash"]),
            )
            if cur.rowcount == 0:
                return None
            return self._fetch_user(cur, found["user_id"])

    def has_admin(self) -> bool:
        return self.count_admins() > 0

    def count_admins(self) -> int:
        with self._db.transaction() as cur:
            (admins,) = cur.execute(_ACTIVE_ADMINS).fetchone()
        return int(admins)

    def list_users(self, limit: int = 100, offset: int = 0) -> OffsetPage[User]:
        if limit < 0 or offset < 0:
            raise RuleViolationError("pagination", "limit and offset must not be negative")
        with self._db.transaction() as cur:
            rows = cur.execute(
                f"SELECT {_USER_COLUMNS} FROM users WHERE user_id <> ?"
                " ORDER BY created_at DESC, user_id DESC LIMIT ? OFFSET ?",
                (SYSTEM_USER_ID, limit, offset),
            ).fetchall()
            (total,) = cur.execute(
                "SELECT COUNT(*) FROM users WHERE user_id <> ?", (SYSTEM_USER_ID,)
            ).fetchone()
        return OffsetPage[User](
            items=[_user(row) for row in rows], offset=offset, limit=limit, total=total
        )

    # -- sessions ------------------------------------------------------------------

    def create_session(self, user_id: str, token: str, expires_at: datetime) -> UserSession:
        with self._db.transaction() as cur:
            if self._fetch_user(cur, user_id) is None:
                raise NotFoundError("user", user_id)
            if user_id == SYSTEM_USER_ID:
                raise RuleViolationError("system_user", "the system user cannot log in")
            session_id = self._ids.new_id()
            cur.execute(
                "INSERT INTO user_sessions"
                " (session_id, user_id, token_hash, expires_at, last_activity_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    session_id,
                    user_id,
                    secret_digest(token),
                    _iso(expires_at),
                    _iso(self._clock.now()),
                ),
            )
            row = cur.execute(
                f"SELECT {_SESSION_COLUMNS} FROM user_sessions WHERE session_id = ?",
                (session_id,),
            ).fetchone()
        return _session(row)

    def get_session_by_token(self, token: str) -> UserSession | None:
        now = as_utc(self._clock.now())
        with self._db.transaction() as cur:
            rows = cur.execute(
                "SELECT s.session_id, s.user_id, s.expires_at, s.created_at,"
                " s.last_activity_at FROM user_sessions AS s"
                " JOIN users AS u ON u.user_id = s.user_id"
                " WHERE s.token_hash = ? AND u.is_active = 1 ORDER BY s.session_id",
                (secret_digest(token),),
            ).fetchall()
        for row in rows:
            session = _session(row)
            if session.expires_at > now:
                return session
        return None

    def touch_session(self, session_id: str) -> None:
        with self._db.transaction() as cur:
            cur.execute(
                "UPDATE user_sessions SET last_activity_at = ? WHERE session_id = ?",
                (_iso(self._clock.now()), session_id),
            )
            if cur.rowcount == 0:
                raise NotFoundError("session", session_id)

    def revoke_session(self, session_id: str) -> None:
        with self._db.transaction() as cur:
            cur.execute("DELETE FROM user_sessions WHERE session_id = ?", (session_id,))

    def purge_expired(self, now: datetime) -> int:
        with self._db.transaction() as cur:
            cur.execute("DELETE FROM user_sessions WHERE expires_at <= ?", (_iso(now),))
            return cur.rowcount

    # -- invitations ---------------------------------------------------------------

    def create_invitation(
        self, email: str, invited_by: str, is_admin: bool, expires_at: datetime
    ) -> CreatedInvitation:
        email = normalize_email(email)
        with self._db.transaction() as cur:
            if self._fetch_user(cur, invited_by) is None:
                raise NotFoundError("user", invited_by)
            if self._email_taken(cur, email):
                raise DuplicateError("user", "email")
            invitation_id = self._ids.new_id()
            code = self._ids.new_id()
            cur.execute(
                "INSERT INTO user_invitations"
                " (invitation_id, email, invited_by, invitation_code, is_admin, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    invitation_id,
                    email,
                    invited_by,
                    secret_digest(code),
                    int(is_admin),
                    _iso(expires_at),
                ),
            )
            row = cur.execute(
                f"SELECT {_INVITATION_COLUMNS} FROM user_invitations WHERE invitation_id = ?",
                (invitation_id,),
            ).fetchone()
        return CreatedInvitation(invitation=_invitation(row), code=code)

    def redeem(self, code: str, password: str, display_name: str | None = None) -> User:
        require_password(password)
        password_hash = self._passwords.hash(password)
        now = as_utc(self._clock.now())
        with self._db.transaction() as cur:
            row = cur.execute(
                f"SELECT {_INVITATION_COLUMNS} FROM user_invitations WHERE invitation_code = ?",
                (secret_digest(code),),
            ).fetchone()
            if row is None:
                raise NotFoundError("invitation", "(by code)")
            invitation = _invitation(row)
            if invitation.used_at is not None:
                raise RuleViolationError("invitation_used", "the invitation was already used")
            if invitation.expires_at <= now:
                raise RuleViolationError("invitation_expired", "the invitation has expired")
            user = self._insert_user(
                cur, invitation.email, display_name, password_hash, invitation.is_admin
            )
            cur.execute(
                "UPDATE user_invitations SET used_at = ? WHERE invitation_id = ?",
                (now.isoformat(), invitation.invitation_id),
            )
            return user
