"""Hypothesis strategies for a contract method's arguments.

Each argument's values come from three sources, in the order hypothesis
shrinks towards (``one_of`` shrinks to its first branch): the pool of values
earlier calls produced (ids that exist, or were deleted; the latest often),
the examples the contract declared for that name (its domain's edge
classes), and values derived from the annotation. The type-derived values lean to edges too:
strings mix the generic boundary set (empty, spaces around, case variants,
non-ASCII, the LIKE metacharacters ``%`` ``_`` ``\\``) with arbitrary text;
integers mix 0, 1, -1 and page-ish sizes with small ranges; datetimes are
aware, near "now", in zones other than UTC.

Pydantic records are drawn field by field (a field's declared :class:`Arg`
applies as for an argument); optional fields are sometimes left out, and a
combination the record's own validators refuse is filtered out rather than
passed: an argument that cannot be built cannot be sent by a caller either.
"""

from __future__ import annotations

import enum
import inspect
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from shadow._inputs import Arg

__all__ = ["EDGE_STRINGS", "EXPLORE_ZONES", "PoolView", "argument_strategy", "method_arguments"]

EDGE_STRINGS: tuple[str, ...] = (
    "",
    "a",
    "A",
    " a",
    "a ",
    "Aa",
    "aA",
    "%",
    "_",
    "\\",
    "a%",
    "a_",
    "a\\",
    "/",
    "'",
    "é",
    "É",
    "ß",
    "İ",
    "ǅ",
    "\u00a0",
    "😀",
    "null",
)
"""Generic boundary strings: every string argument draws from these besides arbitrary text."""

EDGE_INTS: tuple[int, ...] = (0, 1, -1, 2, 3, 10, 100)

EXPLORE_ZONES: tuple[timezone, ...] = (
    timezone(timedelta(hours=-3, minutes=-30)),
    timezone(timedelta(hours=5, minutes=45)),
    timezone(timedelta(hours=14)),
    UTC,
)
"""Time zones of drawn datetimes: none of the first three is UTC or a whole-hour-safe shift."""

_JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(EDGE_STRINGS), st.text(max_size=6)
)
_JSON_VALUES = st.recursive(
    _JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(("a", "b", "prompt", "A")), inner, max_size=3),
    ),
    max_leaves=6,
)

_INVALID = object()


class PoolView(typing.Protocol):
    """What the strategies need of the pools: their current values, by pool name."""

    def values(self, pool: str) -> Sequence[Any]:
        """The values collected so far in ``pool`` (most recent last)."""
        ...


def _near_now() -> st.SearchStrategy[datetime]:
    offsets = st.one_of(
        st.sampled_from((0, -1, 1, -3600, 3600, -86_400 * 8, 86_400 * 8)),
        st.integers(-86_400 * 30, 86_400 * 30),
    )
    return st.builds(
        lambda seconds, zone: (datetime.now(UTC) + timedelta(seconds=seconds)).astimezone(zone),
        offsets,
        st.sampled_from(EXPLORE_ZONES),
    )


def _strings() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(EDGE_STRINGS), st.text(max_size=12))


def _record(
    model: type[BaseModel], inputs: Mapping[str, Arg], pools: PoolView
) -> st.SearchStrategy[Any]:
    required: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for name, info in model.model_fields.items():
        strategy = argument_strategy(name, info.annotation, inputs, pools)
        (required if info.is_required() else optional)[name] = strategy

    def build(fields: dict[str, Any]) -> Any:
        try:
            return model.model_validate(fields)
        except ValidationError:
            return _INVALID

    return st.fixed_dictionaries(required, optional=optional).map(build).filter(_valid)


def _valid(value: Any) -> bool:
    return value is not _INVALID


