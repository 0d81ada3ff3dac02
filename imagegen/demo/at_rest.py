"""The demo's last step: verify every table of the two stores at rest.

Comparing results sees only what reads touch; after the traffic the demo
compares the stores themselves (:func:`shadow.data.verify`, every table of the
reference schema, legacy authoritative), records the result in the divergence
store (the gate's ``data_verified`` criterion and the report read it) and so
clears any service a clean verification proves equal.
"""

from __future__ import annotations

from dataclasses import dataclass

from imagegen.cutover import reference_data_schema
from imagegen.db.engine import create_engine
from shadow.data import VerificationReport, record_verification, verify

__all__ = ["AtRest", "verify_stores"]


@dataclass(frozen=True)
class AtRest:
    """The demo's verification at rest and the dirty services it cleared."""

    report: VerificationReport
    cleared: tuple[str, ...]


def verify_stores(legacy_url: str, candidate_url: str, store_url: str) -> AtRest:
    """Verify every table of ``candidate_url`` against ``legacy_url``; record it in the store."""
    schema = reference_data_schema()
    legacy = create_engine(legacy_url)
    candidate = create_engine(candidate_url)
    try:
        report = verify(legacy, candidate, schema.tables())
    finally:
        legacy.dispose()
        candidate.dispose()
    cleared = record_verification(store_url, report, service_tables=schema.service_tables)
    return AtRest(report, tuple(cleared))
