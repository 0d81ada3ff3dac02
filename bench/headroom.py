"""Mirror headroom: how many mirrored calls per second the mirror sustains, against the caller.

A dropped write costs a reconciliation and stops that service's evidence, so
whether shadowing can stay on in production is decided by the mirror's
capacity, not by the caller's latency alone (issue 14, point 2). Per
candidate backend (SQLite file, PostgreSQL, MariaDB), the demo's saturated
traffic (4 API threads, 1 queue worker, as fast as they go) runs in these arms,
interleaved round by round:

* **authoritative**: every service in ``legacy`` mode: the write rate and the
  call rate the legacy side sustains alone, over the run's whole traffic (the
  API threads and the queue worker, which goes on dequeuing after the API
  threads stop). The demo's mix is the same in every arm (same seed, same
  requests), so its calls and writes are counted once, in the shadow arms, and
  divided by this arm's time.
* **writes only**: shadow mode with no read mirrored (``read_sample_rate``
  0) and a queue large enough never to drop: the writes go to the mirror as
  fast as the callers make them, the mirror falls behind if it must, and the
  run ends when it has applied the last one. The mirror's sustained write rate
  is the writes it applied over the time from the first call to the drained
  queue. Target: at least 1.5x the authoritative side's saturated write rate.
* **every call**: the same with every read mirrored too: the demo's whole mix.
* **defaults**: shadow mode with the runtime's default queue (10,000 calls,
  reads sampled down above half full): what production gets. Target: zero
  writes dropped, reads sampled out only when the mirror is at its capacity.
* **writes only / every call, one worker per domain**: the first two with
  ``mirror_workers`` set to the demo's number of conflict domains
  (:func:`imagegen.cutover.conflict_domains`, six): a mirror worker process per
  group of services that share no tables, each group still in commit order.
* **writes only, two workers** (``mirror_workers`` 2: the session queue, the busiest
  domain, on one; every other domain on the other), alone and with group commit.
* **writes only, synchronous=NORMAL** (SQLite candidate only): the writes-only
  arm with the candidate file's durability lowered (``?synchronous=NORMAL`` in
  its URL, :func:`imagegen.db.engine.create_engine`): one lever of issue 14,
  measured beside the others rather than assumed; and with group commit, also
  at ``mirror_nice`` 0 (the runtime's default is 10: the worker yields the CPU
  to the callers, and its busy seconds count the time it waited for a core).

Every shadow arm also counts its divergences and candidate errors (there
should be none: the demo plants no bug), so a lever that breaks the mirror
(a lock timeout between worker processes, say) shows as failures, not speed.

Every shadow arm also reports the mirror's **capacity**: the calls it applied
over its busy seconds (``shadow_mirror_busy_seconds_total``: each worker's
time from taking a batch to its last answer), over the busiest worker's with
several. The rate over the run is bounded by what the shadow-mode callers
offered (a mirror that keeps up waits between batches), so it cannot show a
mirror faster than its callers; the capacity is what it would sustain if fed
without pause, beside the same saturated callers, and it is what the target is
judged on as well.

When the mirror keeps up (the shadow run, drain included, took no longer
than the authoritative run of the same round plus a tenth) its rate is bounded
by what the callers offered, so the figure is a lower bound and is marked
``>=``. Coverage measurement is off (the runtime's
default; the demo turns it on). The mirror runs in its worker process, as by
default, on the same two cores as the callers: the capacity measured is
the capacity left to it beside a saturated application, which is the case that
matters. Every round prints its one-minute load average.

    ./dev bench headroom [--quick] [--repeat N] [--backends sqlite,postgresql,mariadb]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import Environment, fresh_database, logs_to_file
from imagegen.cutover import conflict_domains
from imagegen.demo import DemoOptions, run_demo
from imagegen.demo.wiring import SERVICES
from shadow import contract_methods
from shadow.runtime import DivergenceStore, Mode

__all__ = ["main"]

SERVERS = {
    "postgresql": os.environ.get(
        "SHADOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
    "mariadb": os.environ.get(
        "SHADOW_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test"
    ),
}
BACKENDS = ("sqlite", *SERVERS)
TARGET = 1.5
KEPT_UP = 1.1
"""A shadow run at most this much longer than the legacy one: the mirror kept up."""
UNBOUNDED: dict[str, Any] = {
    "queue_size": 1_000_000,
    "queue_max_bytes": 4 * 1024**3,
    "deadline_seconds": 60.0,
}
"""Runtime settings under which nothing is dropped: the backlog shows the mirror's pace."""
GROUP_COMMIT = 64
"""``group_commit`` of the group-commit arms: a whole batch (``batch_size``) at most."""
FAILED = frozenset({"divergence", "candidate_error"})

WRITES = frozenset(
    (wiring.name, name)
    for wiring in SERVICES
    for name, spec in contract_methods(wiring.contract).items()
    if spec.kind.mutates
)


