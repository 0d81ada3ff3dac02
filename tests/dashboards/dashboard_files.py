"""Where the dashboard, rules and provisioning files live, and their expressions."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2] / "dashboards"
DASHBOARDS = sorted((ROOT / "grafana").glob("*.json"))
RULES = ROOT / "prometheus" / "shadow-rules.yml"
RULE_TESTS = ROOT / "prometheus" / "shadow-rules.test.yml"

# Grafana's built-in interval variables, and the dashboard's template variables at "All"
# (their allValue, a regex matching every value).
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "1m",
    "$__range": "5m",
    "$job": ".+",
    "$instance": ".+",
    "$service": ".+",
}


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """The dashboard's panels that show data (rows left out)."""
    return [panel for panel in dashboard["panels"] if panel["type"] != "row"]


def rows(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """The dashboard's rows, top to bottom."""
    return sorted(
        (panel for panel in dashboard["panels"] if panel["type"] == "row"),
        key=lambda row: row["gridPos"]["y"],
    )


def panel_expressions(dashboard: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(panel title, refId, expression) for every target of every panel and annotation."""
    found = [
        (panel["title"], target["refId"], target["expr"])
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
    ]
    for annotation in dashboard["annotations"]["list"]:
        target = annotation.get("target", {})
        if "expr" in target:
            found.append((f"annotation {annotation['name']}", target["refId"], target["expr"]))
    return found


def concrete(expression: str, rate_interval: str | None = None) -> str:
    """The expression with Grafana's interval variables replaced by real durations."""
    values = dict(GRAFANA_VARIABLES)
    if rate_interval is not None:
        values["$__rate_interval"] = rate_interval
    for name, value in values.items():
        expression = expression.replace(name, value)
    return expression


def runbook_base(dashboard: dict[str, Any]) -> str:
    """The dashboard's ``runbook_url`` constant (what dashboards/set-runbook-url sets)."""
    [variable] = [v for v in dashboard["templating"]["list"] if v["name"] == "runbook_url"]
    base: str = variable["query"]
    return base


def alert_runbook_urls() -> dict[str, str]:
    """Each alert's ``runbook_url`` annotation, by alert name."""
    urls: dict[str, str] = {}
    alert = ""
    for line in RULES.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("- alert:"):
            alert = stripped.split(":", 1)[1].strip()
        elif stripped.startswith("runbook_url:"):
            urls[alert] = stripped.split(":", 1)[1].strip()
    return urls


def alert_expressions() -> dict[str, str]:
    """Each alert's expression (one line each in the rules file), by alert name."""
    found: dict[str, str] = {}
    alert = ""
    for line in RULES.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("- alert:"):
            alert = stripped.split(":", 1)[1].strip()
        elif stripped.startswith("expr:") and alert:
            found[alert] = stripped.removeprefix("expr:").strip()
    return found


def without_threshold(expression: str) -> str:
    """An alert expression without its final comparison: what must return data when healthy."""
    return re.sub(r"\s*(>|==)\s*[0-9.]+\s*$", "", expression)


def recording_rule_names() -> set[str]:
    return set(re.findall(r"^\s*- record:\s*(\S+)\s*$", RULES.read_text(), flags=re.MULTILINE))
