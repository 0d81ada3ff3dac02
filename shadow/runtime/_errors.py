"""Explain an exception for a stored example: its type, its message, its innermost frames.

A one-sided error (the candidate raised where legacy did not, or the reverse)
is only useful to review if the example says *why*: the type alone sends the
reader off to reproduce it by hand. The message, though, is free text, and
exceptions quote what they were given (a duplicate key's value, a SQL
statement's parameters, a connection URL), so it is redacted before it is
kept, like everything else the runtime stores:

* every value the call was given under a sensitive name (a password, a token,
  a declared ``email``...) is replaced wherever it appears in the text;
* ``name=value`` / ``name: value`` pairs whose name is sensitive
  (:func:`~shadow.runtime._compare.is_sensitive`) lose their value;
* SQLAlchemy's ``[parameters: ...]`` section and a URL's password go entirely.

The frames are the innermost few of the traceback (where the implementation
failed), as ``file:line in function`` and the source line; locals are never
read.
"""

from __future__ import annotations

import os
import re
import sys
import traceback
from collections.abc import Iterable, Mapping
from typing import Any

from shadow.runtime._compare import REDACTED, SECRET_NAME_PARTS, is_sensitive, normalize

__all__ = ["explain_error", "named_arguments", "redact_text", "secret_values"]

FRAMES = 3
"""How many of the innermost traceback frames an example keeps."""
_MESSAGE_CHARS = 500

_PARAMETERS = re.compile(r"\[parameters: .*?\](?=\s*(?:\(Background|$))", re.DOTALL)
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")
_VALUE = rf"""({re.escape(REDACTED)}|'[^']*'|"[^"]*"|[^\s,;)\]}}]+)"""


def named_arguments(
    parameters: tuple[str, ...], args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """A call's arguments by parameter name (``argN`` past the declared ones)."""
    named: dict[str, Any] = {}
    for index, value in enumerate(args):
        name = parameters[index] if index < len(parameters) else f"arg{index}"
        named[name] = value
    named.update(kwargs)
    return named


def secret_values(arguments: Mapping[str, Any], sensitive: frozenset[str]) -> tuple[str, ...]:
    """The text of every value in ``arguments`` that sits under a sensitive name."""
    found: set[str] = set()

    def collect(value: Any, hidden: bool) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                collect(item, hidden or is_sensitive(str(key), sensitive))
        elif isinstance(value, list):
            for item in value:
                collect(item, hidden)
        elif hidden and value is not None and not isinstance(value, bool):
            text = str(value)
            if text:
                found.add(text)

    try:
        collect(normalize(dict(arguments)), False)
    except Exception:  # an argument normalize cannot walk: its name rule still applies
        for name, value in arguments.items():
            if is_sensitive(name, sensitive):
                found.add(str(value))
    # Longest first, so a value containing another is replaced whole.
    return tuple(sorted(found, key=len, reverse=True))


def redact_text(text: str, secrets: Iterable[str], sensitive: frozenset[str]) -> str:
    """``text`` with the ``secrets``, sensitive ``name=value`` pairs and SQL parameters hidden."""
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    text = _PARAMETERS.sub(f"[parameters: {REDACTED}]", text)
    text = _URL_PASSWORD.sub(rf"\g<1>{REDACTED}@", text)
    names = "|".join(
        [rf"\w*(?:{'|'.join(SECRET_NAME_PARTS)})\w*"]
        + [re.escape(name) for name in sorted(sensitive) if re.fullmatch(r"\w+", name)]
    )
    pairs = re.compile(rf"""(?i)(\b['"]?(?:{names})['"]?\s*[=:]\s*){_VALUE}""")
    return pairs.sub(lambda match: match.group(1) + REDACTED, text)


def explain_error(
    error: BaseException, secrets: Iterable[str], sensitive: frozenset[str]
) -> dict[str, Any]:
    """``error`` as plain, redacted data: ``type``, ``message`` and ``frames``."""
    hidden = tuple(secrets)
    kind = type(error)
    message = redact_text(str(error), hidden, sensitive)
    if len(message) > _MESSAGE_CHARS:
        message = message[:_MESSAGE_CHARS] + "..."
    frames = [
        f"{_short(frame.filename)}:{frame.lineno} in {frame.name}: "
        + redact_text((frame.line or "").strip(), hidden, sensitive)
        for frame in traceback.extract_tb(error.__traceback__)[-FRAMES:]
    ]
    return {
        "type": f"{kind.__module__}.{kind.__qualname__}",
        "message": message,
        "frames": frames,
    }


def _short(filename: str) -> str:
    """``filename`` relative to the import path entry it was found under."""
    for entry in sorted((path for path in sys.path if path), key=len, reverse=True):
        prefix = entry.rstrip(os.sep) + os.sep
        if filename.startswith(prefix):
            return filename[len(prefix) :]
    return filename
