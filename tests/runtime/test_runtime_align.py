"""Start-up state: the application's own writes outside any proxy, aligned before counting."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from shadow import SystemClock, UuidIds
from shadow.data import DataSchema, reconciler
from shadow.runtime import Runtime, ServiceSettings, ShadowSettings, SideFactory
from tests.runtime.runtime_kv import KeyValue, build, rows


def _start_up(paths: dict[str, str]) -> None:
    """What the application does when it starts: migrate both stores, seed its own rows
    (with its own uuid4 ids and clock) through the legacy layer, outside any proxy."""
    legacy = build(ids=UuidIds(), clock=SystemClock(), path=paths["legacy"])["kv"]
    build(ids=UuidIds(), clock=SystemClock(), path=paths["candidate"])  # the migration
    legacy.put("theme", "dark")
    legacy.put("language", "en")


def _runtime(paths: dict[str, str], worker: str, *, align_hook: bool) -> Runtime:
    engines = {side: sa.create_engine(f"sqlite:///{paths[side]}") for side in paths}
    metadata = sa.MetaData()
    metadata.reflect(engines["legacy"])
    schema = DataSchema(metadata, service_tables={"kv": ("entries",)})
    return Runtime(
        ShadowSettings(
            worker=worker,
            services={"kv": ServiceSettings(mode="shadow", read_sample_rate=1.0)},
            store_url=f"sqlite:///{Path(paths['legacy']).parent / 'store.db'}",
        ),
        legacy=SideFactory("tests.runtime.runtime_kv:build", {"path": paths["legacy"]}),
        candidate=SideFactory("tests.runtime.runtime_kv:build", {"path": paths["candidate"]}),
        registry=CollectorRegistry(),
        reconcile=reconciler(schema, legacy=engines["legacy"], candidate=engines["candidate"])
        if align_hook
        else None,
    )


def _traffic(runtime: Runtime, kv: KeyValue) -> Counter[str]:
    assert kv.get("theme").value == "dark"
    kv.put("theme", "light")
    kv.list_all()
    assert runtime.flush()
    outcomes: Counter[str] = Counter()
    for count in runtime.store.comparison_counts():
        outcomes[count.outcome] += count.total
    return outcomes


@pytest.mark.parametrize("worker", ["thread", "process"])
def test_start_up_writes_diverge_until_the_stores_are_aligned(tmp_path: Path, worker: str) -> None:
    paths = {side: str(tmp_path / f"{side}.db") for side in ("legacy", "candidate")}
    _start_up(paths)
    runtime = _runtime(paths, worker, align_hook=False)
    try:
        # Without aligning, the first read already diverges (the candidate has no row).
        assert _traffic(runtime, runtime.proxy(KeyValue, "kv"))["divergence"] >= 1
    finally:
        runtime.close()


@pytest.mark.parametrize("worker", ["thread", "process"])
def test_an_aligned_a_a_run_is_clean_from_the_first_call(tmp_path: Path, worker: str) -> None:
    paths = {side: str(tmp_path / f"{side}.db") for side in ("legacy", "candidate")}
    _start_up(paths)
    runtime = _runtime(paths, worker, align_hook=True)
    try:
        kv = runtime.proxy(KeyValue, "kv")
        runtime.align()
        assert rows(paths["legacy"]) == rows(paths["candidate"])
        assert _traffic(runtime, kv) == Counter({"match": 3})
        assert runtime.store.dirty_services() == frozenset()
    finally:
        runtime.close()
