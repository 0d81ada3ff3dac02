"""Capture the nondeterminism of code you do not own, and replay it into the mirror.

The injected :class:`~shadow.IdSource` and :class:`~shadow.Clock` stay the
recommended path. An application that draws its own ids (``uuid.uuid4()`` in a
helper or a pydantic ``default_factory``) and its own "now" cannot use them
without code changes; for it, :func:`install` patches, once per process, the
module-level sources of such values:

* ``os.urandom`` -- behind ``uuid.uuid4``, the ``secrets`` module and
  ``random.SystemRandom``, however they were imported;
* ``uuid.uuid1``;
* ``time.time`` and ``time.time_ns``;
* ``datetime.now`` / ``utcnow`` / ``today`` and ``date.today`` where a module
  imported the class (``from datetime import datetime``): that name is rebound
  to a subclass that builds ordinary instances, accepts them in ``isinstance``
  and validates as ``datetime`` in pydantic. The ``datetime`` module's own
  attribute stays the real class, because pickle finds classes by name there;
  so ``datetime.datetime.now()`` spelled through the module is not captured;
* the ``random`` module's functions (its hidden instance's ``random`` and
  ``getrandbits``, which every other module function goes through).

The patched functions act only while a tape is active (:mod:`._tape`: during
an authoritative call, each value drawn is recorded; during its mirrored call,
the same values are replayed in the same order), through a context variable,
so calls on other threads and outside proxied calls pass straight through at
the cost of one context-variable read. Names bound before :func:`install`
(``from time import time``, ``from datetime import datetime``) are rebound in
every loaded module that holds the original object; a reference kept
elsewhere (a default argument, an attribute of an object) is not, and then
draws a fresh, unrecorded value: the comparison shows it.

Recorded values may be secrets (token bytes): they travel with the task to
the mirror and are never logged or stored.
"""

from __future__ import annotations

import datetime as _datetime
import os
import random
import sys
import threading
import time
import uuid
from collections.abc import Callable
from types import ModuleType
from typing import Any

from shadow.runtime._tape import draw

__all__ = ["install", "installed"]

_lock = threading.Lock()
_done = False

_real_urandom = os.urandom
_real_uuid1 = uuid.uuid1
_real_time = time.time
_real_time_ns = time.time_ns
_real_datetime = _datetime.datetime
_real_date = _datetime.date
_random_instance: random.Random = random._inst
_real_random = _random_instance.random
_real_getrandbits = _random_instance.getrandbits


def _urandom(size: int, /) -> bytes:
    return draw("os.urandom", lambda: _real_urandom(size))


def _uuid1(node: int | None = None, clock_seq: int | None = None) -> uuid.UUID:
    return draw("uuid.uuid1", lambda: _real_uuid1(node, clock_seq))


def _time() -> float:
    return draw("time.time", _real_time)


def _time_ns() -> int:
    return draw("time.time_ns", _real_time_ns)


def _random() -> float:
    return draw("random.random", _real_random)


def _getrandbits(k: int, /) -> int:
    return draw("random.getrandbits", lambda: _real_getrandbits(k))


class _RealInstances(type):
    """``isinstance(an ordinary datetime, the patched class)`` stays true."""

    _real: type

    def __instancecheck__(cls, instance: object) -> bool:
        return isinstance(instance, cls._real)

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, cls._real)


class _CapturedDatetime(_real_datetime, metaclass=_RealInstances):
    """``datetime.datetime`` whose clock readings go through the tape."""

    _real = _real_datetime

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        return _real_datetime(*args, **kwargs)  # instances stay ordinary datetimes

    @classmethod
    def __get_pydantic_core_schema__(cls, _source: Any, handler: Any) -> Any:
        # A model defined after install() annotates fields with this class.
        return handler.generate_schema(_real_datetime)

    @classmethod
    def now(cls, tz: _datetime.tzinfo | None = None) -> Any:
        return draw("datetime.now", lambda: _real_datetime.now(tz))

    @classmethod
    def utcnow(cls) -> Any:
        return draw("datetime.utcnow", _real_datetime.utcnow)

    @classmethod
    def today(cls) -> Any:
        return draw("datetime.today", _real_datetime.today)


class _CapturedDate(_real_date, metaclass=_RealInstances):
    """``datetime.date`` whose ``today`` goes through the tape."""

    _real = _real_date

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        return _real_date(*args, **kwargs)

    @classmethod
    def __get_pydantic_core_schema__(cls, _source: Any, handler: Any) -> Any:
        return handler.generate_schema(_real_date)

    @classmethod
    def today(cls) -> Any:
        return draw("date.today", _real_date.today)


_PATCHES: tuple[tuple[ModuleType, str, Callable[..., Any], Callable[..., Any]], ...] = (
    (os, "urandom", _real_urandom, _urandom),
    (uuid, "uuid1", _real_uuid1, _uuid1),
    (time, "time", _real_time, _time),
    (time, "time_ns", _real_time_ns, _time_ns),
    (random, "random", _real_random, _random),
    (random, "getrandbits", _real_getrandbits, _getrandbits),
)
"""(module, attribute, original, replacement): patched in the module and wherever bound."""

_REBOUND: tuple[tuple[Any, Any], ...] = (
    (_real_datetime, _CapturedDatetime),
    (_real_date, _CapturedDate),
)
"""(original, replacement): rebound only where another module holds the original."""

_KEEP = frozenset({"datetime", "_datetime", "_pydatetime", "pickle", "copyreg", __name__})
"""Modules whose names must keep the real objects (pickle looks classes up there)."""


def installed() -> bool:
    """True once :func:`install` has run in this process."""
    return _done


def install() -> None:
    """Patch the sources once per process (idempotent, thread-safe)."""
    global _done  # noqa: PLW0603 -- one process-wide switch, set once
    with _lock:
        if _done:
            return
        for module, attribute, _original, replacement in _PATCHES:
            setattr(module, attribute, replacement)
        # Every other module-level random function calls these through the instance.
        _random_instance.random = _random  # type: ignore[method-assign]
        _random_instance.getrandbits = _getrandbits  # type: ignore[method-assign]
        _rebind_loaded_modules()
        _done = True


def _rebind_loaded_modules() -> None:
    """Point names bound before install (``from time import time``) at the replacements."""
    pairs = [(original, replacement) for _, _, original, replacement in _PATCHES]
    pairs.extend(_REBOUND)
    replacements = {id(original): replacement for original, replacement in pairs}
    originals = {id(original): original for original, _ in pairs}
    for name, module in list(sys.modules.items()):
        if module is None or name in _KEEP:
            continue
        try:
            namespace = vars(module)
        except TypeError:
            continue
        for attribute, value in list(namespace.items()):
            key = id(value)
            # `is` against the kept original: an id may be reused by another object.
            if key in replacements and value is originals[key]:
                namespace[attribute] = replacements[key]
