"""The generic shadow runtime: proxies, modes, mirroring, comparison, metrics, store.

Put a :class:`Runtime` in front of any pair of implementations of a contract
declared with :mod:`shadow._contract` (``read`` / ``write`` / ``read_write``
with a ``Compare`` spec): :meth:`Runtime.proxy` returns an object implementing
the contract that routes each call by the service's :class:`Mode`, mirrors and
compares off the caller's path, and records the evidence. This package imports
nothing from the reference services; see docs/runtime.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shadow._lazy import lazy_exports

if TYPE_CHECKING:
    from shadow._vocabulary import Mode, Outcome, Side, WorkerKind
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
    from shadow.runtime._groups import GroupCommit, Savepoints
    from shadow.runtime._logging import json_logger, stdlib_logger
    from shadow.runtime._metrics import ShadowMetrics
    from shadow.runtime._observation import Observation, Reason
    from shadow.runtime._recorder import Observer
    from shadow.runtime._runtime import Reconciler, Runtime
    from shadow.runtime._settings import (
        LiveSettings,
        ServiceSettings,
        ShadowSettings,
        load_settings,
        validate_settings_text,
    )
    from shadow.runtime._store import (
        LATENCY_BOUNDS,
        ComparisonCount,
        DivergenceStore,
        DropCount,
        MethodLatency,
        ModeComparisonCount,
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
    "GroupCommit",
    "LiveSettings",
    "MethodLatency",
    "Mode",
    "ModeComparisonCount",
    "Observation",
    "Observer",
    "Outcome",
    "Reason",
    "Reconciler",
    "Runtime",
    "Savepoints",
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
    "stdlib_logger",
    "validate_settings_text",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Mode": "shadow._vocabulary",
        "Outcome": "shadow._vocabulary",
        "Side": "shadow._vocabulary",
        "REDACTED": "shadow.runtime._compare",
        "Difference": "shadow.runtime._compare",
        "Verdict": "shadow.runtime._compare",
        "compare_values": "shadow.runtime._compare",
        "fingerprint": "shadow.runtime._compare",
        "normalize": "shadow.runtime._compare",
        "redact": "shadow.runtime._compare",
        "SideFactory": "shadow.runtime._factory",
        "GroupCommit": "shadow.runtime._groups",
        "Savepoints": "shadow.runtime._groups",
        "json_logger": "shadow.runtime._logging",
        "stdlib_logger": "shadow.runtime._logging",
        "ShadowMetrics": "shadow.runtime._metrics",
        "Observation": "shadow.runtime._observation",
        "Reason": "shadow.runtime._observation",
        "Observer": "shadow.runtime._recorder",
        "Reconciler": "shadow.runtime._runtime",
        "Runtime": "shadow.runtime._runtime",
        "LiveSettings": "shadow.runtime._settings",
        "ServiceSettings": "shadow.runtime._settings",
        "ShadowSettings": "shadow.runtime._settings",
        "WorkerKind": "shadow._vocabulary",
        "load_settings": "shadow.runtime._settings",
        "validate_settings_text": "shadow.runtime._settings",
        "LATENCY_BOUNDS": "shadow.runtime._store",
        "ComparisonCount": "shadow.runtime._store",
        "DivergenceStore": "shadow.runtime._store",
        "DropCount": "shadow.runtime._store",
        "MethodLatency": "shadow.runtime._store",
        "ModeComparisonCount": "shadow.runtime._store",
        "ServiceState": "shadow.runtime._store",
        "StoredGroup": "shadow.runtime._store",
        "Tape": "shadow.runtime._tape",
        "TapeClock": "shadow.runtime._tape",
        "TapeIds": "shadow.runtime._tape",
    },
)
