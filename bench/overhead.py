"""What shadowing costs the caller: the demo's traffic, legacy-only against shadow mode.

Two measurements, each with the arms interleaved (legacy-only, shadow,
legacy-only, shadow, ...) so that the machine's drift hits both alike, and the
same process layout (API threads and queue workers in this process; in shadow
mode the mirror worker is a separate process, the default):

* **paced**: requests at a realistic fixed rate, every read and write
  mirrored; the caller's p50 and p99 request latency in each arm and their
  ratio (targets: p50 <= 1.10x, p99 <= 1.5x, zero drops);
* **saturation**: requests as fast as the threads can make them; throughput in
  each arm and the ratio (target >= 0.75x), with reads sampled adaptively when
  the mirror queue fills, and the count of dropped writes (target: zero).

Latency is measured around each API request in the calling thread (a request
makes one to several service calls), from the demo's own timing.

A ratio is only as good as its baseline, so every figure comes with its spread:
each arm's minimum, median and maximum over the rounds, and the one-minute load
average when each round started. A round where shadow mode beats legacy-only
(paced: a lower p50; saturated: more throughput, since there a lower p50 only
says how the waiting was shared out) is flagged: it is never a real speed-up,
and the figure must not be read as a met target. The paced demo sends its
requests one at a time on one shared schedule; when each thread paced on its
own clock, their bursts decided the baseline (docs/benchmarks.md, "Why shadow
mode beats legacy-only").
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness import Environment, logs_to_file, percentile
from imagegen.demo import DemoOptions, DemoResult, run_demo
from shadow.runtime import DivergenceStore, Mode

__all__ = ["main"]


@dataclass(frozen=True)
class Arm:
    """One run's caller-side figures."""

    p50: float
    p99: float
    throughput: float
    skipped_reads: int
    dropped_writes: int
    load: float
    """One-minute load average when the run started."""


def _run(
    mode: Mode,
    ops: int,
    rate: float | None,
    workdir: Path,
    settings: Mapping[str, Any] | None = None,
) -> Arm:
    load = os.getloadavg()[0]
    options = DemoOptions(
        ops=ops, mode=mode, rate=rate, workdir=workdir, runtime_settings=settings or {}
    )
    result: DemoResult = run_demo(options)
    store = DivergenceStore(result.store_url)
    try:
        dropped_writes = sum(drop.count for drop in store.drops() if drop.kind == "write")
    finally:
        store.close()
    latencies = sorted(result.request_latencies)
    return Arm(
        p50=statistics.median(latencies),
        p99=percentile(latencies, 0.99),
        throughput=len(latencies) / result.api_seconds if result.api_seconds else 0.0,
        skipped_reads=sum(s.outcomes.get("skipped", 0) for s in result.services),
        dropped_writes=dropped_writes,
        load=load,
    )


def _interleaved(
    rounds: int, ops: int, rate: float | None, root: Path, lever: Mapping[str, Any] | None = None
) -> tuple[dict[Mode, list[Arm]], list[Arm]]:
    """Each round: legacy-only, shadow, then (with ``lever``) shadow with those settings."""
    arms: dict[Mode, list[Arm]] = {Mode.LEGACY: [], Mode.SHADOW: []}
    levered: list[Arm] = []
    for round_ in range(rounds):
        for mode in (Mode.LEGACY, Mode.SHADOW):
            arms[mode].append(_run(mode, ops, rate, root / f"{mode.value}-{round_}"))
        if lever:
            levered.append(_run(Mode.SHADOW, ops, rate, root / f"lever-{round_}", lever))
    return arms, levered


def _lever(text: str) -> dict[str, Any]:
    """``NAME=VALUE`` (VALUE read as TOML: true, 0.5, "text") for the lever arm."""
    name, sep, value = text.partition("=")
    try:
        parsed = tomllib.loads(f"v = {value}")["v"] if sep else None
    except tomllib.TOMLDecodeError:
        parsed = None
    if not name or parsed is None:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (a TOML value), got {text!r}")
    return {name: parsed}


def _print_lever(
    lever: Mapping[str, Any], paced: dict[Mode, list[Arm]], levered: list[Arm]
) -> None:
    """The lever arm beside the default shadow arm, each against legacy-only (medians)."""
    setting = ", ".join(f"{name} = {value!r}" for name, value in lever.items())
    print(f"\nlever arm (shadow with {setting}), interleaved in the paced rounds:\n")
    print("| arm | p50 (ms) | p99 (ms) | p50 ratio | p99 ratio | dropped writes |")
    print("|---|---:|---:|---:|---:|---:|")
    legacy = paced[Mode.LEGACY]
    base50 = statistics.median(a.p50 for a in legacy)
    base99 = statistics.median(a.p99 for a in legacy)
    for name, arms in (("shadow (defaults)", paced[Mode.SHADOW]), (setting, levered)):
        p50 = statistics.median(a.p50 for a in arms)
        p99 = statistics.median(a.p99 for a in arms)
        print(
            f"| {name} | {_ms(p50)} | {_ms(p99)} | {p50 / base50:.2f}x | {p99 / base99:.2f}x "
            f"| {sum(a.dropped_writes for a in arms)} |"
        )


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f}"


def _spread(values: Sequence[float], scale: float = 1000.0) -> str:
    """min / median / max over the rounds, and the max's excess over the min."""
    low, mid, high = min(values), statistics.median(values), max(values)
    excess = (high / low - 1.0) * 100 if low else float("inf")
    return (
        f"{low * scale:.3f} / {mid * scale:.3f} / {high * scale:.3f} (max {excess:+.0f}% over min)"
    )


def _paced_faster(legacy: Arm, shadow: Arm) -> bool:
    return shadow.p50 < legacy.p50


