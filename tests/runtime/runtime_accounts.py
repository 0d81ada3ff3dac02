"""A contract whose failing side quotes its secret arguments in the exception message.

Exceptions quote what they were given; the runtime must keep their message in a
stored example without keeping the secrets. ``fail`` names the side's planted
failure: ``"quote"`` raises a message holding the email, the password and a
SQL parameters section; ``"build"`` makes the factory itself fail, quoting its
``password``; ``None`` works. Importable as
``tests.runtime.runtime_accounts:build`` for the process worker.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping

from shadow import Clock, IdSource, write


class DuplicateAccountError(Exception):
    """An account with that email exists."""


class Accounts(ABC):
    """The contract: the email is personal data, the password a secret by its name."""

    @write(sensitive={"email"})
    @abstractmethod
    def register(self, email: str, password: str) -> str: ...


class MemoryAccounts(Accounts):
    def __init__(self, *, ids: IdSource, fail: str | None) -> None:
        self._ids = ids
        self._fail = fail
        self._emails: set[str] = set()

    def register(self, email: str, password: str) -> str:
        if self._fail == "quote":
            self._refuse(email, password)
        self._emails.add(email)
        return self._ids.new_id()

    def _refuse(self, email: str, password: str) -> None:
        raise DuplicateAccountError(
            f"account {email} exists (password={password}, token: abc123)\n"
            f"[SQL: INSERT INTO accounts VALUES (?, ?)]\n[parameters: ('{email}', 'h4sh')]"
        )


def build(
    *, ids: IdSource, clock: Clock, fail: str | None = None, password: str = ""
) -> Mapping[str, Accounts]:
    """A side: the ``accounts`` service, in memory."""
    if fail == "build":
        raise ConnectionError(f"could not connect to postgresql://app:{password}@db:5432/app")
    return {"accounts": MemoryAccounts(ids=ids, fail=fail)}
