"""Which evidence came from traffic and which from exploration, for the reports.

The store counts every comparison in its totals and, apart, the part a
non-traffic origin made (``exploration``: :mod:`shadow.explore`); traffic's
share is the rest. These functions split a method's outcomes and a group's
divergences by origin, and sum them up per origin for the report's summary.
Traffic is always listed first, then the other origins by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shadow._vocabulary import Outcome
from shadow.cutover.evidence import DivergenceGroup, Evidence

__all__ = ["TRAFFIC", "group_origins", "method_origins", "origin_summary"]

TRAFFIC = "traffic"


def _others(evidence: Evidence) -> list[str]:
    found = {origin for (*_key, origin) in evidence.origin_counts}
    found |= {origin for origins in evidence.group_origins.values() for origin in origins}
    return sorted(found - {TRAFFIC})


def method_origins(evidence: Evidence, service: str, method: str) -> dict[str, dict[str, int]]:
    """``origin -> outcome -> calls`` for one method (traffic: the total minus the rest)."""
    item = evidence.method(service, method)
    split: dict[str, dict[str, int]] = {TRAFFIC: {}}
    for origin in _others(evidence):
        split[origin] = {
            outcome: evidence.origin_counts.get((service, method, outcome, origin), 0)
            for outcome in Outcome
        }
    for outcome in Outcome:
        made_elsewhere = sum(split[origin][outcome] for origin in split if origin != TRAFFIC)
        split[TRAFFIC][outcome] = max(0, item.total(outcome) - made_elsewhere)
    return split


def group_origins(evidence: Evidence, group: DivergenceGroup) -> dict[str, int]:
    """``origin -> divergences`` of one group (traffic: its count minus the rest)."""
    known = evidence.group_origins.get(group.fingerprint, {})
    split = {origin: known.get(origin, 0) for origin in _others(evidence)}
    return {TRAFFIC: max(0, group.count - sum(split.values())), **split}


def origin_summary(services: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Per origin: calls compared, divergences, and groups it saw (from built report data)."""
    summary: dict[str, dict[str, int]] = {}
    for service in services:
        for method in service["methods"]:
            for origin, outcomes in method["origins"].items():
                entry = summary.setdefault(origin, {"compared": 0, "divergences": 0, "groups": 0})
                entry["compared"] += sum(outcomes[outcome] for outcome in Outcome if outcome.judged)
                entry["divergences"] += outcomes[Outcome.DIVERGENCE]
        for group in service["groups"]:
            for origin, count in group["origins"].items():
                entry = summary.setdefault(origin, {"compared": 0, "divergences": 0, "groups": 0})
                entry["groups"] += 1 if count else 0
    return summary
