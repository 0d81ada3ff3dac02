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

GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "5m"}


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def panel_expressions(dashboard: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(panel title, refId, expression) for every target of every panel."""
    return [
        (panel["title"], target["refId"], target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]


def concrete(expression: str, rate_interval: str | None = None) -> str:
    """The expression with Grafana's interval variables replaced by real durations."""
    values = dict(GRAFANA_VARIABLES)
    if rate_interval is not None:
        values["$__rate_interval"] = rate_interval
    for name, value in values.items():
        expression = expression.replace(name, value)
    return expression


def recording_rule_names() -> set[str]:
    return set(re.findall(r"^\s*- record:\s*(\S+)\s*$", RULES.read_text(), flags=re.MULTILINE))