@dataclass(frozen=True)
class Spec:
    """One shadow arm: what differs from the runtime's defaults."""

    name: str
    label: str
    settings: dict[str, Any]
    writes_only: bool = True
    """No read mirrored (``read_sample_rate`` 0): the mirror's write rate."""
    synchronous: str = "FULL"
    """The SQLite candidate file's ``synchronous`` (the servers ignore it)."""
    sqlite_only: bool = False


SPECS = (
    Spec("writes", "writes/s, one worker", UNBOUNDED),
    Spec("domains-writes", "writes/s, one worker per domain",
         {**UNBOUNDED, "mirror_workers": len(conflict_domains())}),
    Spec("two-writes", "writes/s, two workers", {**UNBOUNDED, "mirror_workers": 2}),
    Spec("two-group-writes", "writes/s, two workers, group commit",
         {**UNBOUNDED, "mirror_workers": 2, "group_commit": GROUP_COMMIT}),
    Spec("group-writes", "writes/s, one worker, group commit",
         {**UNBOUNDED, "group_commit": GROUP_COMMIT}),
    Spec("normal-writes", "writes/s, one worker, synchronous=NORMAL", UNBOUNDED,
         synchronous="NORMAL", sqlite_only=True),
    Spec("group-normal-writes", "writes/s, one worker, group commit + NORMAL",
         {**UNBOUNDED, "group_commit": GROUP_COMMIT}, synchronous="NORMAL", sqlite_only=True),
    Spec("group-normal-writes-nice0", "writes/s, group commit + NORMAL, mirror_nice 0",
         {**UNBOUNDED, "group_commit": GROUP_COMMIT, "mirror_nice": 0}, synchronous="NORMAL",
         sqlite_only=True),
    Spec("calls", "calls/s, whole mix, one worker", UNBOUNDED, writes_only=False),
    Spec("domains-calls", "calls/s, whole mix, one worker per domain",
         {**UNBOUNDED, "mirror_workers": len(conflict_domains())}, writes_only=False),
    Spec("group-calls", "calls/s, whole mix, one worker, group commit",
         {**UNBOUNDED, "group_commit": GROUP_COMMIT}, writes_only=False),
    Spec("defaults", "defaults", {}, writes_only=False, synchronous="NORMAL"),
)  # fmt: skip
"""Every shadow arm. ``defaults`` is the runtime's own (10,000-call queue, reads sampled
down above half full) on the demo's own candidate (SQLite at ``synchronous=NORMAL``)."""


@dataclass(frozen=True)
class Arm:
    """One demo run: what the callers did and what the mirror applied."""

    load: float
    seconds: float
    """From the first call until the last one was made and (in shadow mode) mirrored."""
    writes: int = 0
    calls: int = 0
    mirrored_writes: int = 0
    mirrored_calls: int = 0
    dropped_writes: int = 0
    sampled_reads: int = 0
    failures: int = 0
    """Divergences and candidate errors (none expected: no bug is planted)."""
    busy: tuple[float, ...] = ()
    """Each mirror worker's busy seconds (from taking a batch to its last answer)."""
    call_seconds: float = 0.0
    """The candidate's own call time, summed over every mirrored call."""

    @property
    def call_share(self) -> float:
        """The candidate's own calls' share of the workers' busy time (the rest: the mirror's)."""
        return self.call_seconds / sum(self.busy) if sum(self.busy) > 0 else 0.0

    def kept_up(self, authoritative: Arm) -> bool:
        return self.seconds <= authoritative.seconds * KEPT_UP

    @property
    def mirror_write_rate(self) -> float:
        return self.mirrored_writes / self.seconds

    @property
    def mirror_call_rate(self) -> float:
        return self.mirrored_calls / self.seconds

    def capacity(self, *, writes: bool) -> float:
        """What the mirror would sustain if fed without pause: its calls over its busy time.

        With several workers the busiest bounds the others (the mix's shares stay
        the same), so the calls go over the longest busy time.
        """
        mirrored = self.mirrored_writes if writes else self.mirrored_calls
        return mirrored / max(self.busy) if self.busy and max(self.busy) > 0 else 0.0


@dataclass
class Rounds:
    """Every round of every arm of one backend (``legacy``: the authoritative side alone)."""

    arms: dict[str, list[Arm]] = field(default_factory=dict)

    def add(self, name: str, arm: Arm) -> None:
        self.arms.setdefault(name, []).append(arm)


