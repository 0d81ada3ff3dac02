"""``shadow demo``: the reference application's traffic through shadow proxies.

On a terminal, progress goes to stderr: one bar per stage (the requests with
their rate and time left, then the mirror queue counting down while the
mirror catches up, then exploration and the check of the stores at rest). The
summary goes to stdout: a table that fits 80 columns (``--wide``: every
outcome and both latency quantiles), the problems (dirty services with their
reason among them), then where the evidence and the log are. ``--quiet``
(before the command: ``shadow -q demo``) prints only the result line;
``--json`` only the JSON summary.
"""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer
from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from imagegen.demo.options import DEMO_EXPLORE_SECONDS, DemoOptions
from imagegen.demo.progress import Stage
from shadow._lazy import lazy_module
from shadow._vocabulary import Mode, WorkerKind
from shadow.cli import LogLevel, cli_settings

if TYPE_CHECKING:
    from rich.progress import Task

    from imagegen.demo import run
    from imagegen.demo.run import DemoResult
else:
    run = lazy_module("imagegen.demo.run")  # the runtime loads when the demo runs, not for --help

__all__ = ["demo"]

LOG_FILE = "shadow.log"
EXIT_INTERRUPTED = 130
"""The shell's status for a run stopped by SIGINT (128 + 2)."""
WIDE_WIDTH = 160
"""The width ``--wide`` prints its table at, whatever the terminal's."""


class DemoMode(enum.StrEnum):
    """The modes a demo can run its services in (both compare)."""

    SHADOW = "shadow"
    """Legacy answers, SQLModel mirrored."""
    REVERSE = "reverse"
    """SQLModel answers, legacy mirrored."""


