"""Benchmark: the comparison fast path, and what a mismatch costs.

``python -m bench comparison [--quick] [--repeat N]``

Three cases on 50-record pages of an image-like record (12 fields, datetimes,
a JSON dict), each side built separately so no object is shared:

* ``equal``: the records are equal -- the fast path (``==`` on the raw
  results). Target: at least 200,000 equal records per second.
* ``timestamps``: equal except database-generated ``created_at`` values a
  few milliseconds apart -- the second fast path (field values compared in
  place, timestamps within the tolerance), no normalization.
* ``mismatch``: one field of one record differs -- the DeepDiff explanation.

Each case is timed ``repeat`` times; the table reports the median run as
records per second and microseconds per record (per page for ``mismatch``).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import deepdiff
import pydantic

from shadow import Compare, Order
from shadow.runtime import compare_values

__all__ = ["main"]

TARGET_RECORDS_PER_SECOND = 200_000
PAGE = 50


class ImageRecord(pydantic.BaseModel):
    """Shaped like the reference app's image record."""

    model_config = pydantic.ConfigDict(frozen=True)

    image_name: str
    image_origin: str
    image_category: str
    width: int
    height: int
    session_id: str | None
    node_id: str | None
    is_intermediate: bool
    starred: bool
    has_workflow: bool
    created_at: datetime
    metadata: dict[str, Any]


SPEC = Compare(
    order=Order.TIES,
    rows=None,
    key=("image_name",),
    sort_key=("starred", "created_at"),
    timestamps=frozenset({"created_at"}),
)


def _page(shift_ms: float = 0.0, change: int | None = None) -> list[ImageRecord]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        ImageRecord(
            image_name=f"img-{n:04d}.png",
            image_origin="internal",
            image_category="general",
            width=512,
            height=768 if n != change else 769,
            session_id=f"session-{n // 4}",
            node_id=None,
            is_intermediate=False,
            starred=n % 7 == 0,
            has_workflow=True,
            created_at=start - timedelta(seconds=n, milliseconds=-shift_ms),
            metadata={"seed": n, "steps": 30, "prompt": "a lighthouse at dusk"},
        )
        for n in range(PAGE)
    ]


def _time(run: Callable[[], object], pages: int) -> float:
    started = time.perf_counter()
    for _ in range(pages):
        run()
    return time.perf_counter() - started


def _case(
    name: str, left: list[ImageRecord], right: list[ImageRecord], pages: int, repeat: int
) -> tuple[str, float, float, bool]:
    verdict = compare_values(SPEC, left, right, tolerance=0.05)
    run = lambda: compare_values(SPEC, left, right, tolerance=0.05)  # noqa: E731
    _time(run, max(1, pages // 10))  # warm-up
    seconds = statistics.median(_time(run, pages) for _ in range(repeat))
    records = pages * PAGE
    return name, records / seconds, seconds / records * 1e6, verdict.equal


def main(argv: Sequence[str] | None = None) -> int:
    """Run the cases and print the table; exit 1 if the fast path misses its target."""
    parser = argparse.ArgumentParser(prog="python -m bench comparison")
    parser.add_argument("--quick", action="store_true", help="fewer pages per run")
    parser.add_argument("--repeat", type=int, default=5, help="runs per case (median kept)")
    options = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    pages = 200 if options.quick else 2000
    repeat = max(1, options.repeat)
    rows = [
        _case("equal (fast path)", _page(), _page(), pages, repeat),
        _case("timestamps within tolerance", _page(), _page(shift_ms=3), pages // 10, repeat),
        _case(
            "mismatch (DeepDiff explains)", _page(), _page(change=17), max(1, pages // 100), repeat
        ),
    ]
    print(
        f"Python {platform.python_version()}, pydantic {pydantic.VERSION}, "
        f"deepdiff {deepdiff.__version__}, {platform.machine()}; "
        f"{PAGE}-record pages, median of {repeat} runs\n"
    )
    print("| case | records/s | us/record | equal |")
    print("|---|---:|---:|---|")
    for name, per_second, micros, equal in rows:
        print(f"| {name} | {per_second:,.0f} | {micros:.2f} | {equal} |")
    fast = rows[0][1]
    met = fast >= TARGET_RECORDS_PER_SECOND
    print(
        f"\nfast path: {fast:,.0f} equal records/s "
        f"({'meets' if met else 'MISSES'} the {TARGET_RECORDS_PER_SECOND:,}/s target)"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
