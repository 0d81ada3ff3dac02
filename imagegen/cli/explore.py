"""``shadow explore``: differential exploration of the reference app's 11 services.

A thin layer over :func:`imagegen.demo.explore.run_explore` (which runs
:func:`shadow.explore.explore` on the reference target). Evidence and shrunk
reproductions go to the work directory's divergence store, the one ``shadow
demo`` writes, so ``shadow gate``, ``shadow divergences`` and ``shadow
report`` read them. Exit status 1 when a divergence was found.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["explore"]


def explore(
    budget: Annotated[
        float, typer.Option("--budget", help="Wall-time budget in seconds.", min=0.1)
    ] = 60.0,
    seed: Annotated[int, typer.Option(help="Seed of the generated call sequences.")] = 0,
    service: Annotated[
        list[str] | None,
        typer.Option("--service", help="Explore only this service (repeatable)."),
    ] = None,
    workdir: Annotated[
        Path, typer.Option(help="Work directory whose divergence store gets the evidence.")
    ] = Path("shadow-work"),
    candidate_url: Annotated[
        str | None,
        typer.Option(help="Candidate database URL (PostgreSQL or MariaDB) instead of SQLite."),
    ] = None,
    candidate_factory: Annotated[
        str | None,
        typer.Option(help="'module:callable' building your own candidate implementations."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Generate call sequences for every method of every service, compare, shrink what diverges."""
    from imagegen.demo.explore import ExploreOptions, run_explore  # noqa: PLC0415 - cheap --help

    result = run_explore(
        ExploreOptions(
            budget_seconds=budget,
            seed=seed,
            services=tuple(service or ()),
            workdir=workdir,
            candidate_factory=candidate_factory,
            candidate_url=candidate_url,
        )
    )
    data: dict[str, Any] = result.to_dict()
    data["store_url"] = f"sqlite:///{workdir.resolve() / 'divergences.sqlite3'}"
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        calls = sum(result.calls.values())
        typer.echo(
            f"shadow explore: {result.examples} call sequences, {calls} calls, "
            f"{len(result.calls)} methods, {result.elapsed_seconds:.1f} s (seed {result.seed})"
        )
        for found in result.found:
            typer.echo(
                f"divergence  {found.service}.{found.method}  {found.outcome}  "
                f"{', '.join(found.paths) or ' vs '.join(found.error_types)}  "
                f"fingerprint {found.fingerprint}  reproduction: {len(found.steps)} step(s)"
            )
        if result.uncovered:
            typer.echo(f"never called (budget too small?): {', '.join(result.uncovered)}")
        typer.echo(f"divergences: {len(result.found)}")
        typer.echo(f"divergence store: {data['store_url']}")
    raise typer.Exit(0 if result.ok else 1)
