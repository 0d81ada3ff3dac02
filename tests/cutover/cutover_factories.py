"""Hand-made evidence for gate, promotion and report tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from shadow._vocabulary import LatencySummary, ReviewStatus
from shadow.cutover.evidence import DivergenceGroup, Evidence, MethodEvidence
from shadow.cutover.plan import PhasePlan

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

PLAN = PhasePlan({1: ("settings", "state"), 2: ("users",), 3: ("queue",)})
DECLARED: dict[str, frozenset[str]] = {
    "settings": frozenset({"get", "set"}),
    "state": frozenset({"get_by_key", "set_by_key"}),
    "users": frozenset({"get", "create"}),
    "queue": frozenset({"dequeue", "enqueue_batch"}),
}

FAST = LatencySummary(count=1000, p50=0.0001, p95=0.0002, p99=0.0004)
SLOWER = LatencySummary(count=1000, p50=0.00015, p95=0.0003, p99=0.0006)


def healthy_methods(
    services: Iterable[str] = DECLARED, matches: int = 500
) -> tuple[MethodEvidence, ...]:
    """Every declared method of ``services`` with ``matches`` matches and good latency."""
    return tuple(
        MethodEvidence(service, method, {"match": matches}, legacy=FAST, candidate=SLOWER)
        for service in services
        for method in sorted(DECLARED[service])
    )


def group(
    service: str = "settings",
    method: str = "get",
    *,
    fingerprint: str = "fp-settings-get",
    status: ReviewStatus = ReviewStatus.OPEN,
    expires_at: datetime | None = None,
    note: str | None = None,
    count: int = 3,
) -> DivergenceGroup:
    """A divergence group seen ``count`` times in the hour before NOW."""
    return DivergenceGroup(
        fingerprint=fingerprint,
        service=service,
        method=method,
        paths=("root['value']",),
        error_types=(),
        count=count,
        first_seen=NOW - timedelta(hours=1),
        last_seen=NOW - timedelta(minutes=5),
        status=status,
        note=note,
        expires_at=expires_at,
        examples=({"path": "root['value']", "legacy": "a", "candidate": "b"},),
    )


def evidence(
    methods: tuple[MethodEvidence, ...] | None = None,
    groups: tuple[DivergenceGroup, ...] = (),
    dirty: frozenset[str] = frozenset(),
    drops: Mapping[str, int] | None = None,
    soaked: timedelta | None = timedelta(days=2),
) -> Evidence:
    """Evidence collected at NOW; healthy for every service unless told otherwise."""
    return Evidence(
        collected_at=NOW,
        first_comparison_at=None if soaked is None else NOW - soaked,
        methods=healthy_methods() if methods is None else methods,
        groups=groups,
        dirty=dirty,
        drops=drops or {},
    )
