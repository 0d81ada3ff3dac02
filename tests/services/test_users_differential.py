"""Differential test: random call sequences give equal results on legacy and SQLModel users.

Each sequence is generated from its seed (printed on a mismatch, so a failure
replays exactly) and runs every method of the users contract -- valid and
invalid input, the system user, the last-admin rule, sessions expiring as the
clock moves, invitations used and expired -- on a ``make_pair`` (legacy SQLite
and SQLModel SQLite with identical seed rows), each side with its own,
identically seeded id source and an identical clock. Results are compared
after reducing database-generated timestamps to whether they are set; errors
are compared by type (and rule or field). State carries over from one sequence
to the next, identically on both sides as long as every result matched.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from imagegen.db.legacy import LegacyDatabase
from imagegen.services.contracts.users import SYSTEM_USER_ID, UsersService
from imagegen.services.core.users import CoreUsersService
from imagegen.services.legacy.users import LegacyUsersService
from imagegen.services.passwords import PasswordHasher
from shadow import FixedClock, SequentialIds
from tests.differential import outcome

SEQUENCES = 200
STEPS = 30
TIMESTAMPS = {"created_at", "updated_at"}
EMAILS = ("ann@example.com", "BOB@example.com", " ann@EXAMPLE.com", "zoë@例え.jp", "", "eve@x.io")
PASSWORDS = ("pw", "other-pw", "")
CHEAP = PasswordHasher(cost=2)

Call = Callable[[UsersService], Any]


class Known:
    """Ids, tokens and codes seen so far (read from the legacy side's results)."""

    def __init__(self) -> None:
        self.users: list[str] = [SYSTEM_USER_ID]
        self.sessions: list[str] = []
        self.tokens: list[str] = []
        self.codes: list[str] = []

    def learn(self, result: Any, token: str | None = None) -> None:
        if not isinstance(result, tuple) or result[0] != "ok" or not isinstance(result[1], dict):
            return
        data = result[1]
        if "user_id" in data and "email" in data and data["user_id"] not in self.users:
            self.users.append(data["user_id"])
        if "session_id" in data:
            self.sessions.append(data["session_id"])
            if token is not None:
                self.tokens.append(token)
        if "code" in data:
            self.codes.append(data["code"])


def random_call(rng: random.Random, known: Known, clock_now: Any) -> tuple[Call, str | None]:
    def user() -> str:
        return rng.choice(known.users) if rng.random() < 0.9 else "missing-user"

    def maybe(value: Any) -> Any:
        return value if rng.random() < 0.5 else None

    kind = rng.choices(
        [
            "create",
            "get",
            "get_many",
            "get_by_email",
            "update",
            "delete",
            "authenticate",
            "admins",
            "list",
            "create_session",
            "get_session",
            "touch",
            "revoke",
            "purge",
            "invite",
            "redeem",
        ],
        weights=[6, 2, 1, 2, 5, 2, 4, 1, 2, 4, 3, 1, 1, 1, 3, 3],
    )[0]
    if kind == "create":
        email, name, password = rng.choice(EMAILS), maybe("Näme"), rng.choice(PASSWORDS)
        is_admin = rng.random() < 0.4
        return (lambda s: s.create(email, name, password, is_admin)), None
    if kind == "get":
        uid = user()
        return (lambda s: s.get(uid)), None
    if kind == "get_many":
        uids = [user() for _ in range(rng.randint(0, 4))]
        return (lambda s: s.get_many(uids)), None
    if kind == "get_by_email":
        email = rng.choice(EMAILS)
        return (lambda s: s.get_by_email(email)), None
    if kind == "update":
        uid = user()
        changes = {
            "display_name": maybe(rng.choice(["New", "Ünï"])),
            "password": maybe(rng.choice(PASSWORDS)),
            "is_admin": maybe(rng.random() < 0.5),
            "is_active": maybe(rng.random() < 0.6),
        }
        return (lambda s: s.update(uid, **changes)), None
    if kind == "delete":
        uid = user()
        return (lambda s: s.delete(uid)), None
    if kind == "authenticate":
        email, password = rng.choice(EMAILS), rng.choice(PASSWORDS)
        return (lambda s: s.authenticate(email, password)), None
    if kind == "admins":
        return (lambda s: (s.has_admin(), s.count_admins())), None
    if kind == "list":
        limit, offset = rng.choice([0, 1, 2, 100]), rng.choice([0, 0, 1, 3, 10])
        return (lambda s: s.list_users(limit=limit, offset=offset)), None
    if kind == "create_session":
        uid, token = user(), f"token-{rng.randint(0, 10**9)}"
        expires = clock_now + timedelta(seconds=rng.choice([-5, 0, 30, 120, 3600]))
        return (lambda s: s.create_session(uid, token, expires)), token
    if kind == "get_session":
        token = rng.choice(known.tokens) if known.tokens and rng.random() < 0.9 else "nope"
        return (lambda s: s.get_session_by_token(token)), None
    if kind in ("touch", "revoke"):
        sid = rng.choice(known.sessions) if known.sessions and rng.random() < 0.9 else "nope"
        if kind == "touch":
            return (lambda s: s.touch_session(sid)), None
        return (lambda s: s.revoke_session(sid)), None
    if kind == "purge":
        now = clock_now + timedelta(seconds=rng.choice([-60, 0, 60, 600]))
        return (lambda s: s.purge_expired(now)), None
    if kind == "invite":
        email, inviter, is_admin = rng.choice(EMAILS), user(), rng.random() < 0.3
        expires = clock_now + timedelta(seconds=rng.choice([0, 60, 3600]))
        return (lambda s: s.create_invitation(email, inviter, is_admin, expires)), None
    code = rng.choice(known.codes) if known.codes and rng.random() < 0.9 else "bad-code"
    password, name = rng.choice(PASSWORDS), maybe("Guest")
    return (lambda s: s.redeem(code, password, name)), None


def without_fsync(legacy_db: LegacyDatabase, engine: sa.Engine) -> None:
    """Skip fsync on both sides (test speed only: durability is not what is compared)."""
    legacy_db.connection.execute("PRAGMA synchronous = OFF")

    @sa.event.listens_for(engine, "connect")
    def _no_fsync(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA synchronous = OFF")

    engine.dispose()


@pytest.mark.slow
def test_random_user_sequences_agree(
    make_pair: Callable[[], tuple[LegacyDatabase, sa.Engine]],
) -> None:
    legacy_db, engine = make_pair()
    without_fsync(legacy_db, engine)
    for seed in range(SEQUENCES):
        rng = random.Random(seed)
        clocks = (FixedClock(), FixedClock())
        legacy = LegacyUsersService(
            legacy_db, ids=SequentialIds(f"s{seed}"), clock=clocks[0], passwords=CHEAP
        )
        candidate = CoreUsersService(
            engine, ids=SequentialIds(f"s{seed}"), clock=clocks[1], passwords=CHEAP
        )
        known = Known()
        history: list[str] = []
        for step in range(STEPS):
            if rng.random() < 0.2:
                seconds = rng.choice([1, 30, 61, 3600])
                for clock in clocks:
                    clock.advance(seconds)
            call, token = random_call(rng, known, clocks[0].now())
            expected = outcome(call, legacy, timestamps=TIMESTAMPS)
            actual = outcome(call, candidate, timestamps=TIMESTAMPS)
            history.append(f"{step}: {expected}")
            assert actual == expected, f"seed {seed}, step {step}:\n" + "\n".join(history)
            known.learn(expected, token)
