"""Contract tests for the users service, run on all four backends.

Each test builds the implementation for its backend through ``backend.build``;
rows the service does not expose (hashes, cascaded tables) are checked with
plain SQL on the backend's own connection.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa

from imagegen.db.tables import metadata
from imagegen.db.types import parse_utc
from imagegen.services.contracts.users import SYSTEM_USER_ID, User, UsersService
from imagegen.services.core.boards import CoreBoardsService
from imagegen.services.core.users import CoreUsersService
from imagegen.services.errors import (
    DuplicateError,
    NotFoundError,
    RuleViolationError,
    ServiceError,
)
from imagegen.services.legacy.boards import LegacyBoardsService
from imagegen.services.legacy.users import LegacyUsersService
from imagegen.services.passwords import PasswordHasher
from shadow import Kind, Order, contract_methods

if TYPE_CHECKING:
    from tests.conftest import Backend

CHEAP = PasswordHasher(cost=2)


@pytest.fixture
def users(backend: Backend) -> UsersService:
    return backend.build(LegacyUsersService, CoreUsersService, passwords=CHEAP)


def _rows(backend: Backend, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Run one SQL statement (``:name`` parameters) on the backend's own connection."""
    if backend.legacy_db is not None:
        with backend.legacy_db.transaction() as cur:
            return [tuple(row) for row in cur.execute(sql, params).fetchall()]
    assert backend.engine is not None
    with backend.engine.begin() as conn:
        result = conn.execute(sa.text(sql), params)
        return [tuple(row) for row in result.fetchall()] if result.returns_rows else []


def _insert(backend: Backend, table: str, **values: Any) -> None:
    """Insert one row with plain SQL (legacy) or a Core insert (quotes names like ``key``)."""
    if backend.legacy_db is not None:
        columns = ", ".join(f'"{name}"' for name in values)
        marks = ", ".join(f":{name}" for name in values)
        with backend.legacy_db.transaction() as cur:
            cur.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", values)
        return
    assert backend.engine is not None
    with backend.engine.begin() as conn:
        conn.execute(metadata.tables[table].insert(), values)


def _instant(stored: Any) -> datetime:
    """A timestamp read with plain SQL (text on SQLite, a datetime elsewhere) as aware UTC."""
    if isinstance(stored, str):
        return parse_utc(stored)
    assert isinstance(stored, datetime)
    return stored.replace(tzinfo=UTC) if stored.tzinfo is None else stored.astimezone(UTC)


def _count(backend: Backend, table: str, column: str, value: str) -> int:
    rows = _rows(backend, f"SELECT COUNT(*) FROM {table} WHERE {column} = :v", v=value)
    return int(rows[0][0])


def _admin(users: UsersService, email: str = "admin@example.com") -> User:
    return users.create(email, "Admin", "admin-pw", is_admin=True)


# -- create / get ----------------------------------------------------------------------


def test_create_returns_the_stored_user_with_a_normalized_email(
    users: UsersService, backend: Backend
) -> None:
    user = users.create("  Ann.Lee@Example.COM ", "Ann", "s3cret", is_admin=False)
    assert user.user_id == "id-000001"
    assert user.email == "ann.lee@example.com"
    assert user.display_name == "Ann"
    assert (user.is_admin, user.is_active, user.last_login_at) == (False, True, None)
    assert user.created_at.tzinfo is not None
    assert users.get(user.user_id) == user


def test_user_records_never_carry_the_password_or_its_hash(
    users: UsersService, backend: Backend
) -> None:
    user = users.create("ann@example.com", "Ann", "hunter2-plain")
    (stored_hash,) = _rows(
        backend, "SELECT password_hash FROM users WHERE user_id = :u", u=user.user_id
    )[0]
    assert "password_hash" not in User.model_fields
    assert stored_hash.startswith("scrypt$") and "hunter2-plain" not in stored_hash
    for text in (repr(user), str(user.model_dump())):
        assert stored_hash not in text and "hunter2-plain" not in text


