"""When two database-generated timestamps count as the same value.

A timestamp a database generates (a column DEFAULT, a trigger) never agrees to
the microsecond between two stores written moments apart, so it cannot be
compared exactly. Two rules decide instead, one per kind of call:

* **Reads** return values earlier writes produced. Each store stamped its copy
  of such a write when that write ran there, and the mirror ran it up to the
  largest recent write lag later; so the two values are accepted within that
  lag plus the spec's ``timestamp_precision`` (:attr:`StampRule.tolerance`),
  as before.
* **Writes** (and read-writes) may return values they produced themselves. A
  value is accepted only if it could have been produced by the call that
  returned it: within that side's own execution window (:class:`Window`,
  wall-clock start and end of the call, measured on each side) widened by the
  column's precision (a millisecond column truncates up to 1 ms, a
  ``CURRENT_TIMESTAMP`` column up to 1 s). When both values fall inside their
  own side's window they match. When both could predate their call (an
  unchanged ``created_at`` in an ``update``'s result, the existing row of an
  ignored duplicate insert) they are two copies of one earlier write, apart
  by at most the write lag plus the column's precision. Anything else is a
  divergence -- in particular one side returning a value it produced while
  the other returns an older one (a stale ``updated_at``), in either
  direction, so the rule holds in reverse mode too.

What the rule cannot tell apart: a value written by an *earlier* call within
one precision step before this call started looks like one this call produced.
Declaring each column's real precision (``Compare.timestamp_precisions``) keeps
that blind spot as small as the store allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shadow._contract import Compare

__all__ = ["StampRule", "Window", "as_instant"]


@dataclass(frozen=True, slots=True)
class Window:
    """The wall-clock interval (``time.time()`` seconds) one side's call ran in."""

    start: float
    end: float

    @classmethod
    def around(cls, wall_start: float, wall_end: float, elapsed: float) -> Window:
        """The window of a call from its wall-clock start and end and its monotonic duration.

        The wall clock a database stamps with can be stepped while a call runs
        (virtual machines resynchronise it by milliseconds at a time; measured
        here: 35 ms in 15 s). A forward step moves the stamp past ``start +
        elapsed``, a backward one before ``wall_start``; bounding the window by
        both the wall-clock readings and the monotonic duration keeps either
        inside it.
        """
        return cls(min(wall_start, wall_end - elapsed), max(wall_end, wall_start + elapsed))


def as_instant(value: Any) -> datetime | None:
    """``value`` as an aware datetime (naive means UTC; ISO text is parsed), else None."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


@dataclass(frozen=True, slots=True)
class StampRule:
    """Decides whether two values of one ``timestamps`` field are the same value.

    ``tolerance`` (seconds) is the read rule's bound: the largest recent write
    lag plus the spec's ``timestamp_precision``. ``windows`` (authoritative,
    mirror) switch on the write rule; ``None`` for reads.
    """

    spec: Compare
    tolerance: float
    windows: tuple[Window, Window] | None = None

    def accepts(self, name: str, authoritative: Any, mirror: Any) -> bool:
        """True when the two values of field ``name`` count as the same value."""
        left, right = as_instant(authoritative), as_instant(mirror)
        if left is None or right is None:
            return False
        if self.windows is None:
            return abs((left - right).total_seconds()) <= self.tolerance
        return self._write_accepts(name, left.timestamp(), right.timestamp())

    def _write_accepts(self, name: str, left: float, right: float) -> bool:
        precision = self.spec.precision_of(name)
        first, second = self.windows or (Window(0, 0), Window(0, 0))
        if _inside(left, first, precision) and _inside(right, second, precision):
            return True
        # Both predate their call (stores truncate, so a value this call
        # produced is never earlier than its start minus one precision step,
        # and an older one is always earlier than its start): two copies of
        # one earlier write, apart by at most the write lag plus the column's
        # precision. ``tolerance`` carries the spec's coarse precision; the
        # column's own replaces it.
        if left < first.start and right < second.start:
            lag = max(0.0, self.tolerance - self.spec.timestamp_precision)
            return abs(right - left) <= lag + precision
        return False


def _inside(value: float, window: Window, precision: float) -> bool:
    """Could ``value`` have been produced during ``window`` by a store of this precision?"""
    return window.start - precision <= value <= window.end + precision
