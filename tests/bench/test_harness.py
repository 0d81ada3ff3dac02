"""The benchmark harness: structure of what it measures and reports (never timings)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy
import structlog

from bench import services
from bench.__main__ import main as bench_main
from bench.harness import (
    QUICK,
    ArmStats,
    Case,
    CaseResult,
    Environment,
    Report,
    Settings,
    logs_to_file,
    measure,
    open_pair,
    percentile,
)


def _counting_case(calls: list[str]) -> Case:
    return Case(
        name="tiny",
        service="demo",
        method="get",
        legacy=lambda: calls.append("legacy"),
        candidate=lambda: calls.append("candidate"),
    )


def test_measure_warms_up_then_alternates_the_arms_call_by_call() -> None:
    calls: list[str] = []
    settings = Settings(repeat=5, warmup=2, budget_seconds=60, min_repeat=1)
    result = measure(_counting_case(calls), settings)
    assert calls == ["legacy", "candidate"] * 7
    assert result.samples == 5
    assert (result.name, result.service, result.method) == ("tiny", "demo", "get")
    assert result.legacy.median_us >= 0 and result.candidate.p99_us >= 0


def test_measure_stops_at_the_budget_but_not_before_min_repeat() -> None:
    calls: list[str] = []
    settings = Settings(repeat=10_000, warmup=0, budget_seconds=1e-9, min_repeat=3)
    result = measure(_counting_case(calls), settings)
    assert result.samples == 3
    assert len(calls) == 6


def test_percentile_is_nearest_rank() -> None:
    samples = [float(value) for value in range(1, 101)]
    assert percentile(samples, 0.99) == 99.0
    assert percentile(samples, 0.5) == 50.0
    assert percentile([7.0], 0.99) == 7.0
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 0.5)


def test_ratio_and_target_come_from_the_medians() -> None:
    within = CaseResult("a", "s", "m", 10, ArmStats(100.0, 500.0), ArmStats(200.0, 9000.0))
    beyond = CaseResult("b", "s", "m", 10, ArmStats(100.0, 100.0), ArmStats(201.0, 201.0))
    assert within.ratio == 2.0 and within.meets_target
    assert not beyond.meets_target
    report = Report(Environment.current(), QUICK, [within, beyond])
    assert not report.all_meet_target


def test_report_renders_a_markdown_table_with_machine_and_versions_lines() -> None:
    calls: list[str] = []
    result = measure(_counting_case(calls), QUICK)
    report = Report(Environment.current(), QUICK, [result])
    text = report.render_markdown()
    lines = text.splitlines()
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert header[0] == "case" and "ratio" in header and "legacy p99 µs" in header
    assert set(lines[1]) <= {"|", "-"}
    row = [cell.strip() for cell in lines[2].strip("|").split("|")]
    assert row[0] == "demo.get (tiny)"
    assert len(row) == len(header)
    assert row[header.index("n")] == str(result.samples)
    machine = next(line for line in lines if line.startswith("Machine:"))
    for part in ("cores", "Python", "SQLite", "SQLAlchemy", "sqlmodel"):
        assert part in machine
    assert json.loads(json.dumps(report.as_dict()))["results"][0]["name"] == "tiny"


def test_a_case_built_on_open_pair_runs_through_the_service_runner(tmp_path: Path) -> None:
    """The runner builds cases from a factory and measures each; both arms see the same rows."""
    pairs = []

    def factory(workdir: Path) -> list[Case]:
        pair = open_pair(workdir, "tiny")
        pairs.append(pair)
        query = "SELECT value FROM app_settings WHERE key = 'jwt_secret'"
        with pair.legacy_db.transaction() as cursor:
            legacy_secret = cursor.execute(query).fetchone()[0]
        with pair.engine.connect() as connection:
            orm_secret = connection.execute(sqlalchemy.text(query)).scalar_one()
        assert legacy_secret == orm_secret

        def legacy() -> None:
            with pair.legacy_db.transaction() as cursor:
                cursor.execute(query).fetchone()

        def candidate() -> None:
            with pair.engine.connect() as connection:
                connection.execute(sqlalchemy.text(query)).scalar_one()

        return [Case("tiny", "app_settings", "get", legacy, candidate)]

    report, failures = services.run({"tiny": factory}, QUICK)
    for pair in pairs:
        pair.close()
    assert failures == []
    assert [result.name for result in report.results] == ["tiny"]
    assert report.results[0].samples >= QUICK.min_repeat


def test_a_failing_case_is_reported_as_a_failure_line_not_a_traceback() -> None:
    def broken() -> None:
        raise RuntimeError("boom")

    def factory(_workdir: Path) -> list[Case]:
        return [Case("bad", "demo", "get", broken, broken)]

    report, failures = services.run({"bad": factory}, QUICK)
    assert report.results == []
    assert failures == ["bad: case bad failed: RuntimeError: boom"]


def test_unknown_benchmark_name_is_one_error_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert bench_main(["no-such-benchmark"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bench: error: unknown benchmark 'no-such-benchmark'")
    assert "Traceback" not in err


def test_bad_repeat_value_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        services.main(["--repeat", "zero"])
    assert exit_info.value.code == 2
    assert "not a whole number" in capsys.readouterr().err


def test_logs_go_to_the_file_during_the_block_and_the_configuration_comes_back(
    tmp_path: Path,
) -> None:
    # A benchmark that left structlog writing to its closed log file broke every
    # later runtime log line in the same process (the test run's dashboards tests).
    structlog.reset_defaults()
    with logs_to_file(tmp_path / "first.log"):
        structlog.get_logger().info("inside")
    assert "inside" in (tmp_path / "first.log").read_text()
    assert not structlog.is_configured()

    structlog.configure(processors=[structlog.processors.KeyValueRenderer()])
    before = structlog.get_config()
    try:
        with logs_to_file(tmp_path / "second.log"):
            pass
        assert structlog.get_config() == before
    finally:
        structlog.reset_defaults()
