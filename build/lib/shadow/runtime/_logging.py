"""A JSON structlog logger for the runtime, without touching structlog's global config.

The runtime logs through the logger it is given (``Runtime(logger=...)``), by
default ``structlog.get_logger("shadow.runtime")``, which follows whatever the
application configured. :func:`json_logger` builds a standalone one that
writes one JSON object per line, for applications that have no structlog
configuration of their own. What the runtime logs never holds a sensitive
value: divergence lines carry the service, method, fingerprint and differing
paths only.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

import structlog

__all__ = ["json_logger"]


def json_logger(stream: TextIO | None = None) -> Any:
    """A structlog logger writing JSON lines (level, UTC timestamp, event, fields) to ``stream``.

    ``stream`` defaults to standard error.
    """
    return structlog.wrap_logger(
        structlog.PrintLogger(stream if stream is not None else sys.stderr),
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(sort_keys=True),
        ],
    )
