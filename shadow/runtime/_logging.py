"""Where the runtime's log lines go: structlog if the application configured it, else stdlib.

The runtime logs through the logger it is given (``Runtime(logger=...)``), by
default :data:`runtime_logger`, which decides at every call:

* the application called ``structlog.configure(...)``: the line goes through
  that configuration (``structlog.get_logger("shadow.runtime")``);
* it did not (it configures only :mod:`logging`, or nothing): the line goes to
  the stdlib logger ``shadow.runtime``, so its handlers, formatters, levels
  and filters apply. The record's message is ``event key=value ...``
  (logfmt, sorted keys) for plain formatters, and every field is also a
  record attribute (``record.service``, ``record.event``...) for structured
  formatters: structlog's ``ProcessorFormatter`` with
  ``foreign_pre_chain=[structlog.stdlib.ExtraAdder()]`` gets the bare event
  name and the fields back as an event dict. A field whose name a LogRecord
  already uses (``name``, ``args``, ``module``...) is stored as
  ``shadow_<name>``.

With no configuration at all, stdlib's last-resort handler prints warnings and
errors to standard error, as for any library. :func:`json_logger` builds a
standalone logger writing one JSON object per line, for applications that
want the runtime's lines apart. What the runtime logs never holds a sensitive
value: divergence lines carry the service, method, fingerprint and differing
paths only.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

__all__ = ["json_logger", "runtime_logger", "stdlib_logger"]

LOGGER_NAME = "shadow.runtime"

# Attributes every LogRecord has (plus the two Formatter adds): an `extra` key among them
# makes logging raise KeyError, so such a field is renamed.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_LOGFMT = structlog.processors.LogfmtRenderer(sort_keys=True)


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


def _to_log_record(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> dict[str, Any]:
    """The keyword arguments of the stdlib call: message, ``extra`` fields, exc_info."""
    kwargs: dict[str, Any] = {}
    for key in ("exc_info", "stack_info"):
        if key in event_dict:
            kwargs[key] = event_dict.pop(key)
    event = str(event_dict.pop("event", ""))
    fields = dict(event_dict)
    message = f"{event} {_LOGFMT(_logger, _method, fields)}" if fields else event
    extra = {"event": event}
    for key, value in fields.items():
        extra[f"shadow_{key}" if key in _RECORD_ATTRIBUTES else key] = value
    return {"msg": message, "extra": extra, **kwargs}


def stdlib_logger(name: str = LOGGER_NAME) -> Any:
    """A structlog logger handing every line to the stdlib logger ``name`` (see the module)."""
    return structlog.wrap_logger(
        logging.getLogger(name),
        processors=[structlog.stdlib.filter_by_level, _to_log_record],
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


class _RuntimeLogger:
    """Chooses per call, so an application may configure structlog after importing shadow."""

    def __init__(self) -> None:
        self._structlog = structlog.get_logger(LOGGER_NAME)
        self._stdlib = stdlib_logger(LOGGER_NAME)

    def __getattr__(self, name: str) -> Any:
        chosen = self._structlog if structlog.is_configured() else self._stdlib
        return getattr(chosen, name)


runtime_logger: Any = _RuntimeLogger()
"""The runtime's default logger: structlog's configuration if there is one, else stdlib."""
