"""What a demo run tells whoever shows it: where /metrics is, and how far each stage got.

Apart from :mod:`imagegen.demo.run` so the command line imports it without
the runtime. :func:`~imagegen.demo.run.run_demo` calls a :class:`DemoProgress`
from the threads that do the work; ``shadow demo`` draws it with rich.
"""

from __future__ import annotations

import enum
from typing import Protocol

__all__ = ["DemoProgress", "Stage"]


class Stage(enum.StrEnum):
    """The stages of a demo run, in order."""

    REQUESTS = "requests"
    """The API traffic: ``done`` of ``total`` requests."""
    DRAIN = "mirror queue"
    """The mirror catching up after the traffic: ``done`` of the calls queued when it ended."""
    EXPLORATION = "exploration"
    """Generated call sequences, for a time budget (``total`` None: no count to show)."""
    AT_REST = "stores at rest"
    """Both stores compared table by table (``total`` None)."""


class DemoProgress(Protocol):
    """Told by a demo run as it goes; each method must return quickly."""

    def serving(self, url: str) -> None:
        """``/metrics`` is served at ``url`` (the port chosen, also for port 0)."""

    def step(self, stage: Stage, done: int, total: int | None) -> None:
        """``stage`` has done ``done`` of ``total`` units (``total`` None: unknown)."""
