"""Stored examples of one-sided errors explain them: type, redacted message, innermost frames."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from shadow.runtime import Runtime, ServiceSettings, ShadowSettings, SideFactory
from shadow.runtime._errors import explain_error, redact_text
from tests.runtime.runtime_accounts import Accounts, DuplicateAccountError

EMAIL = "ada@example.org"
PASSWORD = "correct-horse-battery"
ERROR_TYPE = "tests.runtime.runtime_accounts.DuplicateAccountError"


@pytest.fixture
def make_accounts(tmp_path: Path) -> Iterator[Any]:
    created: list[Runtime] = []

    def make(worker: str, *, legacy: str | None = None, candidate: str | None = None) -> Runtime:
        runtime = Runtime(
            ShadowSettings(
                worker=worker,
                services={"accounts": ServiceSettings(mode="shadow")},
                store_url=f"sqlite:///{tmp_path / 'store.db'}",
            ),
            legacy=SideFactory("tests.runtime.runtime_accounts:build", {"fail": legacy}),
            candidate=SideFactory("tests.runtime.runtime_accounts:build", {"fail": candidate}),
            registry=CollectorRegistry(),
        )
        created.append(runtime)
        return runtime

    yield make
    for runtime in created:
        runtime.close()


def _only_example(runtime: Runtime) -> dict[str, Any]:
    assert runtime.flush()
    (group,) = runtime.store.groups()
    stored = runtime.store.group(group.fingerprint)
    assert stored is not None
    (example,) = stored.examples
    return dict(example)


def _assert_explained(explained: dict[str, Any]) -> None:
    assert explained["type"] == ERROR_TYPE
    message = explained["message"]
    assert message.startswith("account [redacted] exists (password=[redacted], token: [redacted])")
    assert "[SQL: INSERT INTO accounts VALUES (?, ?)]" in message
    assert "[parameters: [redacted]]" in message
    innermost, outer = explained["frames"][-1], explained["frames"][-2]
    assert innermost.startswith("tests/runtime/runtime_accounts.py:")
    assert " in _refuse: raise DuplicateAccountError(" in innermost
    assert " in register: self._refuse(email, password)" in outer


@pytest.mark.parametrize("worker", ["thread", "process"])
def test_a_candidate_error_example_carries_its_redacted_message_and_frames(
    make_accounts: Any, worker: str, tmp_path: Path
) -> None:
    runtime = make_accounts(worker, candidate="quote")
    runtime.proxy(Accounts, "accounts").register(EMAIL, PASSWORD)
    example = _only_example(runtime)
    assert example["outcome"] == "candidate_error"
    assert example["errors"]["legacy"] is None
    _assert_explained(example["errors"]["candidate"])
    runtime.close()
    # The secrets are nowhere in the store, in any form.
    stored = (tmp_path / "store.db").read_bytes()
    for secret in (EMAIL, PASSWORD, "abc123", "h4sh"):
        assert secret.encode() not in stored, secret


@pytest.mark.parametrize("worker", ["thread", "process"])
def test_an_authoritative_only_error_is_explained_from_the_callers_process(
    make_accounts: Any, worker: str
) -> None:
    runtime = make_accounts(worker, legacy="quote")
    with pytest.raises(DuplicateAccountError):  # the caller gets legacy's own exception
        runtime.proxy(Accounts, "accounts").register(EMAIL, PASSWORD)
    example = _only_example(runtime)
    assert example["outcome"] == "divergence"
    assert example["errors"]["candidate"] is None
    _assert_explained(example["errors"]["legacy"])
    assert PASSWORD not in json.dumps(example) and EMAIL not in json.dumps(example)


def test_a_connection_url_password_and_nested_sensitive_fields_are_hidden() -> None:
    text = "could not connect to postgresql://app:s3cret-pw@db:5432/app"
    assert redact_text(text, (), frozenset()) == (
        "could not connect to postgresql://app:[redacted]@db:5432/app"
    )
    try:
        raise DuplicateAccountError("{'user': {'email': 'bo@x.org'}, 'jwt_secret': 'k'}")
    except DuplicateAccountError as error:
        explained = explain_error(error, ("bo@x.org",), frozenset({"email"}))
    assert explained["message"] == "{'user': {'email': [redacted]}, 'jwt_secret': [redacted]}"
    assert len(explained["frames"]) == 1
