"""Cutover control: phase plan, gate as code, divergence review and reports.

Generic over applications: services are known by name (the phase plan) and by
their declared method names (passed in by the caller from the contracts); this
package never imports an application's services. The ``shadow`` CLI commands
``status``, ``gate``, ``promote``, ``rollback``, ``divergences`` and ``report``
are thin layers over the functions exported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shadow._lazy import lazy_exports

if TYPE_CHECKING:
    from shadow._vocabulary import LatencySummary, Mode, ReviewStatus
    from shadow.cutover.audit_metrics import AuditLogMetrics
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
    from shadow.cutover.criteria import Criterion, GateVerdict, evaluate_gate, wilson_upper_bound
    from shadow.cutover.evidence import DivergenceGroup, Evidence, MethodEvidence
    from shadow.cutover.plan import PhasePlan, load_plan
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
    "AuditLogMetrics",
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

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "LatencySummary": "shadow._vocabulary",
        "Mode": "shadow._vocabulary",
        "ReviewStatus": "shadow._vocabulary",
        "AuditLogMetrics": "shadow.cutover.audit_metrics",
        "declared_methods": "shadow.cutover.contracts",
        "CutoverSettings": "shadow.cutover.control",
        "PromotionRefused": "shadow.cutover.control",
        "ServiceStatus": "shadow.cutover.control",
        "Transition": "shadow.cutover.control",
        "gate": "shadow.cutover.control",
        "promote": "shadow.cutover.control",
        "rollback": "shadow.cutover.control",
        "status": "shadow.cutover.control",
        "DivergenceGroup": "shadow.cutover.evidence",
        "Evidence": "shadow.cutover.evidence",
        "MethodEvidence": "shadow.cutover.evidence",
        "Criterion": "shadow.cutover.criteria",
        "GateVerdict": "shadow.cutover.criteria",
        "evaluate_gate": "shadow.cutover.criteria",
        "wilson_upper_bound": "shadow.cutover.criteria",
        "PhasePlan": "shadow.cutover.plan",
        "load_plan": "shadow.cutover.plan",
        "POLICY_FILE_NAME": "shadow.cutover.policy",
        "GatePolicy": "shadow.cutover.policy",
        "PolicySet": "shadow.cutover.policy",
        "load_policies": "shadow.cutover.policy",
        "GateReadiness": "shadow.cutover.readiness",
        "build_report": "shadow.cutover.report",
        "render": "shadow.cutover.report",
        "load_evidence": "shadow.cutover.store",
    },
)
