"""The dashboard works for a fleet: variables, rows, alert-level thresholds, runbook links."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.dashboards.dashboard_files import (
    DASHBOARDS,
    ROOT,
    RULES,
    alert_runbook_urls,
    load,
    panel_expressions,
    panels,
    rows,
    runbook_base,
)

DASHBOARD = load(ROOT / "grafana" / "shadow-cutover.json")
RUNBOOK = ROOT.parent / "docs" / "runbook.md"
ROWS = ["Cutover readiness", "Divergences", "Mirroring health", "Latency", "Scrape health"]
# Panel title -> the alert whose level its red threshold must show.
THRESHOLD_ALERTS = {
    "Divergence rate per service": "ShadowDivergenceRateHigh",
    "Mirror lag": "ShadowMirrorLagHigh",
    "Scrape duration": "ShadowScrapeSlow",
    "Circuit breaker open": "ShadowCircuitBreakerOpen",
    "Dirty services": "ShadowServiceDirty",
}
# Metrics without a service label (the gate gauge is per phase, the queue per process).
NO_SERVICE_LABEL = (
    "shadow_gate_ready",
    "shadow_mirror_",
    "shadow_cutover_actions_total",
    "up{",
    "scrape_",
)


def _by_title(title: str) -> dict[str, Any]:
    [panel] = [p for p in panels(DASHBOARD) if p["title"] == title]
    return panel


def _slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _runbook_anchors() -> set[str]:
    headings = re.findall(r"^#+ (.+)$", RUNBOOK.read_text(), flags=re.MULTILINE)
    return {_slug(heading) for heading in headings}


def _alert_thresholds() -> dict[str, float]:
    """Each alert's threshold: the number its expression is compared with."""
    found: dict[str, float] = {}
    alert = ""
    for line in RULES.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("- alert:"):
            alert = stripped.split(":", 1)[1].strip()
        elif stripped.startswith("expr:") and alert:
            match = re.search(r"(>|==)\s*([0-9.]+)\s*$", stripped)
            assert match, stripped
            value = float(match.group(2))
            # "> 0" on counts and "== 1" on 0/1 gauges both turn red at 1.
            found[alert] = 1.0 if (match.group(1), value) in ((">", 0.0), ("==", 1.0)) else value
    return found


def test_datasource_job_instance_and_service_variables_chain_from_the_datasource() -> None:
    variables = {v["name"]: v for v in DASHBOARD["templating"]["list"]}
    assert {"datasource", "job", "instance", "service", "runbook_url"} <= set(variables)
    assert set(variables["datasource"]["current"]) >= {"text", "value"}
    for name in ("job", "instance", "service"):
        variable = variables[name]
        assert variable["type"] == "query" and variable["datasource"]["uid"] == "${datasource}"
        assert variable["multi"] and variable["includeAll"] and variable["allValue"] == ".+"
        assert f", {name})" in variable["query"]["query"]
    assert '{job=~"$job"}' in variables["instance"]["query"]["query"]
    assert 'instance=~"$instance"' in variables["service"]["query"]["query"]


def test_every_query_is_narrowed_by_the_variables_it_can_be() -> None:
    for title, ref, expression in panel_expressions(DASHBOARD):
        assert 'job=~"$job"' in expression, (title, ref)
        if title not in ("Gate readiness per phase",) and not title.startswith("annotation"):
            assert 'instance=~"$instance"' in expression, (title, ref)
        if not any(name in expression for name in NO_SERVICE_LABEL):
            assert 'service=~"$service"' in expression, (title, ref)


def test_rows_by_concern_with_cutover_readiness_first() -> None:
    ordered = rows(DASHBOARD)
    assert [row["title"] for row in ordered] == ROWS
    first, second = ordered[0]["gridPos"]["y"], ordered[1]["gridPos"]["y"]
    readiness = _by_title("Gate readiness per phase")["gridPos"]
    assert first < readiness["y"] < second and readiness["x"] == 0  # top left
    for panel in panels(DASHBOARD):
        assert panel["gridPos"]["y"] > first, panel["title"]  # nothing above the first row


