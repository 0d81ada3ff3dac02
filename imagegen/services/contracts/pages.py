"""The three pagination shapes the services return (see docs/reference-app.md)."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

__all__ = ["CursorPage", "OffsetPage", "Page", "Record"]

T = TypeVar("T")


class Record(BaseModel):
    """Base of every record a service returns: immutable, typed, no extra fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


_PARAMETRIZED: dict[tuple[type, Any], Any] = {}
"""Every page class parametrized so far, by (generic class, parameters): kept alive."""


class _KeptPage(Record):
    """A generic page whose parametrized classes (``OffsetPage[Board]``) are built once.

    pydantic keeps parametrized classes in a weak cache, and the cycle collector
    frees them between calls, so ``OffsetPage[Board](...)`` in a service built a
    new pydantic class on most calls (1 to 2 ms each, profiled; docs/benchmarks.md,
    "Where the paced p50 goes"). Held here, each is built once per process;
    the keys are the contracts' record types, a fixed few.
    """

    def __class_getitem__(cls, params: Any) -> Any:
        key = (cls, params)
        try:
            return _PARAMETRIZED[key]
        except KeyError:
            parametrized = _PARAMETRIZED[key] = super().__class_getitem__(params)
            return parametrized


class OffsetPage(_KeptPage, Generic[T]):
    """``items`` from ``offset``, at most ``limit`` of them, out of ``total``."""

    items: list[T]
    offset: int
    limit: int
    total: int


class Page(_KeptPage, Generic[T]):
    """Page ``page`` (from 0) of ``pages``; ``per_page=None`` means all rows in one page."""

    page: int
    pages: int
    per_page: int | None
    total: int
    items: list[T]


class CursorPage(_KeptPage, Generic[T]):
    """At most ``limit`` items after the cursor; ``has_more`` says if a next page exists."""

    items: list[T]
    limit: int
    has_more: bool
