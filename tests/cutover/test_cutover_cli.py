"""The cutover CLI end to end on a real divergence store: exit codes, review, promotion."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from imagegen.cli import main
from imagegen.cutover import REFERENCE_CONTRACTS, REFERENCE_PLAN, reference_declared_methods
from shadow import FixedClock
from shadow.cutover.contracts import declared_methods
from shadow.cutover.modes import read_audit
from shadow.cutover.store import load_evidence
from shadow.runtime import DivergenceStore
from shadow.runtime._coverage import FileCoverage
from shadow.runtime._store import StoreBatch  # the runtime writes batches; tests fill a real store
from tests.cutover.cutover_contracts import CONTRACTS, PLAN_TOML

START = datetime.now(UTC) - timedelta(hours=1)
FINGERPRINT = "fp-settings-get-value"


def fill(
    store: DivergenceStore, *, diverge: bool = False, calls: int = 40, mode: str = "shadow"
) -> None:
    """Record ``calls`` clean matches per method mirrored in ``mode`` (and one divergence
    in settings.get), as the runtime's recorder does: totals and per-mode evidence."""
    batch = StoreBatch(examples_per_group=3)
    for service, contract in CONTRACTS.items():
        for method in declared_methods({service: contract})[service]:
            for index in range(calls):
                batch.add_outcome(service, method, "match", evidence=True, at=START)
                batch.add_mode_outcome(service, method, mode, "match", evidence=True, at=START)
                for side, seconds in (("legacy", 0.0001), ("candidate", 0.00015)):
                    batch.add_latency(service, method, side, seconds + index * 1e-6)
                    batch.add_mode_latency(service, method, mode, side, seconds + index * 1e-6)
    if diverge:
        batch.add_outcome("settings", "get", "divergence", evidence=True, at=START)
        batch.add_mode_outcome("settings", "get", mode, "divergence", evidence=True, at=START)
        batch.add_divergence(
            FINGERPRINT,
            service="settings",
            method="get",
            outcome="divergence",
            paths=("root",),
            error_types=(),
            at=START,
            example={"seen_at": START.isoformat(), "args": {"key": "theme"}, "diff": ["root"]},
        )
    store.record(batch)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Workspace:
    """Runs ``shadow`` in this process (``main()``, as the console script does)."""

    root: Path
    store_url: str
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]

    def run(self, *args: str) -> Result:
        environment = {
            "SHADOW_CONFIG_FILE": str(self.root / "shadow.toml"),
            "SHADOW_STORE_URL": self.store_url,
            "SHADOW_AUDIT_LOG": str(self.root / "audit.jsonl"),
            "SHADOW_PHASE_PLAN": str(self.root / "plan.toml"),
            "SHADOW_CONTRACTS": "tests.cutover.cutover_contracts:CONTRACTS",
            "SHADOW_ACTOR": "tester",
        }
        for name, value in environment.items():
            self.monkeypatch.setenv(name, value)
        self.monkeypatch.setattr(sys, "argv", ["shadow", *args])
        self.capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)


@pytest.fixture
def workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Workspace]:
    (tmp_path / "plan.toml").write_text(PLAN_TOML)
    # Found by name next to the config file (shadow.toml), without --policy.
    (tmp_path / "gate-policy.toml").write_text(
        "[defaults]\nmin_comparisons = 20\nmax_divergence_rate = 0.05\n"
        'max_candidate_error_rate = 0.01\nmax_p95_ratio = 3.0\nmin_soak = "30m"\n'
    )
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = DivergenceStore(url)
    try:
        yield Workspace(tmp_path, url, monkeypatch, capsys)
    finally:
        store.close()


def with_store(workspace: Workspace, **options: Any) -> None:
    store = DivergenceStore(workspace.store_url)
    try:
        fill(store, **options)
    finally:
        store.close()


def in_shadow(workspace: Workspace, service: str = "settings") -> None:
    """Put ``service`` in shadow mode: its gate then judges leaving shadow."""
    config = workspace.root / "shadow.toml"
    with config.open("a") as stream:
        stream.write(f'[services.{service}]\nmode = "shadow"\n')


def test_the_adapter_reads_counts_latency_groups_and_soak_from_the_store(
    workspace: Workspace,
) -> None:
    with_store(workspace, diverge=True)
    evidence = load_evidence(workspace.store_url, clock=FixedClock(START + timedelta(hours=1)))
    get = evidence.method("settings", "get")
    assert get.count("match") == 40 and get.count("divergence") == 1 and get.compared == 41
    assert get.legacy is not None and get.candidate is not None
    assert 0.0001 <= get.legacy.p50 < get.candidate.p50 < 0.0003
    [group] = evidence.groups
    assert group.fingerprint == FINGERPRINT and group.service == "settings"
    assert evidence.first_comparisons["settings"] == START


