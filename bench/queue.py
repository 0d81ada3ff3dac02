"""Queue benchmark: the session queue's two write paths, legacy against SQLModel on SQLite.

    python -m bench queue [--quick] [--repeat N] [--warmup N] [--output FILE]

* ``enqueue_batch`` of one batch of 1,000 sessions;
* the worker cycle ``dequeue`` -> ``set_queue_item_session`` (about 20 KB of
  JSON) -> ``complete_queue_item``.

Both are writes that change what the next call sees, so unlike the service
cases (:mod:`bench.services`) each measured call is preceded by an *untimed*
reset that puts its arm back into the same state: the enqueue starts from an
empty queue every time (otherwise the table grows by 1,000 rows a call and the
growing pending count, not the layer, dominates the time), and the cycle always
finds a pending item. Arms are interleaved as in :func:`bench.harness.measure`.

Target (issue 4): SQLModel median <= 1.5x legacy on both. The table's generic
``<= 2.0x`` column is the services target; the line under it judges this one.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from bench.cases.session_queue import GRAPH, big_session, service_pair, thousand_session_batch
from bench.harness import (
    QUICK,
    ArmStats,
    Case,
    CaseResult,
    Environment,
    Report,
    Settings,
    percentile,
)
from imagegen.services.contracts.session_queue import Batch, SessionQueueService

__all__ = ["QUEUE_TARGET", "ResetCase", "main", "measure_with_reset", "queue_cases"]

QUEUE_TARGET = 1.5
"""The SQLModel arm's median may be at most this multiple of legacy's on the queue paths."""

# Writes of 1,000 rows take tens of milliseconds: fewer repetitions than the services.
DEFAULT = Settings(repeat=300, warmup=10, budget_seconds=10.0, min_repeat=40)


@dataclass(frozen=True, slots=True)
class ResetCase:
    """A :class:`Case` whose arms each need an untimed reset before every call."""

    case: Case
    reset_legacy: Callable[[], object]
    reset_candidate: Callable[[], object]


def _stats(samples_ns: Sequence[int]) -> ArmStats:
    micro = [sample / 1000 for sample in samples_ns]
    return ArmStats(median_us=statistics.median(micro), p99_us=percentile(micro, 0.99))


def measure_with_reset(item: ResetCase, settings: Settings) -> CaseResult:
    """Like :func:`bench.harness.measure`, with each arm's reset run untimed before each call."""
    case = item.case
    for _ in range(settings.warmup):
        item.reset_legacy()
        case.legacy()
        item.reset_candidate()
        case.candidate()
    clock = time.perf_counter_ns
    legacy_ns: list[int] = []
    candidate_ns: list[int] = []
    deadline = time.perf_counter() + settings.budget_seconds
    for repetition in range(settings.repeat):
        item.reset_legacy()
        start = clock()
        case.legacy()
        legacy_ns.append(clock() - start)
        item.reset_candidate()
        start = clock()
        case.candidate()
        candidate_ns.append(clock() - start)
        if repetition + 1 >= settings.min_repeat and time.perf_counter() > deadline:
            break
    return CaseResult(
        name=case.name,
        service=case.service,
        method=case.method,
        samples=len(legacy_ns),
        legacy=_stats(legacy_ns),
        candidate=_stats(candidate_ns),
    )


def _cleared(service: SessionQueueService) -> Callable[[], object]:
    return lambda: service.clear("default")


def _stocked(service: SessionQueueService) -> Callable[[], object]:
    stock = Batch(graph=GRAPH, runs=100, destination="gallery")

    def reset() -> None:
        if service.is_empty("default"):
            service.enqueue_batch("default", stock)

    return reset


def _cycle(service: SessionQueueService) -> Callable[[], object]:
    def run() -> object:
        item = service.dequeue()
        if item is None:
            raise RuntimeError("the cycle found no pending item")
        service.set_queue_item_session(item.item_id, big_session(item.session_id))
        return service.complete_queue_item(item.item_id)

    return run


def queue_cases(workdir: Path) -> list[ResetCase]:
    """The enqueue and worker-cycle cases, each arm on its own identical SQLite file."""
    batch = thousand_session_batch()
    enqueue_legacy, enqueue_orm = service_pair(workdir, "queue-enqueue")
    cycle_legacy, cycle_orm = service_pair(workdir, "queue-cycle")
    return [
        ResetCase(
            Case(
                "batch of 1,000 sessions",
                "session_queue",
                "enqueue_batch",
                lambda: enqueue_legacy.enqueue_batch("default", batch),
                lambda: enqueue_orm.enqueue_batch("default", batch),
            ),
            _cleared(enqueue_legacy),
            _cleared(enqueue_orm),
        ),
        ResetCase(
            Case(
                "dequeue -> set 20 KB session -> complete",
                "session_queue",
                "worker cycle",
                _cycle(cycle_legacy),
                _cycle(cycle_orm),
            ),
            _stocked(cycle_legacy),
            _stocked(cycle_orm),
        ),
    ]


def _count(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}: {value}")
        return value

    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench queue",
        description="Session queue write paths: legacy sqlite3 vs SQLModel on SQLite.",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: a few repetitions")
    parser.add_argument("--repeat", type=_count(1), help="repetitions per arm")
    parser.add_argument("--warmup", type=_count(0), help="warm-up calls per arm")
    parser.add_argument("--output", type=Path, help="also write the Markdown table here")
    return parser


def _settings(arguments: argparse.Namespace) -> Settings:
    settings = QUICK if arguments.quick else DEFAULT
    if arguments.repeat is not None:
        settings = replace(
            settings, repeat=arguments.repeat, min_repeat=min(settings.min_repeat, arguments.repeat)
        )
    if arguments.warmup is not None:
        settings = replace(settings, warmup=arguments.warmup)
    return settings


def verdict(report: Report) -> str:
    """One line judging each case against :data:`QUEUE_TARGET`."""
    parts = [
        f"{result.method} {result.ratio:.2f}x ({'yes' if result.ratio <= QUEUE_TARGET else 'NO'})"
        for result in report.results
    ]
    return f"Queue target SQLModel <= {QUEUE_TARGET}x legacy: " + ", ".join(parts) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the queue benchmark; 0 when every case ran, 1 when one failed, 2 on bad output."""
    arguments = _parser().parse_args(argv)
    settings = _settings(arguments)
    report = Report(environment=Environment.current(), settings=settings)
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-queue-") as workdir:
        for item in queue_cases(Path(workdir)):
            print(f"{item.case.service}.{item.case.method} ...", file=sys.stderr, flush=True)
            try:
                report.results.append(measure_with_reset(item, settings))
            except Exception as error:  # report it and go on to the next case
                failures.append(f"case {item.case.name} failed: {type(error).__name__}: {error}")
    table = report.render_markdown() + verdict(report)
    print(table, end="")
    if arguments.output is not None:
        try:
            arguments.output.write_text(table, encoding="utf-8")
        except OSError as error:
            print(f"bench: error: cannot write results: {error}", file=sys.stderr)
            return 2
    for failure in failures:
        print(f"bench: error: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
