"""Mutation score of shadow's evidence: plant one bug at a time in the SQLModel services.

``./dev bench mutation`` (options: ``--sample 150 --seed 1 --ops 300
--explore-examples 96 --explore-seconds 20 --timeout 120 --workdir DIR``;
``--only KEY`` runs the named mutants instead of a sample, as when a
survivor is re-run after a fix; ``--report-only`` re-reads a finished or
interrupted session; a second run with the same ``--workdir`` resumes it).

How it works, with cosmic-ray (a maintained mutation-testing tool) doing the
mutating:

1. The code is copied to ``DIR/src`` (``shadow``, ``imagegen``, ``bench`` and
   the migrations), so mutants are planted in a snapshot, never in the
   checkout, and the run measures one fixed version of the code; an
   unmutated copy of the services (``DIR/pristine``) tells the probe which
   service a mutant sits in.
2. ``cosmic-ray init`` lists every mutant of ``imagegen/services/core/*.py``;
   a seeded random sample of ``--sample`` of them is kept, the rest are
   marked skipped in the session.
3. An unmutated probe runs first (the baseline): it must come out clean, or
   every mutant would look killed.
4. ``nice cosmic-ray exec`` plants each sampled mutant alone and runs
   :mod:`bench.mutation_probe` (the demo's traffic, then exploration of the
   mutated service, under a fixed budget counted in requests and call
   sequences); exit status 1 = killed, 0 = survived, over ``--timeout``
   seconds = timed out.
5. The report: killed, survived, timed out and judged equivalent per service,
   the score (killed / non-equivalent), and each survivor with its diff.
   Equivalence is a human judgement, kept in ``bench/mutation_triage.toml``
   (one reason per mutant, keyed by ``file:line:operator:occurrence``), as are
   the survivors found to be blind spots.
"""

from __future__ import annotations

import argparse
import ast
import functools
import json
import os
import random
import shutil
import subprocess
import sys
import time
import tomllib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

from bench.harness import Environment
from bench.mutation_probe import CORE, service_of

__all__ = ["Mutant", "main"]

_ROOT = Path(__file__).resolve().parent.parent
_TRIAGE = Path(__file__).resolve().parent / "mutation_triage.toml"
TARGET_SCORE = 0.90


@dataclass(frozen=True)
class Mutant:
    """One sampled mutant and what became of it."""

    key: str
    """``file:line:operator:occurrence``: stable across sessions (job ids are not)."""
    service: str
    status: str
    """killed | survived | timeout | incompetent | pending."""
    diff: str
    output: str