def type_strategy(
    annotation: Any, inputs: Mapping[str, Arg], pools: PoolView
) -> st.SearchStrategy[Any]:
    """Values of ``annotation`` (leaning to edge values), for names with no declaration."""
    if annotation is None or annotation is type(None):
        return st.none()
    if annotation is Any or annotation is inspect.Parameter.empty:
        return _JSON_VALUES
    if getattr(annotation, "__name__", None) == "JsonValue":  # pydantic's JSON alias
        return _JSON_VALUES
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return st.one_of(*(type_strategy(item, inputs, pools) for item in arguments))
    if origin is typing.Literal:
        return st.sampled_from(arguments)
    if origin in (list, Sequence, set, frozenset, typing.Sequence):
        item = type_strategy(arguments[0] if arguments else Any, inputs, pools)
        drawn = st.lists(item, max_size=4)
        return drawn.map(set) if origin in (set, frozenset) else drawn
    if origin is tuple:
        if len(arguments) == 2 and arguments[1] is Ellipsis:
            return st.lists(type_strategy(arguments[0], inputs, pools), max_size=3).map(tuple)
        return st.tuples(*(type_strategy(item, inputs, pools) for item in arguments))
    if origin in (dict, Mapping, typing.Mapping):
        return st.dictionaries(st.sampled_from(("a", "b", "A", "prompt")), _JSON_VALUES, max_size=3)
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return st.deferred(lambda: _record(annotation, inputs, pools))
        if issubclass(annotation, enum.Enum):
            return st.sampled_from(list(annotation))
        if annotation is bool:
            return st.booleans()
        if annotation is int:
            return st.one_of(st.sampled_from(EDGE_INTS), st.integers(-2, 1000))
        if annotation is float:
            return st.floats(-1e6, 1e6, allow_nan=False)
        if annotation is str:
            return _strings()
        if annotation is datetime:
            return _near_now()
    return st.from_type(annotation)


def argument_strategy(
    name: str, annotation: Any, inputs: Mapping[str, Arg], pools: PoolView
) -> st.SearchStrategy[Any]:
    """Values for the argument (or record field) ``name`` of type ``annotation``."""
    declared = inputs.get(name)
    if declared is None:
        return type_strategy(annotation, inputs, pools)
    element = _list_element(annotation)
    if element is not None and declared.pool is not None:
        # A list of ids (``item_ids``): the declaration is about its items.
        return st.lists(_declared(declared, element, inputs, pools), max_size=4)
    return _declared(declared, annotation, inputs, pools)


def _list_element(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (list, Sequence, typing.Sequence):
        arguments = typing.get_args(annotation)
        return arguments[0] if arguments else Any
    return None


def _declared(
    declared: Arg, annotation: Any, inputs: Mapping[str, Arg], pools: PoolView
) -> st.SearchStrategy[Any]:
    branches: list[st.SearchStrategy[Any]] = []
    if declared.examples:
        branches.append(st.sampled_from(declared.examples))
    if declared.strategy is not None:
        branches.append(declared.strategy())
    elif not declared.only or not branches:
        branches.append(type_strategy(annotation, inputs, pools))
    fallback = st.one_of(*branches)
    if declared.pool is None:
        return fallback
    pool = declared.pool
    drawn_from_pool = st.just(pool).flatmap(lambda name: _from_pool(pools, name, fallback))
    # Two draws in three from the pool: most bugs sit on values that exist
    # (a record with its optional fields set), the declared edges are few.
    return st.one_of(drawn_from_pool, drawn_from_pool, fallback)


def _from_pool(
    pools: PoolView, pool: str, fallback: st.SearchStrategy[Any]
) -> st.SearchStrategy[Any]:
    # Looked up when drawn, so a value a call produced a moment ago can be used.
    values = pools.values(pool)
    if not values:
        return fallback
    # One draw in three is the value produced last: a call sequence that makes
    # something and then uses it (a password set, then a login with it and the
    # email the update returned) is what most bugs need, and picking both by
    # chance among dozens of values almost never happens.
    every = st.sampled_from(list(values))
    existing = st.one_of(every, every, st.just(values[-1]))
    if not any(isinstance(value, str) for value in values):
        return existing
    # Variants of an existing string (case, spaces around): the value a caller
    # types that a layer normalises, or does not. Shrinks to the value itself.
    return st.tuples(existing, st.sampled_from(_VARIANTS)).map(_vary)


_VARIANTS: tuple[str, ...] = ("same",) * 8 + ("upper", "title", "space before", "space after")
"""How a drawn pool string is varied: two times in three not at all (ids must still exist)."""


def _vary(drawn: tuple[Any, str]) -> Any:
    value, variant = drawn
    if not isinstance(value, str) or variant == "same":
        return value
    return {
        "upper": value.upper(),
        "title": value.title(),
        "space before": f" {value}",
        "space after": f"{value} ",
    }[variant]


def method_arguments(
    function: Callable[..., Any], inputs: Mapping[str, Arg], pools: PoolView
) -> list[tuple[str, Any, bool, st.SearchStrategy[Any]]]:
    """``(name, annotation, has_default, strategy)`` for each parameter of ``function``."""
    hints = typing.get_type_hints(function)
    found = []
    for name, parameter in inspect.signature(function).parameters.items():
        if name == "self" or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        annotation = hints.get(name, Any)
        has_default = parameter.default is not inspect.Parameter.empty
        found.append(
            (name, annotation, has_default, argument_strategy(name, annotation, inputs, pools))
        )
    return found
