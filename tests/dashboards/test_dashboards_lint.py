"""The Grafana dashboards follow the house rules and their expressions are valid PromQL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.dashboards.dashboard_files import (
    DASHBOARDS,
    ROOT,
    RULE_TESTS,
    RULES,
    alert_runbook_urls,
    concrete,
    load,
    panel_expressions,
    panels,
    recording_rule_names,
)
from tests.dashboards.promql_names import metric_names

PROMTOOL = shutil.which("promtool")
# Locally a missing promtool skips; in CI (CI=true, where .ci/run installs it) it fails.
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None and os.environ.get("CI") != "true",
    reason="promtool missing (Debian package prometheus; .ci/run installs it)",
)

REQUIRED_PANELS = {
    "Candidate error rate per service",
    "Mode per instance",
    "Scrape targets up",
    "Scrape duration",
    "Divergence rate per service",
    "Comparisons by outcome",
    "Call latency p50 and p99 per side",
    "Candidate / legacy latency ratio per service",
    "Mirror queue depth",
    "Dropped writes per service",
    "Circuit breaker open",
    "Mode per service",
    "Gate readiness per phase",
}


def test_there_is_a_dashboard() -> None:
    assert DASHBOARDS, f"no dashboard JSON under {ROOT / 'grafana'}"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_one_datasource_variable_and_every_panel_and_target_uses_it(path: Path) -> None:
    dashboard = load(path)
    variables = dashboard["templating"]["list"]
    datasource_variables = [v for v in variables if v["type"] == "datasource"]
    assert [v["name"] for v in datasource_variables] == ["datasource"]
    assert datasource_variables[0]["query"] == "prometheus"
    for panel in panels(dashboard):
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_panel_has_a_unit_a_description_and_targets(path: Path) -> None:
    for panel in panels(load(path)):
        assert panel["fieldConfig"]["defaults"].get("unit"), f"{panel['title']}: no unit"
        assert len(panel.get("description", "")) > 20, f"{panel['title']}: no description"
        assert panel["targets"], f"{panel['title']}: no query"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_panel_ids_are_unique_and_ref_ids_unique_within_a_panel(path: Path) -> None:
    everything = load(path)["panels"]
    ids = [panel["id"] for panel in everything]
    assert len(ids) == len(set(ids))
    for panel in panels(load(path)):
        refs = [target["refId"] for target in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]


def test_dashboard_uids_are_unique_and_present() -> None:
    uids = [load(path)["uid"] for path in DASHBOARDS]
    assert all(uids) and len(uids) == len(set(uids))


def test_the_cutover_dashboard_has_every_required_panel() -> None:
    titles = {panel["title"] for path in DASHBOARDS for panel in panels(load(path))}
    assert titles >= REQUIRED_PANELS


def test_panels_do_not_overlap_on_the_grid() -> None:
    for path in DASHBOARDS:
        cells: dict[tuple[int, int], str] = {}
        for panel in load(path)["panels"]:
            grid = panel["gridPos"]
            for x in range(grid["x"], grid["x"] + grid["w"]):
                for y in range(grid["y"], grid["y"] + grid["h"]):
                    assert (x, y) not in cells, f"{panel['title']} overlaps {cells.get((x, y))}"
                    cells[(x, y)] = panel["title"]
            assert grid["x"] + grid["w"] <= 24


def test_metric_name_extraction_skips_functions_labels_and_keywords() -> None:
    expression = (
        'sum by (service) (rate(a_total{outcome="x y"}[5m])) / on (service) group_left '
        "max without (le) (b_bucket offset 5m) > bool 1e-9 and c:rule"
    )
    assert metric_names(expression) == {"a_total", "b_bucket", "c:rule"}


def _rules_file(expressions: list[tuple[str, str]], directory: Path) -> Path:
    """A rules file with one recording rule per expression (JSON is YAML)."""
    rules = [{"record": f"check:{name}", "expr": expr} for name, expr in expressions]
    path = directory / "panel-expressions.rules.yml"
    path.write_text(json.dumps({"groups": [{"name": "panels", "rules": rules}]}))
    return path


@needs_promtool
def test_every_panel_expression_parses(tmp_path: Path) -> None:
    expressions = [
        (f"panel_{index}", concrete(expr))
        for index, (_, _, expr) in enumerate(
            item for path in DASHBOARDS for item in panel_expressions(load(path))
        )
    ]
    result = _promtool("check", "rules", str(_rules_file(expressions, tmp_path)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(expressions)} rules found" in result.stdout


@needs_promtool
def test_a_broken_expression_is_caught_by_the_parse_check(tmp_path: Path) -> None:
    result = _promtool(
        "check", "rules", str(_rules_file([("bad", "sum by (service (rate(x[5m]))")], tmp_path))
    )
    assert result.returncode != 0


@needs_promtool
def test_promtool_accepts_the_rules() -> None:
    result = _promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_rule_unit_tests_pass() -> None:
    result = _promtool("test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@needs_promtool
def test_the_example_prometheus_config_is_valid() -> None:
    result = _promtool("check", "config", str(ROOT / "prometheus" / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_runbook_section() -> None:
    runbook = (ROOT.parent / "docs" / "runbook.md").read_text().lower()
    for anchor in _runbook_anchors():
        assert f"### {anchor}" in runbook, anchor


def _runbook_anchors() -> list[str]:
    return [url.split("#", 1)[1] for url in alert_runbook_urls().values()]


def test_provisioning_points_grafana_at_prometheus_and_the_dashboard_folder() -> None:
    datasource = (ROOT / "provisioning" / "datasources" / "prometheus.yaml").read_text()
    dashboards = (ROOT / "provisioning" / "dashboards" / "shadow.yaml").read_text()
    assert "apiVersion: 1" in datasource and "type: prometheus" in datasource
    assert "apiVersion: 1" in dashboards and "type: file" in dashboards
    assert "\t" not in datasource + dashboards  # YAML forbids tabs for indentation


def test_recording_rules_are_named_level_metric_operation() -> None:
    names = recording_rule_names()
    assert names
    for name in names:
        assert name.count(":") == 2, name


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None, "promtool is required in CI"
    return subprocess.run(
        [PROMTOOL, *args], capture_output=True, text=True, timeout=60, check=False
    )
