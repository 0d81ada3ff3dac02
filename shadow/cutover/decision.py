"""What a reviewer must decide, first in every report: may each phase and service go?

From the gate's verdicts (one per phase, one per service of it) this module
says per phase and per service whether the next step may be taken and, when
not, which required criteria block it, each with the anchor of the report
section holding its evidence (an open group's own section for
``open_divergences``). It also lists every method that diverged or whose
candidate raised, with its rates: a phase's pooled divergence rate can pass
while one method diverged in 38 of its 207 calls, and that method must be
seen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shadow._vocabulary import Outcome
from shadow.cutover.criteria import GateVerdict
from shadow.cutover.policy import PolicySet

__all__ = ["EVIDENCE_SECTIONS", "decision", "evidence_anchor", "method_rates", "review_order"]

EVIDENCE_SECTIONS = {
    "min_comparisons": "methods",
    "divergence_rate": "method-rates",
    "open_divergences": "divergences",
    "candidate_errors": "method-rates",
    "latency": "latency",
    "coverage": "coverage",
    "no_dirty": "dirty",
    "data_verified": "data",
}
"""The report section (HTML id) holding each criterion's evidence; the criteria not
named here (soak, previous_phase) are explained by their row in the phase's
criteria table, ``phase-N-NAME``."""


def evidence_anchor(phase: int, criterion: Mapping[str, Any]) -> str:
    """The id of the report element that shows why ``criterion`` of ``phase`` failed."""
    name, details = criterion["name"], criterion["details"]
    own_row = f"phase-{phase}-{name}"
    if name == "open_divergences":
        blocking = [item for item in details if item.get("blocks")]
        if blocking:
            return f"group-{blocking[0]['fingerprint']}"
    # A rate that fails with nothing counted fails on too few comparisons: the criterion's
    # own line (its bound and sample size) explains it, the per-method table would not.
    if name == "divergence_rate" and not any(item["divergences"] for item in details):
        return own_row
    if name == "candidate_errors" and not details:
        return own_row
    return EVIDENCE_SECTIONS.get(name, own_row)


def _blocking(verdict: Mapping[str, Any]) -> list[dict[str, str]]:
    return [
        {
            "name": criterion["name"],
            "summary": criterion["summary"],
            "anchor": evidence_anchor(verdict["phase"], criterion),
        }
        for criterion in verdict["criteria"]
        if criterion["name"] in verdict["blocking"]
    ]


def _judged(verdict: GateVerdict) -> dict[str, Any]:
    data = verdict.to_dict()
    return {
        "current": data["current"],
        "target": data["target"],
        "may_go": verdict.passed and verdict.target is not None,
        "done": verdict.target is None,
        "blocking": _blocking(data),
    }


def decision(
    phases: Sequence[GateVerdict], services: Mapping[str, GateVerdict]
) -> list[dict[str, Any]]:
    """Per phase: may it go, what blocks it, and the same for each of its services alone.

    ``services`` holds each service's verdict judged on its own
    (``evaluate_gate(..., services=[name])``): one service of a blocked phase
    may still be promoted by itself.
    """
    return [
        {
            "phase": verdict.phase,
            **_judged(verdict),
            "services": [{"service": name, **_judged(services[name])} for name in verdict.services],
        }
        for verdict in phases
    ]


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def method_rates(
    services: Sequence[Mapping[str, Any]], policies: PolicySet
) -> list[dict[str, Any]]:
    """Every method with a divergence or a candidate error, worst divergence rate first.

    ``over_limit`` says the method's own rate is above its phase's limit, whatever
    the pooled rate the gate judges.
    """
    rows = []
    for service in services:
        policy = policies.for_phase(service["phase"])
        for method in service["methods"]:
            outcomes = method["outcomes"]
            compared = sum(outcomes[outcome] for outcome in Outcome if outcome.judged)
            divergences = outcomes[Outcome.DIVERGENCE]
            errors = outcomes[Outcome.CANDIDATE_ERROR]
            if not divergences and not errors:
                continue
            divergence_rate = _rate(divergences, compared)
            error_rate = _rate(errors, compared)
            rows.append(
                {
                    "service": service["service"],
                    "method": method["method"],
                    "phase": service["phase"],
                    "compared": compared,
                    "divergences": divergences,
                    "divergence_rate": divergence_rate,
                    "candidate_errors": errors,
                    "candidate_error_rate": error_rate,
                    "over_limit": (divergence_rate or 0.0) > policy.max_divergence_rate
                    or (error_rate or 0.0) > policy.max_candidate_error_rate,
                }
            )
    return sorted(rows, key=lambda row: (-(row["divergence_rate"] or 0.0), row["service"]))


def review_order(groups: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The groups that block the gate, in the order to review them.

    The most often seen story first (a root with its consequences right after
    it, as ``groups`` lists them): the bug that costs the most calls is read first.
    """
    counts = {group["fingerprint"]: group["count"] for group in groups}
    blocking = [group for group in groups if group["blocks_gate"]]
    return sorted(
        blocking,
        key=lambda group: -counts.get(group["root"] or group["fingerprint"], group["count"]),
    )
