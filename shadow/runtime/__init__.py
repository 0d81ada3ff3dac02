"""The generic shadow runtime: proxies, modes, mirroring, comparison, metrics, store.

Put a :class:`Runtime` in front of any pair of implementations of a contract
declared with :mod:`shadow._contract` (``read`` / ``write`` / ``read_write``
with a ``Compare`` spec): :meth:`Runtime.proxy` returns an object implementing
the contract that routes each call by the service's :class:`Mode`, mirrors and
compares off the caller's path, and records the evidence. This package imports
nothing from the reference services; see docs/runtime.md.
"""

from __future__ import annotations

from shadow.runtime._compare import (
    REDACTED,
    Difference,
    Verdict,
    compare_values,
    fingerprint,
    normalize,
    redact,
)
from shadow.runtime._factory import SideFactory
from shadow.runtime._logging import json_logger
from shadow.runtime._metrics import ShadowMetrics
from shadow.runtime._observation import Observation, Outcome
from shadow.runtime._recorder import Observer
from shadow.runtime._runtime import Reconciler, Runtime
from shadow.runtime._settings import (
    LiveSettings,
    Mode,
    ServiceSettings,
    ShadowSettings,
    Side,
    WorkerKind,
    load_settings,
)
from shadow.runtime._store import (
    LATENCY_BOUNDS,
    ComparisonCount,
    DivergenceStore,
    DropCount,
    GroupStatus,
    LatencySummary,
    ServiceState,
    StoredGroup,
)
from shadow.runtime._tape import Tape, TapeClock, TapeIds

__all__ = [
    "LATENCY_BOUNDS",
    "REDACTED",
    "ComparisonCount",
    "Difference",
    "DivergenceStore",
    "DropCount",
    "GroupStatus",
    "LatencySummary",
    "LiveSettings",
    "Mode",
    "Observation",
    "Observer",
    "Outcome",
    "Reconciler",
    "Runtime",
    "ServiceSettings",
    "ServiceState",
    "ShadowMetrics",
    "ShadowSettings",
    "Side",
    "SideFactory",
    "StoredGroup",
    "Tape",
    "TapeClock",
    "TapeIds",
    "Verdict",
    "WorkerKind",
    "compare_values",
    "fingerprint",
    "json_logger",
    "load_settings",
    "normalize",
    "redact",
]
