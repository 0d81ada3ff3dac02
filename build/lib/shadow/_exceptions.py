"""The exceptions shadow raises.

One root, :class:`ShadowError`, so a caller can catch everything the runtime
itself raises in one place; each subclass carries the data that explains it,
never a secret value. The errors of the *reference services* (not-found,
duplicate, rule violations) are the application's own and live in
``imagegen.services.errors``; the runtime passes them through unchanged.

    ShadowError
    ├── ContractError      a contract is malformed or has undeclared methods
    ├── ConfigError        a setting, URL, file or argument is not usable
    ├── StoreError         the divergence store cannot be read or written
    └── DivergenceError    strict mode saw the two sides disagree
"""

from __future__ import annotations

from typing import Any

__all__ = ["ConfigError", "ContractError", "DivergenceError", "ShadowError", "StoreError"]


class ShadowError(Exception):
    """Root of every error the runtime raises. ``details`` holds structured data."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class ContractError(ShadowError):
    """A contract cannot be proxied: undeclared methods, or a malformed declaration."""


class ConfigError(ShadowError):
    """A setting, URL, file or argument is not usable. The message says which and why."""


class StoreError(ShadowError):
    """The divergence store cannot be opened, read or written."""


class DivergenceError(ShadowError):
    """Raised by strict mode (``shadow.testing``) when the two sides disagree."""
