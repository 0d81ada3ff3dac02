"""Side factories that misbehave on purpose: the fault suite's (``tests.faults.fault_factories``).

Each builds the real reference services (:mod:`imagegen.demo.wiring`) and
wraps them so that one service misbehaves the way a scenario asks:

``raise``      every call of ``service`` raises ``CandidateBroken``;
``random``     each call of ``service`` raises with probability ``probability``
               (a seeded generator: the same calls fail on every run);
``hang``       every write of ``service`` sleeps 8 s, far past the suite's 2 s deadline;
``slow``       every write of ``service`` sleeps ``seconds`` (to be caught in flight);
``legacy``     (for the legacy side) every third ``boards.save`` raises ``LegacyRefused``.

Faults that live in the database rather than in the code are set on the
candidate's engine: ``readonly`` (``PRAGMA query_only``: SQLite then answers
writes as it does for a read-only file, "attempt to write a readonly
database"; file modes do not stop root, which the suite may run as) and
``disk_full`` (``PRAGMA max_page_count`` held at the file's current size:
SQLite answers a write that needs a new page "database or disk is full", as
on a full disk; no small tmpfs is available to fill for real).

A fault is active only while the file ``switch`` exists (when given), so a
scenario can turn it on in the middle of its workload.
"""

from __future__ import annotations

import os
import random
import time
from typing import Any

import sqlalchemy as sa

from imagegen.db.engine import create_engine
from imagegen.demo.wiring import DEMO_PASSWORD_COST, SERVICES, build_legacy
from imagegen.services.core.group_commit import CoreServices
from imagegen.services.passwords import PasswordHasher
from shadow import Clock, IdSource
from shadow._contract import contract_methods


class CandidateBroken(RuntimeError):
    """What a planted candidate fault raises."""


class LegacyRefused(ValueError):
    """What the planted legacy fault raises (the caller must get exactly this)."""


class _Faulty:
    """Wraps one service implementation; misbehaves while the switch is on."""

    def __init__(self, inner: Any, contract: type, fault: str, options: dict[str, Any]) -> None:
        self._inner = inner
        self._writes = {
            name for name, spec in contract_methods(contract).items() if spec.kind.mutates
        }
        self._fault = fault
        self._switch = options.get("switch")
        self._probability = float(options.get("probability", 0.3))
        self._seconds = float(options.get("seconds", 1.0))
        self._random = random.Random(int(options.get("seed", 15)))
        self._saves = 0

    def _active(self) -> bool:
        return self._switch is None or os.path.exists(self._switch)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._inner, name)
        if not callable(method):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            if self._active():
                self._misbehave(name)
            return method(*args, **kwargs)

        return call

    def _misbehave(self, name: str) -> None:
        fault = self._fault
        if fault == "raise":
            raise CandidateBroken(f"planted fault in {name}")
        if fault == "random" and self._random.random() < self._probability:
            raise CandidateBroken(f"planted random fault in {name}")
        if fault == "hang" and name in self._writes:
            time.sleep(8)
        if fault == "slow" and name in self._writes:
            time.sleep(self._seconds)
        if fault == "legacy" and name == "save":
            self._saves += 1
            if self._saves % 3 == 0:
                raise LegacyRefused("board name refused by the legacy side")


def _pragma_faults(engine: sa.Engine, options: dict[str, Any]) -> None:
    readonly = bool(options.get("readonly"))
    disk_full = bool(options.get("disk_full"))
    if not (readonly or disk_full):
        return

    @sa.event.listens_for(engine, "connect")
    def _limit(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            if readonly:
                cursor.execute("PRAGMA query_only = ON")
            if disk_full:
                (pages,) = cursor.execute("PRAGMA page_count").fetchone()
                cursor.execute(f"PRAGMA max_page_count = {int(pages)}")
        finally:
            cursor.close()


def _wrap(services: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    fault = options.get("fault")
    target = options.get("service")
    if fault is None:
        return services
    contracts = {wiring.name: wiring.contract for wiring in SERVICES}
    return {
        name: _Faulty(impl, contracts[name], fault, options) if name == target else impl
        for name, impl in services.items()
    }


def build_candidate(*, ids: IdSource, clock: Clock, url: str, **options: Any) -> CoreServices:
    """The reference SQLModel services over ``url``, with the fault ``options`` describe.

    Returned as :class:`CoreServices`, as the demo's own candidate is: the mirror's
    shutdown then disposes of the engine's pool (a thread worker's PostgreSQL
    connections otherwise wait for garbage collection and warn in a later test).
    """
    engine = create_engine(url, must_exist=True)
    _pragma_faults(engine, options)
    built: dict[str, Any] = {}
    for wiring in SERVICES:
        extra: dict[str, Any] = {}
        if "passwords" in wiring.options:
            extra["passwords"] = PasswordHasher(DEMO_PASSWORD_COST)
        if "max_queue_size" in wiring.options:
            extra["max_queue_size"] = 10_000
        built[wiring.name] = wiring.candidate(engine, ids=ids, clock=clock, **extra)
    return CoreServices(_wrap(built, options), engine)


def build_faulty_legacy(
    *, ids: IdSource, clock: Clock, path: str, **options: Any
) -> dict[str, Any]:
    """The reference legacy services over ``path``, with the fault ``options`` describe."""
    return _wrap(build_legacy(ids=ids, clock=clock, path=path), options)
