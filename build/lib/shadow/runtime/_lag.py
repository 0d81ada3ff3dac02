"""The largest recent gap between an authoritative write and its mirror.

A database-generated timestamp is written when its *write* runs, on each side;
a later read compares two such values that differ by up to how far apart that
write ran on the two sides. So timestamps are compared within the largest lag
of the mirrored writes of the recent past (a window), not the lag of the read.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable

__all__ = ["LagTracker"]


class LagTracker:
    """Sliding-window maximum of observed write lags, in seconds (thread-safe)."""

    def __init__(self, window_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._window = window_seconds
        self._clock = clock
        self._lock = threading.Lock()
        # Monotonic deque of (time, lag): lags strictly decreasing from the left,
        # so the window's maximum is always the leftmost live entry.
        self._entries: collections.deque[tuple[float, float]] = collections.deque()

    def add(self, lag: float) -> None:
        """Record the lag of one mirrored write."""
        now = self._clock()
        with self._lock:
            while self._entries and self._entries[-1][1] <= lag:
                self._entries.pop()
            self._entries.append((now, lag))
            self._expire(now)

    def maximum(self) -> float:
        """The largest lag recorded within the window (0 when none)."""
        with self._lock:
            self._expire(self._clock())
            return self._entries[0][1] if self._entries else 0.0

    def _expire(self, now: float) -> None:
        while self._entries and now - self._entries[0][0] > self._window:
            self._entries.popleft()
