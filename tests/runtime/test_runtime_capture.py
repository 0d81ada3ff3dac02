"""Captured nondeterminism: what code you do not own draws is replayed into the mirror.

``install()`` patches process-wide sources, so every scenario runs in a fresh
interpreter: this test process stays unpatched.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

APP = '''
import asyncio
import random
import secrets
import time
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from shadow import read, write


class Things(ABC):
    @write()
    @abstractmethod
    def make(self, name: str) -> dict[str, Any]: ...

    @read()
    @abstractmethod
    def get(self, thing_id: str) -> dict[str, Any] | None: ...

    @write()
    @abstractmethod
    async def make_later(self, name: str) -> dict[str, Any]: ...


class MemoryThings(Things):
    """Draws its own id, time, randomness and token: no injected sources."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    def make(self, name: str) -> dict[str, Any]:
        row = {
            "id": str(uuid4()),
            "name": name,
            "at": datetime.now(UTC),
            "t": time.time(),
            "ns": time.time_ns(),
            "r": random.randint(0, 10**9),
            "f": random.random(),
            "token": secrets.token_hex(8),
        }
        self.rows[row["id"]] = row
        return row

    def get(self, thing_id: str) -> dict[str, Any] | None:
        return self.rows.get(thing_id)

    async def make_later(self, name: str) -> dict[str, Any]:
        await asyncio.sleep(0)  # draws after an await: the tape follows the task
        return self.make(name)


def build(*, ids: Any, clock: Any) -> dict[str, Any]:
    return {"things": MemoryThings()}
'''

SCENARIO = """
import asyncio, json, sys
sys.path.insert(0, sys.argv[1])
from prometheus_client import CollectorRegistry
from shadow import Runtime, ServiceSettings, ShadowSettings, SideFactory
from shadow.testing import capture_comparisons
import capapp

runtime = Runtime(
    ShadowSettings(
        worker=sys.argv[2],
        capture_nondeterminism=sys.argv[3] == "on",
        services={"things": ServiceSettings(mode="shadow")},
        store_url="sqlite:///" + sys.argv[1] + "/store.db",
    ),
    legacy=SideFactory("capapp:build"),
    candidate=SideFactory("capapp:build"),
    registry=CollectorRegistry(),
)
things = runtime.proxy(capapp.Things, "things")
with capture_comparisons(runtime) as seen:
    first = things.make("a")
    things.make("b")
    things.get(first["id"])
    asyncio.run(things.make_later("c"))
    runtime.flush()
runtime.close()
print(json.dumps(sorted([o.method, o.outcome.value] for o in seen)))
"""


def _run(tmp_path: Path, script: str, *args: str) -> str:
    (tmp_path / "capapp.py").write_text(textwrap.dedent(APP))
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.parametrize("worker", ["inline", "thread", "process"])
def test_with_capture_an_app_drawing_its_own_values_compares_equal(
    tmp_path: Path, worker: str
) -> None:
    """uuid4, datetime.now, time, random and secrets drawn by the app replay into the mirror,
    in an async method too (drawn after an await, replayed in the worker's event loop)."""
    outcomes = json.loads(_run(tmp_path, SCENARIO, worker, "on").splitlines()[-1])
    assert outcomes == [
        ["get", "match"],
        ["make", "match"],
        ["make", "match"],
        ["make_later", "match"],
    ]


def test_without_capture_the_same_app_diverges(tmp_path: Path) -> None:
    """The control: the two sides draw different ids and times, so every write diverges."""
    outcomes = json.loads(_run(tmp_path, SCENARIO, "inline", "off").splitlines()[-1])
    assert ["make", "divergence"] in outcomes and ["make_later", "divergence"] in outcomes
    assert ["make", "match"] not in outcomes


SAFETY = """
import sys
sys.path.insert(0, sys.argv[1])
import pickle, threading, time, uuid
from datetime import UTC, datetime
import datetime as datetime_module
from pydantic import BaseModel
from shadow.runtime import _capture
from shadow.runtime._tape import recording, replaying

_capture.install()
_capture.install()  # idempotent

# Names bound before install are rebound; the module's own class stays real.
assert datetime is not datetime_module.datetime
assert datetime_module.datetime.__name__ == "datetime"
moment = datetime(2026, 1, 2, tzinfo=UTC)
assert type(moment) is datetime_module.datetime and isinstance(moment, datetime)
assert pickle.loads(pickle.dumps(moment)) == moment

class Model(BaseModel):  # defined after install: annotated with the rebound class
    at: datetime

assert Model(at="2026-01-02T00:00:00Z").at == moment

# Outside a tape: ordinary, fresh values.
assert uuid.uuid4() != uuid.uuid4()

with recording() as tape:
    a, t = uuid.uuid4(), time.time()
    other: list[float] = []
    thread = threading.Thread(target=lambda: other.append(time.time()))
    thread.start(); thread.join()
    now = datetime.now(UTC)
assert len(tape.captured["time.time"]) == 1  # the other thread's read was not recorded
with replaying(tape) as replay:
    assert uuid.uuid4() == a and time.time() == t and datetime.now(UTC) == now
    assert not replay.overdrawn
    uuid.uuid4()  # more than was recorded: a fresh value, and the tape says so
    assert replay.overdrawn

# Task-safe: two tasks recording at once, each drawing across an await, keep their own tapes.
import asyncio

async def draws() -> tuple[object, list[uuid.UUID]]:
    with recording() as tape:
        drawn = [uuid.uuid4()]
        await asyncio.sleep(0)  # the other task draws here
        drawn.append(uuid.uuid4())
    return tape, drawn

async def replays(tape: object) -> list[uuid.UUID]:
    with replaying(tape):
        drawn = [uuid.uuid4()]
        await asyncio.sleep(0)
        drawn.append(uuid.uuid4())
    return drawn

async def both() -> None:
    (tape_a, drawn_a), (tape_b, drawn_b) = await asyncio.gather(draws(), draws())
    # uuid4 draws its bytes from os.urandom: that is what the tape records.
    assert len(tape_a.captured["os.urandom"]) == len(tape_b.captured["os.urandom"]) == 2
    assert await asyncio.gather(replays(tape_b), replays(tape_a)) == [drawn_b, drawn_a]

asyncio.run(both())
print("ok")
"""


def test_install_is_safe_for_pickle_pydantic_threads_and_unrecorded_code(tmp_path: Path) -> None:
    """Patching keeps datetimes picklable and validatable, acts only inside a tape, and keeps
    each thread's and each task's tape its own."""
    assert _run(tmp_path, SAFETY).strip() == "ok"
