"""Read the runtime's divergence store into :class:`~shadow.cutover.evidence.Evidence`.

Placeholder until the runtime's store lands: it refuses with a StoreError.
"""

from __future__ import annotations

from shadow._exceptions import StoreError
from shadow._sources import Clock
from shadow.cutover.evidence import Evidence

__all__ = ["load_evidence"]


def load_evidence(url: str, *, clock: Clock) -> Evidence:
    """The evidence in the store at ``url``, as of ``clock.now()``."""
    raise StoreError(f"reading the divergence store is not available yet ({url})")
