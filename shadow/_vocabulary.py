"""The words every layer shares: sides, modes, outcomes, review states, latency.

Each is defined here once, below the runtime and cutover control that both
use them, so a value read from the store, a setting and a gate verdict are the
same objects (``Mode.SHADOW is Mode.SHADOW`` everywhere), never two look-alike
enums compared by identity.

* :class:`Side` -- one of the two implementations of a service;
* :class:`Mode` -- a service's cutover step, in order, and how it routes calls;
* :class:`Outcome` -- how one proxied call ended;
* :class:`ReviewStatus` -- where a divergence group stands in review;
* :class:`LatencySummary` -- latency quantiles of one side of one method;
* :class:`WorkerKind` -- where mirrored calls run.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from shadow._exceptions import ConfigError

__all__ = ["LatencySummary", "Mode", "Outcome", "ReviewStatus", "Side", "WorkerKind"]


class Side(enum.StrEnum):
    """One of the two implementations of a service."""

    LEGACY = "legacy"
    CANDIDATE = "candidate"

    @property
    def other(self) -> Side:
        """The opposite side."""
        return Side.CANDIDATE if self is Side.LEGACY else Side.LEGACY


class Mode(enum.StrEnum):
    """A service's cutover step, in order, and how its calls are routed.

    Every service goes ``legacy -> shadow -> reverse -> sqlmodel``, one step at
    a time (docs/architecture.md).
    """

    LEGACY = "legacy"
    """Legacy only: the proxy passes calls through."""
    SHADOW = "shadow"
    """Legacy authoritative; the candidate is mirrored and compared."""
    REVERSE = "reverse"
    """Candidate authoritative; legacy is mirrored and compared (rollback stays possible)."""
    SQLMODEL = "sqlmodel"
    """Candidate only: the migration of this service is finished."""

    @property
    def authoritative(self) -> Side:
        """The side whose result and exception the caller gets."""
        return Side.LEGACY if self in (Mode.LEGACY, Mode.SHADOW) else Side.CANDIDATE

    @property
    def mirror(self) -> Side | None:
        """The side that is mirrored and compared, or ``None`` when only one side runs."""
        if self is Mode.SHADOW:
            return Side.CANDIDATE
        if self is Mode.REVERSE:
            return Side.LEGACY
        return None

    @property
    def rank(self) -> int:
        """Position in the cutover order (legacy = 0)."""
        return list(Mode).index(self)

    def next(self) -> Mode | None:
        """The step after this one, or None at the end."""
        steps = list(Mode)
        return steps[self.rank + 1] if self.rank + 1 < len(steps) else None

    def previous(self) -> Mode | None:
        """The step before this one, or None at the start."""
        return list(Mode)[self.rank - 1] if self.rank > 0 else None

    @classmethod
    def parse(cls, text: str) -> Mode:
        """The mode named ``text``; :class:`ConfigError` naming the valid ones otherwise."""
        try:
            return cls(text)
        except ValueError:
            valid = ", ".join(mode.value for mode in cls)
            raise ConfigError(f"unknown mode {text!r} (expected one of: {valid})") from None


class Outcome(enum.StrEnum):
    """How one proxied call ended, as counted in ``shadow_comparisons_total``."""

    MATCH = "match"
    """Both sides agreed (within the spec's tolerances)."""
    DIVERGENCE = "divergence"
    """The two sides disagreed: different values, or an error on one side only."""
    RACED = "raced"
    """They disagreed, but a write ran between the two executions: re-checked, not counted."""
    CANDIDATE_ERROR = "candidate_error"
    """The candidate raised where the authoritative side succeeded."""
    SKIPPED = "skipped"
    """A read not sampled for comparison (sampling rate, or adaptive sampling)."""
    DROPPED = "dropped"
    """Not mirrored: queue full, breaker open, deadline, or a worker crash."""

    @property
    def ran_both_sides(self) -> bool:
        """Both sides ran this call (it counts towards the service's first comparison)."""
        return self in (Outcome.MATCH, Outcome.DIVERGENCE, Outcome.RACED, Outcome.CANDIDATE_ERROR)

    @property
    def judged(self) -> bool:
        """The call is the gate's sample: compared, and not re-checked elsewhere.

        ``raced`` comparisons are re-checked, ``skipped`` and ``dropped`` ones never
        ran on the mirror, so none of them is evidence either way.
        """
        return self in (Outcome.MATCH, Outcome.DIVERGENCE, Outcome.CANDIDATE_ERROR)


class ReviewStatus(enum.StrEnum):
    """Where a divergence group stands in review."""

    OPEN = "open"
    """Blocks the gate."""
    ACCEPTED = "accepted"
    """Explained by a reviewer: does not block until its expiry."""
    FIXED = "fixed"
    """Fixed in the candidate: does not block, and reopens if it is seen again."""


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """Latency quantiles of one side of one method, in seconds.

    ``p95_low`` / ``p95_high`` bound the p95 at 95 % confidence without
    assuming a distribution (the order statistics whose ranks bracket the 95th
    percentile's rank); None when unknown, and then the p95 itself stands for
    both bounds.
    """

    count: int
    p50: float
    p95: float
    p99: float
    p95_low: float | None = None
    p95_high: float | None = None

    @property
    def p95_lower(self) -> float:
        """The lower confidence bound of the p95 (the p95 when unknown)."""
        return self.p95 if self.p95_low is None else self.p95_low

    @property
    def p95_upper(self) -> float:
        """The upper confidence bound of the p95 (the p95 when unknown)."""
        return self.p95 if self.p95_high is None else self.p95_high


class WorkerKind(enum.StrEnum):
    """Where mirrored calls run."""

    PROCESS = "process"
    """A worker process fed over a pipe: the default, it keeps the caller's p99 low."""
    THREAD = "thread"
    """A worker thread in the caller's process: simpler, but it competes for the GIL."""
    INLINE = "inline"
    """In the caller's thread right after the authoritative call: for tests only."""
