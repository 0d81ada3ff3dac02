"""The optional gate criterion on data at rest: ``data_verified``.

Judged when a phase's policy says ``require_data_verified = true``; otherwise
it always passes and only shows the state. Judged, per service of the phase
it passes when all of these hold:

* the service is not dirty (no write since that was not mirrored cleanly:
  dropped, failed on the mirror, or diverged);
* the last verification at rest that covered all the service's tables
  (``shadow data verify``) found them equal;
* that verification is not older than the service's last clearing
  (``reconciled_at``): a service reconciled by copying its tables must be
  verified again, since the write that dirtied it happened before.

A service never verified fails: "verified equal since the last write that was
not mirrored cleanly" needs a verification. The details list, per service,
its dirty flag, when it was last cleared and verified, and the last
verification of each table the store knows, so the gate shows what cleared it.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta
from typing import Any

from shadow.cutover.evidence import Evidence

__all__ = ["data_verified"]

# Stores keep times at a precision of their own (MariaDB to the microsecond,
# SQLite as text): a clearing recorded with its verification's time compares equal.
_SLACK = timedelta(seconds=1)


def _reason(service: str, evidence: Evidence) -> str | None:
    if service in evidence.dirty:
        return f"{service} is dirty (a write was not mirrored cleanly)"
    verified = evidence.data_verified.get(service)
    if verified is None:
        return f"{service} was never verified at rest"
    if not verified.equal:
        return f"{service}: the last verification found differences"
    cleared = evidence.reconciled.get(service)
    if cleared is not None and verified.verified_at + _SLACK < cleared:
        return f"{service} was reconciled after its last verification"
    return None


def data_verified(
    services: Collection[str], evidence: Evidence, *, required: bool
) -> tuple[str, bool, str, tuple[dict[str, Any], ...]]:
    """The criterion's name, verdict, summary and details for ``services``."""
    reasons = [reason for s in services if (reason := _reason(s, evidence)) is not None]
    details = []
    for service in services:
        verified = evidence.data_verified.get(service)
        cleared = evidence.reconciled.get(service)
        details.append(
            {
                "service": service,
                "dirty": service in evidence.dirty,
                "reconciled_at": cleared.isoformat() if cleared else None,
                "verified_at": verified.verified_at.isoformat() if verified else None,
                "verified_equal": verified.equal if verified else None,
            }
        )
    details += [
        {
            "table": check.table,
            "verified_at": check.verified_at.isoformat(),
            "equal": check.equal,
            "compared": check.compared,
        }
        for check in evidence.data_checks
    ]
    if not required:
        state = "; ".join(reasons) if reasons else "all verified equal"
        return "data_verified", True, f"not required by the policy ({state})", tuple(details)
    if reasons:
        summary = "; ".join(reasons)
    else:
        summary = "every service's data verified equal since its last unclean write"
    return "data_verified", not reasons, summary, tuple(details)
