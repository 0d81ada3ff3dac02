"""Pools: values earlier calls produced, fed back as later calls' inputs.

A pool is named by the :class:`~shadow._inputs.Arg` declarations that draw
from it. After every call that succeeded on the authoritative side, the
result is walked (records, lists, mappings, at any depth) and each field whose
name a pool harvests adds its value (or each item of a list value) to that
pool; arguments declared ``keep`` add the value the call was given. A
contract's pools harvest only the results of that contract's own methods (an
``id`` field means a style preset in one service and nothing in another). A value
stays in its pool after the thing it names is deleted: later calls then use
ids that *were* deleted, which is one of the edge classes exploration must try.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from shadow._inputs import Arg

__all__ = ["Pools"]

_HASHABLE_SCALARS = (str, int)


class Pools:
    """The pools of one example (a fresh copy per call sequence)."""

    def __init__(self, inputs: Mapping[str, Mapping[str, Arg]], *, limit: int = 64) -> None:
        """``inputs`` are the declared inputs of each service's contract, by service."""
        self._harvest: dict[str, dict[str, set[str]]] = {}
        self._limit = limit
        for service, declared in inputs.items():
            fields = self._harvest.setdefault(service, {})
            for arg in declared.values():
                if arg.pool is None:
                    continue
                for field_name in arg.harvested_names():
                    fields.setdefault(field_name, set()).add(arg.pool)
        self._values: dict[str, list[Any]] = {}

    def copy(self) -> Pools:
        """An independent copy (the starting pools of the next example)."""
        twin = Pools({}, limit=self._limit)
        twin._harvest = self._harvest
        twin._values = {name: list(values) for name, values in self._values.items()}
        return twin

    def values(self, pool: str) -> Sequence[Any]:
        """The values collected in ``pool``, oldest first."""
        return self._values.get(pool, ())

    def add(self, pool: str, value: Any) -> None:
        """Add ``value`` to ``pool`` (moved to the end if already there)."""
        if not isinstance(value, _HASHABLE_SCALARS) or isinstance(value, bool):
            return
        values = self._values.setdefault(pool, [])
        if value in values:
            values.remove(value)
        values.append(value)
        if len(values) > self._limit:
            del values[0]

    def harvest(self, service: str, value: Any) -> None:
        """Collect the harvested fields of ``value`` (a result of ``service``) into pools."""
        fields = self._harvest.get(service)
        if fields:
            self._walk(fields, value)

    def _walk(self, fields: Mapping[str, set[str]], value: Any) -> None:
        if isinstance(value, BaseModel):
            for name in type(value).model_fields:
                self._field(fields, name, getattr(value, name))
        elif isinstance(value, Mapping):
            for key, item in value.items():
                if isinstance(key, str):
                    self._field(fields, key, item)
                else:
                    self._walk(fields, item)
        elif isinstance(value, list | tuple):
            for item in value:
                self._walk(fields, item)

    def _field(self, fields: Mapping[str, set[str]], name: str, value: Any) -> None:
        for pool in fields.get(name, ()):
            if isinstance(value, list | tuple):
                for item in value:
                    self.add(pool, item)
            else:
                self.add(pool, value)
        self._walk(fields, value)

    def keep(self, declared: Mapping[str, Arg], arguments: Mapping[str, Any]) -> None:
        """Add the arguments declared ``keep`` to their pools."""
        for name, value in arguments.items():
            arg = declared.get(name)
            if arg is not None and arg.keep and arg.pool is not None:
                self.add(arg.pool, value)
