"""The mirror queue is bounded by bytes as well as by count (``queue_max_bytes``)."""

from __future__ import annotations

import datetime
import threading
import uuid

from shadow._contract import Compare, Kind
from shadow._vocabulary import Side
from shadow.runtime._executor import QueuedExecutor, Worker, task_size
from shadow.runtime._observation import MethodPlan, Task
from shadow.runtime._tape import Tape
from tests.runtime.runtime_kv import KeyValue, MakeRuntime

_PLAN = MethodPlan("queue", "set_session", Kind.WRITE, Compare(), ("session",))


def _task(payload: bytes, result: object = None) -> Task:
    return Task(
        seq=0,
        plan=_PLAN,
        mirror=Side.CANDIDATE,
        payload=payload,
        result=result,
        error_type=None,
        tape=Tape(),
        started_at=0.0,
        authoritative_seconds=0.0,
    )


class _NoRecorder:
    """Nothing is published in this test: the worker never starts, every call is dropped."""

    def dropped(self, task: Task, reason: str) -> None:
        return None

    def maybe_flush(self) -> None:
        return None


def test_large_calls_fill_the_queue_by_bytes_long_before_its_count() -> None:
    """20 KB sessions: 100 KB of queue takes five, though the count bound is 10 000."""
    started = threading.Event()
    release = threading.Event()

    def stuck_worker(_side: Side) -> Worker:
        started.set()
        release.wait(30)  # the dispatcher holds its first batch here: the queue stays full
        raise OSError("no worker in this test")

    executor = QueuedExecutor(
        stuck_worker,
        _NoRecorder(),  # type: ignore[arg-type]
        capacity=10_000,
        batch_size=1,
        deadline=1.0,
        idle_seconds=0.05,
        max_bytes=100_000,
    )
    try:
        session = b"s" * 20_000
        accepted = [executor.submit(_task(session)) for _ in range(20)]
        assert started.wait(5)
        assert accepted.count(True) == 4, accepted  # 4 x (20 000 + overhead) <= 100 000 < 5 x
        assert accepted[4:] == [False] * 16
        assert executor.fill() > 0.8
        assert executor.queued_bytes() <= 100_000
    finally:
        release.set()
        executor.close()


def test_the_size_of_a_task_counts_its_arguments_and_the_text_in_its_result() -> None:
    """Arguments by their pickled length, results by the strings and bytes inside them."""
    small = task_size(_task(b"x"))
    with_result = task_size(_task(b"x", {"rows": [{"session": "y" * 5000}, ("z" * 3000,)]}))
    assert with_result - small == 8000
    assert task_size(_task(b"a" * 1000)) - small == 999


def test_the_size_of_a_result_counts_the_text_in_its_objects_and_nothing_for_scalars() -> None:
    """Attributes of objects and str subclasses count; numbers, dates and ids add nothing."""

    class Label(str):
        pass

    class Record:
        def __init__(self) -> None:
            self.name = "n" * 700
            self.label = Label("l" * 300)
            self.when = datetime.datetime(2026, 12, 4, tzinfo=datetime.UTC)
            self.id = uuid.UUID(int=7)
            self.count, self.ratio, self.flag, self.none = 3, 0.5, True, None

    small = task_size(_task(b"x"))
    assert task_size(_task(b"x", [Record(), {"k": Record()}])) - small == 2000
    assert task_size(_task(b"x", (1, 2.0, datetime.date(2026, 1, 1), None))) == small


def test_the_runtime_passes_queue_max_bytes_to_its_queue(make_runtime: MakeRuntime) -> None:
    """The setting reaches the executor (the thread worker's queue)."""
    runtime = make_runtime(worker="thread", queue_max_bytes=4096)
    runtime.proxy(KeyValue, "kv")
    assert isinstance(runtime.executor, QueuedExecutor)
    assert runtime.executor._max_bytes == 4096
