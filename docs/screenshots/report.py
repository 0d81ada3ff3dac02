"""Make docs/img/report.png: the HTML cutover report after a demo with a planted divergence.

Run from the repository root with the project's environment::

    .venv/bin/python docs/screenshots/report.py            # writes docs/img/report.png
    .venv/bin/python docs/screenshots/report.py --ops 800 -o /tmp/report.png

It runs ``shadow demo`` (the Python API, its own policy) with the candidate of
``tests/demo/planted_candidate.py:build_two_bugs``, whose ``style_presets.get``
upper-cases the preset's name and whose ``workflows.get`` loses the
document's last node, renders ``shadow report --format html`` from
the demo's work directory, checks in headless Chromium (the Debian
``chromium`` package) at 1400 px wide that the open divergence groups start
on the first screen, and saves that first screen as a PNG. Nothing is
downloaded. Exit 1 when the check fails, 2 without Chromium.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the planted candidate and the Chromium helper live in tests/

from imagegen.cutover import REFERENCE_PLAN, reference_declared_methods  # noqa: E402
from imagegen.demo.run import MODES_FILE, DemoOptions, run_demo  # noqa: E402
from shadow.cutover import CutoverSettings  # noqa: E402
from shadow.cutover.next_steps import CommandOptions  # noqa: E402
from shadow.cutover.report import build_report, render  # noqa: E402
from tests.browser import CHROMIUM, FIRST_SCREEN, probe, screenshot  # noqa: E402

PLANTED = "tests.demo.planted_candidate:build_two_bugs"
OUTPUT = ROOT / "docs" / "img" / "report.png"

FIRST_SCREEN_PROBE = """
const section = document.getElementById('divergences').getBoundingClientRect();
const diff = document.querySelector('#divergences .group table.diff');
result = {
  height: window.innerHeight, sectionTop: section.top,
  diffBottom: diff ? diff.getBoundingClientRect().bottom : null,
  groups: document.querySelectorAll('#divergences .group').length,
};
"""


def report_page(workdir: Path, *, ops: int, seed: int, explore_seconds: float) -> Path:
    """Run the planted demo in ``workdir`` and write its HTML report there."""
    result = run_demo(
        DemoOptions(
            ops=ops,
            seed=seed,
            workdir=workdir,
            candidate_factory=PLANTED,
            explore_seconds=explore_seconds,
        )
    )
    if not result.divergences and not (result.exploration and result.exploration.found):
        raise SystemExit(f"the planted demo diverged nowhere in {ops} requests: try more --ops")
    config = workdir / MODES_FILE
    settings = CutoverSettings.from_files(
        config, declared_methods=reference_declared_methods(), default_plan=REFERENCE_PLAN
    )
    report = build_report(
        plan=settings.phase_plan(),
        policies=settings.policies,
        evidence=settings.evidence(),
        modes=settings.modes(),
        declared_methods=settings.declared_methods,
        commands=CommandOptions.of(config=config),
    )
    page = workdir / "report.html"
    page.write_text(render(report, "html"), encoding="utf-8")
    return page


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=1000, help="demo API requests")
    parser.add_argument(
        "--explore-seconds", type=float, default=8.0, help="exploration after the traffic"
    )
    parser.add_argument("--seed", type=int, default=1, help="demo seed")
    parser.add_argument("-o", "--output", type=Path, default=OUTPUT, help="PNG to write")
    parser.add_argument("--keep", action="store_true", help="keep the demo's work directory")
    options = parser.parse_args(argv)
    if CHROMIUM is None:
        print("report.py: chromium not found (Debian package chromium)", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="shadow-report-"))
    try:
        page = report_page(
            workdir, ops=options.ops, seed=options.seed, explore_seconds=options.explore_seconds
        )
        seen = probe(page, FIRST_SCREEN_PROBE, profile=workdir / "chromium")
        if not seen["groups"] or not 0 < seen["sectionTop"] < seen["height"]:
            print(f"report.py: the divergences are off the first screen: {seen}", file=sys.stderr)
            return 1
        options.output.parent.mkdir(parents=True, exist_ok=True)
        screenshot(page, options.output, profile=workdir / "chromium", size=FIRST_SCREEN)
        print(f"wrote {options.output} ({seen['groups']} open group(s) on the first screen)")
    finally:
        if options.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
