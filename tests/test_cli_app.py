"""The ``shadow`` command as a whole: version, help, completion, errors, shared options."""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from imagegen.cli import app as reference_app
from imagegen.cli.demo import _print_summary
from shadow.cli import build_app
from shadow.runtime import DivergenceStore
from tests.demo.test_demo_terminal import result as demo_result

runner = CliRunner()
WIDE = {"COLUMNS": "200"}  # help on one line per option, so a choice list is never wrapped


def test_version_prints_the_installed_distribution_version() -> None:
    """``--version`` answers with the package metadata's version and exits 0."""
    result = runner.invoke(reference_app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"shadow {importlib.metadata.version('shadow')}"


def test_dash_h_is_help_on_the_app_and_on_a_command() -> None:
    """``-h`` works like ``--help`` everywhere, and lists the reference app's commands."""
    top = runner.invoke(reference_app, ["-h"])
    assert top.exit_code == 0
    for command in ("status", "gate", "promote", "rollback", "report", "db", "demo"):
        assert command in top.output
    gate = runner.invoke(reference_app, ["gate", "-h"])
    assert gate.exit_code == 0
    assert "--phase" in gate.output


def test_the_generic_app_has_no_reference_commands() -> None:
    """``shadow.cli.build_app()`` alone offers the generic commands only."""
    result = runner.invoke(build_app(), ["-h"])
    assert result.exit_code == 0
    assert "status" in result.output
    assert " demo " not in result.output and " db " not in result.output


def test_shell_completion_script_is_available() -> None:
    """``--show-completion`` prints a completion script for the shell it is given."""
    done = subprocess.run(
        [sys.executable, "-m", "imagegen", "--show-completion", "bash"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "complete" in done.stdout


def _helps(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, str]]:
    """Every command's help text, walking the groups."""
    shown = runner.invoke(reference_app, [*path, "-h"], env=WIDE)
    assert shown.exit_code == 0, (path, shown.output)
    yield " ".join(path) or "shadow", shown.output
    for name, sub in getattr(command, "commands", {}).items():
        yield from _helps(sub, (*path, name))


def test_no_help_shows_a_value_type_beside_a_flag() -> None:
    """Flags (``--json``, ``--aa``, ``-h``...) show bare in every command's help: Typer
    prints ``<bool>`` beside them otherwise, as if they took a value."""
    helps = dict(_helps(typer.main.get_command(reference_app)))
    assert {"shadow", "status", "demo", "divergences list", "data verify", "db upgrade"} <= set(
        helps
    )
    for name, text in helps.items():
        assert "<bool>" not in text, name
    assert "--json" in helps["status"]


def test_json_is_a_flag_that_works_without_a_value(tmp_path: Path) -> None:
    """``--json`` takes no value: ``--json`` alone prints JSON, ``--json true`` is refused."""
    store = tmp_path / "store.db"
    DivergenceStore(f"sqlite:///{store}").close()
    base = ["--store", f"sqlite:///{store}", "divergences", "list"]
    listed = runner.invoke(reference_app, [*base, "--json"])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout) == []
    assert runner.invoke(reference_app, [*base, "--json", "true"]).exit_code == 2


@pytest.mark.parametrize(
    ("args", "choices"),
    [
        (["report", "-h"], "md|html|json"),
        (["divergences", "list", "-h"], "open|accepted|expired|fixed"),
        (["demo", "-h"], "shadow|reverse"),
        (["demo", "-h"], "process|thread|inline"),
        (["-h"], "debug|info|warning|error"),
    ],
)
def test_help_lists_the_choices_of_an_option(args: list[str], choices: str) -> None:
    """Options with a fixed set of values are enums: their help names every value."""
    shown = runner.invoke(reference_app, args, env=WIDE)
    assert shown.exit_code == 0, shown.output
    assert choices in shown.output


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("shadow report --format ", ["md", "html", "json"]),
        ("shadow divergences list --state ", ["open", "accepted", "expired", "fixed"]),
        ("shadow demo --worker ", ["process", "thread", "inline"]),
    ],
)
def test_shell_completion_offers_the_choices(words: str, expected: list[str]) -> None:
    """Bash completion of a choice option lists its values (what the completion script asks)."""
    env = {
        "_SHADOW_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split())),
    }
    done = runner.invoke(reference_app, [], env=env, prog_name="shadow")
    assert done.exit_code == 0, done.output
    assert done.stdout.split() == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["status", "--bogus"], "No such option: --bogus"),
        (["gate"], "Missing option '--phase'"),
        (["report", "--format", "pdf"], "'pdf' is not one of 'md', 'html', 'json'"),
        (["divergences", "list", "--state", "closed"], "'closed' is not one of"),
        (["demo", "--mode", "sqlmodel"], "'sqlmodel' is not one of 'shadow', 'reverse'"),
        (["--log-level", "loud", "status"], "'loud' is not one of"),
        (["gate", "--phase", "1", "--config", "x.toml"], "put it before the command"),
        (["--store", "sqlite:///{garbage}", "status"], "file is not a database"),
        (["--store", "sqlite:///{missing}", "divergences", "list"], "store not found"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    """A usage error and a bad-input exception (ConfigError, StoreError) alike: exit 2, one
    line naming the problem, no traceback, no framed panel."""
    garbage = tmp_path / "garbage.db"
    garbage.write_text("not a database")
    filled = [arg.format(garbage=garbage, missing=tmp_path / "missing.db") for arg in args]
    done = runner.invoke(reference_app, filled, env={"SHADOW_CONFIG_FILE": str(tmp_path / "x")})
    assert done.exit_code == 2, done.output
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.output and "╭" not in done.stderr
    assert done.stdout == ""


def test_options_before_the_command_reach_it(tmp_path: Path) -> None:
    """``shadow --store URL COMMAND``: the command reads the one settings object."""
    store = tmp_path / "mine.db"
    DivergenceStore(f"sqlite:///{store}").close()
    shown = runner.invoke(reference_app, ["--store", f"sqlite:///{store}", "divergences", "list"])
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.strip() == "no divergence groups"
    elsewhere = runner.invoke(
        reference_app, ["--store", f"sqlite:///{tmp_path / 'other.db'}", "divergences", "list"]
    )
    assert elsewhere.exit_code == 2 and "not found" in elsewhere.stderr


COLOUR = re.compile(r"\x1b\[(?:3|9)\dm")  # a foreground colour escape


def test_no_color_turns_the_colours_of_help_and_summary_off(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With colours forced (FORCE_COLOR), NO_COLOR still removes every colour: in help and
    in the demo's summary table."""
    forced = {"FORCE_COLOR": "1"}
    assert COLOUR.search(runner.invoke(reference_app, ["gate", "-h"], env=forced).output)
    plain = runner.invoke(reference_app, ["gate", "-h"], env={**forced, "NO_COLOR": "1"})
    assert plain.exit_code == 0
    assert "--phase" in re.sub(r"\x1b\[[0-9;]*m", "", plain.output)  # bold stays
    assert not COLOUR.search(plain.output)
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("NO_COLOR", "1")
    _print_summary(demo_result(), wide=False)
    out = capsys.readouterr().out
    assert "app_settings" in out and not COLOUR.search(out)