def test_red_thresholds_sit_at_the_alert_levels() -> None:
    levels = _alert_thresholds()
    for title, alert in THRESHOLD_ALERTS.items():
        steps = _by_title(title)["fieldConfig"]["defaults"]["thresholds"]["steps"]
        red = [step["value"] for step in steps if step["color"] == "red"]
        assert red == [levels[alert]], (title, alert, red, levels[alert])
    for title in ("Divergence rate per service", "Mirror lag", "Scrape duration"):
        custom = _by_title(title)["fieldConfig"]["defaults"]["custom"]
        assert custom["thresholdsStyle"]["mode"] == "line", title


def test_runbook_links_on_the_dashboard_panels_and_alerts_share_one_base() -> None:
    base = runbook_base(DASHBOARD)
    anchors = _runbook_anchors()
    assert DASHBOARD["links"][0]["url"] == "${runbook_url}"
    linked = [p for p in panels(DASHBOARD) if p.get("links")]
    assert len(linked) >= 8
    for panel in linked:
        for link in panel["links"]:
            prefix, _, anchor = link["url"].partition("#")
            assert prefix == "${runbook_url}" and anchor in anchors, (panel["title"], link)
    urls = alert_runbook_urls()
    assert len(urls) == 7
    for alert, url in urls.items():
        assert url == f"{base}#{alert.lower()}", alert
        assert alert.lower() in anchors, alert
    assert "runbook:" not in RULES.read_text()  # the convention is runbook_url


def test_candidate_errors_instances_promotions_and_dropped_writes_are_shown() -> None:
    candidate = _by_title("Candidate error rate per service")["targets"][0]["expr"]
    assert 'outcome="candidate_error"' in candidate
    instances = _by_title("Mode per instance")["targets"][0]["expr"]
    assert "by (instance" in instances
    [promotions] = [a for a in DASHBOARD["annotations"]["list"] if "target" in a]
    assert "shadow_cutover_actions_total" in promotions["target"]["expr"]
    assert 'action=~"promote|rollback"' in promotions["target"]["expr"]
    dropped = _by_title("Dropped writes per service")
    expression = dropped["targets"][0]["expr"]
    # Whole counts: the counter itself, not increase()/rate()'s extrapolated fractions.
    assert "increase(" not in expression and "rate(" not in expression
    assert dropped["fieldConfig"]["defaults"]["decimals"] == 0


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool missing")
def test_set_runbook_url_repoints_every_link_at_once(tmp_path: Path) -> None:
    copy = tmp_path / "dashboards"
    shutil.copytree(ROOT, copy)
    new = "https://wiki.example.com/ops/shadow-runbook"
    result = subprocess.run(
        [str(copy / "set-runbook-url"), new], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    rules = (copy / "prometheus" / "shadow-rules.yml").read_text()
    assert rules.count(f"runbook_url: {new}#") == 7
    assert runbook_base(load(copy / "grafana" / "shadow-cutover.json")) == new
    for path in [copy / "prometheus" / "shadow-rules.yml", *copy.glob("grafana/*.json")]:
        assert runbook_base(DASHBOARD) not in path.read_text(), path
    tests = subprocess.run(
        ["promtool", "test", "rules", str(copy / "prometheus" / "shadow-rules.test.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr


@pytest.mark.parametrize("bad", ["ftp://host/x", "not a url", "https://host/x#anchor"])
def test_set_runbook_url_refuses_a_bad_url_and_changes_nothing(tmp_path: Path, bad: str) -> None:
    copy = tmp_path / "dashboards"
    shutil.copytree(ROOT, copy)
    result = subprocess.run(
        [str(copy / "set-runbook-url"), bad], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert (copy / "prometheus" / "shadow-rules.yml").read_text() == RULES.read_text()
    assert [p.read_text() for p in sorted(copy.glob("grafana/*.json"))] == [
        p.read_text() for p in DASHBOARDS
    ]