def demo(
    ctx: typer.Context,
    ops: Annotated[
        int, typer.Option(help="API requests to make (each makes 1-6 calls).")
    ] = DemoOptions.ops,
    seed: Annotated[
        int, typer.Option(help="Seed of the traffic's random choices.")
    ] = DemoOptions.seed,
    threads: Annotated[int, typer.Option(help="API threads making requests at once.")] = (
        DemoOptions.threads
    ),
    queue_workers: Annotated[int, typer.Option(help="Queue worker threads.")] = (
        DemoOptions.queue_workers
    ),
    workdir: Annotated[
        Path, typer.Option(help="Where the stores, modes file, log and divergence store go.")
    ] = Path("shadow-work"),
    mode: Annotated[
        DemoMode, typer.Option(help="Who answers: legacy (shadow) or SQLModel (reverse).")
    ] = DemoMode.SHADOW,
    candidate_url: Annotated[
        str | None,
        typer.Option(help="Candidate database URL (PostgreSQL or MariaDB) instead of SQLite."),
    ] = None,
    candidate_factory: Annotated[
        str | None,
        typer.Option(help="'module:callable' building your own candidate implementations."),
    ] = None,
    aa: Annotated[
        bool, typer.Option("--aa", help="A/A noise check: legacy on both sides.")
    ] = False,
    worker: Annotated[WorkerKind, typer.Option(help="Where the mirror runs its calls.")] = (
        DemoOptions.worker
    ),
    rate: Annotated[
        float | None, typer.Option(help="Pace API requests to this many per second (all threads).")
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve /metrics on 127.0.0.1 at this port (0: any free).")
    ] = None,
    explore_seconds: Annotated[
        float,
        typer.Option(
            "--explore-seconds",
            help=(
                "Budget of the exploration after the traffic (0: none; "
                "not with --candidate-url or --aa)."
            ),
        ),
    ] = DEMO_EXPLORE_SECONDS,
    coverage: Annotated[
        bool,
        typer.Option(help="Measure which candidate lines and branches compared calls run."),
    ] = DemoOptions.coverage,
    wide: Annotated[
        bool, typer.Option("--wide", help="Every column in the summary table (over 80 wide).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Run the realistic workload through the proxies of all 11 services and compare."""
    options = DemoOptions(
        ops=ops,
        seed=seed,
        threads=threads,
        queue_workers=queue_workers,
        workdir=workdir,
        mode=Mode(mode.value),
        candidate_url=candidate_url,
        candidate_factory=candidate_factory,
        aa=aa,
        worker=worker,
        metrics_port=metrics_port,
        rate=rate,
        explore_seconds=explore_seconds,
        coverage=coverage,
    )
    options.validate()
    settings = cli_settings(ctx)
    workdir.mkdir(parents=True, exist_ok=True)
    with (workdir / LOG_FILE).open("a", encoding="utf-8") as log:
        _log_json_to(log, settings.log_level)
        with _Terminal(quiet=settings.quiet) as terminal:
            result = run.run_demo(options, terminal)
    if as_json:
        typer.echo(json.dumps(_as_dict(result), indent=2))
    elif settings.quiet:
        typer.echo(_result_line(result))
    else:
        _print_summary(result, wide=wide)
    if result.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    raise typer.Exit(0 if result.ok else 1)


def _log_json_to(stream: TextIO, level: LogLevel | None) -> None:
    """One JSON object per line in the work directory's log: the terminal stays readable."""
    import structlog  # noqa: PLC0415 -- only when the demo runs, not for --help

    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.dict_tracebacks,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            level.number if level is not None else 0
        ),
        logger_factory=structlog.WriteLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )


class _Rate(ProgressColumn):
    """Units per second, as rich measures them over its recent samples."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f}/s", style="progress.data.speed")


class _Terminal:
    """The demo's progress on stderr: notes always (unless quiet), bars on a terminal only."""

    def __init__(self, *, quiet: bool) -> None:
        self.quiet = quiet
        self.console = Console(stderr=True)
        self.bars: Progress | None = None
        if not quiet and self.console.is_terminal:
            self.bars = Progress(
                TextColumn("{task.description:<14}"),
                BarColumn(),
                MofNCompleteColumn(),
                _Rate(),
                TimeRemainingColumn(),
                TimeElapsedColumn(),
                console=self.console,
            )
        self.tasks: dict[Stage, TaskID] = {}

    def __enter__(self) -> _Terminal:
        if self.bars is not None:
            self.bars.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self.bars is not None:
            self._end_stages(self.bars)  # the last stage ended with the run
            self.bars.stop()

    def serving(self, url: str) -> None:
        if not self.quiet:
            self.console.print(f"metrics: {url}", highlight=False, soft_wrap=True)

    def step(self, stage: Stage, done: int, total: int | None) -> None:
        if self.bars is None:
            return
        if stage not in self.tasks:  # a stage ends when the next one begins
            self._end_stages(self.bars)
            self.tasks[stage] = self.bars.add_task(stage.value, total=total)
        self.bars.update(self.tasks[stage], completed=done, total=total)

    @staticmethod
    def _end_stages(bars: Progress) -> None:
        """Stop the bars drawn so far; one of unknown length is drawn full."""
        for task in bars.tasks:
            if task.total is None:
                bars.update(task.id, total=1, completed=1)
            bars.stop_task(task.id)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def _result_line(result: DemoResult) -> str:
    """The run in one line: ok, or not ok and why."""
    what = f"{result.requests} requests, {result.divergences} divergences"
    if result.ok:
        return f"ok: {what}"
    return f"not ok: {what}: " + "; ".join(result.problems)


_OUTCOMES = ("match", "divergence", "raced", "candidate_error", "skipped", "dropped")
_WIDE_HEADERS = (
    "service",
    "phase",
    "calls",
    "match",
    "divergence",
    "raced",
    "cand. error",
    "skipped",
    "dropped",
    "groups",
    "legacy p50/p99 ms",
    "candidate p50/p99 ms",
)
_NARROW_HEADERS = (
    "service",
    "calls",
    "match",
    "diverged",
    "cand.\nerrors",
    "dropped",
    "p99 ms legacy / cand.",
)


def _table(result: DemoResult, *, wide: bool) -> Table:
    """One row per service; narrow (80 columns) unless ``wide``."""
    title = f"shadow demo: {result.requests} requests in {result.elapsed_seconds:.1f} s"
    table = Table(title=title, box=box.HEAVY_HEAD if wide else None, pad_edge=False)
    for header in _WIDE_HEADERS if wide else _NARROW_HEADERS:
        # Wrapped, never cut: a figure too wide for its column folds onto a second line.
        is_name = header == "service"
        table.add_column(
            header, justify="left" if is_name else "right", no_wrap=is_name, overflow="fold"
        )
    for summary in result.services:
        counts = {name: str(summary.outcomes.get(name, 0)) for name in _OUTCOMES}
        if wide:
            sides = [
                "/".join(_ms(q) for q in summary.latency[side]) if side in summary.latency else "-"
                for side in ("legacy", "candidate")
            ]
            table.add_row(
                summary.service,
                str(summary.phase),
                str(summary.calls),
                *counts.values(),
                str(summary.divergence_groups),
                *sides,
            )
            continue
        p99 = [
            _ms(summary.latency[side][1]) if side in summary.latency else "-"
            for side in ("legacy", "candidate")
        ]
        table.add_row(
            summary.service,
            str(summary.calls),
            counts["match"],
            counts["divergence"],
            counts["candidate_error"],
            counts["dropped"],
            " / ".join(p99),
        )
    return table


def _print_summary(result: DemoResult, *, wide: bool) -> None:
    console = Console()
    if wide:
        console.width = max(console.width, WIDE_WIDTH)
    console.print(_table(result, wide=wide))
    exploration = result.exploration
    if exploration is not None:
        calls = sum(exploration.calls.values())
        console.print(
            f"exploration: {exploration.examples} generated call sequences, {calls} calls "
            f"in {exploration.elapsed_seconds:.1f} s (counted above, marked 'exploration')"
        )
        for found in exploration.found:
            console.print(
                f"  found: {found.service}.{found.method} {found.outcome} "
                f"{', '.join(found.paths) or ' vs '.join(found.error_types)} "
                f"fingerprint {found.fingerprint} (reproduction: {len(found.steps)} step(s))"
            )
    groups = sum(summary.divergence_groups for summary in result.services)
    console.print(f"divergences: {result.divergences} (groups: {groups})")
    if result.uncovered:
        console.print(f"never called: {', '.join(result.uncovered)}")
    if result.at_rest is not None:
        _print_at_rest(console, result)
    for problem in result.problems:  # dirty services with their reason among them
        console.print(f"not ok: {problem}")
    if result.ok:
        console.print(_result_line(result))
    console.print(f"divergence store: {result.store_url}", soft_wrap=True)
    console.print(f"log (JSON lines): {result.workdir / LOG_FILE}", soft_wrap=True)


def _print_at_rest(console: Console, result: DemoResult) -> None:
    assert result.at_rest is not None  # the caller checked
    report = result.at_rest.report
    different = [t for t in report.tables if not t.equal]
    rows = sum(t.compared for t in report.tables)
    if not different:
        console.print(
            f"stores at rest: all {len(report.tables)} tables equal ({rows} rows compared)"
        )
    for table in different:
        console.print(
            f"stores at rest: {table.table} DIFFERENT: {table.missing_on_target_count} missing"
            f" on the candidate, {table.missing_on_source_count} extra,"
            f" {table.differing_count} differing"
            f" ({', '.join(sorted({c for d in table.differing for c in d.columns})) or '-'})"
        )
    if result.at_rest.cleared:
        console.print(f"cleared by the verification: {', '.join(result.at_rest.cleared)}")


def _as_dict(result: DemoResult) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "problems": result.problems,
        "interrupted": result.interrupted,
        "dirty": result.dirty,
        "unavailable": dict(result.unavailable),
        "dirty_reasons": dict(result.dirty_reasons),
        "drained": result.drained,
        "requests": result.requests,
        "elapsed_seconds": round(result.elapsed_seconds, 3),
        "divergences": result.divergences,
        "uncovered": result.uncovered,
        "application_errors": dict(result.errors),
        "store_url": result.store_url,
        "metrics_port": result.metrics_port,
        "exploration": result.exploration.to_dict() if result.exploration else None,
        "at_rest": result.at_rest.report.to_dict() if result.at_rest else None,
        "services": [
            {
                "service": summary.service,
                "phase": summary.phase,
                "calls": summary.calls,
                "outcomes": dict(summary.outcomes),
                "divergence_groups": summary.divergence_groups,
                "latency_seconds": {
                    side: {"p50": p50, "p99": p99} for side, (p50, p99) in summary.latency.items()
                },
            }
            for summary in result.services
        ],
    }
