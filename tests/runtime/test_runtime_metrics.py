"""Metrics: the fixed names, pre-created label sets, the /metrics endpoint, mode gauges."""

from __future__ import annotations

import itertools
import os
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, generate_latest

from shadow import FixedClock, SequentialIds
from shadow.runtime import LiveSettings, Mode, Runtime, ShadowMetrics, SideFactory
from shadow.runtime._metrics import CALL_BUCKETS, COMPARE_BUCKETS
from tests.runtime import runtime_kv
from tests.runtime.runtime_kv import KeyValue, MakeRuntime

FAMILIES = {
    "shadow_comparisons": "counter",
    "shadow_call_duration_seconds": "histogram",
    "shadow_compare_duration_seconds": "histogram",
    "shadow_mirror_queue_depth": "gauge",
    "shadow_mirror_lag_seconds": "gauge",
    "shadow_dropped_writes": "counter",
    "shadow_circuit_breaker_open": "gauge",
    "shadow_service_mode": "gauge",
    "shadow_service_dirty": "gauge",
    "shadow_mirror_unavailable": "gauge",
    "shadow_store_write_failures": "counter",
    "shadow_mirror_busy_seconds": "counter",
}


def test_every_family_exists_with_its_type(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime()
    runtime.proxy(KeyValue, "kv")
    found = {family.name: family.type for family in runtime.metrics.registry.collect()}
    assert found == FAMILIES


def test_label_sets_of_declared_methods_are_created_at_start_with_zeros(
    make_runtime: MakeRuntime,
) -> None:
    runtime = make_runtime()
    runtime.proxy(KeyValue, "kv")
    text = generate_latest(runtime.metrics.registry).decode()
    for method in ("put", "get", "delete", "list_all", "by_value", "worker_pid"):
        # The outcomes the gate judges per method start at zero; the others when they happen.
        for outcome in ("match", "divergence", "candidate_error"):
            labels = f'method="{method}",outcome="{outcome}",service="kv"'
            assert f"shadow_comparisons_total{{{labels}}} 0.0" in text
        for outcome in ("raced", "skipped", "dropped"):
            assert f'method="{method}",outcome="{outcome}"' not in text
    for side in ("legacy", "candidate"):
        assert f'shadow_call_duration_seconds_count{{service="kv",side="{side}"}} 0.0' in text
    assert 'shadow_compare_duration_seconds_count{service="kv"} 0.0' in text
    assert 'shadow_dropped_writes_total{method="put",service="kv"} 0.0' in text
    assert 'shadow_dropped_writes_total{method="get",service="kv"}' not in text  # reads never
    assert 'shadow_service_mode{mode="shadow",service="kv"} 1.0' in text
    assert 'shadow_service_mode{mode="legacy",service="kv"} 0.0' in text
    assert 'shadow_circuit_breaker_open{service="kv"} 0.0' in text
    assert 'shadow_service_dirty{service="kv"} 0.0' in text


def test_call_durations_are_recorded_per_service_and_side(make_runtime: MakeRuntime) -> None:
    """Histograms carry service and side only (per-method latency is in the store)."""
    runtime = make_runtime()
    kv = runtime.proxy(KeyValue, "kv")
    kv.put("a", "1")
    kv.get("a")
    registry = runtime.metrics.registry
    for side in ("legacy", "candidate"):
        labels = {"service": "kv", "side": side}
        assert registry.get_sample_value("shadow_call_duration_seconds_count", labels) == 2
    compare = {"service": "kv"}
    assert registry.get_sample_value("shadow_compare_duration_seconds_count", compare) == 2
    for family in registry.collect():
        if family.name.endswith("duration_seconds"):
            assert all("method" not in sample.labels for sample in family.samples)


def test_the_exposition_has_no_created_series(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime()
    runtime.proxy(KeyValue, "kv").put("a", "1")
    text = generate_latest(runtime.metrics.registry).decode()
    assert "shadow_comparisons_total" in text
    assert "_created" not in text


def test_leaving_out_created_does_not_change_other_metrics_of_the_process(
    make_runtime: MakeRuntime,
) -> None:
    """Only the runtime's families lose ``_created``: no process-wide switch is flipped."""
    runtime = make_runtime()
    runtime.proxy(KeyValue, "kv")
    application = Counter(
        "app_requests", "The application's own counter.", registry=CollectorRegistry()
    )
    application.inc()
    names = {sample.name for family in application.collect() for sample in family.samples}
    assert names == {"app_requests_total", "app_requests_created"}


def test_a_second_runtime_on_the_same_registry_is_refused(make_runtime: MakeRuntime) -> None:
    """The families are still described to the registry, so duplicates are caught."""
    runtime = make_runtime()
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        ShadowMetrics(runtime.metrics.registry)


def test_latency_buckets_span_the_measured_range() -> None:
    """Calls measured 15 µs to 17 ms at p99 (docs/benchmarks.md): all inside the buckets."""
    assert CALL_BUCKETS[0] <= 0.000025 and CALL_BUCKETS[-1] >= 0.1
    assert COMPARE_BUCKETS[0] <= 0.00001 and COMPARE_BUCKETS[-1] >= 0.025
    for buckets in (CALL_BUCKETS, COMPARE_BUCKETS):
        ratios = [high / low for low, high in itertools.pairwise(buckets)]
        assert max(ratios) <= 10 and len(buckets) <= 12


def test_metrics_are_served_on_loopback(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime()
    runtime.proxy(KeyValue, "kv")
    port = runtime.serve_metrics(0)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        body = response.read().decode()
    assert "shadow_comparisons_total" in body
    assert "shadow_mirror_queue_depth 0.0" in body


def test_two_runtimes_never_share_metrics(make_runtime: MakeRuntime) -> None:
    first, second = make_runtime(), make_runtime()
    first.proxy(KeyValue, "kv").put("a", "1")
    second.proxy(KeyValue, "kv")
    labels = {"service": "kv", "method": "put", "outcome": "match"}
    assert first.metrics.registry.get_sample_value("shadow_comparisons_total", labels) == 1
    assert second.metrics.registry.get_sample_value("shadow_comparisons_total", labels) == 0


def test_a_mode_change_in_the_file_is_applied_live(tmp_path: Path, paths: dict[str, str]) -> None:
    config = tmp_path / "shadow.toml"
    config.write_text(
        f'worker = "inline"\nstore_url = "{paths["store"]}"\n[services.kv]\nmode = "shadow"\n'
    )
    live = LiveSettings(config, reload_check_seconds=0)
    with Runtime(
        live,
        legacy=SideFactory("tests.runtime.runtime_kv:build", {"path": paths["legacy"]}),
        candidate=SideFactory(
            "tests.runtime.runtime_kv:build",
            {"path": paths["candidate"], "fault": "wrong", "fault_method": "get"},
        ),
        registry=CollectorRegistry(),
        ids=SequentialIds(),
        clock=FixedClock(),
    ) as runtime:
        kv = runtime.proxy(KeyValue, "kv")
        kv.put("a", "abc")
        assert kv.get("a").value == "abc"  # legacy answers in shadow mode
        text = config.read_text().replace('mode = "shadow"', 'mode = "reverse"')
        config.write_text(text)
        os.utime(config, ns=(1, 10**18))
        assert kv.get("a").value == "ABC"  # the candidate answers in reverse mode
        registry = runtime.metrics.registry
        mode = registry.get_sample_value(
            "shadow_service_mode", {"service": "kv", "mode": "reverse"}
        )
        assert mode == 1
        assert runtime.settings.effective_mode("kv") is Mode.REVERSE
        assert not runtime.recorder.evidence.is_dirty(
            "kv"
        )  # both sides were dual-written throughout
        assert runtime_kv.rows(paths["legacy"]) == runtime_kv.rows(paths["candidate"])


def test_entering_dual_write_live_marks_the_service_dirty(
    tmp_path: Path, paths: dict[str, str]
) -> None:
    """Writes made in legacy mode reached one store only: not evidence until reconciled."""
    config = tmp_path / "shadow.toml"
    config.write_text(
        f'worker = "inline"\nstore_url = "{paths["store"]}"\n[services.kv]\nmode = "legacy"\n'
    )
    with Runtime(
        LiveSettings(config, reload_check_seconds=0),
        legacy=SideFactory("tests.runtime.runtime_kv:build", {"path": paths["legacy"]}),
        candidate=SideFactory("tests.runtime.runtime_kv:build", {"path": paths["candidate"]}),
        registry=CollectorRegistry(),
    ) as runtime:
        kv = runtime.proxy(KeyValue, "kv")
        kv.put("a", "1")
        config.write_text(config.read_text().replace('"legacy"', '"shadow"'))
        os.utime(config, ns=(1, 10**18))
        kv.put("b", "2")
        assert runtime.recorder.evidence.is_dirty("kv")
        labels = {"service": "kv"}
        assert runtime.metrics.registry.get_sample_value("shadow_service_dirty", labels) == 1