def test_create_refuses_a_duplicate_email_whatever_its_case(users: UsersService) -> None:
    users.create("ann@example.com", "Ann", "pw")
    with pytest.raises(DuplicateError) as raised:
        users.create(" ANN@example.com", "Other Ann", "pw")
    assert raised.value.field == "email"
    assert "ann@example.com" not in str(raised.value)
    # No driver error (quoting the email and the password hash) chained to it.
    assert raised.value.__context__ is None and raised.value.__cause__ is None


@pytest.mark.parametrize(
    ("email", "password", "rule"),
    [
        ("   ", "pw", "email_required"),
        ("a" * 243 + "@example.com", "pw", "email_too_long"),
        ("ann@example.com", "", "password_required"),
    ],
)
def test_create_refuses_invalid_input(
    users: UsersService, email: str, password: str, rule: str
) -> None:
    with pytest.raises(RuleViolationError) as raised:
        users.create(email, None, password)
    assert raised.value.rule == rule


def test_create_accepts_unicode_and_the_longest_email(users: UsersService) -> None:
    longest = "ñ" * 242 + "@example.com"
    assert len(longest) == 254
    name = "Zoë 🎨 " + "名前" * 400
    user = users.create(longest.upper(), name, "pässwörd-🔑")
    assert user.email == longest
    assert users.get(user.user_id) == user
    assert users.get_by_email(longest) == user
    assert users.authenticate(longest, "pässwörd-🔑") is not None


def test_get_returns_none_for_an_unknown_id_and_the_seeded_system_user(
    users: UsersService,
) -> None:
    assert users.get("nobody") is None
    system = users.get(SYSTEM_USER_ID)
    assert system is not None
    assert (system.is_admin, system.is_active) == (False, True)


def test_get_many_returns_the_existing_users_by_id(users: UsersService) -> None:
    ann = users.create("ann@example.com", "Ann", "pw")
    bob = users.create("bob@example.com", "Bob", "pw")
    assert users.get_many([]) == {}
    found = users.get_many([bob.user_id, "missing", ann.user_id, bob.user_id])
    assert found == {ann.user_id: ann, bob.user_id: bob}


def test_get_many_takes_more_ids_than_one_statement_can_carry(users: UsersService) -> None:
    ann = users.create("ann@example.com", "Ann", "pw")
    wanted = [f"missing-{n}" for n in range(70_000)] + [ann.user_id]
    assert users.get_many(wanted) == {ann.user_id: ann}


def test_get_by_email_is_case_insensitive(users: UsersService) -> None:
    ann = users.create("ann@example.com", "Ann", "pw")
    assert users.get_by_email("  ANN@Example.com ") == ann
    assert users.get_by_email("bob@example.com") is None


# -- update ----------------------------------------------------------------------------


def test_update_changes_only_the_given_fields(users: UsersService) -> None:
    _admin(users)
    ann = users.create("ann@example.com", "Ann", "old-pw")
    renamed = users.update(ann.user_id, display_name="Ann Lee")
    assert renamed.display_name == "Ann Lee"
    assert (renamed.email, renamed.is_admin, renamed.is_active) == (ann.email, False, True)
    promoted = users.update(ann.user_id, is_admin=True)
    assert promoted.is_admin and promoted.display_name == "Ann Lee"
    deactivated = users.update(ann.user_id, is_active=False)
    assert not deactivated.is_active and deactivated.is_admin


def test_update_with_no_change_returns_the_user_as_stored(users: UsersService) -> None:
    ann = users.create("ann@example.com", "Ann", "pw")
    assert users.update(ann.user_id) == ann


def test_update_password_replaces_the_old_one(users: UsersService) -> None:
    ann = users.create("ann@example.com", "Ann", "old-pw")
    users.update(ann.user_id, password="new-pw")
    assert users.authenticate("ann@example.com", "old-pw") is None
    assert users.authenticate("ann@example.com", "new-pw") is not None
    with pytest.raises(RuleViolationError) as raised:
        users.update(ann.user_id, password="")
    assert raised.value.rule == "password_required"


