"""SQLModel users service: SQLAlchemy Core over the SQLModel tables.

Statements are built once (building a ``select`` costs tens of microseconds,
more than running it on SQLite) and executed on a connection per call, through
the engines of :class:`~imagegen.services.core._base.CoreService`. The
password hash is made or checked outside any transaction, as on the legacy
side, so ``authenticate`` reads, verifies, then writes ``last_login_at``.
Driver errors never escape: uniqueness is checked first, and a unique
violation from a concurrent writer is translated to ``DuplicateError``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from imagegen.db.tables import metadata
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
from imagegen.services.core._base import CoreService, record
from imagegen.services.core._driver_write import WriteConnection
from imagegen.services.core._portable import storable_text
from imagegen.services.errors import DuplicateError, NotFoundError, RuleViolationError
from imagegen.services.passwords import PasswordHasher
from shadow._sources import Clock, IdSource

__all__ = ["CoreUsersService"]

_users = metadata.tables["users"]
_sessions = metadata.tables["user_sessions"]
_invitations = metadata.tables["user_invitations"]

_user_columns = (
    _users.c.user_id,
    _users.c.email,
    _users.c.display_name,
    _users.c.is_admin,
    _users.c.is_active,
    _users.c.created_at,
    _users.c.updated_at,
    _users.c.last_login_at,
)
_session_columns = (
    _sessions.c.session_id,
    _sessions.c.user_id,
    _sessions.c.expires_at,
    _sessions.c.created_at,
    _sessions.c.last_activity_at,
)
_invitation_columns = (
    _invitations.c.invitation_id,
    _invitations.c.email,
    _invitations.c.invited_by,
    _invitations.c.is_admin,
    _invitations.c.expires_at,
    _invitations.c.used_at,
    _invitations.c.created_at,
)

ID_CHUNK = 500
"""How many ids one ``IN (...)`` lookup carries."""

_active_admin = sa.and_(_users.c.is_admin == sa.true(), _users.c.is_active == sa.true())
_not_system = _users.c.user_id != SYSTEM_USER_ID

_GET_USER = sa.select(*_user_columns).where(_users.c.user_id == sa.bindparam("user_id"))
# Before pointing a session or an invitation at a user, lock the user row for share
# (servers only; SQLite's IMMEDIATE transaction already serializes writers), so a
# concurrent delete cannot cause a foreign-key error.
_SHARE_USER = _GET_USER.with_for_update(read=True)
_GET_USERS = sa.select(*_user_columns).where(
    _users.c.user_id.in_(sa.bindparam("user_ids", expanding=True))
)
_GET_BY_EMAIL = sa.select(*_user_columns).where(_users.c.email == sa.bindparam("email"))
_EMAIL_TAKEN = sa.select(sa.literal(1)).where(_users.c.email == sa.bindparam("email"))
_LOGIN_ROW = sa.select(_users.c.user_id, _users.c.password_hash, _users.c.is_active).where(
    _users.c.email == sa.bindparam("email")
)
_RECORD_LOGIN = (
    _users.update()
    .where(
        _users.c.user_id == sa.bindparam("uid"),
        _users.c.password_hash == sa.bindparam("hash"),
        _users.c.is_active == sa.true(),
    )
    .values(last_login_at=sa.bindparam("last_login_at"))
)
_INSERT_USER = _users.insert()
_DELETE_USER = _users.delete().where(_users.c.user_id == sa.bindparam("uid"))
_COUNT_ADMINS = sa.select(sa.func.count()).select_from(_users).where(_active_admin)
# The last-admin guard locks every active admin row (in a fixed order) so two concurrent
# demotions on PostgreSQL or MariaDB cannot both see two admins; SQLite renders no
# FOR UPDATE (its IMMEDIATE transaction already serializes writers).
_LOCK_ACTIVE_ADMINS = (
    sa.select(_users.c.user_id).where(_active_admin).order_by(_users.c.user_id).with_for_update()
)
_LIST_USERS = (
    sa.select(*_user_columns)
    .where(_not_system)
    .order_by(_users.c.created_at.desc(), _users.c.user_id.desc())
    .limit(sa.bindparam("limit"))
    .offset(sa.bindparam("offset"))
)
_COUNT_USERS = sa.select(sa.func.count()).select_from(_users).where(_not_system)

_INSERT_SESSION = _sessions.insert()
_GET_SESSION = sa.select(*_session_columns).where(
    _sessions.c.session_id == sa.bindparam("session_id")
)
_SESSIONS_BY_TOKEN = (
    sa.select(*_session_columns)
    .join(_users, _users.c.user_id == _sessions.c.user_id)
    .where(_sessions.c.token_hash == sa.bindparam("token_hash"), _users.c.is_active == sa.true())
    .order_by(_sessions.c.session_id)
)
_TOUCH_SESSION = (
    _sessions.update()
    .where(_sessions.c.session_id == sa.bindparam("sid"))
    .values(last_activity_at=sa.bindparam("last_activity_at"))
)
_REVOKE_SESSION = _sessions.delete().where(_sessions.c.session_id == sa.bindparam("sid"))
_PURGE_SESSIONS = _sessions.delete().where(_sessions.c.expires_at <= sa.bindparam("now"))

_INSERT_INVITATION = _invitations.insert()
_GET_INVITATION = sa.select(*_invitation_columns).where(
    _invitations.c.invitation_id == sa.bindparam("invitation_id")
)
# Locked, so a code redeemed twice at once is "used" for the second caller on the servers.
_INVITATION_BY_CODE = (
    sa.select(*_invitation_columns)
    .where(_invitations.c.invitation_code == sa.bindparam("code_hash"))
    .with_for_update()
)
_MARK_INVITATION_USED = (
    _invitations.update()
    .where(_invitations.c.invitation_id == sa.bindparam("iid"))
    .values(used_at=sa.bindparam("used_at"))
)


class CoreUsersService(CoreService, UsersService):
    """Users, sessions and invitations on SQLite, PostgreSQL or MariaDB."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        ids: IdSource,
        clock: Clock,
        passwords: PasswordHasher | None = None,
    ) -> None:
        super().__init__(engine, ids=ids, clock=clock)
        self._passwords = passwords or PasswordHasher()

    # -- helpers (all run on the caller's connection) --------------------------------

    def _update(self, columns: frozenset[str]) -> sa.Update:
        """The UPDATE of exactly ``columns``, built on first use and cached."""
        return self._statement(
            ("update", columns),
            lambda: (
                _users.update()
                .where(_users.c.user_id == sa.bindparam("uid"))
                .values({name: sa.bindparam(f"new_{name}") for name in sorted(columns)})
            ),
        )

    @staticmethod
    def _fetch_user(
        conn: WriteConnection, user_id: str, statement: sa.Select[Any] = _GET_USER
    ) -> User | None:
        if not storable_text(user_id, conn.dialect.name):
            return None  # no row can hold it, as no SQLite row has it: an unknown user
        row = conn.execute(statement, {"user_id": user_id}).mappings().first()
        return None if row is None else record(User, row)

    def _insert_user(
        self,
        conn: WriteConnection,
        email: str,
        display_name: str | None,
        password_hash: str,
        is_admin: bool,
    ) -> User:
        # The id is drawn before the email is known to be free, as on the legacy side, so
        # both draw the same ids; the UNIQUE index is the check (one statement fewer).
        user_id = self._ids.new_id()
        values = {
            "user_id": user_id,
            "email": email,
            "display_name": display_name,
            "password_hash": password_hash,
            "is_admin": is_admin,
        }
        try:
            conn.execute(_INSERT_USER, values)
            taken = False
        except sa.exc.IntegrityError:
            taken = True
        if taken:
            # Raised outside the handler: the driver's error (which quotes the statement's
            # parameters, the password hash among them) must not ride along as __context__.
            raise DuplicateError("user", "email")
        user = self._fetch_user(conn, user_id)
        assert user is not None  # just inserted in this transaction
        return user

    @staticmethod
    def _guard_last_admin(conn: WriteConnection, user: User, *, removing: bool) -> None:
        if (
            removing
            and user.is_admin
            and user.is_active
            and len(conn.execute(_LOCK_ACTIVE_ADMINS).all()) <= 1
        ):
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
        with self._writes.begin() as conn:
            return self._insert_user(conn, email, display_name, password_hash, is_admin)

    def get(self, user_id: str) -> User | None:
        if not storable_text(user_id, self._dialect):
            return None  # no row can hold it, as no SQLite row has it: an unknown user
        row = self._reads.one(_GET_USER, {"user_id": user_id})
        return None if row is None else record(User, row)

    def get_many(self, user_ids: list[str]) -> dict[str, User]:
        wanted = list(dict.fromkeys(user_ids))
        if not wanted:
            return {}
        found: dict[str, User] = {}
        with self._reader.connect() as conn:
            # In chunks: one statement carries at most 32,766 parameters on a default
            # SQLite build and 65,535 on PostgreSQL.
            for start in range(0, len(wanted), ID_CHUNK):
                chunk = wanted[start : start + ID_CHUNK]
                rows = conn.execute(_GET_USERS, {"user_ids": chunk}).mappings()
                found.update((row["user_id"], record(User, row)) for row in rows)
        return found

    def get_by_email(self, email: str) -> User | None:
        with self._reader.connect() as conn:
            row = conn.execute(_GET_BY_EMAIL, {"email": email.strip().lower()}).mappings().first()
        return None if row is None else record(User, row)

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
        with self._writes.begin() as conn:
            user = self._fetch_user(conn, user_id)
            if user is None:
                raise NotFoundError("user", user_id)
            if user_id == SYSTEM_USER_ID and (
                password is not None or is_admin is True or is_active is False
            ):
                raise RuleViolationError(
                    "system_user",
                    "the system user cannot be promoted, deactivated or given a password",
                )
            self._guard_last_admin(conn, user, removing=is_admin is False or is_active is False)
            changes: dict[str, Any] = {}
            if display_name is not None:
                changes["display_name"] = display_name
            if password_hash is not None:
                changes["password_hash"] = password_hash
            if is_admin is not None:
                changes["is_admin"] = is_admin
            if is_active is not None:
                changes["is_active"] = is_active
            if not changes:
                return user
            conn.execute(
                self._update(frozenset(changes)),
                {"uid": user_id, **{f"new_{name}": value for name, value in changes.items()}},
            )
            updated = self._fetch_user(conn, user_id)
            if updated is None:  # deleted by a concurrent transaction meanwhile
                raise NotFoundError("user", user_id)
            return updated

    def delete(self, user_id: str) -> None:
        with self._writer.begin() as conn:
            user = self._fetch_user(conn, user_id)
            if user is None:
                raise NotFoundError("user", user_id)
            if user_id == SYSTEM_USER_ID:
                raise RuleViolationError("system_user", "the system user cannot be deleted")
            self._guard_last_admin(conn, user, removing=True)
            conn.execute(_DELETE_USER, {"uid": user_id})

    def authenticate(self, email: str, password: str) -> User | None:
        with self._reader.connect() as conn:
            found = conn.execute(_LOGIN_ROW, {"email": email.strip().lower()}).first()
        if found is None or found.user_id == SYSTEM_USER_ID or not found.is_active:
            return None
        if not self._passwords.verify(password, found.password_hash):
            return None
        with self._writer.begin() as conn:
            # Matched on the hash too: a password changed meanwhile voids this login.
            result = conn.execute(
                _RECORD_LOGIN,
                {
                    "uid": found.user_id,
                    "hash": found.password_hash,
                    "last_login_at": as_utc(self._clock.now()),
                },
            )
            if result.rowcount == 0:
                return None
            return self._fetch_user(conn, found.user_id)

    def has_admin(self) -> bool:
        return self.count_admins() > 0

    def count_admins(self) -> int:
        with self._reader.connect() as conn:
            return int(conn.execute(_COUNT_ADMINS).scalar_one())

    def list_users(self, limit: int = 100, offset: int = 0) -> OffsetPage[User]:
        if limit < 0 or offset < 0:
            raise RuleViolationError("pagination", "limit and offset must not be negative")
        with self._reader.connect() as conn:
            rows = conn.execute(_LIST_USERS, {"limit": limit, "offset": offset}).mappings().all()
            total = conn.execute(_COUNT_USERS).scalar_one()
        return OffsetPage[User](
            items=[record(User, row) for row in rows], offset=offset, limit=limit, total=total
        )

    # -- sessions ------------------------------------------------------------------

    def create_session(self, user_id: str, token: str, expires_at: datetime) -> UserSession:
        with self._writer.begin() as conn:
            if self._fetch_user(conn, user_id, _SHARE_USER) is None:
                raise NotFoundError("user", user_id)
            if user_id == SYSTEM_USER_ID:
                raise RuleViolationError("system_user", "the system user cannot log in")
            session_id = self._ids.new_id()
            conn.execute(
                _INSERT_SESSION,
                {
                    "session_id": session_id,
                    "user_id": user_id,
                    "token_hash": secret_digest(token),
                    "expires_at": as_utc(expires_at),
                    "last_activity_at": as_utc(self._clock.now()),
                },
            )
            row = conn.execute(_GET_SESSION, {"session_id": session_id}).mappings().one()
        return record(UserSession, row)

    def get_session_by_token(self, token: str) -> UserSession | None:
        now = as_utc(self._clock.now())
        rows = self._reads.all(_SESSIONS_BY_TOKEN, {"token_hash": secret_digest(token)})
        for row in rows:
            session = record(UserSession, row)
            if session.expires_at > now:
                return session
        return None

    def touch_session(self, session_id: str) -> None:
        with self._writer.begin() as conn:
            result = conn.execute(
                _TOUCH_SESSION,
                {"sid": session_id, "last_activity_at": as_utc(self._clock.now())},
            )
            if result.rowcount == 0:
                raise NotFoundError("session", session_id)

    def revoke_session(self, session_id: str) -> None:
        with self._writer.begin() as conn:
            conn.execute(_REVOKE_SESSION, {"sid": session_id})

    def purge_expired(self, now: datetime) -> int:
        with self._writer.begin() as conn:
            return int(conn.execute(_PURGE_SESSIONS, {"now": as_utc(now)}).rowcount)

    # -- invitations ---------------------------------------------------------------

    def create_invitation(
        self, email: str, invited_by: str, is_admin: bool, expires_at: datetime
    ) -> CreatedInvitation:
        email = normalize_email(email)
        with self._writer.begin() as conn:
            if self._fetch_user(conn, invited_by, _SHARE_USER) is None:
                raise NotFoundError("user", invited_by)
            if conn.execute(_EMAIL_TAKEN, {"email": email}).first() is not None:
                raise DuplicateError("user", "email")
            invitation_id = self._ids.new_id()
            code = self._ids.new_id()
            conn.execute(
                _INSERT_INVITATION,
                {
                    "invitation_id": invitation_id,
                    "email": email,
                    "invited_by": invited_by,
                    "invitation_code": secret_digest(code),
                    "is_admin": is_admin,
                    "expires_at": as_utc(expires_at),
                },
            )
            row = conn.execute(_GET_INVITATION, {"invitation_id": invitation_id}).mappings().one()
        return CreatedInvitation(invitation=record(Invitation, row), code=code)

    def redeem(self, code: str, password: str, display_name: str | None = None) -> User:
        require_password(password)
        password_hash = self._passwords.hash(password)
        now = as_utc(self._clock.now())
        with self._writer.begin() as conn:
            row = (
                conn.execute(_INVITATION_BY_CODE, {"code_hash": secret_digest(code)})
                .mappings()
                .first()
            )
            if row is None:
                raise NotFoundError("invitation", "(by code)")
            invitation = record(Invitation, row)
            if invitation.used_at is not None:
                raise RuleViolationError("invitation_used", "the invitation was already used")
            if invitation.expires_at <= now:
                raise RuleViolationError("invitation_expired", "the invitation has expired")
            user = self._insert_user(
                conn, invitation.email, display_name, password_hash, invitation.is_admin
            )
            conn.execute(_MARK_INVITATION_USED, {"iid": invitation.invitation_id, "used_at": now})
            return user
