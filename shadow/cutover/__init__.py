"""Cutover control: phase plan, gate as code, divergence review and reports.

Generic over applications: services are known by name (the phase plan) and by
their declared method names (passed in by the caller from the contracts); this
package never imports an application's services. The ``shadow`` CLI commands
``status``, ``gate``, ``promote``, ``rollback``, ``divergences`` and ``report``
are thin layers over the functions exported here.
"""

from __future__ import annotations

from shadow.cutover.contracts import declared_methods
from shadow.cutover.control import (
    CutoverSettings,
    PromotionRefused,
    ServiceStatus,
    Transition,
    gate,
    promote,
    rollback,
    status,
)
from shadow.cutover.evidence import (
    DivergenceGroup,
    Evidence,
    LatencySummary,
    MethodEvidence,
    ReviewStatus,
)
from shadow.cutover.gate import Criterion, GateVerdict, evaluate_gate, wilson_upper_bound
from shadow.cutover.plan import Mode, PhasePlan, load_plan
from shadow.cutover.policy import (
    POLICY_FILE_NAME,
    GatePolicy,
    PolicySet,
    load_policies,
)
from shadow.cutover.readiness import GateReadiness
from shadow.cutover.report import build_report, render
from shadow.cutover.store import load_evidence

__all__ = [
    "POLICY_FILE_NAME",
    "Criterion",
    "CutoverSettings",
    "DivergenceGroup",
    "Evidence",
    "GatePolicy",
    "GateReadiness",
    "GateVerdict",
    "LatencySummary",
    "MethodEvidence",
    "Mode",
    "PhasePlan",
    "PolicySet",
    "PromotionRefused",
    "ReviewStatus",
    "ServiceStatus",
    "Transition",
    "build_report",
    "declared_methods",
    "evaluate_gate",
    "gate",
    "load_evidence",
    "load_plan",
    "load_policies",
    "promote",
    "render",
    "rollback",
    "status",
    "wilson_upper_bound",
]
