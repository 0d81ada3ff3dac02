"""What the runtime knows about each service's mirror, deciding how later calls are treated.

* **Dirt**: a dropped write makes its service dirty from that call's sequence
  number on, and so does a mirrored write whose outcome differed (one side
  raised, the other did not) from the call after it; observations of later
  calls are not evidence until the service is reconciled. Each transition is
  kept, in order, until the store has it (the recorder takes them with its
  batches and gives them back when a write fails).
* **Circuit breakers**: mirror failures of a service open its breaker, and
  its calls are dropped until it half-opens.
* **Write lag**: the largest recent gap between an authoritative write and its
  mirror, the tolerance for timestamps the two databases wrote (``_lag``).

The recorder publishes; this is the state its publishing reads and updates.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime

from shadow._sources import Clock
from shadow.runtime._breaker import CircuitBreaker
from shadow.runtime._lag import LagTracker
from shadow.runtime._settings import ShadowSettings

__all__ = ["EvidenceState", "Mark"]

Mark = tuple[str, bool, datetime]
"""A dirty (True) or clean (False) transition of a service, and when it happened."""


class EvidenceState:
    """Dirt, breakers and write lag of every service (thread-safe)."""

    def __init__(
        self,
        settings: ShadowSettings,
        *,
        clock: Clock,
        dirty: Iterable[str] = (),
        on_breaker_change: Callable[[str, bool], None] = lambda service, is_open: None,
    ) -> None:
        self._clock = clock
        self._breaker_threshold = settings.breaker_failures
        self._breaker_reset = settings.breaker_reset_seconds
        self._on_breaker_change = on_breaker_change
        self.lags = LagTracker(settings.lag_window_seconds)
        self._lock = threading.Lock()
        self._breakers: dict[str, CircuitBreaker] = {}
        self._dirty_since: dict[str, int] = {service: 0 for service in dirty}
        self._marks: list[Mark] = []
        self._later_dirt: dict[str, datetime] = {}

    # -- breakers ---------------------------------------------------------------------------

    def breaker(self, service: str) -> CircuitBreaker:
        """The circuit breaker of ``service`` (created closed on first use)."""
        found = self._breakers.get(service)
        if found is None:
            with self._lock:
                found = self._breakers.get(service)
                if found is None:
                    found = CircuitBreaker(
                        self._breaker_threshold,
                        self._breaker_reset,
                        on_change=lambda is_open: self._on_breaker_change(service, is_open),
                    )
                    self._breakers[service] = found
        return found

    # -- dirt -------------------------------------------------------------------------------

    def is_dirty(self, service: str) -> bool:
        """True while ``service`` has a dropped write not yet reconciled."""
        return service in self._dirty_since

    def dirty_services(self) -> frozenset[str]:
        """Services that are dirty now."""
        return frozenset(self._dirty_since)

    def counts(self, service: str, seq: int) -> bool:
        """Whether the call of ``service`` with sequence number ``seq`` is evidence."""
        since = self._dirty_since.get(service)
        return since is None or seq < since

    def mark_dirty(self, service: str, seq: int) -> bool:
        """Calls of ``service`` from ``seq`` on are not evidence; True if it was clean.

        A drop reported late for an older call moves the marker back to that call.
        """
        now = self._clock.now()
        with self._lock:
            since = self._dirty_since.get(service)
            if since is None or seq < since:
                self._dirty_since[service] = seq
            if since is None:
                self._marks.append((service, True, now))
            else:
                # Already dirty: only the latest time counts (a verification
                # begun before it must not clear the service).
                self._later_dirt[service] = now
        return since is None

    def mark_clean(self, service: str) -> None:
        """``service`` was reconciled: its comparisons count as evidence again."""
        now = self._clock.now()
        with self._lock:
            self._dirty_since.pop(service, None)
            self._marks.append((service, False, now))

    def take_marks(self) -> list[Mark]:
        """The transitions not yet given to the store, oldest first (now the caller's)."""
        with self._lock:
            marks, self._marks = self._marks, []
            later, self._later_dirt = self._later_dirt, {}
        return marks + [(service, True, at) for service, at in later.items()]

    def give_back(self, marks: list[Mark]) -> None:
        """Transitions the store refused: kept for the next try, before any made since."""
        with self._lock:
            self._marks[:0] = marks

    def pending_marks(self) -> list[tuple[str, bool]]:
        """Transitions not yet written to the store (``(service, dirty)``)."""
        with self._lock:
            return [(service, dirty) for service, dirty, _at in self._marks]
