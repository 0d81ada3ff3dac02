"""Declaring what exploration should feed a contract's methods: edge classes and pools.

Differential exploration (:mod:`shadow.explore`) generates call sequences for
every declared method of a contract. By default it derives each argument's
values from the method's type annotations (strings, integers, enums, ``X |
None``, lists, pydantic records...). A contract says more about its domain
with :func:`explore_inputs`, a class decorator naming arguments (and record
fields: a name applies at any depth, like the field names of
:class:`~shadow._contract.Compare`)::

    @explore_inputs(
        board_id=Arg(pool="board_id", examples=("none", "never-existed")),
        board_name=Arg(examples=("", "x" * 300, "x" * 301)),
    )
    class BoardsService(ABC): ...

* ``examples`` are the edge values of the domain, drawn often: boundary
  strings, ids that never existed, page sizes at and past their limits;
* ``pool`` names a pool of values that earlier calls produced: every result
  field named like the pool (or named in ``harvest``) is collected, so later
  calls can use ids that exist, and, once deleted, ids that were deleted;
* ``keep`` also puts the values passed to a successful call into the pool
  (``images.save`` takes its own name; ``create_session`` its token);
* ``strategy`` is a zero-argument callable returning a hypothesis strategy
  that replaces the type-derived values (called lazily: declaring inputs costs
  nothing at import time and needs no hypothesis until exploration runs);
* ``only`` drops the type-derived values: only examples and the pool are drawn.

This module sits beside :mod:`shadow._contract` at the bottom of the package
and imports nothing else of it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["Arg", "contract_inputs", "explore_inputs"]

_INPUTS_ATTRIBUTE = "__shadow_inputs__"

C = TypeVar("C", bound=type)


@dataclass(frozen=True, slots=True)
class Arg:
    """What exploration draws for one argument or record field (see the module docstring)."""

    examples: tuple[Any, ...] = ()
    pool: str | None = None
    harvest: tuple[str, ...] = ()
    keep: bool = False
    strategy: Callable[[], Any] | None = None
    only: bool = False

    def harvested_names(self) -> tuple[str, ...]:
        """Result field names whose values feed this argument's pool."""
        if self.pool is None:
            return ()
        return self.harvest or (self.pool,)


def explore_inputs(**by_name: Arg) -> Callable[[C], C]:
    """Class decorator: declare exploration inputs by argument or field name.

    Declarations of base classes are inherited; a subclass's entry for a name
    replaces its base's.
    """
    for name, arg in by_name.items():
        if not isinstance(arg, Arg):
            raise TypeError(f"explore_inputs({name}=...) takes an Arg, not {type(arg).__name__}")

    def mark(contract: C) -> C:
        setattr(contract, _INPUTS_ATTRIBUTE, dict(by_name))
        return contract

    return mark


def contract_inputs(contract: type) -> Mapping[str, Arg]:
    """The exploration inputs declared on ``contract`` and its bases, by name."""
    merged: dict[str, Arg] = {}
    for klass in reversed(contract.__mro__):
        merged.update(klass.__dict__.get(_INPUTS_ATTRIBUTE, {}))
    return merged
