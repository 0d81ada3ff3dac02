"""A reconcile hook made of verify and repair: what ``Runtime.align`` needs from the data tools.

:func:`reconciler` returns the ``reconcile(service, source)`` callable a
:class:`~shadow.runtime.Runtime` takes: it verifies the service's tables
between the two engines and repairs the mirror's rows from ``source`` until
they are equal. Both sides must share the tables of the :class:`DataSchema`.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from shadow._exceptions import ConfigError, ShadowError
from shadow._vocabulary import Side
from shadow.data._repair import repair
from shadow.data._schema import DataSchema
from shadow.data._verify import verify

__all__ = ["reconciler"]

_ROUNDS = 100
"""Verify-and-repair rounds per call: a verification lists at most ``max_keys`` keys."""


def reconciler(
    schema: DataSchema, *, legacy: sa.Engine, candidate: sa.Engine
) -> Callable[[str, Side], None]:
    """``reconcile(service, source)``: copy ``service``'s rows from ``source`` to the other side.

    Rows missing on the other side are inserted, differing ones updated, extra
    ones deleted, table by table in foreign-key order; a service the schema
    names no tables for is bad input (:class:`~shadow.ConfigError`).
    """
    engines = {Side.LEGACY: legacy, Side.CANDIDATE: candidate}

    def reconcile(service: str, source: Side) -> None:
        names = schema.service_tables.get(service)
        if not names:
            raise ConfigError(f"the data schema names no tables for service {service!r}")
        tables = schema.tables(names)
        origin, target = engines[source], engines[source.other]
        for _ in range(_ROUNDS):
            report = verify(origin, target, tables)
            if report.equal:
                return
            repair(origin, target, tables, report, apply=True)
        raise ShadowError(f"{service}: the stores still differ after {_ROUNDS} repairs")

    return reconcile
