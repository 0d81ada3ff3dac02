"""shadow: a dual-write shadow-migration runtime.

Put a proxy in front of a service with two implementations (the legacy one and
a candidate), mirror every write to both, run reads on both, compare, and gate
the cutover on the evidence. The public API is what ``__all__`` lists; modules
with a leading underscore are implementation.
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

__all__ = [
    "Clock",
    "Compare",
    "ConfigError",
    "ContractError",
    "DivergenceError",
    "FixedClock",
    "IdSource",
    "Kind",
    "MethodSpec",
    "Order",
    "SequentialIds",
    "ShadowError",
    "StoreError",
    "SystemClock",
    "UuidIds",
    "contract_methods",
    "read",
    "read_write",
    "write",
]
