"""The rows every fresh schema starts with, on both layers.

The ``system`` user owns content created without a user, and ``jwt_secret``
signs the app's tokens: 64 random hex characters drawn with :mod:`secrets`, a
secret that is never logged or printed.
"""

from __future__ import annotations

import secrets

__all__ = ["SYSTEM_USER", "jwt_secret"]

SYSTEM_USER: dict[str, object] = {
    "user_id": "system",
    "email": "system@system.invalid",
    "display_name": "System",
    "password_hash": "",
    "is_admin": False,
    "is_active": True,
}
"""The ``system`` user's row: not an admin, active, with an empty password hash."""

JWT_SECRET_KEY = "jwt_secret"


def jwt_secret() -> str:
    """A fresh signing secret: 32 random bytes as 64 hex characters."""
    return secrets.token_hex(32)
