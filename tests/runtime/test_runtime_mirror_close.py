"""The mirror engine closes what it built: each implementation once, a failing close logged."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from shadow import Clock, IdSource, write
from shadow.runtime import Side, SideFactory
from shadow.runtime._worker import MirrorEngine


class _Closing:
    def __init__(self, closed: list[str], name: str, *, fails: bool = False) -> None:
        self._closed, self._name, self._fails = closed, name, fails

    def close(self) -> None:
        self._closed.append(self._name)
        if self._fails:
            raise OSError("disk gone")


class _Account:
    """A service whose contract has its own ``close``: an operation, not a shutdown hook."""

    def __init__(self, calls: list[str]) -> None:
        self._calls = calls

    @write()
    def close(self) -> None:
        self._calls.append("account closed")


def test_each_built_implementation_is_closed_once_and_a_failing_close_spares_the_rest() -> None:
    closed: list[str] = []
    shared = _Closing(closed, "shared")

    def build(*, ids: IdSource, clock: Clock) -> Mapping[str, Any]:
        return {
            "broken": _Closing(closed, "broken", fails=True),
            "boards": shared,
            "board_images": shared,  # one object behind two services: closed once
            "plain": object(),  # nothing to close
            "accounts": _Account(closed),  # its close() is a contract method: never called
        }

    engine = MirrorEngine({Side.CANDIDATE: SideFactory(build)})
    assert engine.prepare(Side.CANDIDATE) is None
    with structlog.testing.capture_logs() as logs:
        engine.close()
    assert sorted(closed) == ["broken", "shared"]
    assert [(line["event"], line["service"], line["error"]) for line in logs] == [
        ("shadow_mirror_close_failed", "broken", "OSError")
    ]
    assert "disk gone" not in str(logs)  # the type only: a message may hold a secret


class _OwningMapping(dict[str, Any]):
    """A built side that owns what its services share (as an engine's pool)."""

    def __init__(self, services: Mapping[str, Any], closed: list[str]) -> None:
        super().__init__(services)
        self._closed = closed

    def close(self) -> None:
        self._closed.append("the side")


def test_the_built_mapping_is_closed_after_its_implementations() -> None:
    closed: list[str] = []

    def build(*, ids: IdSource, clock: Clock) -> Mapping[str, Any]:
        return _OwningMapping({"boards": _Closing(closed, "boards")}, closed)

    engine = MirrorEngine({Side.CANDIDATE: SideFactory(build)})
    assert engine.prepare(Side.CANDIDATE) is None
    engine.close()
    assert closed == ["boards", "the side"]
