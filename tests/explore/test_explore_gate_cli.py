"""``shadow gate --phase 1`` (the CLI) fails on a divergence only exploration found, until accepted.

A traffic-only demo with a planted ``app_settings.get`` bug (keys looked up
case-insensitively: the demo's traffic never sends a case variant) leaves the
phase-1 gate passing; ``shadow explore`` on that service finds the bug and
writes its group into the same store; the gate then fails on that group
(``open_divergences``, and only that: exploration's latencies are not
recorded) and passes again once the group is accepted with ``shadow
divergences accept``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from imagegen.cli import main
from imagegen.cutover import DEMO_POLICY_TOML
from imagegen.demo import DemoOptions, run_demo
from shadow.cutover.policy import POLICY_FILE_NAME
from shadow.runtime import DivergenceStore

pytestmark = pytest.mark.slow
PLANTED = "tests.explore.planted_bugs:build_app_settings"


def shadow(
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *args: str,
) -> tuple[int, str, str]:
    """Run the ``shadow`` CLI in this process against a demo's work directory."""
    monkeypatch.setenv("SHADOW_CONFIG_FILE", str(workdir / "shadow.toml"))
    monkeypatch.setenv("SHADOW_AUDIT_LOG", str(workdir / "audit.jsonl"))
    monkeypatch.setenv("SHADOW_ACTOR", "tester")
    monkeypatch.setattr(sys, "argv", ["shadow", *args])
    capsys.readouterr()
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _latency(workdir: Path) -> list[object]:
    store = DivergenceStore(f"sqlite:///{workdir / 'divergences.sqlite3'}")
    try:
        return list(store.latency())
    finally:
        store.close()


def test_gate_fails_on_an_exploration_divergence_until_its_group_is_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Traffic alone passes phase 1; exploration's group fails it; accepting it passes again."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent))  # for the worker process too
    run_demo(DemoOptions(ops=300, workdir=tmp_path, candidate_factory=PLANTED, explore_seconds=0))
    # The demo's policy without its coverage floor: the planted candidate's class
    # lives in tests/, so the candidate code the demo measures is barely run by it.
    policy = DEMO_POLICY_TOML.replace("min_coverage = 0.65\n", "")
    assert policy != DEMO_POLICY_TOML
    (tmp_path / POLICY_FILE_NAME).write_text(policy)
    code, out, err = shadow(tmp_path, monkeypatch, capsys, "gate", "--phase", "1")
    assert code == 0, "traffic never sends a case variant: " + out + err
    latency_of_traffic = _latency(tmp_path)

    code, out, err = shadow(
        tmp_path,
        monkeypatch,
        capsys,
        *("explore", "--budget", "8", "--service", "app_settings"),
        *("--candidate-factory", PLANTED, "--workdir", str(tmp_path), "--json"),
    )
    found = json.loads(out)["found"]
    assert code == 1, out + err  # exploration that finds a divergence exits 1
    assert {(item["service"], item["method"]) for item in found} == {("app_settings", "get")}
    assert _latency(tmp_path) == latency_of_traffic, "exploration's latency is not evidence"

    code, out, err = shadow(tmp_path, monkeypatch, capsys, "gate", "--phase", "1", "--json")
    assert code == 1, out + err
    verdict = json.loads(out)

    assert verdict["failed"] == ["open_divergences"]
    [criterion] = [c for c in verdict["criteria"] if c["name"] == "open_divergences"]
    blocking = {item["fingerprint"] for item in criterion["details"] if item["blocks"]}
    assert blocking == {item["fingerprint"] for item in found}

    for fingerprint in blocking:
        code, out, err = shadow(
            tmp_path,
            monkeypatch,
            capsys,
            *("divergences", "accept", fingerprint, "--note", "planted by the test"),
            *("--expires", "2999-01-01"),
        )
        assert code == 0, err
    code, out, err = shadow(tmp_path, monkeypatch, capsys, "gate", "--phase", "1")
    assert code == 0, out + err