def test_update_of_an_unknown_user_is_not_found(users: UsersService) -> None:
    with pytest.raises(NotFoundError):
        users.update("nobody", display_name="x")


@pytest.mark.parametrize(
    "change",
    [{"is_admin": True}, {"is_active": False}, {"password": "pw"}],
    ids=["promote", "deactivate", "password"],
)
def test_the_system_user_cannot_be_promoted_deactivated_or_given_a_password(
    users: UsersService, change: dict[str, Any]
) -> None:
    with pytest.raises(RuleViolationError) as raised:
        users.update(SYSTEM_USER_ID, **change)
    assert raised.value.rule == "system_user"
    system = users.get(SYSTEM_USER_ID)
    assert system is not None and (system.is_admin, system.is_active) == (False, True)


def test_the_system_user_can_be_renamed_but_not_deleted(users: UsersService) -> None:
    assert users.update(SYSTEM_USER_ID, display_name="System").display_name == "System"
    with pytest.raises(RuleViolationError) as raised:
        users.delete(SYSTEM_USER_ID)
    assert raised.value.rule == "system_user"
    assert users.get(SYSTEM_USER_ID) is not None


@pytest.mark.parametrize(
    "remove",
    [
        lambda users, uid: users.update(uid, is_admin=False),
        lambda users, uid: users.update(uid, is_active=False),
        lambda users, uid: users.delete(uid),
    ],
    ids=["demote", "deactivate", "delete"],
)
def test_the_last_active_admin_cannot_be_removed(users: UsersService, remove: Any) -> None:
    admin = _admin(users)
    # An inactive admin does not count: it cannot administer anything.
    other = users.create("other@example.com", None, "pw", is_admin=True)
    users.update(other.user_id, is_active=False)
    with pytest.raises(RuleViolationError) as raised:
        remove(users, admin.user_id)
    assert raised.value.rule == "last_admin"
    assert users.get(admin.user_id) == admin


def test_an_admin_can_be_demoted_while_another_active_admin_remains(users: UsersService) -> None:
    first = _admin(users, "first@example.com")
    second = _admin(users, "second@example.com")
    assert not users.update(first.user_id, is_admin=False).is_admin
    assert users.count_admins() == 1
    with pytest.raises(RuleViolationError):
        users.delete(second.user_id)


def test_an_inactive_admin_can_be_deleted(users: UsersService) -> None:
    admin = _admin(users)
    other = users.create("other@example.com", None, "pw", is_admin=True)
    users.update(other.user_id, is_active=False)
    users.delete(other.user_id)
    assert users.get(other.user_id) is None
    assert users.get(admin.user_id) is not None


# -- delete ----------------------------------------------------------------------------


def test_delete_of_an_unknown_user_is_not_found(users: UsersService) -> None:
    with pytest.raises(NotFoundError):
        users.delete("nobody")


def test_delete_cascades_sessions_invitations_shares_and_client_state(
    users: UsersService, backend: Backend
) -> None:
    boards = backend.build(LegacyBoardsService, CoreBoardsService)
    admin = _admin(users)
    ann = users.create("ann@example.com", "Ann", "pw")
    expiry = backend.clock.now() + timedelta(days=1)
    users.create_session(ann.user_id, "ann-token", expiry)
    admin_session = users.create_session(admin.user_id, "admin-token", expiry)
    invitation = users.create_invitation("guest@example.com", ann.user_id, False, expiry)
    own_board = boards.save("Ann's board", ann.user_id)
    admin_board = boards.save("Admin's board", admin.user_id)
    boards.share(admin_board.board_id, ann.user_id, can_edit=True)
    _insert(backend, "client_state", user_id=ann.user_id, key="layout", value="{}")

    users.delete(ann.user_id)

    assert users.get(ann.user_id) is None
    assert _count(backend, "user_sessions", "user_id", ann.user_id) == 0
    assert _count(backend, "user_invitations", "invited_by", ann.user_id) == 0
    assert _count(backend, "shared_boards", "user_id", ann.user_id) == 0
    assert _count(backend, "client_state", "user_id", ann.user_id) == 0
    with pytest.raises(NotFoundError):
        users.redeem(invitation.code, "pw")
    # Content has no foreign key to users: the board stays, and so does everyone else's.
    assert boards.get(own_board.board_id).user_id == ann.user_id
    assert users.get_session_by_token("admin-token") == admin_session


