"""shadow: a dual-write shadow-migration runtime.

Put a proxy in front of a service with two implementations (the legacy one and
a candidate), mirror every write to both, run reads on both, compare, and gate
the cutover on the evidence. The public API is what ``__all__`` lists:

* declaring a contract: :func:`read`, :func:`write`, :func:`read_write`,
  :class:`Compare`, :class:`Order`, or :func:`declare` for a class you do not own;
* the injected sources of ids and time: :class:`IdSource`, :class:`Clock` and
  their implementations;
* running it: :class:`Runtime` with two :class:`SideFactory` objects and
  :class:`ShadowSettings` (or :class:`LiveSettings` following a TOML file), and
  the :class:`DivergenceStore` it writes;
* the exceptions, rooted at :class:`ShadowError`.

Cutover control (phase plan, gate, review, reports) is ``shadow.cutover``; the
seams for other projects' test suites are ``shadow.testing``. Modules with a
leading underscore are implementation.

Importing ``shadow`` is cheap: each name is imported from its module on first
use (PEP 562 ``__getattr__``, as structlog does), so a command's ``--help`` or
an application importing only a contract helper does not load the runtime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shadow._lazy import lazy_exports

if TYPE_CHECKING:
    from shadow._contract import (
        Compare,
        Kind,
        MethodSpec,
        Order,
        contract_methods,
        declare,
        read,
        read_write,
        write,
    )
    from shadow._exceptions import (
        ConfigError,
        ContractError,
        DivergenceError,
        ShadowError,
        StoreError,
    )
    from shadow._sources import Clock, FixedClock, IdSource, SequentialIds, SystemClock, UuidIds
    from shadow._vocabulary import (
        LatencySummary,
        Mode,
        Outcome,
        ReviewStatus,
        Side,
        WorkerKind,
    )
    from shadow.runtime import (
        DivergenceStore,
        LiveSettings,
        Observation,
        Observer,
        Runtime,
        ServiceSettings,
        ShadowSettings,
        SideFactory,
        json_logger,
        load_settings,
    )

__all__ = [
    "Clock",
    "Compare",
    "ConfigError",
    "ContractError",
    "DivergenceError",
    "DivergenceStore",
    "FixedClock",
    "IdSource",
    "Kind",
    "LatencySummary",
    "LiveSettings",
    "MethodSpec",
    "Mode",
    "Observation",
    "Observer",
    "Order",
    "Outcome",
    "ReviewStatus",
    "Runtime",
    "SequentialIds",
    "ServiceSettings",
    "ShadowError",
    "ShadowSettings",
    "Side",
    "SideFactory",
    "StoreError",
    "SystemClock",
    "UuidIds",
    "WorkerKind",
    "contract_methods",
    "declare",
    "json_logger",
    "load_settings",
    "read",
    "read_write",
    "write",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Compare": "shadow._contract",
        "Kind": "shadow._contract",
        "MethodSpec": "shadow._contract",
        "Order": "shadow._contract",
        "contract_methods": "shadow._contract",
        "declare": "shadow._contract",
        "read": "shadow._contract",
        "read_write": "shadow._contract",
        "write": "shadow._contract",
        "ConfigError": "shadow._exceptions",
        "ContractError": "shadow._exceptions",
        "DivergenceError": "shadow._exceptions",
        "ShadowError": "shadow._exceptions",
        "StoreError": "shadow._exceptions",
        "Clock": "shadow._sources",
        "FixedClock": "shadow._sources",
        "IdSource": "shadow._sources",
        "SequentialIds": "shadow._sources",
        "SystemClock": "shadow._sources",
        "UuidIds": "shadow._sources",
        "LatencySummary": "shadow._vocabulary",
        "Mode": "shadow._vocabulary",
        "Outcome": "shadow._vocabulary",
        "ReviewStatus": "shadow._vocabulary",
        "Side": "shadow._vocabulary",
        "WorkerKind": "shadow._vocabulary",
        "DivergenceStore": "shadow.runtime",
        "LiveSettings": "shadow.runtime",
        "Observation": "shadow.runtime",
        "Observer": "shadow.runtime",
        "Runtime": "shadow.runtime",
        "ServiceSettings": "shadow.runtime",
        "ShadowSettings": "shadow.runtime",
        "SideFactory": "shadow.runtime",
        "json_logger": "shadow.runtime",
        "load_settings": "shadow.runtime",
    },
)