def _counted(options: DemoOptions) -> Arm:
    load = os.getloadavg()[0]
    result = run_demo(options)
    arm = Arm(load, result.elapsed_seconds)
    if options.mode is Mode.LEGACY:
        return arm
    store = DivergenceStore(result.store_url)
    try:
        counts, drops = store.comparison_counts(), store.drops()
    finally:
        store.close()
    writes = calls = mirrored_writes = mirrored_calls = sampled = failures = 0
    for count in counts:
        failures += count.total if count.outcome in FAILED else 0
        is_write = (count.service, count.method) in WRITES
        calls += count.total
        writes += count.total if is_write else 0
        if count.outcome == "skipped":
            sampled += count.total
            continue
        if count.outcome != "dropped":
            mirrored_calls += count.total
            mirrored_writes += count.total if is_write else 0
    dropped_writes = sum(drop.count for drop in drops if drop.kind == "write")
    return Arm(
        load, result.elapsed_seconds, writes=writes, calls=calls, mirrored_writes=mirrored_writes,
        mirrored_calls=mirrored_calls, dropped_writes=dropped_writes, sampled_reads=sampled,
        failures=failures, busy=result.mirror_busy_seconds,
        call_seconds=result.mirrored_call_seconds,
    )  # fmt: skip


@contextmanager
def _candidate(backend: str) -> Iterator[str | None]:
    """None for a SQLite candidate file per run; a fresh server database otherwise."""
    if backend == "sqlite":
        yield None
        return
    with fresh_database(SERVERS[backend], "headroom") as url:
        yield url


def _measure(backend: str, specs: Sequence[Spec], rounds: int, ops: int, root: Path) -> Rounds:
    measured = Rounds()
    with _candidate(backend) as server:
        for round_ in range(rounds):
            workdir = root / f"{backend}-legacy-{round_}"
            legacy = DemoOptions(ops=ops, workdir=workdir, coverage=False, mode=Mode.LEGACY)
            measured.add("legacy", _counted(legacy))
            for spec in specs:
                workdir = root / f"{backend}-{spec.name}-{round_}"
                url = server or f"sqlite:///{workdir}.db?synchronous={spec.synchronous}"
                options = DemoOptions(
                    ops=ops, workdir=workdir, coverage=False, candidate_url=url,
                    runtime_settings=spec.settings,
                    read_sample_rate=0.0 if spec.writes_only else 1.0,
                )  # fmt: skip
                measured.add(spec.name, _counted(options))
    return measured


def spec(name: str) -> Spec:
    """The shadow arm called ``name``."""
    return next(spec for spec in SPECS if spec.name == name)


def _rate(arm: Arm, authoritative: Arm, *, writes: bool) -> str:
    rate = arm.mirror_write_rate if writes else arm.mirror_call_rate
    return f"{'>= ' if arm.kept_up(authoritative) else ''}{rate:,.0f}"


def _bound(arms: list[Arm], authoritative: list[Arm]) -> str:
    return ">= " if all(a.kept_up(b) for a, b in zip(arms, authoritative, strict=True)) else ""


