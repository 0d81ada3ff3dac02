"""Coverage as evidence: the mirror worker measures the candidate's lines and branches under
compared calls, per service, and the divergence store keeps the union of every run."""

from __future__ import annotations

import ast
import inspect
import time
from pathlib import Path

import pytest

from shadow.runtime import DivergenceStore, _worker
from shadow.runtime._coverage import CoverageMeter, CoverageReport, FileCoverage
from shadow.runtime._store import StoreBatch
from tests.runtime.runtime_kv import KeyValue, MakeRuntime, SqliteKeyValue

SOURCE = Path(inspect.getsourcefile(SqliteKeyValue) or "")
SHOWN = SqliteKeyValue.__module__.replace(".", "/") + ".py"
"""The file as the store names it: where it sits in its package."""


def body_statements(method: str) -> set[int]:
    """Line numbers of the statements in ``SqliteKeyValue.<method>``'s body."""
    tree = ast.parse(SOURCE.read_text())
    [implementation] = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and node.name == SqliteKeyValue.__name__
    ]
    for node in implementation.body:
        if isinstance(node, ast.FunctionDef) and node.name == method:
            first = node.body[0].lineno
            return {
                child.lineno
                for child in ast.walk(node)
                if isinstance(child, ast.stmt) and child.lineno >= first
            }
    raise AssertionError(method)


def coverage_of(store_url: str) -> dict[str, object]:
    store = DivergenceStore(store_url)
    try:
        return {item.service: item for item in store.coverage()}
    finally:
        store.close()


def drive(runtime_kv: KeyValue) -> None:
    runtime_kv.put("a", "1")
    runtime_kv.get("a")
    runtime_kv.list_all()


def test_coverage_is_off_by_default(make_runtime: MakeRuntime, paths: dict[str, str]) -> None:
    """Without ``coverage = true`` nothing is measured or stored."""
    runtime = make_runtime()
    drive(runtime.proxy(KeyValue, "kv"))
    runtime.flush()
    assert coverage_of(paths["store"]) == {}


@pytest.mark.parametrize("worker", ["inline", "thread", "process"])
def test_lines_of_called_methods_are_run_and_an_uncalled_method_is_listed_as_never_run(
    make_runtime: MakeRuntime, paths: dict[str, str], worker: str
) -> None:
    """In every kind of worker: put/get/list_all ran, by_value never did, the constructor
    (run when the side is built, not under a call) is not counted at all."""
    runtime = make_runtime(worker=worker, coverage=True)
    drive(runtime.proxy(KeyValue, "kv"))
    assert runtime.flush()
    runtime.close()
    measured = coverage_of(paths["store"])["kv"]
    missing = set(measured.missing[SHOWN])  # type: ignore[attr-defined]
    assert body_statements("by_value") <= missing
    # get: all but the three statements of paths not taken (gate, missing key, fault) ran.
    assert len(body_statements("get") & missing) == 3
    # put: all but the ROLLBACK-and-raise path (3 statements), the refusal after the
    # insert (1) and the fault (1) ran.
    assert len(body_statements("put") & missing) == 5
    assert not body_statements("__init__") & missing
    assert 0 < measured.share < 1  # type: ignore[attr-defined]
    assert measured.branches > 0 and 0 < measured.branches_hit < measured.branches  # type: ignore[attr-defined]


def test_runs_add_up_in_the_store(make_runtime: MakeRuntime, paths: dict[str, str]) -> None:
    """A second runtime on the same store adds what it ran; nothing already run is lost."""
    first = make_runtime(coverage=True)
    first.proxy(KeyValue, "kv").put("a", "1")
    first.flush()
    first.close()
    before = coverage_of(paths["store"])["kv"]
    assert body_statements("by_value") <= set(before.missing[SHOWN])  # type: ignore[attr-defined]
    second = make_runtime(coverage=True)
    second.proxy(KeyValue, "kv").by_value()
    second.flush()
    after = coverage_of(paths["store"])["kv"]
    assert not body_statements("by_value") & set(after.missing[SHOWN])  # type: ignore[attr-defined]
    assert after.lines_hit > before.lines_hit  # type: ignore[attr-defined]
    assert after.lines == before.lines  # type: ignore[attr-defined]
    assert set(after.missing[SHOWN]) <= set(before.missing[SHOWN])  # type: ignore[attr-defined]


