"""Errors of the reference services, shared by both implementations.

Both implementations raise exactly these (never a driver's exception), so the
runtime can compare error outcomes by type. Messages name what was missing or
refused, never a secret (no password, hash, token, invitation code or the jwt
secret).

    ServiceError
    ├── NotFoundError        the addressed row does not exist
    ├── DuplicateError       a unique value is already taken (``field`` says which)
    └── RuleViolationError   the call breaks a business rule (``rule`` says which)
"""

from __future__ import annotations

__all__ = ["DuplicateError", "NotFoundError", "RuleViolationError", "ServiceError"]


class ServiceError(Exception):
    """Root of the reference services' errors."""


class NotFoundError(ServiceError):
    """The addressed row does not exist."""

    def __init__(self, entity: str, key: str) -> None:
        super().__init__(f"{entity} not found: {key}")
        self.entity = entity
        self.key = key


class DuplicateError(ServiceError):
    """A value that must be unique is already taken; ``field`` names it."""

    def __init__(self, entity: str, field: str) -> None:
        super().__init__(f"duplicate {entity}: {field} already exists")
        self.entity = entity
        self.field = field


class RuleViolationError(ServiceError):
    """The call breaks a business rule; ``rule`` is a short stable name for it."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
