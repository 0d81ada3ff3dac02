"""Tests of the password hasher the users service stores passwords with."""

from __future__ import annotations

import pytest

from imagegen.services.passwords import DEFAULT_COST, PasswordHasher

CHEAP = PasswordHasher(cost=2)


def test_a_hash_verifies_its_own_password_only() -> None:
    stored = CHEAP.hash("correct horse")
    assert CHEAP.verify("correct horse", stored)
    assert not CHEAP.verify("correct hors", stored)
    assert not CHEAP.verify("", stored)


def test_hashes_are_salted_and_never_contain_the_password() -> None:
    first, second = CHEAP.hash("same password"), CHEAP.hash("same password")
    assert first != second
    assert "same password" not in first
    assert CHEAP.verify("same password", first) and CHEAP.verify("same password", second)


def test_unicode_and_long_passwords_round_trip() -> None:
    password = "pässwörd 🔑 パスワード " * 100
    assert CHEAP.verify(password, CHEAP.hash(password))
    assert not CHEAP.verify(password[:-1], CHEAP.hash(password))


def test_the_cost_is_recorded_in_the_hash_and_honoured_when_verifying() -> None:
    stored = PasswordHasher(cost=16).hash("pw")
    assert stored.split("$")[:4] == ["scrypt", "16", "8", "1"]
    # A hasher configured with another cost still verifies older hashes.
    assert PasswordHasher(cost=4).verify("pw", stored)


@pytest.mark.parametrize(
    "stored",
    ["", "scrypt", "plain-text", "scrypt$16$8$1$not base64!$AAAA", "bcrypt$16$8$1$AAAA$AAAA"],
)
def test_malformed_hashes_never_verify(stored: str) -> None:
    assert not CHEAP.verify("", stored)
    assert not CHEAP.verify("pw", stored)


@pytest.mark.parametrize("cost", [0, 1, 3, 1000])
def test_the_cost_must_be_a_power_of_two(cost: int) -> None:
    with pytest.raises(ValueError, match="power of two"):
        PasswordHasher(cost=cost)


def test_the_default_cost_is_a_slow_hash_and_repr_shows_only_the_cost() -> None:
    assert DEFAULT_COST >= 2**14
    assert repr(PasswordHasher()) == f"PasswordHasher(cost={DEFAULT_COST})"
