"""Data at rest: online backfill, row-level verification and targeted repair.

Comparing service results sees only the rows reads touch; this package
compares the stores themselves. It is generic over SQLAlchemy: it takes
engines and a :class:`DataSchema` (a ``MetaData``, per-column comparison rules
and the service -> tables map) and knows nothing of any application.

* :func:`backfill` copies every table in foreign-key order, in key chunks, while
  the runtime keeps dual-writing (copy if absent, then verify), resumable from
  a checkpoint, throttled, with autoincrement counters synced;
* :func:`verify` compares both sides table by table in one ordered pass and
  names the keys missing on either side and the differing rows with their
  columns; :func:`record_verification` keeps the result in the divergence store
  and clears the dirty services it proves equal;
* :func:`repair` copies the authoritative rows of exactly those keys (dry run
  unless told to apply) and verifies them again;
* :func:`reconciler` makes the two a runtime's reconcile hook, for
  ``Runtime.align`` (start-up writes) and ``Runtime.reconcile``.
"""

from __future__ import annotations

from shadow.data._backfill import BackfillReport, Checkpoint, TableBackfill, backfill, sync_counters
from shadow.data._read import KeyOrderError
from shadow.data._reconcile import reconciler
from shadow.data._repair import RepairReport, TableRepair, repair
from shadow.data._results import (
    ServiceVerification,
    StoredCheck,
    last_checks,
    record_verification,
    service_verifications,
    stored_verification,
)
from shadow.data._rules import (
    ColumnRule,
    Exact,
    Excluded,
    Json,
    TableRules,
    Tolerance,
    default_rule,
    normalize_datetime,
)
from shadow.data._schema import DataSchema
from shadow.data._verify import (
    RowDifference,
    TableVerification,
    VerificationReport,
    verify,
    verify_keys,
    verify_table,
)

__all__ = [
    "BackfillReport",
    "Checkpoint",
    "ColumnRule",
    "DataSchema",
    "Exact",
    "Excluded",
    "Json",
    "KeyOrderError",
    "RepairReport",
    "RowDifference",
    "ServiceVerification",
    "StoredCheck",
    "TableBackfill",
    "TableRepair",
    "TableRules",
    "TableVerification",
    "Tolerance",
    "VerificationReport",
    "backfill",
    "default_rule",
    "last_checks",
    "normalize_datetime",
    "reconciler",
    "record_verification",
    "repair",
    "service_verifications",
    "stored_verification",
    "sync_counters",
    "verify",
    "verify_keys",
    "verify_table",
]
