"""The dispatcher's codec (:class:`Wire`): what a task's result becomes on its way to the worker."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from shadow._contract import Compare, Kind
from shadow._vocabulary import Side
from shadow.runtime import _observation
from shadow.runtime._observation import UNPICKLABLE, MethodPlan, Task, Wire
from shadow.runtime._tape import Tape

_PLAN = MethodPlan("queue", "dequeue", Kind.WRITE, Compare(), ())


def _task(result: object) -> Task:
    return Task(
        seq=7,
        plan=_PLAN,
        mirror=Side.CANDIDATE,
        payload=b"",
        result=result,
        error_type=None,
        tape=Tape(),
        started_at=0.0,
        authoritative_seconds=0.0,
    )


def _round_trip(task: Task) -> object:
    new_plans, blobs = Wire().encode([task])
    (decoded,) = Wire().decode(new_plans, blobs)
    assert isinstance(decoded, Task)
    return decoded.result


def test_a_picklable_result_goes_as_it_is_without_being_normalized(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Normalizing walks the whole result holding the caller process's GIL (a 20 KB
    session: most of the dispatcher's encoding time); it is for results pickle refuses."""
    walked: list[object] = []

    def normalize(value: object) -> object:
        walked.append(value)
        return value

    monkeypatch.setattr(_observation, "normalize", normalize)
    result = {"item_id": 1, "session": {"graph": {"nodes": {"n": [1, 2]}}}}
    assert _round_trip(_task(result)) == result
    assert walked == []


def test_a_result_pickle_refuses_goes_as_plain_data() -> None:
    @dataclasses.dataclass
    class Local:  # a class defined in a function cannot be pickled
        name: str

    assert _round_trip(_task({"row": Local("a")})) == {"row": {"name": "a"}}


def test_a_result_neither_pickle_nor_normalizing_can_carry_goes_as_the_marker() -> None:
    assert _round_trip(_task({"lock": threading.Lock()})) == UNPICKLABLE
