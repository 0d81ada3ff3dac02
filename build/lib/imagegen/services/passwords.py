"""Password hashing for the users service: salted scrypt with a configurable cost.

A stored hash is self-describing -- ``scrypt$<n>$<r>$<p>$<salt>$<digest>`` with the
salt and digest in base64 -- so verifying reads the cost from the hash itself and
hashes made under an older cost keep working after the cost is raised. The cost
``n`` (scrypt's CPU/memory parameter, a power of two) is injected: production
keeps the default, tests pass a tiny one so they stay fast.

Neither the plaintext nor the hash ever appears in a repr, log line or exception
message; a malformed stored hash (such as the ``system`` user's empty one) simply
never verifies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["DEFAULT_COST", "PasswordHasher"]

DEFAULT_COST = 2**15
"""scrypt ``n`` for production: about 32 MiB and tens of milliseconds per hash."""

_SCHEME = "scrypt"
_BLOCK_SIZE = 8
_PARALLELISM = 1
_SALT_BYTES = 16
_DIGEST_BYTES = 32
_FIELDS = 6


class PasswordHasher:
    """Hashes and verifies passwords with salted scrypt at cost ``n = cost``."""

    def __init__(self, cost: int = DEFAULT_COST) -> None:
        if cost < 2 or cost & (cost - 1):
            raise ValueError("the scrypt cost must be a power of two of at least 2")
        self._cost = cost

    def __repr__(self) -> str:
        return f"PasswordHasher(cost={self._cost})"

    @property
    def cost(self) -> int:
        """The scrypt ``n`` used for new hashes."""
        return self._cost

    def hash(self, password: str) -> str:
        """Return a new salted hash of ``password`` (a fresh random salt each time)."""
        salt = secrets.token_bytes(_SALT_BYTES)
        digest = _scrypt(password, salt, self._cost, _BLOCK_SIZE, _PARALLELISM)
        return "$".join(
            (
                _SCHEME,
                str(self._cost),
                str(_BLOCK_SIZE),
                str(_PARALLELISM),
                _b64(salt),
                _b64(digest),
            )
        )

    def verify(self, password: str, stored: str) -> bool:
        """True when ``password`` matches ``stored``; False for any malformed hash."""
        parts = stored.split("$")
        if len(parts) != _FIELDS or parts[0] != _SCHEME:
            return False
        try:
            n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
            salt = base64.b64decode(parts[4], validate=True)
            expected = base64.b64decode(parts[5], validate=True)
            actual = _scrypt(password, salt, n, r, p)
        except ValueError:
            return False
        return hmac.compare_digest(actual, expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=256 * n * r * p + 1024 * 1024,
        dklen=_DIGEST_BYTES,
    )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
