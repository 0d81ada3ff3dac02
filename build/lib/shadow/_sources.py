"""Injected sources of application-generated values: ids and the current time.

Every id and every Python-side timestamp a service produces comes from an
:class:`IdSource` or a :class:`Clock` handed to it, never from a bare
``uuid.uuid4()`` or ``datetime.now()``. That is what lets the runtime record
the values an authoritative call drew and replay the very same values into the
mirrored call, so both stores hold the same ids (``shadow.runtime`` provides
the recording and replaying sources; this module only defines the seam and the
plain production and test implementations).
"""

from __future__ import annotations

import itertools
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "FixedClock", "IdSource", "SequentialIds", "SystemClock", "UuidIds"]


@runtime_checkable
class IdSource(Protocol):
    """Produces the identifiers (and secret codes) a service generates."""

    def new_id(self) -> str:
        """Return a new unique identifier string."""
        ...


@runtime_checkable
class Clock(Protocol):
    """Tells the current time as an aware UTC datetime."""

    def now(self) -> datetime:
        """Return the current time (timezone-aware, UTC)."""
        ...


class UuidIds:
    """Random uuid4 strings: the production id source."""

    def new_id(self) -> str:
        return str(uuid.uuid4())


class SystemClock:
    """The wall clock, in UTC: the production clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class SequentialIds:
    """Deterministic ids for tests and seeded workloads: ``prefix-000001``, ...

    Thread-safe, so several threads of one workload never draw the same id.
    """

    def __init__(self, prefix: str = "id", start: int = 1) -> None:
        self._prefix = prefix
        self._counter = itertools.count(start)
        self._lock = threading.Lock()

    def new_id(self) -> str:
        with self._lock:
            return f"{self._prefix}-{next(self._counter):06d}"


class FixedClock:
    """A clock that only moves when told to (``advance``), for tests."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float = 1.0) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now