def _saturated_faster(legacy: Arm, shadow: Arm) -> bool:
    # At saturation every thread is always busy, so latency times throughput is
    # the same in both arms and a lower p50 only says how the waiting was shared
    # out (docs/benchmarks.md, "Why shadow mode beats legacy-only"): throughput
    # is what being faster means there.
    return shadow.throughput > legacy.throughput


def _print_rounds(
    title: str, arms: dict[Mode, list[Arm]], faster: Callable[[Arm, Arm], bool]
) -> None:
    """Each round's figures side by side, with its load and a flag where shadow beat legacy."""
    print(f"\n{title}, per round:\n")
    print(
        "| round | load | legacy p50 | shadow p50 | legacy p99 | shadow p99 | req/s L | req/s S |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for index, (legacy, shadow) in enumerate(
        zip(arms[Mode.LEGACY], arms[Mode.SHADOW], strict=True)
    ):
        flag = " (shadow faster: baseline noise)" if faster(legacy, shadow) else ""
        print(
            f"| {index + 1}{flag} | {legacy.load:.2f} | {_ms(legacy.p50)} | {_ms(shadow.p50)} "
            f"| {_ms(legacy.p99)} | {_ms(shadow.p99)} | {legacy.throughput:.0f} "
            f"| {shadow.throughput:.0f} |"
        )


def _print_spread(paced: dict[Mode, list[Arm]], saturated: dict[Mode, list[Arm]]) -> None:
    legacy, shadow = paced[Mode.LEGACY], paced[Mode.SHADOW]
    print("\nspread over the rounds (min / median / max):\n")
    print(f"- legacy-only paced p50 ms: {_spread([a.p50 for a in legacy])}")
    print(f"- shadow paced p50 ms: {_spread([a.p50 for a in shadow])}")
    print(f"- legacy-only paced p99 ms: {_spread([a.p99 for a in legacy])}")
    print(f"- shadow paced p99 ms: {_spread([a.p99 for a in shadow])}")
    throughputs = [a.throughput for a in saturated[Mode.LEGACY]]
    print(f"- legacy-only saturated req/s: {_spread(throughputs, scale=1.0)}")
    _print_rounds("paced", paced, _paced_faster)
    _print_rounds("saturated", saturated, _saturated_faster)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench overhead", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--repeat", type=int, default=None, help="interleaved rounds per arm")
    parser.add_argument("--rate", type=float, default=150.0, help="paced requests per second")
    parser.add_argument(
        "--lever",
        type=_lever,
        default=None,
        metavar="NAME=VALUE",
        help="also run a paced shadow arm with this runtime setting, interleaved "
        "(e.g. store_process=true): a lever side by side with the defaults",
    )
    args = parser.parse_args(list(argv))
    rounds = args.repeat or (1 if args.quick else 5)
    paced_ops = 200 if args.quick else 1500
    saturated_ops = 300 if args.quick else 3000

    with tempfile.TemporaryDirectory(prefix="shadow-bench-") as scratch:
        root = Path(scratch)
        with logs_to_file(root / "shadow.log"):
            paced, levered = _interleaved(rounds, paced_ops, args.rate, root / "paced", args.lever)
            saturated, _ = _interleaved(rounds, saturated_ops, None, root / "saturated")

    legacy, shadow = paced[Mode.LEGACY], paced[Mode.SHADOW]
    p50 = (statistics.median(a.p50 for a in legacy), statistics.median(a.p50 for a in shadow))
    p99 = (statistics.median(a.p99 for a in legacy), statistics.median(a.p99 for a in shadow))
    paced_drops = sum(a.dropped_writes for a in shadow)
    paced_skips = sum(a.skipped_reads for a in shadow)
    base = statistics.median(a.throughput for a in saturated[Mode.LEGACY])
    mirrored = statistics.median(a.throughput for a in saturated[Mode.SHADOW])
    saturated_drops = sum(a.dropped_writes for a in saturated[Mode.SHADOW])
    saturated_skips = sum(a.skipped_reads for a in saturated[Mode.SHADOW])

    print(
        f"{rounds} interleaved round(s) per arm; paced at {args.rate:g} requests/s, "
        f"{paced_ops} requests per paced run, {saturated_ops} per saturated run.\n"
    )
    print("| measure | legacy only | shadow | ratio | target | met |")
    print("|---|---:|---:|---:|---:|:---:|")
    rows = [
        ("paced caller p50 (ms)", p50, 1.10, True),
        ("paced caller p99 (ms)", p99, 1.5, True),
    ]
    status = 0
    for name, (a, b), target, lower_is_better in rows:
        ratio = b / a if a else float("inf")
        met = ratio <= target if lower_is_better else ratio >= target
        status |= 0 if met else 1
        verdict = "yes" if met else "no"
        print(f"| {name} | {_ms(a)} | {_ms(b)} | {ratio:.2f}x | <= {target:.2f}x | {verdict} |")
    ratio = mirrored / base if base else 0.0
    met = ratio >= 0.75
    status |= 0 if met else 1
    print(
        f"| saturated throughput (requests/s) | {base:.0f} | {mirrored:.0f} | {ratio:.2f}x "
        f"| >= 0.75x | {'yes' if met else 'no'} |"
    )
    print()
    print(
        f"paced shadow runs: {paced_drops} dropped writes, {paced_skips} reads sampled out "
        f"(target: zero drops)"
    )
    print(
        f"saturated shadow runs: {saturated_drops} dropped writes, {saturated_skips} reads "
        f"sampled out adaptively (target: zero dropped writes)"
    )
    status |= 1 if paced_drops or saturated_drops else 0
    _print_spread(paced, saturated)
    if args.lever:
        _print_lever(args.lever, paced, levered)
    print(f"\n{Environment.current().describe()}")
    return status