# -- authenticate ----------------------------------------------------------------------


def test_authenticate_records_the_login_time_from_the_clock(
    users: UsersService, backend: Backend
) -> None:
    ann = users.create("ann@example.com", "Ann", "pw")
    backend.clock.advance(90)
    logged_in = users.authenticate(" Ann@Example.com", "pw")
    assert logged_in is not None
    assert logged_in.user_id == ann.user_id
    assert logged_in.last_login_at == backend.clock.now()
    assert users.get(ann.user_id) == logged_in


def test_authenticate_fails_without_writing_anything(users: UsersService, backend: Backend) -> None:
    ann = users.create("ann@example.com", "Ann", "pw")
    assert users.authenticate("ann@example.com", "wrong") is None
    assert users.authenticate("bob@example.com", "pw") is None
    assert users.get(ann.user_id) == ann


def test_authenticate_refuses_an_inactive_user(users: UsersService) -> None:
    _admin(users)
    ann = users.create("ann@example.com", "Ann", "pw")
    users.update(ann.user_id, is_active=False)
    assert users.authenticate("ann@example.com", "pw") is None
    users.update(ann.user_id, is_active=True)
    assert users.authenticate("ann@example.com", "pw") is not None


def test_authenticate_never_works_for_the_system_user(
    users: UsersService, backend: Backend
) -> None:
    (email,) = _rows(backend, "SELECT email FROM users WHERE user_id = :u", u=SYSTEM_USER_ID)[0]
    for password in ("", "system", "pw"):
        assert users.authenticate(email, password) is None


# -- admins and listing ----------------------------------------------------------------


def test_has_admin_and_count_admins_count_active_admins_only(users: UsersService) -> None:
    assert (users.has_admin(), users.count_admins()) == (False, 0)
    users.create("ann@example.com", "Ann", "pw")
    assert (users.has_admin(), users.count_admins()) == (False, 0)
    first = _admin(users, "first@example.com")
    _admin(users, "second@example.com")
    assert (users.has_admin(), users.count_admins()) == (True, 2)
    users.update(first.user_id, is_active=False)
    assert (users.has_admin(), users.count_admins()) == (True, 1)


def test_list_users_is_newest_first_without_the_system_user(users: UsersService) -> None:
    assert users.list_users().model_dump() == {"items": [], "offset": 0, "limit": 100, "total": 0}
    created = [users.create(f"user{n}@example.com", None, "pw") for n in range(5)]
    page = users.list_users()
    assert [u.user_id for u in page.items] == [u.user_id for u in reversed(created)]
    assert page.total == 5


@pytest.mark.parametrize(
    ("limit", "offset", "expected"),
    [(2, 0, [4, 3]), (2, 2, [2, 1]), (2, 4, [0]), (2, 5, []), (10, 50, []), (0, 0, [])],
    ids=["first", "middle", "last-partial", "at-end", "beyond-end", "zero-limit"],
)
def test_list_users_pages(
    users: UsersService, limit: int, offset: int, expected: list[int]
) -> None:
    created = [users.create(f"user{n}@example.com", None, "pw") for n in range(5)]
    page = users.list_users(limit=limit, offset=offset)
    assert [u.user_id for u in page.items] == [created[n].user_id for n in expected]
    assert (page.limit, page.offset, page.total) == (limit, offset, 5)


def test_list_users_refuses_negative_paging(users: UsersService) -> None:
    with pytest.raises(RuleViolationError):
        users.list_users(limit=-1)
    with pytest.raises(RuleViolationError):
        users.list_users(offset=-1)


