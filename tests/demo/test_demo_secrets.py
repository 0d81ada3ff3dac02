"""Secrets never reach the store, the log or a report, even when they diverge."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.demo.planted_candidate import WRONG_SECRET

# The repository root: the planted factories import as tests.demo.planted_candidate.
ROOT = Path(__file__).resolve().parents[2]


def _shadow(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imagegen", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )


@pytest.mark.slow
def test_a_diverging_jwt_secret_is_recorded_but_no_secret_is_stored_logged_or_reported(
    tmp_path: Path,
) -> None:
    workdir = tmp_path / "work"
    demo = _shadow(
        "demo",
        "--workdir",
        str(workdir),
        "--ops",
        "60",
        "--candidate-factory",
        "tests.demo.planted_candidate:build_wrong_secret",
        cwd=tmp_path,
    )
    assert demo.returncode == 1, demo.stderr[-2000:]

    legacy = sqlite3.connect(workdir / "legacy.sqlite3")
    try:
        [(jwt_secret,)] = legacy.execute("SELECT value FROM app_settings WHERE key = 'jwt_secret'")
        hashes = [h for (h,) in legacy.execute("SELECT password_hash FROM users") if h]
    finally:
        legacy.close()
    assert len(jwt_secret) == 64 and hashes, "the demo must have created secrets to look for"

    store = sqlite3.connect(workdir / "divergences.sqlite3")
    try:
        groups = store.execute("SELECT service, method FROM shadow_groups").fetchall()
        stored_examples = store.execute("SELECT example FROM shadow_examples").fetchall()
    finally:
        store.close()
    assert ("app_settings", "get_jwt_secret") in groups, "the divergence itself must be recorded"
    assert stored_examples, "an example must be stored, so the check below is not vacuous"

    config = ["--config", str(workdir / "shadow.toml")]
    for fmt in ("md", "html", "json"):
        report = _shadow(
            *config, "report", "--format", fmt, "-o", str(tmp_path / f"report.{fmt}"), cwd=tmp_path
        )
        assert report.returncode in (0, 1), report.stderr
    places = [
        *workdir.glob("divergences.sqlite3*"),
        workdir / "shadow.log",
        *tmp_path.glob("report.*"),
    ]
    secrets = [jwt_secret, WRONG_SECRET, *hashes]
    for place in places:
        content = place.read_bytes()
        for secret in secrets:
            assert secret.encode() not in content, f"a secret reached {place.name}"
    assert all(secret not in demo.stdout + demo.stderr for secret in secrets)


@pytest.mark.slow  # a whole `shadow demo` with exploration and reports: 30 s quiet, 97 s loaded
def test_a_candidate_returning_whole_rows_leaks_no_hash_or_code_anywhere(tmp_path: Path) -> None:
    """password_hash, token_hash and an undeclared *code* field are redacted by their names.

    The contract declares ``password``, ``token`` and ``code`` sensitive, not the
    column names a whole row carries: redaction by name pattern must catch them
    in the store, the three report formats, ``divergences show`` and the output.
    """
    workdir = tmp_path / "work"
    demo = _shadow(
        "demo",
        "--workdir",
        str(workdir),
        "--ops",
        "60",
        "--candidate-factory",
        "tests.demo.planted_candidate:build_whole_rows",
        cwd=tmp_path,
    )
    assert demo.returncode == 1, demo.stderr[-2000:]

    legacy = sqlite3.connect(workdir / "legacy.sqlite3")
    try:
        hashes = [h for (h,) in legacy.execute("SELECT password_hash FROM users") if h]
        tokens = [t for (t,) in legacy.execute("SELECT token_hash FROM user_sessions") if t]
    finally:
        legacy.close()
    assert hashes, "the demo must have created password hashes to look for"

    store = sqlite3.connect(workdir / "divergences.sqlite3")
    try:
        groups = store.execute(
            "SELECT fingerprint FROM shadow_groups WHERE service = 'users' AND method = 'get'"
        ).fetchall()
        stored = [json.loads(e) for (e,) in store.execute("SELECT example FROM shadow_examples")]
    finally:
        store.close()
    assert groups, "the whole-row divergence must be recorded"
    redacted = {
        difference["path"]
        for example in stored
        for difference in example.get("differences", [])
        if difference["mirror"] == "[redacted]"
    }
    assert {"root['password_hash']", "root['token_hash']", "root['invite_code']"} <= redacted, (
        "the examples must carry the whole-row fields, redacted"
    )

    config = ["--config", str(workdir / "shadow.toml")]
    for fmt in ("md", "html", "json"):
        report = _shadow(
            *config, "report", "--format", fmt, "-o", str(tmp_path / f"report.{fmt}"), cwd=tmp_path
        )
        assert report.returncode in (0, 1), report.stderr
    show = _shadow(*config, "divergences", "show", groups[0][0], cwd=tmp_path)
    assert show.returncode == 0, show.stderr
    assert "[redacted]" in show.stdout
    places = [*workdir.glob("divergences.sqlite3*"), *tmp_path.glob("report.*")]
    secrets = [*hashes, *tokens, "planted-code"]
    for place in places:
        content = place.read_bytes()
        for secret in secrets:
            assert secret.encode() not in content, f"a secret reached {place.name}"
    for text in (demo.stdout, demo.stderr, show.stdout, show.stderr):
        assert all(secret not in text for secret in secrets)