def file_news(source_hash: str, measurable: set[int], ran: set[int]) -> FileCoverage:
    return FileCoverage(
        service="svc",
        path="pkg/svc.py",
        source_hash=source_hash,
        measurable_lines=frozenset(measurable),
        measurable_branches=frozenset({(3, 4), (3, 6)}),
        lines=frozenset(ran),
        branches=frozenset({(3, 4)}),
    )


def test_a_new_version_of_a_file_replaces_what_was_stored_for_the_old_one(
    paths: dict[str, str],
) -> None:
    """Line numbers of two versions never mix: the newer measurement starts afresh."""
    store = DivergenceStore(paths["store"])
    try:
        old = StoreBatch()
        old.add_coverage(file_news("v1", {3, 4, 6, 9}, {3, 4, 9}))
        store.record(old)
        assert store.coverage()[0].lines_hit == 3
        new = StoreBatch()
        new.add_coverage(file_news("v2", {3, 4, 6, 12, 13}, {3}))
        store.record(new)
        [item] = store.coverage()
        assert (item.lines, item.lines_hit) == (5, 1)
        assert item.missing == {"pkg/svc.py": (4, 6, 12, 13)}
        assert (item.branches, item.branches_hit) == (2, 1)
        stale = StoreBatch()  # hits about v1 from a worker still running the old code
        stale.add_coverage(
            FileCoverage("svc", "pkg/svc.py", "v1", None, None, frozenset({4, 6}), frozenset())
        )
        store.record(stale)
        assert store.coverage()[0].lines_hit == 1
    finally:
        store.close()


def test_merging_is_idempotent_and_hits_only_grow(paths: dict[str, str]) -> None:
    """The same news twice counts once; a later report without a line does not unset it."""
    store = DivergenceStore(paths["store"])
    try:
        for ran in ({3, 4}, {3, 4}, {9}):
            batch = StoreBatch()
            batch.add_coverage(file_news("v1", {3, 4, 6, 9}, ran))
            store.record(batch)
        [item] = store.coverage()
        assert (item.lines, item.lines_hit) == (4, 3)
        assert item.missing == {"pkg/svc.py": (6,)}
    finally:
        store.close()


def test_a_worker_works_its_coverage_out_at_most_once_a_second_and_a_flush_gets_the_rest(
    make_runtime: MakeRuntime, paths: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Working the news out reads coverage.py's data for every file, so the worker does it
    for the first batch, then only when a second has passed (here: never) or when asked:
    a flush asks, and what the last batches ran is in the store after it."""
    reports: list[int] = []
    original = CoverageMeter.report

    def counted(meter: CoverageMeter) -> CoverageReport | None:
        reports.append(1)
        return original(meter)

    monkeypatch.setattr(CoverageMeter, "report", counted)
    monkeypatch.setattr(_worker, "COVERAGE_REPORT_SECONDS", 3600.0)
    runtime = make_runtime(worker="thread", coverage=True, batch_linger_seconds=0.0)
    kv = runtime.proxy(KeyValue, "kv")
    for call in range(8):
        kv.put(f"k{call}", "v") if call % 2 == 0 else kv.get(f"k{call - 1}")
        deadline = time.monotonic() + 30
        while runtime.executor.depth() and time.monotonic() < deadline:
            time.sleep(0.005)  # each call its own batch, none of them asking
    kv.by_value()
    assert len(reports) == 1  # the first batch's; seven more batches worked none out
    assert runtime.flush()
    assert len(reports) >= 2
    measured = coverage_of(paths["store"])["kv"]
    assert not body_statements("by_value") & set(measured.missing[SHOWN])  # type: ignore[attr-defined]
