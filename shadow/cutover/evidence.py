"""What the gate and the reports decide on: the evidence, as plain values.

The runtime's divergence store is the source of truth; :mod:`shadow.cutover.store`
reads it into an :class:`Evidence`. Keeping the gate on these plain dataclasses
means the gate is tested on exact, hand-made evidence, and a store with another
layout only needs another adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from shadow._vocabulary import LatencySummary, Outcome, ReviewStatus

__all__ = [
    "CoverageEvidence",
    "DataCheck",
    "DataVerified",
    "DivergenceGroup",
    "Evidence",
    "MethodEvidence",
    "ModeEvidence",
]


@dataclass(frozen=True, slots=True)
class MethodEvidence:
    """What was observed for one method of one service."""

    service: str
    method: str
    outcomes: Mapping[str, int] = field(default_factory=dict)
    legacy: LatencySummary | None = None
    candidate: LatencySummary | None = None
    totals: Mapping[str, int] | None = None
    """All calls by outcome, dirty periods included (reports); ``outcomes`` when None.

    ``outcomes`` holds only calls made while the service was clean: the evidence.
    """

    def count(self, outcome: str) -> int:
        """How many calls ended with ``outcome``."""
        return self.outcomes.get(outcome, 0)

    def total(self, outcome: str) -> int:
        """All calls that ended with ``outcome``, evidence or not."""
        return (self.outcomes if self.totals is None else self.totals).get(outcome, 0)

    @property
    def compared(self) -> int:
        """Calls that ran on both sides and were compared (the gate's sample size)."""
        return sum(self.count(outcome) for outcome in Outcome if outcome.judged)


@dataclass(frozen=True, slots=True)
class CoverageEvidence:
    """How much of one service's candidate code compared calls ran (``runtime.coverage``)."""

    service: str
    lines: int
    lines_hit: int
    branches: int
    branches_hit: int
    missing: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    """Measurable lines never run, per source file."""

    @property
    def share(self) -> float:
        """Lines and branches run over those measurable (coverage.py's total), 0 when none."""
        measurable = self.lines + self.branches
        return (self.lines_hit + self.branches_hit) / measurable if measurable else 0.0


@dataclass(frozen=True, slots=True)
class DivergenceGroup:
    """Divergences sharing one fingerprint: same service, method and differing paths.

    ``examples`` are already redacted by the runtime (sensitive values never
    reach the store). An accepted group carries the reviewer's note and an
    expiry; it stops blocking the gate until then, and is still counted.
    """

    fingerprint: str
    service: str
    method: str
    paths: tuple[str, ...]
    error_types: tuple[str, ...]
    count: int
    first_seen: datetime
    last_seen: datetime
    status: ReviewStatus = ReviewStatus.OPEN
    note: str | None = None
    expires_at: datetime | None = None
    examples: tuple[Mapping[str, Any], ...] = ()
    outcome: str = "divergence"
    """``divergence`` (results differ) or ``candidate_error`` (only one side raised)."""
    root: str | None = None
    """The root group's fingerprint when this group is one of its consequences
    (a later divergence of the same service the root's bug probably caused)."""

    def blocks(self, now: datetime) -> bool:
        """True when the group keeps the gate shut at ``now``.

        Open groups block; accepted ones block again once their acceptance has
        expired. Fixed groups do not block (the store reopens a fixed group that
        is seen again).
        """
        if self.status is ReviewStatus.OPEN:
            return True
        if self.status is ReviewStatus.ACCEPTED:
            return self.expires_at is not None and self.expires_at <= now
        return False

    def review_state(self, now: datetime) -> str:
        """The status as shown to people: ``accepted`` turns ``expired`` past its expiry."""
        if self.status is ReviewStatus.ACCEPTED and self.blocks(now):
            return "expired"
        return self.status.value


@dataclass(frozen=True, slots=True)
class ModeEvidence:
    """The comparisons, latency and soak clock of calls mirrored in one mode."""

    methods: tuple[MethodEvidence, ...] = ()
    first_comparisons: Mapping[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DataCheck:
    """The last verification at rest of one table (``shadow data verify``)."""

    table: str
    verified_at: datetime
    equal: bool
    compared: int
    missing_on_target: int
    missing_on_source: int
    differing: int


@dataclass(frozen=True, slots=True)
class DataVerified:
    """The last verification that covered every table of one service."""

    service: str
    verified_at: datetime
    equal: bool


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything the store knows, as of ``collected_at``.

    ``dirty`` names the services with a dropped write not yet reconciled (their
    comparisons are not trustworthy); ``drops`` counts dropped writes per
    service. ``first_comparison_at`` starts the soak clock; ``first_comparisons``
    holds it per service when the store knows it, and then the gate uses the
    least soaked service of the phase.

    ``by_mode`` holds the same per mode the calls were mirrored in (``shadow``,
    ``reverse``) when the source records it (the divergence store does): the
    gate then judges leaving a mode on that mode's evidence only
    (:meth:`in_mode`). ``None`` means the source does not know modes and all
    evidence counts for every step.

    ``origin_counts`` holds the calls made by a non-traffic origin
    (``exploration``), by ``(service, method, outcome, origin)``, and
    ``group_origins`` how many of each group's divergences such an origin saw;
    traffic's share is the total minus these. Empty when the source does not
    know origins (all evidence is then traffic's).
    """

    collected_at: datetime
    first_comparison_at: datetime | None = None
    first_comparisons: Mapping[str, datetime] = field(default_factory=dict)
    methods: tuple[MethodEvidence, ...] = ()
    groups: tuple[DivergenceGroup, ...] = ()
    dirty: frozenset[str] = frozenset()
    drops: Mapping[str, int] = field(default_factory=dict)
    by_mode: Mapping[str, ModeEvidence] | None = None
    origin_counts: Mapping[tuple[str, str, str, str], int] = field(default_factory=dict)
    group_origins: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def in_mode(self, mode: str) -> Evidence:
        """The evidence restricted to calls mirrored in ``mode``.

        Divergence groups, dirt and drops stay whole: an open group blocks
        whatever mode it was seen in, and a dirty store is dirty for every step.
        Unchanged when the source does not record modes.
        """
        if self.by_mode is None:
            return self
        found = self.by_mode.get(mode, ModeEvidence())
        firsts = dict(found.first_comparisons)
        return replace(
            self,
            methods=found.methods,
            first_comparisons=firsts,
            first_comparison_at=min(firsts.values()) if firsts else None,
            by_mode=None,
        )

    coverage: Mapping[str, CoverageEvidence] = field(default_factory=dict)
    """Per service, when the runtime measured the candidate's coverage."""
    reconciled: Mapping[str, datetime] = field(default_factory=dict)
    """When each service was last cleared (by its reconcile hook or a clean verification)."""
    data_checks: tuple[DataCheck, ...] = ()
    """The last verification at rest of each table."""
    data_verified: Mapping[str, DataVerified] = field(default_factory=dict)
    """Per service, the last verification covering all its tables."""
    unavailable_mirrors: Mapping[str, str] = field(default_factory=dict)
    """Sides whose implementations could not be built (side -> redacted error): calls
    were not mirrored to them, so the stores are not in step until aligned again."""

    def method(self, service: str, method: str) -> MethodEvidence:
        """The evidence for one method; an empty record when it was never seen."""
        for item in self.methods:
            if item.service == service and item.method == method:
                return item
        return MethodEvidence(service, method)

    def compared_by_traffic(self, service: str, method: str) -> int:
        """The method's compared calls minus those a non-traffic origin made.

        Exploration records no latency (its sides are built afresh for every
        example), so the latency criterion asks this, not :attr:`MethodEvidence.compared`,
        whether latency samples should exist.
        """
        made_elsewhere = sum(
            count
            for (s, m, outcome, _origin), count in self.origin_counts.items()
            if (s, m) == (service, method) and Outcome(outcome).judged
        )
        return max(0, self.method(service, method).compared - made_elsewhere)

    def groups_of(self, services: frozenset[str] | set[str]) -> tuple[DivergenceGroup, ...]:
        """The divergence groups of the given services."""
        return tuple(group for group in self.groups if group.service in services)

    def group(self, fingerprint: str) -> DivergenceGroup | None:
        """The group with this fingerprint, if any."""
        for group in self.groups:
            if group.fingerprint == fingerprint:
                return group
        return None