# -- sessions --------------------------------------------------------------------------


def test_sessions_store_only_a_hash_of_the_token(users: UsersService, backend: Backend) -> None:
    ann = users.create("ann@example.com", "Ann", "pw")
    expiry = backend.clock.now() + timedelta(hours=1)
    session = users.create_session(ann.user_id, "plain-token-value", expiry)
    assert session.session_id == "id-000002"
    assert (session.user_id, session.expires_at) == (ann.user_id, expiry)
    assert session.last_activity_at == backend.clock.now()
    (stored,) = _rows(
        backend, "SELECT token_hash FROM user_sessions WHERE session_id = :s", s=session.session_id
    )[0]
    assert stored == hashlib.sha256(b"plain-token-value").hexdigest()
    assert "plain-token-value" not in repr(session)
    assert users.get_session_by_token("plain-token-value") == session


def test_create_session_needs_a_real_user_and_never_the_system_user(
    users: UsersService, backend: Backend
) -> None:
    expiry = backend.clock.now() + timedelta(hours=1)
    with pytest.raises(NotFoundError):
        users.create_session("nobody", "token", expiry)
    with pytest.raises(RuleViolationError) as raised:
        users.create_session(SYSTEM_USER_ID, "token", expiry)
    assert raised.value.rule == "system_user"


def test_get_session_by_token_ignores_unknown_and_expired_sessions(
    users: UsersService, backend: Backend
) -> None:
    ann = users.create("ann@example.com", "Ann", "pw")
    users.create_session(ann.user_id, "token", backend.clock.now() + timedelta(seconds=60))
    assert users.get_session_by_token("other-token") is None
    backend.clock.advance(59.5)
    assert users.get_session_by_token("token") is not None
    backend.clock.advance(0.5)  # exactly at expiry: expired
    assert users.get_session_by_token("token") is None


def test_get_session_by_token_ignores_sessions_of_inactive_users(
    users: UsersService, backend: Backend
) -> None:
    _admin(users)
    ann = users.create("ann@example.com", "Ann", "pw")
    session = users.create_session(ann.user_id, "token", backend.clock.now() + timedelta(days=1))
    users.update(ann.user_id, is_active=False)
    assert users.get_session_by_token("token") is None
    users.update(ann.user_id, is_active=True)
    assert users.get_session_by_token("token") == session


def test_touch_session_records_activity_now(users: UsersService, backend: Backend) -> None:
    ann = users.create("ann@example.com", "Ann", "pw")
    session = users.create_session(ann.user_id, "token", backend.clock.now() + timedelta(days=1))
    moment = backend.clock.advance(42.25)
    users.touch_session(session.session_id)
    touched = users.get_session_by_token("token")
    assert touched is not None and touched.last_activity_at == moment
    with pytest.raises(NotFoundError):
        users.touch_session("no-such-session")


def test_revoke_session_ends_it_and_is_silent_the_second_time(
    users: UsersService, backend: Backend
) -> None:
    ann = users.create("ann@example.com", "Ann", "pw")
    session = users.create_session(ann.user_id, "token", backend.clock.now() + timedelta(days=1))
    users.revoke_session(session.session_id)
    assert users.get_session_by_token("token") is None
    users.revoke_session(session.session_id)
    users.revoke_session("never-existed")


def test_purge_expired_deletes_sessions_expired_at_or_before_now(
    users: UsersService, backend: Backend
) -> None:
    ann = users.create("ann@example.com", "Ann", "pw")
    start = backend.clock.now()
    for n, offset in enumerate([-10.0, 0.0, 0.000001, 30.5, 3600.0]):
        users.create_session(ann.user_id, f"token-{n}", start + timedelta(seconds=offset))
    assert users.purge_expired(start) == 2
    assert users.get_session_by_token("token-2") is not None
    # Any time zone means the same instant; a naive datetime is UTC.
    plus_two = timezone(timedelta(hours=2))
    assert users.purge_expired((start + timedelta(seconds=30.5)).astimezone(plus_two)) == 2
    assert users.purge_expired(start.replace(tzinfo=None)) == 0
    assert users.purge_expired(start + timedelta(days=1)) == 1
    assert _count(backend, "user_sessions", "user_id", ann.user_id) == 0


