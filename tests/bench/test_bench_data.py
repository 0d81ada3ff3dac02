"""The data-at-rest benchmark runs end to end on a small table and reports every phase."""

from __future__ import annotations

import pytest

from bench import data


def test_small_run_reports_backfill_and_both_verifications(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """2,000 rows on SQLite: the backfill and both verifications are measured (the verifier
    asserts the stores are equal), and the table names the machine and the load."""
    assert data.main(["--rows", "2000", "--targets", "sqlite"]) == 0
    out = capsys.readouterr().out
    for phase in ("backfill", "verify, equal", "verify, same formats"):
        assert f"| sqlite | {phase} |" in out
    assert "Load average" in out and "Machine:" in out


def test_unknown_target_is_refused() -> None:
    """A typo in --targets is bad input, not a silently skipped backend."""
    assert data.main(["--targets", "sqlite,oracle"]) == 2
