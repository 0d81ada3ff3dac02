"""``shadow demo``: the reference application's traffic through shadow proxies."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from imagegen.demo.options import DEMO_EXPLORE_SECONDS, DemoOptions
from shadow._lazy import lazy_module
from shadow._vocabulary import Mode, WorkerKind

if TYPE_CHECKING:
    from imagegen.demo import run
    from imagegen.demo.run import DemoResult
else:
    run = lazy_module("imagegen.demo.run")  # the runtime loads when the demo runs, not for --help

__all__ = ["demo"]

LOG_FILE = "shadow.log"
EXIT_INTERRUPTED = 130
"""The shell's status for a run stopped by SIGINT (128 + 2)."""


def demo(
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
    mode: Annotated[str, typer.Option(help="shadow (legacy answers) or reverse.")] = "shadow",
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
    worker: Annotated[str, typer.Option(help="Mirror worker: process, thread or inline.")] = (
        "process"
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
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Run the realistic workload through the proxies of all 11 services and compare."""
    options = DemoOptions(
        ops=ops,
        seed=seed,
        threads=threads,
        queue_workers=queue_workers,
        workdir=workdir,
        mode=_choice(Mode, mode, "--mode", (Mode.SHADOW, Mode.REVERSE)),
        candidate_url=candidate_url,
        candidate_factory=candidate_factory,
        aa=aa,
        worker=_choice(WorkerKind, worker, "--worker", tuple(WorkerKind)),
        metrics_port=metrics_port,
        rate=rate,
        explore_seconds=explore_seconds,
        coverage=coverage,
    )
    options.validate()
    workdir.mkdir(parents=True, exist_ok=True)
    with (workdir / LOG_FILE).open("a", encoding="utf-8") as log:
        _log_json_to(log)
        result = _run_with_progress(options, show=sys.stdout.isatty() and not as_json)
    if as_json:
        typer.echo(json.dumps(_as_dict(result), indent=2))
    else:
        _print_summary(result)
    if result.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    raise typer.Exit(0 if result.ok else 1)


def _choice(kind: Any, value: str, option: str, allowed: tuple[Any, ...]) -> Any:
    for member in allowed:
        if member.value == value:
            return member
    names = ", ".join(member.value for member in allowed)
    raise typer.BadParameter(f"{value!r} is not one of: {names}", param_hint=option)


def _log_json_to(stream: TextIO) -> None:
    """One JSON object per line in the work directory's log: the terminal stays readable."""
    import structlog  # noqa: PLC0415 -- only when the demo runs, not for --help

    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.dict_tracebacks,
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.WriteLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )


def _run_with_progress(options: DemoOptions, *, show: bool) -> DemoResult:
    if not show:
        return run.run_demo(options)
    columns = (*Progress.get_default_columns()[:2], BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn()) as bar:
        task = bar.add_task("requests", total=options.ops)
        return run.run_demo(options, lambda done, _total: bar.update(task, completed=done))


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def _print_summary(result: DemoResult) -> None:
    console = Console()
    if not console.is_terminal:
        console.width = 160  # a log or a pipe has no width: do not squeeze the table
    table = Table(
        title=f"shadow demo: {result.requests} requests in {result.elapsed_seconds:.1f} s"
    )
    for column in (
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
    ):
        table.add_column(column, justify="left" if column == "service" else "right")
    for summary in result.services:
        outcomes = summary.outcomes
        sides = [
            "/".join(_ms(q) for q in summary.latency[side]) if side in summary.latency else "-"
            for side in ("legacy", "candidate")
        ]
        table.add_row(
            summary.service,
            str(summary.phase),
            str(summary.calls),
            *(
                str(outcomes.get(name, 0))
                for name in (
                    "match",
                    "divergence",
                    "raced",
                    "candidate_error",
                    "skipped",
                    "dropped",
                )
            ),
            str(summary.divergence_groups),
            *sides,
        )
    console.print(table)
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
    console.print(f"divergences: {result.divergences}")
    if result.uncovered:
        console.print(f"never called: {', '.join(result.uncovered)}")
    if result.at_rest is not None:
        _print_at_rest(console, result)
    for problem in result.problems:
        console.print(f"not ok: {problem}")
    console.print(f"divergence store: {result.store_url}")
    console.print(f"log (JSON lines): {result.workdir / LOG_FILE}")


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