# -- invitations -----------------------------------------------------------------------


def test_create_invitation_returns_the_code_and_stores_only_its_hash(
    users: UsersService, backend: Backend
) -> None:
    admin = _admin(users)
    expiry = backend.clock.now() + timedelta(days=7)
    created = users.create_invitation(" Guest@Example.com", admin.user_id, True, expiry)
    invitation = created.invitation
    assert (invitation.invitation_id, created.code) == ("id-000002", "id-000003")
    assert invitation.email == "guest@example.com"
    assert (invitation.invited_by, invitation.is_admin) == (admin.user_id, True)
    assert (invitation.expires_at, invitation.used_at) == (expiry, None)
    (stored,) = _rows(
        backend,
        "SELECT invitation_code FROM user_invitations WHERE invitation_id = :i",
        i=invitation.invitation_id,
    )[0]
    assert stored == hashlib.sha256(created.code.encode()).hexdigest()
    assert created.code not in repr(created)
    assert created.code not in str(created)


def test_create_invitation_needs_a_known_inviter_and_a_new_email(
    users: UsersService, backend: Backend
) -> None:
    admin = _admin(users)
    expiry = backend.clock.now() + timedelta(days=7)
    with pytest.raises(NotFoundError):
        users.create_invitation("guest@example.com", "nobody", False, expiry)
    with pytest.raises(DuplicateError):
        users.create_invitation("ADMIN@example.com", admin.user_id, False, expiry)
    with pytest.raises(RuleViolationError):
        users.create_invitation(" ", admin.user_id, False, expiry)


def test_redeem_creates_the_invited_user_and_uses_up_the_code(
    users: UsersService, backend: Backend
) -> None:
    admin = _admin(users)
    created = users.create_invitation(
        "guest@example.com", admin.user_id, True, backend.clock.now() + timedelta(days=7)
    )
    moment = backend.clock.advance(10)
    guest = users.redeem(created.code, "guest-pw", display_name="Guest")
    assert (guest.email, guest.display_name, guest.is_admin) == ("guest@example.com", "Guest", True)
    assert users.authenticate("guest@example.com", "guest-pw") is not None
    (used_at,) = _rows(
        backend,
        "SELECT used_at FROM user_invitations WHERE invitation_id = :i",
        i=created.invitation.invitation_id,
    )[0]
    assert _instant(used_at) == moment
    with pytest.raises(RuleViolationError) as raised:
        users.redeem(created.code, "again")
    assert raised.value.rule == "invitation_used"


def test_redeem_refuses_unknown_and_expired_codes(users: UsersService, backend: Backend) -> None:
    admin = _admin(users)
    created = users.create_invitation(
        "guest@example.com", admin.user_id, False, backend.clock.now() + timedelta(hours=1)
    )
    with pytest.raises(NotFoundError) as missing:
        users.redeem("not-a-code", "pw")
    assert "not-a-code" not in str(missing.value)
    backend.clock.advance(3600)
    with pytest.raises(RuleViolationError) as expired:
        users.redeem(created.code, "pw")
    assert expired.value.rule == "invitation_expired"
    assert created.code not in str(expired.value)
    assert users.get_by_email("guest@example.com") is None


def test_redeem_refuses_an_email_taken_since_the_invitation(
    users: UsersService, backend: Backend
) -> None:
    admin = _admin(users)
    created = users.create_invitation(
        "guest@example.com", admin.user_id, False, backend.clock.now() + timedelta(days=1)
    )
    users.create("guest@example.com", "Direct", "pw")
    with pytest.raises(DuplicateError):
        users.redeem(created.code, "pw")
    with pytest.raises(RuleViolationError) as raised:
        users.redeem(created.code, "")
    assert raised.value.rule == "password_required"