def _report(
    backend: str, specs: Sequence[Spec], measured: Rounds
) -> tuple[list[str], list[str], bool]:
    """Summary rows (medians over rounds), per-round rows, and whether a target was missed."""
    auth = measured.arms["legacy"]
    mix = next(arms[0] for arms in measured.arms.values() if arms[0].calls)
    writes_per_call = mix.writes / mix.calls
    authoritative_calls = [mix.calls / a.seconds for a in auth]
    authoritative_writes = [c * writes_per_call for c in authoritative_calls]
    summary: list[str] = []
    best = 0.0
    shadow = [spec for spec in specs if spec.name != "defaults"]
    for spec in shadow:
        arms = measured.arms[spec.name]
        base = authoritative_writes if spec.writes_only else authoritative_calls
        rates = [a.mirror_write_rate if spec.writes_only else a.mirror_call_rate for a in arms]
        capacities = [a.capacity(writes=spec.writes_only) for a in arms]
        bound = _bound(arms, auth)
        for label, values, shown_bound in (
            (spec.label, rates, bound),
            (f"{spec.label}: capacity (over busy time)", capacities, ""),
        ):
            ratio = statistics.median(v / b for v, b in zip(values, base, strict=True))
            target = f"| >= {TARGET:.1f}x | {'**no**' if ratio < TARGET else 'yes'} |"
            if spec.writes_only:
                best = max(best, ratio)
            summary.append(
                f"| {backend} | {label} | {statistics.median(base):,.0f} "
                f"| {shown_bound}{statistics.median(values):,.0f} | {shown_bound}{ratio:.2f}x "
                + (target if spec.writes_only else "| | |")
            )
    every = [arm for arms in measured.arms.values() for arm in arms]
    drops = sum(arm.dropped_writes for arm in every)
    failures = sum(arm.failures for arm in every)
    defaults = measured.arms.get("defaults", [])
    if defaults:
        summary.append(
            f"| {backend} | defaults: writes dropped, reads sampled out "
            f"| | {sum(a.dropped_writes for a in defaults)}, "
            f"{sum(a.sampled_reads for a in defaults):,} | | 0 writes | "
            f"{'yes' if drops == 0 else '**no**'} |"
        )
    summary.append(
        f"| {backend} | divergences and candidate errors, every shadow arm | | {failures} "
        f"| | 0 | {'yes' if failures == 0 else '**no**'} |"
    )
    missed = best < TARGET or drops > 0 or failures > 0
    per_round = []
    for index, auth_arm in enumerate(auth):
        cells = [
            _rate(arm := measured.arms[spec.name][index], auth_arm, writes=spec.writes_only)
            + f" ({arm.seconds:.1f} s; busy {'/'.join(f'{b:.1f}' for b in arm.busy)} s; "
            f"capacity {arm.capacity(writes=spec.writes_only):,.0f}; "
            f"candidate {arm.call_share:.0%} of busy)"
            for spec in shadow
        ]
        per_round.append(
            f"| {backend} | {index + 1} | {auth_arm.load:.2f} | {auth_arm.seconds:.1f} "
            f"| {authoritative_writes[index]:,.0f} | {authoritative_calls[index]:,.0f} | "
            + " | ".join(cells)
            + f" | {sum(arms[index].failures for arms in measured.arms.values())} |"
        )
    return summary, per_round, missed


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench headroom", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--repeat", type=int, default=None, help="interleaved rounds per arm")
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help=f"comma-separated: {', '.join(BACKENDS)}"
    )
    parser.add_argument(
        "--arms",
        default=",".join(spec.name for spec in SPECS),
        help=f"comma-separated shadow arms (legacy always runs): "
        f"{', '.join(spec.name for spec in SPECS)}",
    )
    parser.add_argument("--ops", type=int, default=None, help="requests per run")
    args = parser.parse_args(list(argv))
    chosen = [name.strip() for name in args.backends.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(BACKENDS))
    if unknown or not chosen:
        print(f"bench headroom: error: unknown backends {unknown}", file=sys.stderr)
        return 2
    wanted = {name.strip() for name in args.arms.split(",") if name.strip()}
    specs = [spec for spec in SPECS if spec.name in wanted]
    unknown = sorted(wanted - {spec.name for spec in SPECS})
    if unknown or not specs:
        print(f"bench headroom: error: unknown arms {unknown}", file=sys.stderr)
        return 2
    rounds = args.repeat or (1 if args.quick else 2)
    ops = args.ops or (300 if args.quick else 6000)
    if ops < 1 or rounds < 1:
        print("bench headroom: error: --ops and --repeat must be positive", file=sys.stderr)
        return 2

    summary: list[str] = []
    per_round: list[str] = []
    status = 0
    with tempfile.TemporaryDirectory(prefix="shadow-bench-headroom-") as scratch:
        root = Path(scratch)
        with logs_to_file(root / "shadow.log"):
            for backend in chosen:
                own = [spec for spec in specs if backend == "sqlite" or not spec.sqlite_only]
                measured = _measure(backend, own, rounds, ops, root)
                rows, rounds_rows, missed = _report(backend, own, measured)
                summary += rows
                per_round += [f"\n{_round_header(own)}", *rounds_rows]
                status |= missed

    print(
        f"{rounds} interleaved round(s) per arm, {ops:,} requests per run, saturated "
        "(4 API threads, 1 queue worker); medians over the rounds; one worker per domain: "
        f"mirror_workers={len(conflict_domains())}; group commit: group_commit={GROUP_COMMIT}; "
        "SQLite candidates at synchronous=FULL unless NORMAL is named; mirror rates over the "
        "time from the first call to the drained queue ('>=': the mirror kept up, so the "
        "rate is what the callers offered); capacity: mirrored calls over the busiest "
        "worker's busy seconds (shadow_mirror_busy_seconds_total), what the mirror would "
        "sustain fed without pause beside the same callers; candidate N% of busy: the "
        "candidate's own calls' share of the workers' busy seconds, the rest being the "
        "mirror's own work (decoding, comparing, answering).\n"
    )
    print("| candidate | measure | authoritative (legacy alone) | mirror | ratio | target | met |")
    print("|---|---|---:|---:|---:|---:|:---:|")
    print("\n".join(summary))
    print(
        "\nper round (load: one-minute load average when the round started; s: seconds "
        "from the first call until the last was made and mirrored):"
    )
    print("\n".join(per_round))
    print(f"\n{Environment.current().describe()}")
    return status


def _round_header(specs: Sequence[Spec]) -> str:
    names = [spec.name for spec in specs if spec.name != "defaults"]
    columns = ["candidate", "round", "load", "legacy s", "legacy writes/s", "legacy calls/s"]
    columns += [f"{name} (s)" for name in names] + ["failures"]
    return f"| {' | '.join(columns)} |\n|---|{'---:|' * (len(columns) - 1)}"
