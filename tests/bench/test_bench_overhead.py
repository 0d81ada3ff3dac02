"""The overhead benchmark's per-round flag: where shadow mode beat legacy-only."""

from __future__ import annotations

import pytest

from bench import overhead
from bench.overhead import Arm
from shadow.runtime import Mode


def _arm(p50: float, throughput: float) -> Arm:
    return Arm(
        p50=p50, p99=p50 * 5, throughput=throughput, skipped_reads=0, dropped_writes=0, load=0.5
    )


def test_paced_rounds_are_flagged_by_p50_and_saturated_ones_by_throughput(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A saturated round with a lower shadow p50 but lower throughput is not 'shadow faster'."""
    # Paced: shadow's p50 below legacy-only's is flagged.
    overhead._print_rounds(
        "paced",
        {Mode.LEGACY: [_arm(0.002, 150)], Mode.SHADOW: [_arm(0.001, 150)]},
        overhead._paced_faster,
    )
    # Saturated: a lower p50 with less throughput is how the waiting was shared, not speed.
    overhead._print_rounds(
        "saturated",
        {
            Mode.LEGACY: [_arm(0.003, 1100), _arm(0.003, 1000)],
            Mode.SHADOW: [_arm(0.001, 1000), _arm(0.004, 1100)],
        },
        overhead._saturated_faster,
    )
    lines = [
        line
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("| 1") or line.startswith("| 2")
    ]
    assert [("shadow faster" in line) for line in lines] == [True, False, True]
