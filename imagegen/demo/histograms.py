"""Service-level latency quantiles from the runtime's Prometheus histograms.

The runtime keeps ``shadow_call_duration_seconds`` per service and side. A
service's p50/p99 is estimated the way Prometheus' ``histogram_quantile`` does
it: add the cumulative bucket counts of the service's series, find the bucket
holding the rank, interpolate linearly inside it. So the demo's summary shows
the same numbers a Grafana panel would.
"""

from __future__ import annotations

import math
from collections import defaultdict

from prometheus_client import CollectorRegistry

__all__ = ["merged_quantiles"]

_FAMILY = "shadow_call_duration_seconds"


def merged_quantiles(
    registry: CollectorRegistry, service: str, quantiles: tuple[float, float] = (0.5, 0.99)
) -> dict[str, tuple[float, float]]:
    """``{side: (q1, q2)}`` in seconds for ``service`` (sides seen only)."""
    buckets: dict[str, dict[float, float]] = defaultdict(lambda: defaultdict(float))
    for family in registry.collect():
        if family.name != _FAMILY:
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket") and sample.labels.get("service") == service:
                bound = float(sample.labels["le"])
                buckets[sample.labels["side"]][bound] += sample.value
    result: dict[str, tuple[float, float]] = {}
    for side, cumulative in buckets.items():
        ordered = sorted(cumulative.items())
        if not ordered or ordered[-1][1] == 0:
            continue
        low, high = (_quantile(q, ordered) for q in quantiles)
        result[side] = (low, high)
    return result


def _quantile(q: float, ordered: list[tuple[float, float]]) -> float:
    total = ordered[-1][1]
    rank = q * total
    previous_bound, previous_count = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if math.isinf(bound):
                return previous_bound  # beyond the last finite bucket: its upper bound
            span = count - previous_count
            fraction = (rank - previous_count) / span if span else 0.0
            return previous_bound + (bound - previous_bound) * fraction
        previous_bound, previous_count = bound, count
    return previous_bound
