"""A circuit breaker per service: stop mirroring after repeated mirror failures.

A mirror that keeps failing (raising where the authoritative side succeeded,
hanging past the deadline, crashing its worker) costs resources and produces no
evidence. After ``threshold`` consecutive failures the breaker opens: calls are
not mirrored (counted ``dropped``; a dropped write marks the service dirty).
After ``reset_seconds`` it lets calls through again (half-open); the next
success closes it, the next failure opens it again. Opening and closing are
reported through the callbacks (the recorder logs them and sets the gauge).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["CircuitBreaker"]


class CircuitBreaker:
    """Consecutive-failure breaker with a timed half-open state (thread-safe)."""

    def __init__(
        self,
        threshold: int,
        reset_seconds: float,
        *,
        on_change: Callable[[bool], None] = lambda is_open: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold = threshold
        self._reset_seconds = reset_seconds
        self._on_change = on_change
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._half_open = False

    @property
    def is_open(self) -> bool:
        """True while mirroring is stopped (including before a half-open retry)."""
        return self._opened_at is not None and not self._half_open

    def allow(self) -> bool:
        """May a call be mirrored now? Moves an expired open breaker to half-open."""
        if self._opened_at is None or self._half_open:
            return True
        with self._lock:
            if self._opened_at is not None and not self._half_open:
                if self._clock() - self._opened_at < self._reset_seconds:
                    return False
                self._half_open = True
            return True

    def success(self) -> None:
        """The mirror ran (whatever it answered): reset the count, close if open."""
        if self._failures == 0 and self._opened_at is None:
            return
        with self._lock:
            self._failures = 0
            was_open = self._opened_at is not None
            self._opened_at = None
            self._half_open = False
        if was_open:
            self._on_change(False)

    def failure(self) -> None:
        """The mirror failed: count it, open (again) at the threshold or when half-open."""
        with self._lock:
            self._failures += 1
            opening = self._half_open or (
                self._opened_at is None and self._failures >= self._threshold
            )
            if opening:
                self._opened_at = self._clock()
                self._half_open = False
        if opening:
            self._on_change(True)
