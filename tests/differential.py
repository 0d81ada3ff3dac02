"""The differential tests' one helper: what a call did, as plain data both sides can match.

A differential test runs the same call on the legacy service and on the Core
service and asserts that the two :func:`outcome` values are equal:

* a result becomes plain data (:func:`normalize`): pydantic records dumped,
  tuples as lists, the named database-generated timestamps reduced to whether
  they are set (the two databases stamp different instants), named fields
  dropped;
* an error becomes ``("error", type name, details)``: for a service error its
  public attributes (``entity``/``key``, ``field``, ``rule``), for any other
  exception its message.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from pydantic import BaseModel

from imagegen.services.errors import ServiceError

__all__ = ["error_details", "normalize", "outcome"]


def normalize(value: Any, *, timestamps: Collection[str] = (), drop: Collection[str] = ()) -> Any:
    """``value`` as plain data: fields in ``timestamps`` as ``is not None``, ``drop`` removed."""
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, dict):
        return {
            key: (item is not None)
            if key in timestamps
            else normalize(item, timestamps=timestamps, drop=drop)
            for key, item in value.items()
            if key not in drop
        }
    if isinstance(value, list | tuple):
        return [normalize(item, timestamps=timestamps, drop=drop) for item in value]
    return value


def error_details(error: Exception) -> Any:
    """A service error's public attributes, or any other exception's message."""
    if isinstance(error, ServiceError):
        return {key: value for key, value in vars(error).items() if not key.startswith("_")}
    return str(error)


def outcome(
    call: Callable[..., Any],
    *args: Any,
    timestamps: Collection[str] = (),
    drop: Collection[str] = (),
) -> tuple[Any, ...]:
    """``("ok", normalized result)`` or ``("error", type name, details)`` of ``call(*args)``.

    Keyword arguments of the call go in with :func:`functools.partial`.
    """
    try:
        result = call(*args)
    except Exception as error:  # both sides must fail alike, whatever the exception
        return ("error", type(error).__name__, error_details(error))
    return ("ok", normalize(result, timestamps=timestamps, drop=drop))
