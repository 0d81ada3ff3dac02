"""The ``shadow`` command as a whole: version, short help, shell completion."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

from typer.testing import CliRunner

from imagegen.cli import app as reference_app
from shadow.cli import build_app

runner = CliRunner()


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