def _snapshot(source: Path) -> None:
    """Copy the code that runs into ``source`` (a fresh copy per session)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("shadow", "imagegen", "bench"):
        shutil.copytree(_ROOT / package, source / package, ignore=ignore)
    # The distribution ships migrations/ as imagegen.migrations (pyproject.toml).
    shutil.copytree(_ROOT / "migrations", source / "imagegen" / "migrations", ignore=ignore)
    shutil.copytree(_ROOT / CORE, source.parent / "pristine", ignore=ignore)


def _environment(source: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(source)  # the snapshot wins over the editable install
    return env


def _write_config(workdir: Path, source: Path, args: argparse.Namespace) -> Path:
    modules = sorted(
        str(path) for path in (source / CORE).glob("*.py") if path.name != "__init__.py"
    )
    probe = " ".join([sys.executable, *_probe_arguments(workdir, args)])
    lines = [
        "[cosmic-ray]",
        f"module-path = {json.dumps(modules)}",
        f"timeout = {float(args.timeout)}",
        "excluded-modules = []",
        f"test-command = {json.dumps(probe)}",
        "",
        "[cosmic-ray.distributor]",
        'name = "local"',
        "",
    ]
    config = workdir / "cosmic-ray.toml"
    config.write_text("\n".join(lines))
    return config


def _cosmic_ray(*arguments: str, source: Path, nice: bool = False) -> None:
    command = [str(Path(sys.executable).parent / "cosmic-ray"), *arguments]
    if nice:
        command = ["nice", "-n", "10", *command]
    subprocess.run(command, cwd=source, env=_environment(source), check=True)


def _key(item: Any) -> str:
    mutation = item.mutations[0]
    path = Path(mutation.module_path)
    return f"{path.name}:{mutation.start_pos[0]}:{mutation.operator_name}:{mutation.occurrence}"


@functools.cache
def _annotation_spans(path: Path) -> tuple[tuple[tuple[int, int], tuple[int, int]], ...]:
    """(start, end) positions of every annotation in ``path`` (``from __future__`` modules)."""
    tree = ast.parse(path.read_text())
    annotations: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = node.args
            every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
            every += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
            annotations += [a.annotation for a in every if a.annotation is not None]
            if node.returns is not None:
                annotations.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
    return tuple(
        ((a.lineno, a.col_offset), (a.end_lineno or a.lineno, a.end_col_offset or 0))
        for a in annotations
    )


def _in_annotation(item: Any) -> bool:
    """True for a mutant inside a type annotation: never evaluated, so equivalent by construction.

    Every module under ``imagegen/services/core`` starts with ``from __future__
    import annotations`` (checked here), so its annotations stay strings.
    """
    mutation = item.mutations[0]
    path = Path(mutation.module_path)
    if "from __future__ import annotations" not in path.read_text():
        return False
    position = tuple(mutation.start_pos)
    return any(start <= position < end for start, end in _annotation_spans(path))


def _sample(session: Path, size: int, seed: int, only: Sequence[str] = ()) -> tuple[int, int]:
    """Keep a seeded sample of ``size`` mutants, the others skipped; return (total, annotations).

    Mutants inside type annotations are left out before sampling (see
    :func:`_in_annotation`): about a third of what cosmic-ray generates here,
    all equivalent for the same reason, they would only dilute the sample.
    With ``only`` (keys as the report prints them), exactly those are kept:
    a survivor re-run against changed strategies or workload.
    """

    with use_db(str(session), WorkDB.Mode.open) as db:
        items = sorted(db.work_items, key=_key)
        candidates = [item for item in items if not _in_annotation(item)]
        if only:
            by_key = {_key(item): item for item in candidates}
            unknown = sorted(set(only) - set(by_key))
            if unknown:
                raise SystemExit(f"bench mutation: no such mutant: {', '.join(unknown)}")
            chosen = [by_key[key] for key in dict.fromkeys(only)]
        else:
            chosen = random.Random(seed).sample(candidates, min(size, len(candidates)))
        kept = {item.job_id for item in chosen}
        skipped = [item.job_id for item in items if item.job_id not in kept]
        db.set_multiple_results(skipped, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
        return len(items), len(items) - len(candidates)


def _probe_arguments(workdir: Path, args: argparse.Namespace) -> list[str]:
    return [
        "-m",
        "bench.mutation_probe",
        "--workdir",
        str(workdir / "probe"),
        "--ops",
        str(args.ops),
        "--seed",
        str(args.seed),
        "--explore-examples",
        str(args.explore_examples),
        "--explore-seconds",
        str(args.explore_seconds),
        "--pristine",
        str(workdir / "pristine"),
    ]


def _baseline(workdir: Path, source: Path, args: argparse.Namespace) -> None:
    """The unmutated code must come out clean, or every mutant would look killed.

    With no mutant planted the probe explores every service, each as long as a
    mutant's service is explored (``--explore-examples`` per service).
    """
    services = {service_of(path) for path in (workdir / "pristine").glob("[!_]*.py")}
    every = argparse.Namespace(**vars(args))
    every.explore_examples = args.explore_examples * len(services)
    every.explore_seconds = args.explore_seconds * len(services)
    command = [sys.executable, *_probe_arguments(workdir, every)]
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=source, env=_environment(source), capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(
            f"bench mutation: the unmutated baseline is not clean ({done.stdout.strip()}); "
            "fix that first"
        )
    print(f"baseline: clean in {seconds:.1f} s ({done.stdout.strip()})", flush=True)


def _results(session: Path) -> list[Mutant]:

    mutants = []
    with use_db(str(session), WorkDB.Mode.open) as db:
        results = dict(db.results)
        for item in db.work_items:
            result = results.get(item.job_id)
            if result is not None and result.worker_outcome is WorkerOutcome.SKIPPED:
                continue
            if result is None:
                status = "pending"
            elif result.worker_outcome is not WorkerOutcome.NORMAL:
                status = "incompetent"
            elif result.test_outcome is TestOutcome.SURVIVED:
                status = "survived"
            elif result.test_outcome is TestOutcome.KILLED:
                status = "timeout" if result.output == "timeout" else "killed"
            else:
                status = "incompetent"
            mutants.append(
                Mutant(
                    key=_key(item),
                    service=service_of(Path(item.mutations[0].module_path)),
                    status=status,
                    diff=(result.diff or "") if result else "",
                    output=(result.output or "") if result else "",
                )
            )
    return sorted(mutants, key=lambda mutant: mutant.key)


def _triage() -> dict[str, dict[str, str]]:
    if not _TRIAGE.exists():
        return {"equivalent": {}, "blind_spot": {}}
    with _TRIAGE.open("rb") as handle:
        data = tomllib.load(handle)
    return {
        "equivalent": dict(data.get("equivalent", {})),
        "blind_spot": dict(data.get("blind_spot", {})),
    }


def _changed_line(diff: str) -> str:
    removed = [
        line[1:].strip()
        for line in diff.splitlines()
        if line.startswith("-") and not line.startswith("---")
    ]
    added = [
        line[1:].strip()
        for line in diff.splitlines()
        if line.startswith("+") and not line.startswith("+++")
    ]
    return f"`{' '.join(removed)}` -> `{' '.join(added)}`"


def report(mutants: Sequence[Mutant]) -> tuple[str, float]:
    """The markdown report and the score (killed / non-equivalent decided mutants)."""
    triage = _triage()
    equivalent = triage["equivalent"]
    statuses = [
        (m, "equivalent" if m.status == "survived" and m.key in equivalent else m.status)
        for m in mutants
    ]
    columns = ("killed", "survived", "timeout", "equivalent", "incompetent", "pending")
    per_service: dict[str, Counter[str]] = {}
    for mutant, status in statuses:
        per_service.setdefault(mutant.service, Counter())[status] += 1
    total: Counter[str] = Counter(status for _, status in statuses)
    lines = ["| service | " + " | ".join(columns) + " | score |", "|---" * (len(columns) + 2) + "|"]

    def score(counts: Counter[str]) -> float | None:
        decided = counts["killed"] + counts["survived"] + counts["timeout"]
        return counts["killed"] / decided if decided else None

    def shown(value: float | None, digits: int = 0) -> str:
        return "-" if value is None else f"{value:.{digits}%}"

    for service in sorted(per_service):
        counts = per_service[service]
        cells = " | ".join(str(counts[name]) for name in columns)
        lines.append(f"| {service} | {cells} | {shown(score(counts))} |")
    cells = " | ".join(f"**{total[name]}**" for name in columns)
    overall = score(total) or 0.0
    lines.append(f"| **all** | {cells} | **{shown(score(total), 1)}** |")
    lines.append("")
    lines.append(
        "score = killed / (killed + survived + timed out); equivalent and incompetent "
        "mutants (cosmic-ray could not run them) are left out; a timeout counts as not killed."
    )
    survivors = [(m, s) for m, s in statuses if s in ("survived", "equivalent", "timeout")]
    if survivors:
        lines += ["", "| mutant | change | status | triage |", "|---|---|---|---|"]
        for mutant, status in survivors:
            note = equivalent.get(mutant.key) or triage["blind_spot"].get(mutant.key, "untriaged")
            lines.append(f"| `{mutant.key}` | {_changed_line(mutant.diff)} | {status} | {note} |")
    return "\n".join(lines), overall


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench mutation", description=__doc__)
    parser.add_argument("--sample", type=int, default=150, help="mutants to run")
    parser.add_argument("--seed", type=int, default=1, help="seed of the sample and the traffic")
    parser.add_argument("--ops", type=int, default=300, help="demo API requests per mutant")
    parser.add_argument(
        "--explore-examples",
        type=int,
        default=96,
        help="call sequences explored per mutant, on the mutated service",
    )
    parser.add_argument(
        "--explore-seconds", type=float, default=20.0, help="time cap of each exploration"
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per mutant")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="KEY",
        help="run this mutant instead of a sample (repeatable; keys as the report prints them)",
    )
    parser.add_argument("--workdir", type=Path, default=Path("bench-mutation"))
    parser.add_argument("--report-only", action="store_true", help="report an existing session")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 3 mutants, 200 ops")
    parser.add_argument("--repeat", type=int, default=None, help="(ignored: one pass)")
    args = parser.parse_args(list(argv))
    if args.quick:
        args.sample, args.ops, args.explore_examples = 3, 200, 24
    workdir = args.workdir.resolve()
    source, session = workdir / "src", workdir / "session.sqlite"
    if not args.report_only:
        if not session.exists():
            shutil.rmtree(workdir, ignore_errors=True)
            workdir.mkdir(parents=True)
            _snapshot(source)
            config = _write_config(workdir, source, args)
            _cosmic_ray("init", str(config), str(session), source=source)
            found, in_annotations = _sample(session, args.sample, args.seed, args.only)
            chosen = f"{len(set(args.only))} named" if args.only else f"{args.sample} sampled"
            print(
                f"{found} mutants generated, {in_annotations} of them in type annotations "
                f"(equivalent: never evaluated) left out; {chosen} from the rest",
                flush=True,
            )
            _baseline(workdir, source, args)
        started = time.perf_counter()
        _cosmic_ray(
            "exec", str(workdir / "cosmic-ray.toml"), str(session), source=source, nice=True
        )
        print(f"ran in {(time.perf_counter() - started) / 60:.1f} min", flush=True)
    mutants = _results(session)
    text, overall = report(mutants)
    print(text)
    (workdir / "report.md").write_text(text + "\n")
    (workdir / "results.json").write_text(
        json.dumps([mutant.__dict__ for mutant in mutants], indent=1)
    )
    if not args.report_only:  # a report of an older session cannot know its budget
        print(
            f"\nper-mutant budget: demo --ops {args.ops}, exploration of the mutated "
            f"service {args.explore_examples} call sequences (capped at "
            f"{args.explore_seconds:g} s), timeout {args.timeout:g} s"
        )
    print(f"\n{Environment.current().describe()}")
    print(
        f"load average (1/5/15 min) at the end: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    return 0 if overall >= TARGET_SCORE else 1
