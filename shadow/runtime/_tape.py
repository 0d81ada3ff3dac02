"""Record the ids and times an authoritative call draws; replay them into its mirror.

Both implementations of a service are built with a :class:`TapeIds` and a
:class:`TapeClock` wrapping the real sources. Outside a proxied call they pass
straight through. Around the authoritative call the proxy activates a
recording :class:`Tape` (a context variable, so concurrent calls on other
threads each have their own); around the mirrored call the worker activates
the same tape for replay, and the mirror receives exactly the values the
authoritative call drew, in the same order. Both stores therefore hold the
same uuids and the same Python-side timestamps, with no ignore rules.

A mirror that draws more values than were recorded gets fresh ones from its
own source (and the tape notes it): the resulting difference in ids then shows
up in the comparison, which is the truth about that candidate.

:func:`draw` is the same record-or-replay step for any other kind of value;
:mod:`shadow.runtime._capture` uses it for what code you do not own draws from
``uuid``, ``time``, ``datetime``, ``os.urandom`` and ``random``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from shadow._sources import Clock, IdSource

__all__ = [
    "Tape",
    "TapeClock",
    "TapeIds",
    "begin_recording",
    "draw",
    "end",
    "recording",
    "replaying",
]

T = TypeVar("T")


@dataclass(slots=True)
class Tape:
    """The values one authoritative call drew, in order, and a replay position."""

    # Ids may be secrets (invitation codes come from the id source): never in a repr.
    ids: list[str] = field(default_factory=list, repr=False)
    times: list[datetime] = field(default_factory=list, repr=False)
    replay: bool = False
    id_position: int = 0
    time_position: int = 0
    overdrawn: bool = False
    captured: dict[str, list[Any]] = field(default_factory=dict, repr=False)
    """Other values drawn during the call, by kind (see :func:`draw`); may hold secrets."""
    captured_positions: dict[str, int] = field(default_factory=dict)

    def for_replay(self) -> Tape:
        """A fresh replaying copy of this tape (positions at the start)."""
        return Tape(
            ids=list(self.ids),
            times=list(self.times),
            replay=True,
            captured={kind: list(values) for kind, values in self.captured.items()},
        )


_active: ContextVar[Tape | None] = ContextVar("shadow_tape", default=None)


def begin_recording() -> tuple[Tape, Token[Tape | None]]:
    """Start recording into a new tape; pass the token to :func:`end` (the hot-path form)."""
    tape = Tape()
    return tape, _active.set(tape)


def end(token: Token[Tape | None]) -> None:
    """Stop the recording or replay that ``token`` started."""
    _active.reset(token)


@contextmanager
def recording() -> Iterator[Tape]:
    """Record every value drawn from tape sources in this context into a new tape."""
    tape = Tape()
    token = _active.set(tape)
    try:
        yield tape
    finally:
        _active.reset(token)


@contextmanager
def replaying(tape: Tape) -> Iterator[Tape]:
    """Serve values drawn from tape sources in this context from ``tape``."""
    replay = tape.for_replay()
    token = _active.set(replay)
    try:
        yield replay
    finally:
        _active.reset(token)


def draw(kind: str, produce: Callable[[], T]) -> T:
    """``produce()`` outside a tape; recorded under ``kind`` while recording; replayed after.

    Values of each kind replay in the order they were recorded. A replay that
    asks for more than was recorded gets a fresh value and marks the tape
    overdrawn, as the id and clock sources do.
    """
    tape = _active.get()
    if tape is None:
        return produce()
    values = tape.captured.setdefault(kind, [])
    if tape.replay:
        position = tape.captured_positions.get(kind, 0)
        if position < len(values):
            tape.captured_positions[kind] = position + 1
            replayed: T = values[position]
            return replayed
        tape.overdrawn = True
        return produce()
    value = produce()
    values.append(value)
    return value


class TapeIds:
    """An :class:`IdSource` that records or replays through the active tape."""

    def __init__(self, inner: IdSource) -> None:
        self._inner = inner

    def new_id(self) -> str:
        tape = _active.get()
        if tape is None:
            return self._inner.new_id()
        if tape.replay:
            if tape.id_position < len(tape.ids):
                value = tape.ids[tape.id_position]
                tape.id_position += 1
                return value
            tape.overdrawn = True
            return self._inner.new_id()
        value = self._inner.new_id()
        tape.ids.append(value)
        return value


class TapeClock:
    """A :class:`Clock` that records or replays through the active tape."""

    def __init__(self, inner: Clock) -> None:
        self._inner = inner

    def now(self) -> datetime:
        tape = _active.get()
        if tape is None:
            return self._inner.now()
        if tape.replay:
            if tape.time_position < len(tape.times):
                value = tape.times[tape.time_position]
                tape.time_position += 1
                return value
            tape.overdrawn = True
            return self._inner.now()
        value = self._inner.now()
        tape.times.append(value)
        return value
