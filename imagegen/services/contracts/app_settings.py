"""The app_settings service: server-wide key/value settings.

Behaviour both implementations share (docs/reference-app.md, plus the choices
written here where it is silent):

* ``get`` returns the stored value or ``None`` for a missing key.
* ``set`` inserts or replaces the value; replacing refreshes ``updated_at``
  (the table's update trigger) and keeps ``created_at``.
* ``get_jwt_secret`` returns the ``jwt_secret`` setting and raises
  :class:`~imagegen.services.errors.NotFoundError` naming the *key* (never a value)
  when it is absent.

Any setting may hold a secret (``jwt_secret`` does), so every value is declared
sensitive: compared, never stored or logged by the runtime.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from shadow._contract import read, write
from shadow._inputs import Arg, explore_inputs

__all__ = ["JWT_SECRET_KEY", "AppSettingsService"]

JWT_SECRET_KEY = "jwt_secret"
"""The key of the seeded secret used to sign session tokens."""


@explore_inputs(
    key=Arg(pool="setting_key", keep=True, examples=("jwt_secret", "theme", "THEME", " theme", "")),
)
class AppSettingsService(ABC):
    """Server-wide settings (see the module docstring for the rules)."""

    @read(sensitive_result=True)
    @abstractmethod
    def get(self, key: str) -> str | None:
        """The value stored under ``key``, or ``None``."""

    @write(sensitive={"value"})
    @abstractmethod
    def set(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``, replacing any previous value."""

    @read(sensitive_result=True)
    @abstractmethod
    def get_jwt_secret(self) -> str:
        """The jwt signing secret; ``NotFoundError`` when the seed row is missing."""
