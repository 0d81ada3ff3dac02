"""The three pagination shapes the services return (see docs/reference-app.md)."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict

__all__ = ["CursorPage", "OffsetPage", "Page", "Record"]

T = TypeVar("T")


class Record(BaseModel):
    """Base of every record a service returns: immutable, typed, no extra fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class OffsetPage(Record, Generic[T]):
    """``items`` from ``offset``, at most ``limit`` of them, out of ``total``."""

    items: list[T]
    offset: int
    limit: int
    total: int


class Page(Record, Generic[T]):
    """Page ``page`` (from 0) of ``pages``; ``per_page=None`` means all rows in one page."""

    page: int
    pages: int
    per_page: int | None
    total: int
    items: list[T]


class CursorPage(Record, Generic[T]):
    """At most ``limit`` items after the cursor; ``has_more`` says if a next page exists."""

    items: list[T]
    limit: int
    has_more: bool
