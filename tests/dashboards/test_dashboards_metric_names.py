"""Dashboards and rules use only metric names a running runtime really exports."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.dashboards.dashboard_files import (
    DASHBOARDS,
    RULES,
    load,
    panel_expressions,
    recording_rule_names,
)
from tests.dashboards.promql_names import metric_names
from tests.dashboards.shadow_workload import running_workload

# The names fixed by the lead (interfaces brief); the exposition must carry them all.
FIXED_FAMILIES = {
    "shadow_comparisons_total",
    "shadow_call_duration_seconds_bucket",
    "shadow_compare_duration_seconds_bucket",
    "shadow_mirror_queue_depth",
    "shadow_mirror_lag_seconds",
    "shadow_dropped_writes_total",
    "shadow_circuit_breaker_open",
    "shadow_service_mode",
    "shadow_service_dirty",
    "shadow_gate_ready",
    "shadow_cutover_actions_total",
}
# Series Prometheus itself adds for every target (the scrape-health panels and alerts).
SCRAPE_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}


def exported_sample_names(tmp_path: Path) -> set[str]:
    with running_workload(tmp_path) as workload:
        workload.run(60)
        workload.runtime.flush()
        text = generate_latest(workload.registry).decode()
    return {
        sample.name for family in text_string_to_metric_families(text) for sample in family.samples
    }


def rule_expressions() -> list[str]:
    expressions = []
    lines = RULES.read_text().splitlines()
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("expr: |"):
            block = []
            for following in lines[index + 1 :]:
                if following.strip() and not following.startswith(" " * 10):
                    break
                block.append(following.strip())
            expressions.append(" ".join(block))
        elif stripped.startswith("expr:"):
            expressions.append(stripped.removeprefix("expr:").strip())
    return expressions


def test_the_runtime_exposition_has_every_fixed_family(tmp_path: Path) -> None:
    assert exported_sample_names(tmp_path) >= FIXED_FAMILIES


def test_dashboard_and_rule_expressions_use_only_exported_or_recorded_names(
    tmp_path: Path,
) -> None:
    known = exported_sample_names(tmp_path) | recording_rule_names() | SCRAPE_SERIES
    used: dict[str, set[str]] = {}
    for path in DASHBOARDS:
        for title, ref, expression in panel_expressions(load(path)):
            used[f"{path.name} {title} {ref}"] = metric_names(expression)
    expressions = rule_expressions()
    assert len(expressions) == 10  # 3 recording rules + 7 alerts
    for number, expression in enumerate(expressions):
        used[f"rule {number}"] = metric_names(expression)
    assert all(used.values()), {k: v for k, v in used.items() if not v}
    unknown = {where: names - known for where, names in used.items() if names - known}
    assert not unknown