def test_naive_expiry_times_are_taken_as_utc(users: UsersService, backend: Backend) -> None:
    ann = users.create("ann@example.com", "Ann", "pw")
    naive = datetime(2026, 1, 1, 12, 0, 0)
    session = users.create_session(ann.user_id, "token", naive)
    assert session.expires_at == datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


# -- declarations ----------------------------------------------------------------------


def test_every_method_is_declared_and_secrets_and_pii_are_sensitive() -> None:
    specs = contract_methods(UsersService)
    writes = {name for name, spec in specs.items() if spec.kind.mutates}
    assert writes == {
        "create",
        "update",
        "delete",
        "authenticate",
        "create_session",
        "touch_session",
        "revoke_session",
        "purge_expired",
        "create_invitation",
        "redeem",
    }
    assert specs["authenticate"].kind is Kind.READ_WRITE
    for name in ("create", "get", "get_many", "get_by_email", "update", "authenticate", "redeem"):
        assert {"email", "display_name", "password"} <= specs[name].compare.sensitive, name
    for name in ("create_session", "get_session_by_token"):
        assert "token" in specs[name].compare.sensitive, name
    assert {"code", "email"} <= specs["create_invitation"].compare.sensitive
    assert "code" in specs["redeem"].compare.sensitive
    listing = specs["list_users"].compare
    assert (listing.order, listing.rows, listing.sort_key) == (Order.TIES, "items", ("created_at",))
    assert {"created_at", "updated_at"} <= listing.timestamps


def _at_once(*calls: Callable[[], object]) -> list[str]:
    """Run each call in its own thread, all released together: ``ok`` or the error's rule."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = []

    def run(call: Callable[[], object]) -> None:
        barrier.wait()
        try:
            call()
            outcomes.append("ok")
        except RuleViolationError as error:
            outcomes.append(error.rule)
        except ServiceError as error:
            outcomes.append(type(error).__name__)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


def test_concurrent_demotions_never_remove_the_last_admin(
    users: UsersService, backend: Backend
) -> None:
    """Two admins demoted at the same moment: one demotion must fail, every time."""
    for round_number in range(15):
        admins = [_admin(users, f"admin{round_number}-{n}@example.com").user_id for n in (1, 2)]
        outcomes = _at_once(*(partial(users.update, uid, is_admin=False) for uid in admins))
        assert outcomes == ["last_admin", "ok"], f"round {round_number}"
        assert users.count_admins() == 1
        # Demote the survivor behind the service's back so the next round starts at zero.
        _rows(backend, "UPDATE users SET is_admin = :f WHERE is_admin = :t", f=False, t=True)


def test_a_code_redeemed_twice_at_once_creates_one_user(
    users: UsersService, backend: Backend
) -> None:
    admin = _admin(users)
    for round_number in range(10):
        code = users.create_invitation(
            f"guest{round_number}@example.com",
            admin.user_id,
            False,
            backend.clock.now() + timedelta(days=1),
        ).code
        outcomes = _at_once(partial(users.redeem, code, "pw"), partial(users.redeem, code, "pw"))
        assert outcomes == ["invitation_used", "ok"], f"round {round_number}"
    assert users.list_users().total == 11


def test_an_id_with_a_nul_character_names_no_user(users: UsersService) -> None:
    """A user id containing NUL is an unknown user on every backend (as on the legacy side).

    PostgreSQL cannot store NUL in text, and psycopg refuses to send it
    (DataError): the SQLModel layer must answer as SQLite does for an id no
    row has, NotFoundError, not leak a driver error (found by exploration).
    """
    admin = _admin(users)
    with pytest.raises(NotFoundError):
        users.create_invitation(
            "nul@example.com", admin.user_id + "\x00", False, datetime.now(UTC) + timedelta(days=1)
        )
    assert users.get("\x00") is None
    with pytest.raises(NotFoundError):
        users.create_session("\x00", "token-nul", datetime.now(UTC) + timedelta(days=1))
