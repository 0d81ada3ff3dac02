"""The queue benchmark runs end to end and reports its table (structure only, never timings)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench import queue as queue_bench
from bench.cases import session_queue as queue_cases
from bench.harness import Case, Settings
from imagegen.services.batches import dump_json


def test_the_bench_session_is_about_20_kb_and_the_batch_is_1000_sessions() -> None:
    assert 19_000 <= len(dump_json(queue_cases.big_session("bench-000123"))) <= 22_000
    assert queue_cases.thousand_session_batch().runs * 20 * 5 == 1000


def test_queue_benchmark_reports_both_write_paths_and_the_queue_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "queue.md"
    status = queue_bench.main(
        ["--quick", "--repeat", "3", "--warmup", "1", "--output", str(output)]
    )
    assert status == 0
    table = capsys.readouterr().out
    assert output.read_text(encoding="utf-8") == table
    assert "session_queue.enqueue_batch (batch of 1,000 sessions)" in table
    assert "session_queue.worker cycle (dequeue -> set 20 KB session -> complete)" in table
    assert "Queue target SQLModel <= 1.5x legacy: enqueue_batch" in table


def test_reset_cases_run_each_reset_before_each_timed_call() -> None:
    calls: list[str] = []
    case = queue_bench.ResetCase(
        Case("c", "s", "m", lambda: calls.append("legacy"), lambda: calls.append("candidate")),
        lambda: calls.append("reset legacy"),
        lambda: calls.append("reset candidate"),
    )
    settings = Settings(repeat=2, warmup=1, budget_seconds=1.0, min_repeat=1)
    result = queue_bench.measure_with_reset(case, settings)
    assert result.samples == 2
    assert calls == ["reset legacy", "legacy", "reset candidate", "candidate"] * 3


def test_queue_read_cases_build_on_identical_data(tmp_path: Path) -> None:
    status_case, page_case = queue_cases.cases(tmp_path)
    assert (status_case.method, page_case.method) == ("get_queue_status", "list_queue_items")
    assert status_case.legacy() == status_case.candidate()
    legacy_page: Any = page_case.legacy()
    orm_page: Any = page_case.candidate()
    assert len(legacy_page.items) == 50
    assert [i.item_id for i in legacy_page.items] == [i.item_id for i in orm_page.items]
