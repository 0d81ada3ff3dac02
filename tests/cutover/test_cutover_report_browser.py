"""The HTML report in headless Chromium: what a reviewer sees on the first screen, and on paper.

Run in CI (``needs_chromium`` fails there without a browser rather than
skipping): the report is laid out at 1400 x 900 and measured in the page.
"""

from __future__ import annotations

import importlib.util
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from shadow._vocabulary import Mode
from shadow.cutover.evidence import DivergenceGroup, MethodEvidence
from shadow.cutover.plan import PhasePlan
from shadow.cutover.policy import PolicySet
from shadow.cutover.report import build_report, render
from tests.browser import FIRST_SCREEN, needs_chromium, probe, run_chromium
from tests.cutover.cutover_factories import FAST, NOW, SLOWER, evidence
from tests.cutover.test_cutover_report import sample_report

pytestmark = [pytest.mark.slow, needs_chromium]

# The reference application's shape: 11 services in 3 phases, a dozen methods each.
SERVICES = {
    1: ("app_settings", "client_state", "style_presets", "workflows"),
    2: ("users", "boards", "board_images", "images", "models", "model_relationships"),
    3: ("session_queue",),
}
METHODS = tuple(f"method_{n:02d}" for n in range(12))
SCREENSHOT_SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "report.py"


def _example(index: int) -> dict[str, Any]:
    prompt = "a watercolour fox in a snowy forest, soft light, " * 4
    return {
        "seen_at": (NOW - timedelta(minutes=index)).isoformat(),
        "outcome": "divergence",
        "mirror": "candidate",
        "write": False,
        "arguments": {"style_preset_id": f"preset-{index}"},
        "error_types": [],
        "differences": [
            {
                "path": "root['name']",
                "change": "values_changed",
                "authoritative": f"Preset {index}",
                "mirror": f"PRESET {index}",
            },
            {
                "path": "root['preset_data']",
                "change": "values_changed",
                "authoritative": {"positive_prompt": prompt, "negative_prompt": "", "steps": 30},
                "mirror": {"positive_prompt": prompt.upper(), "negative_prompt": None, "steps": 30},
            },
        ],
    }


def fleet_report() -> dict[str, Any]:
    """Every service healthy except style_presets.method_00: two open groups, two examples each."""
    plan = PhasePlan(SERVICES)
    declared = {service: frozenset(METHODS) for service in plan.services}
    methods = tuple(
        MethodEvidence(
            service,
            method,
            {"match": 169, "divergence": 38}
            if (service, method) == ("style_presets", "method_00")
            else {"match": 500},
            FAST,
            SLOWER,
        )
        for service in plan.services
        for method in METHODS
    )
    groups = tuple(
        DivergenceGroup(
            fingerprint=fingerprint,
            service="style_presets",
            method="method_00",
            paths=("root['name']", "root['preset_data']"),
            error_types=(),
            count=19,
            first_seen=NOW - timedelta(hours=1),
            last_seen=NOW - timedelta(minutes=5),
            examples=(_example(1), _example(2)),
        )
        for fingerprint in ("3f1a9c0d2b7e4455", "9b0c7d21e4f3a6b8")
    )
    return build_report(
        plan=plan,
        policies=PolicySet(),
        evidence=evidence(methods=methods, groups=groups),
        modes=dict.fromkeys(plan.services, Mode.SHADOW),
        declared_methods=declared,
    )


FIRST_SCREEN_PROBE = """
const section = document.getElementById('divergences').getBoundingClientRect();
const diff = document.querySelector('#divergences .group table.diff').getBoundingClientRect();
const values = [...document.querySelectorAll('#divergences pre.value')];
result = {
  width: window.innerWidth, height: window.innerHeight,
  sectionTop: section.top, diffTop: diff.top,
  pageWidth: document.documentElement.scrollWidth,
  cutOff: values.filter(pre => pre.scrollWidth > pre.clientWidth + 1).length,
  values: values.length,
  marked: document.querySelectorAll('#divergences mark').length,
};
"""


def test_the_open_divergences_are_on_the_first_screen_at_1400_px(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render(fleet_report(), "html"))
    seen = probe(page, FIRST_SCREEN_PROBE, profile=tmp_path / "profile")
    # The window's own frame takes some of its height: the first screen is what is left.
    assert seen["width"] == FIRST_SCREEN[0] and 700 <= seen["height"] <= FIRST_SCREEN[1], seen
    # The section and its first example's side-by-side table start on the first screen.
    assert 0 < seen["sectionTop"] < seen["height"], seen
    assert seen["diffTop"] < seen["height"] - 100, seen
    # Nothing is cut off at the right edge: the page and every value fit, long lines wrapped.
    assert seen["pageWidth"] <= seen["width"], seen
    assert seen["values"] == 2 * 2 * 2 * 2 and seen["cutOff"] == 0, seen
    assert seen["marked"] > 0


def test_the_report_prints_to_pdf(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render(fleet_report(), "html"))
    pdf = tmp_path / "report.pdf"
    done = run_chromium(
        tmp_path / "profile", "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri()
    )
    assert pdf.exists(), done.stderr[-2000:]
    content = pdf.read_bytes()
    assert (
        content.startswith(b"%PDF")
        and content.count(b"/Type /Page\n")
        + content.count(b"/Type /Page>>")
        + content.count(b"/Type /Page ")
        >= 2
    )


CHARTS_PROBE = """
const verdict = document.getElementById('phase-1-verdict');
const chart = document.getElementById('outcomes-chart');
const bars = [...chart.querySelectorAll('rect')].map(r => r.getBBox()).filter(b => b.width > 0);
const box = chart.getBoundingClientRect();
result = {
  verdict: verdict.textContent,
  verdictColour: getComputedStyle(verdict).backgroundColor,
  verdictVisible: verdict.getBoundingClientRect().width > 0,
  chartWidth: box.width, chartHeight: box.height, bars: bars.length,
  latencyCharts: document.querySelectorAll('svg[id^="latency-"]').length,
};
"""


def test_the_verdicts_and_the_charts_render(tmp_path: Path) -> None:
    report = sample_report()
    page = tmp_path / "report.html"
    page.write_text(render(report, "html"))
    seen = probe(page, CHARTS_PROBE, profile=tmp_path / "profile")
    assert seen["verdict"] == "FAIL" and seen["verdictVisible"]
    assert seen["verdictColour"] == "rgb(200, 55, 45)"
    assert seen["chartWidth"] > 300 and seen["chartHeight"] > 50
    assert seen["bars"] >= len(report["services"])  # at least one outcome bar per service
    assert seen["latencyCharts"] == len(report["services"])


def test_the_docs_screenshot_script_shows_a_planted_divergence_on_the_first_screen(
    tmp_path: Path,
) -> None:
    """docs/screenshots/report.py (which made docs/img/report.png) still works: it exits 1
    when the open groups are not on the first screen."""
    spec = importlib.util.spec_from_file_location("report_screenshot", SCREENSHOT_SCRIPT)
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    png = tmp_path / "report.png"
    assert script.main(["--ops", "300", "--explore-seconds", "0", "-o", str(png)]) == 0
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 10_000
