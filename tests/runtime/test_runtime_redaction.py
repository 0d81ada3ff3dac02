"""Redaction by declared names, declared globs and secret name patterns."""

from __future__ import annotations

from shadow.runtime._compare import REDACTED, is_sensitive, redact


def test_secret_looking_names_are_redacted_even_when_not_declared() -> None:
    """password, token, secret and hash anywhere in a name: redacted, at any depth."""
    row = {
        "user_id": "u1",
        "password_hash": "scrypt$abc",
        "token_hash": "t1",
        "jwt_secret": "s",
        "items": [{"refreshToken": "r", "name": "ok"}],
    }
    assert redact(row, frozenset()) == {
        "user_id": "u1",
        "password_hash": REDACTED,
        "token_hash": REDACTED,
        "jwt_secret": REDACTED,
        "items": [{"refreshToken": REDACTED, "name": "ok"}],
    }


def test_code_names_are_redacted_only_where_a_code_is_declared_sensitive() -> None:
    """``invitation_code`` is a secret where the contract says codes are; status_code is not."""
    assert is_sensitive("invitation_code", frozenset({"code"}))
    assert is_sensitive("status_code", frozenset({"code"}))
    assert not is_sensitive("status_code", frozenset())
    assert not is_sensitive("error_code", frozenset({"email"}))


def test_declared_names_match_exactly_or_as_globs() -> None:
    """A declared name is exact (case-sensitive as declared) unless it holds a glob character."""
    assert is_sensitive("email", frozenset({"email"}))
    assert is_sensitive("backup_email", frozenset({"*_email"}))
    assert not is_sensitive("display", frozenset({"email"}))
    assert not is_sensitive("name", frozenset({"email"}))
