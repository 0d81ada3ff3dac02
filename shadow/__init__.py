"""shadow: a dual-write shadow-migration runtime.

Put a proxy in front of a service with two implementations (the legacy one and
a candidate), mirror every write to both, run reads on both, compare, and gate
the cutover on the evidence. The public API is what ``__all__`` lists:

* declaring a contract: :func:`read`, :func:`write`, :func:`read_write`,
  :class:`Compare`, :class:`Order`;
* the injected sources of ids and time: :class:`IdSource`, :class:`Clock` and
  their implementations;
* running it: :class:`Runtime` with two :class:`SideFactory` objects and
  :class:`ShadowSettings` (or :class:`LiveSettings` following a TOML file), and
  the :class:`DivergenceStore` it writes;
* the exceptions, rooted at :class:`ShadowError`.

Cutover control (phase plan, gate, review, reports) is ``shadow.cutover``; the
seams for other projects' test suites are ``shadow.testing``. Modules with a
leading underscore are implementation.
"""

from __future__ import annotations

from shadow._contract import (
    Compare,
    Kind,
    MethodSpec,
    Order,
    contract_methods,
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
from shadow.runtime import (
    DivergenceStore,
    LiveSettings,
    Mode,
    Observation,
    Observer,
    Outcome,
    Runtime,
    ServiceSettings,
    ShadowSettings,
    Side,
    SideFactory,
    WorkerKind,
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
    "LiveSettings",
    "MethodSpec",
    "Mode",
    "Observation",
    "Observer",
    "Order",
    "Outcome",
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
    "json_logger",
    "load_settings",
    "read",
    "read_write",
    "write",
]
