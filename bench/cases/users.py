"""Users cases for the service benchmark: the reads behind every authenticated request.

Data: 1,000 accounts (every tenth an admin), each with a live session, built
through both implementations with identically seeded ids, so both files hold
the same rows. Hot methods: the session lookup and the user read every request
makes (``get_session_by_token``, ``get``), a 50-row page of ``list_users``, the
admin count, an insert (``create``) and an update (``update``). Passwords use
the cheapest scrypt cost on both arms: the benchmark measures the persistence
layer, not the hash (which costs the same on both sides and runs outside any
transaction).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from bench.harness import Case, open_pair
from imagegen.services.contracts.users import UsersService
from imagegen.services.core.users import CoreUsersService
from imagegen.services.legacy.users import LegacyUsersService
from imagegen.services.passwords import PasswordHasher

__all__ = ["cases"]

ACCOUNTS = 1000
_CHEAP = PasswordHasher(cost=2)


def _creator(users: UsersService) -> Callable[[], object]:
    numbers = itertools.count()
    return lambda: users.create(f"new{next(numbers)}@example.com", "New", "pw")


def _renamer(users: UsersService, user_id: str) -> Callable[[], object]:
    names = itertools.cycle(["Renamed A", "Renamed B"])
    return lambda: users.update(user_id, display_name=next(names))


def cases(workdir: Path) -> list[Case]:
    """The users hot methods on 1,000 identical accounts per arm."""
    pair = open_pair(workdir, "users")
    legacy_ids, legacy_clock = pair.sources()
    orm_ids, orm_clock = pair.sources()
    legacy = LegacyUsersService(
        pair.legacy_db, ids=legacy_ids, clock=legacy_clock, passwords=_CHEAP
    )
    orm = CoreUsersService(pair.engine, ids=orm_ids, clock=orm_clock, passwords=_CHEAP)
    expiry = legacy_clock.now() + timedelta(days=30)
    for users in (legacy, orm):
        for n in range(ACCOUNTS):
            user = users.create(f"user{n:04d}@example.com", f"User {n}", "pw", n % 10 == 0)
            users.create_session(user.user_id, f"token-{n:04d}", expiry)
    probe = legacy.get_by_email("user0500@example.com")
    assert probe is not None and orm.get_by_email("user0500@example.com") is not None
    uid = probe.user_id
    return [
        Case(
            "session by token",
            "users",
            "get_session_by_token",
            lambda: legacy.get_session_by_token("token-0500"),
            lambda: orm.get_session_by_token("token-0500"),
        ),
        Case("get by key", "users", "get", lambda: legacy.get(uid), lambda: orm.get(uid)),
        Case(
            "page of 50",
            "users",
            "list_users",
            lambda: legacy.list_users(limit=50, offset=200),
            lambda: orm.list_users(limit=50, offset=200),
        ),
        Case("count", "users", "count_admins", legacy.count_admins, orm.count_admins),
        Case("insert", "users", "create", _creator(legacy), _creator(orm)),
        Case("update", "users", "update", _renamer(legacy, uid), _renamer(orm, uid)),
    ]