def test_gate_passes_on_clean_evidence_and_prints_every_criterion(workspace: Workspace) -> None:
    with_store(workspace)
    in_shadow(workspace)
    result = workspace.run("gate", "--phase", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "gate phase 1 (settings): PASS" in result.stdout
    for name in ("min_comparisons", "divergence_rate", "open_divergences", "latency", "soak"):
        assert f"PASS  {name}" in result.stdout


def test_a_planted_divergence_fails_the_gate_until_accepted(workspace: Workspace) -> None:
    with_store(workspace, diverge=True)
    in_shadow(workspace)
    failed = workspace.run("gate", "--phase", "1", "--json")
    assert failed.returncode == 1
    verdict = json.loads(failed.stdout)
    assert verdict["failed"] == ["divergence_rate", "open_divergences"]
    listed = workspace.run("divergences", "list")
    assert (
        FINGERPRINT in listed.stdout and "settings.get" in listed.stdout and "open" in listed.stdout
    )
    expires = (datetime.now(UTC) + timedelta(days=7)).date().isoformat()
    accepted = workspace.run(
        "divergences", "accept", FINGERPRINT, "--note", "known rounding", "--expires", expires
    )
    assert accepted.returncode == 0, accepted.stderr
    assert workspace.run("gate", "--phase", "1").returncode == 0
    shown = json.loads(workspace.run("divergences", "show", FINGERPRINT, "--json").stdout)
    assert shown["state"] == "accepted" and shown["note"] == "known rounding"
    assert shown["count"] == 1  # still counted
    assert workspace.run("divergences", "reopen", FINGERPRINT).returncode == 0
    assert workspace.run("gate", "--phase", "1").returncode == 1
    fixed = workspace.run("divergences", "fixed", FINGERPRINT, "--note", "fixed in abc123")
    assert fixed.returncode == 0, fixed.stderr
    assert workspace.run("gate", "--phase", "1").returncode == 0
    assert "fixed" in workspace.run("divergences", "list", "--state", "fixed").stdout
    actions = [entry["action"] for entry in read_audit(workspace.root / "audit.jsonl")]
    assert actions == ["accept", "reopen", "fixed"]


def test_a_fixed_group_seen_again_blocks_the_gate_again(workspace: Workspace) -> None:
    with_store(workspace, diverge=True)
    in_shadow(workspace)
    workspace.run("divergences", "fixed", FINGERPRINT, "--note", "fixed in abc123")
    assert workspace.run("gate", "--phase", "1").returncode == 0
    with_store(workspace, diverge=True)  # the same difference again: the store reopens it
    result = workspace.run("gate", "--phase", "1", "--json")
    assert result.returncode == 1
    assert "open_divergences" in json.loads(result.stdout)["failed"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("gate", "--phase", "7"), "unknown phase 7"),
        (("--policy", "/nonexistent.toml", "gate", "--phase", "1"), "not found"),
        (("divergences", "show", "nope"), "no divergence group 'nope'"),
        (("divergences", "accept", FINGERPRINT, "--note", "x", "--expires", "soon"), "bad expiry"),
        (("report", "--format", "pdf"), "'pdf' is not one of 'md', 'html', 'json'"),
        (("--contracts", "no_such_module:X", "gate", "--phase", "1"), "cannot import"),
        (
            ("--contracts", "tests.cutover.cutover_contracts:PLAN_TOML", "gate", "--phase", "1"),
            "not a mapping",
        ),
        (("--contracts", "tests.cutover.cutover_contracts:BAD", "gate", "--phase", "1"), "not int"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    workspace: Workspace, args: tuple[str, ...], message: str
) -> None:
    with_store(workspace, diverge=True)
    result = workspace.run(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_missing_store_is_bad_input(workspace: Workspace, tmp_path: Path) -> None:
    result = workspace.run("--store", f"sqlite:///{tmp_path / 'x.db'}", "gate", "--phase", "1")
    assert result.returncode == 2 and "divergence store not found" in result.stderr


def test_malformed_policy_is_exit_2(workspace: Workspace) -> None:
    with_store(workspace)
    policy = workspace.root / "policy.toml"
    policy.write_text("[defaults]\nmin_comparisons = 'many'\n")
    result = workspace.run("--policy", str(policy), "gate", "--phase", "1")
    assert result.returncode == 2 and "wrong type" in result.stderr


def test_promote_status_and_rollback_through_the_cli(workspace: Workspace) -> None:
    with_store(workspace)
    early = workspace.run("promote", "--phase", "2", "--reason", "queue first")
    assert early.returncode == 1 and "previous_phase" in early.stderr
    assert workspace.run("promote", "--phase", "1", "--reason", "start").returncode == 0
    moved = workspace.run("promote", "--phase", "1", "--reason", "evidence is good")
    assert moved.returncode == 0 and "settings: shadow -> reverse" in moved.stdout
    status = json.loads(workspace.run("status", "--json").stdout)
    assert {row["service"]: row["mode"] for row in status} == {
        "settings": "reverse",
        "queue": "legacy",
    }
    back = workspace.run("rollback", "--service", "settings", "--reason", "pager went off")
    assert back.returncode == 0 and "settings: reverse -> shadow" in back.stdout
    config = (workspace.root / "shadow.toml").read_text()
    assert '[services.settings]\nmode = "shadow"' in config
    audit = read_audit(workspace.root / "audit.jsonl")
    assert [(e["action"], e["actor"], e["reason"]) for e in audit] == [
        ("promote", "tester", "start"),
        ("promote", "tester", "evidence is good"),
        ("rollback", "tester", "pager went off"),
    ]


def test_report_formats_write_files_with_the_same_verdicts(workspace: Workspace) -> None:
    with_store(workspace, diverge=True)
    in_shadow(workspace)
    for fmt in ("json", "md", "html"):
        out = workspace.root / f"report.{fmt}"
        result = workspace.run("report", "--format", fmt, "-o", str(out))
        assert result.returncode == 0, result.stderr
    data = json.loads((workspace.root / "report.json").read_text())
    assert [p["failed"] for p in data["phases"]] == [
        ["divergence_rate", "open_divergences"],
        ["divergence_rate"],  # 0 of 40: the upper bound is still ~9% (not needed for shadow)
    ]
    assert [p["passed"] for p in data["phases"]] == [False, True]
    markdown = (workspace.root / "report.md").read_text()
    assert "### Phase 1: FAIL" in markdown and FINGERPRINT in markdown
    assert 'id="phase-1-verdict">FAIL<' in (workspace.root / "report.html").read_text()


def test_the_next_commands_of_a_report_run_as_written(workspace: Workspace) -> None:
    """The report's accept command, its note filled in, accepts the group; its gate command runs."""
    with_store(workspace, diverge=True)
    in_shadow(workspace)
    result = workspace.run("report", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    accept = shlex.split(
        next(s["command"] for s in data["next_commands"] if " accept " in s["command"])
    )
    verb = accept.index("divergences")
    assert accept[verb : verb + 3] == ["divergences", "accept", FINGERPRINT]
    files = accept[1:verb]  # the files the report was read from, before the command
    assert "--config" in files and "--store" in files
    accept[accept.index("--note") + 1] = "known: the candidate rounds differently"
    accepted = workspace.run(*accept[1:])
    assert accepted.returncode == 0, accepted.stderr
    assert f"{FINGERPRINT}: accepted until" in accepted.stdout
    gate = shlex.split(
        next(s["command"] for s in data["next_commands"] if " gate " in s["command"])
    )
    assert workspace.run(*gate[1:]).returncode in (0, 1)  # judged, not refused as bad input


def test_reference_contracts_load_for_every_planned_service() -> None:
    methods = reference_declared_methods()
    assert set(methods) == set(REFERENCE_CONTRACTS) == set(REFERENCE_PLAN.services)
    assert all(methods.values())


def test_status_warns_when_the_kill_switch_is_on(workspace: Workspace) -> None:
    with_store(workspace)
    (workspace.root / "shadow.toml").write_text("kill_switch = true\n")
    result = workspace.run("status")
    assert result.returncode == 0
    assert result.stdout.startswith("KILL SWITCH ON")


def test_shadow_can_be_enabled_before_any_store_exists_but_not_the_next_step(
    workspace: Workspace, tmp_path: Path
) -> None:
    missing = f"sqlite:///{tmp_path / 'not-yet.db'}"
    enabled = workspace.run("--store", missing, "promote", "--phase", "1", "--reason", "start")
    assert enabled.returncode == 0, enabled.stderr
    assert "settings: legacy -> shadow" in enabled.stdout
    further = workspace.run("--store", missing, "promote", "--phase", "1", "--reason", "next")
    assert further.returncode == 2 and "divergence store not found" in further.stderr


def test_status_without_a_store_is_bad_input_like_gate(
    workspace: Workspace, tmp_path: Path
) -> None:
    """`status` on a store that does not exist says so in one line and exits 2 (it used to
    exit 0 showing every service blocked, hiding a typo in --store)."""
    missing = f"sqlite:///{tmp_path / 'not-yet.db'}"
    result = workspace.run("--store", missing, "status", "--json")
    assert result.returncode == 2, result.stdout
    assert "divergence store not found" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_divergences_list_shows_consequences_under_their_root(workspace: Workspace) -> None:
    """A write's divergence, then a read's on the same service: the read is listed under it."""
    store = DivergenceStore(workspace.store_url)
    try:
        fill(store)
        for offset, (fingerprint, method, write) in enumerate(
            (("fp-root-write", "set", True), ("fp-later-read", "get", False))
        ):
            at = START + timedelta(seconds=offset)
            batch = StoreBatch()
            batch.add_divergence(
                fingerprint,
                service="settings",
                method=method,
                outcome="divergence",
                paths=("root",),
                error_types=(),
                at=at,
                example={"seen_at": at.isoformat(), "write": write},
            )
            # The read diverges more often: most-frequent-first would list it on top.
            for _ in range(1 if write else 5):
                store.record(batch)
    finally:
        store.close()
    lines = workspace.run("divergences", "list").stdout.splitlines()
    assert lines[0].startswith("fp-root-write  settings.set")
    assert lines[1].startswith("  ↳ fp-later-read  settings.get")
    shown = json.loads(workspace.run("divergences", "show", "fp-root-write", "--json").stdout)
    assert shown["consequences"] == ["fp-later-read"] and shown["root"] is None
    child = json.loads(workspace.run("divergences", "show", "fp-later-read", "--json").stdout)
    assert child["root"] == "fp-root-write"


def test_status_report_and_gate_show_coverage_per_service(workspace: Workspace) -> None:
    """Coverage the runtime stored: its share in ``status``, its lines never run in
    ``status`` and ``report``, and a ``min_coverage`` the service misses fails the gate."""
    with_store(workspace)
    batch = StoreBatch()
    batch.add_coverage(
        FileCoverage(
            service="settings",
            path="app/settings.py",
            source_hash="v1",
            measurable_lines=frozenset({10, 11, 12, 20}),
            measurable_branches=frozenset(),
            lines=frozenset({10, 11, 12}),
            branches=frozenset(),
        )
    )
    store = DivergenceStore(workspace.store_url)
    try:
        store.record(batch)
    finally:
        store.close()
    status = workspace.run("status")
    assert status.returncode == 0, status.stderr
    settings_row = next(line for line in status.stdout.splitlines() if " settings " in line)
    assert "75%" in settings_row
    assert "never run by a compared call, settings: app/settings.py: 20" in status.stdout
    rows = json.loads(workspace.run("status", "--json").stdout)
    assert rows[0]["coverage"] == {"share": 0.75, "missing": {"app/settings.py": [20]}}
    assert "| settings | 75.0% | 3/4 | 0/0 | app/settings.py: 20 |" in (
        workspace.run("report", "--format", "md").stdout
    )
    in_shadow(workspace)  # the step out of shadow is the one judged on evidence
    policy = workspace.root / "gate-policy.toml"
    policy.write_text(policy.read_text() + "min_coverage = 0.8\n")
    verdict = workspace.run("gate", "--phase", "1", "--json")
    assert verdict.returncode == 1
    assert "coverage" in json.loads(verdict.stdout)["failed"]
    policy.write_text(policy.read_text().replace("min_coverage = 0.8", "min_coverage = 0.75"))
    verdict = workspace.run("gate", "--phase", "1", "--json")
    assert "coverage" not in json.loads(verdict.stdout)["failed"]


def mark_side(workspace: Workspace, side: str, error: str | None) -> None:
    """Record ``side`` unavailable (with ``error``) or aligned again (None), as the runtime does."""
    store = DivergenceStore(workspace.store_url)
    try:
        batch = StoreBatch()
        batch.side_marks.append((side, error, START))
        store.record(batch)
    finally:
        store.close()


def test_an_unavailable_mirror_side_shows_in_status_and_shuts_the_gate(
    workspace: Workspace,
) -> None:
    """A side the runtime could not build (recorded in the store) is named by ``status``
    and fails ``no_dirty`` until the stores are aligned again."""
    with_store(workspace)
    in_shadow(workspace)
    error = "builtins.ConnectionError: could not connect"
    mark_side(workspace, "candidate", error)
    status = workspace.run("status")
    assert status.stdout.startswith(
        f"MIRROR UNAVAILABLE: the candidate side could not be built: {error}"
    )
    gate = workspace.run("gate", "--phase", "1", "--json")
    assert gate.returncode == 1
    verdict = json.loads(gate.stdout)
    assert verdict["failed"] == ["no_dirty"]
    mark_side(workspace, "candidate", None)  # what Runtime.align() records
    assert workspace.run("gate", "--phase", "1").returncode == 0
