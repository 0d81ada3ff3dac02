"""Prometheus multiprocess mode: several application processes, one exposition.

Each child is a separate interpreter started with ``PROMETHEUS_MULTIPROC_DIR``
set (as under gunicorn or uwsgi), running its own runtime and calls; the test
then exports the directory with prometheus_client's ``MultiProcessCollector``
the way the application's /metrics endpoint would (docs/runtime.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

pytestmark = pytest.mark.slow

_CHILD = """
import sys, time
from pathlib import Path
from prometheus_client import CollectorRegistry
from tests.runtime.runtime_kv import KeyValue
from shadow.runtime import Runtime, ShadowSettings, SideFactory
from shadow.runtime._metrics import MULTIPROCESS
assert MULTIPROCESS, "PROMETHEUS_MULTIPROC_DIR was not seen"
root, calls = Path(sys.argv[1]), int(sys.argv[2])
settings = ShadowSettings(worker="inline", services={"kv": {"mode": "shadow"}},
                          store_url=f"sqlite:///{root / 'store.db'}")
build = "tests.runtime.runtime_kv:build"
with Runtime(settings, legacy=SideFactory(build, {"path": str(root / "l.db")}),
             candidate=SideFactory(build, {"path": str(root / "c.db")}),
             registry=CollectorRegistry()) as runtime:
    kv = runtime.proxy(KeyValue, "kv")
    for index in range(calls):
        kv.put(f"k{index}", "v")
        kv.get(f"k{index}")
    runtime.flush()
    time.sleep(1.5)  # the queue gauges are refreshed into the files every second
print("done")
"""


def _run_child(directory: Path, root: Path, calls: int) -> None:
    root.mkdir()
    repository = Path(__file__).resolve().parents[2]  # so `tests.runtime` imports
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
        "PYTHONPATH": os.pathsep.join([str(repository), os.environ.get("PYTHONPATH", "")]),
    }
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(root), str(calls)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == 0, child.stderr


def _exposition(directory: Path) -> tuple[CollectorRegistry, str]:
    registry = CollectorRegistry()
    # prometheus_client's multiprocess module has no annotations.
    MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    return registry, generate_latest(registry).decode()


def test_counts_of_several_processes_add_up_in_one_exposition(tmp_path: Path) -> None:
    """Two processes' calls are summed; modes are per process; no _created; gauges aggregate."""
    directory = tmp_path / "multiproc"
    directory.mkdir()
    _run_child(directory, tmp_path / "one", calls=3)
    first_pids = {p.stem for p in directory.glob("gauge_liveall_*.db")}
    _run_child(directory, tmp_path / "two", calls=5)
    registry, text = _exposition(directory)

    put = {"service": "kv", "method": "put", "outcome": "match"}
    assert registry.get_sample_value("shadow_comparisons_total", put) == 8
    legacy = {"service": "kv", "side": "legacy"}
    assert registry.get_sample_value("shadow_call_duration_seconds_count", legacy) == 16
    assert "_created" not in text
    # One mode series per process (the pid label), so a promotion that missed one shows.
    mode_pids = {
        sample.labels["pid"]
        for family in registry.collect()
        if family.name == "shadow_service_mode"
        for sample in family.samples
        if sample.labels["mode"] == "shadow" and sample.value == 1
    }
    assert len(mode_pids) == 2
    assert registry.get_sample_value("shadow_mirror_queue_depth") == 0
    assert registry.get_sample_value("shadow_service_dirty", {"service": "kv"}) == 0

    # A process that exited is marked dead (gunicorn's child_exit hook): its live gauges go.
    [first] = first_pids
    mark_process_dead(int(first.rsplit("_", 1)[1]), str(directory))  # type: ignore[no-untyped-call]
    registry, _ = _exposition(directory)
    remaining = {
        sample.labels["pid"]
        for family in registry.collect()
        if family.name == "shadow_service_mode"
        for sample in family.samples
    }
    assert len(remaining) == 1
    assert registry.get_sample_value("shadow_comparisons_total", put) == 8  # counters stay
