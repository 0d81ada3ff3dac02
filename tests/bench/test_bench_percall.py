"""bench percall: every lever's arm runs, and each case's table lists them against legacy."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import percall


def test_a_quick_run_measures_every_arm_of_every_case(tmp_path: Path) -> None:
    output = tmp_path / "percall.md"
    assert percall.main(["--quick", "--output", str(output)]) == 0
    text = output.read_text(encoding="utf-8")
    for case in percall.CASES:
        assert f"| {case} | median µs |" in text
    assert text.count("| legacy (raw sqlite3") == len(percall.CASES)
    for arm in ("StaticPool", "compiled_cache=None", "Connection kept by the thread"):
        assert f"| execution layer, {arm} |" in text
    assert "| the service as built (DriverRead on SQLite) |" in text
    assert "Load average (1/5/15 min) at the start" in text


def test_a_repeat_below_one_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        percall.main(["--repeat", "0"])
    assert exited.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err
