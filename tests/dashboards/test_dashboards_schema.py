"""The Grafana dashboards are valid against Grafana's published schema (``@grafana/schema``).

The schema is published as TypeScript types on the npm registry. The check
pastes each dashboard's JSON into a TypeScript module as an object literal
typed as the schema's ``Dashboard`` and runs ``tsc --noEmit --strict``: missing
required fields (the datasource variable's ``current: {}`` lacked ``text`` and
``value``), wrong types, unknown enum values and unknown properties all fail.
The packages are pinned in ``grafana_schema/package.json`` and its lock file;
``.ci/run`` installs them with ``npm ci`` (locally: ``npm ci --prefix
tests/dashboards/grafana_schema``). Locally a missing install skips; in CI it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.dashboards.dashboard_files import DASHBOARDS, load

HERE = Path(__file__).resolve().parent / "grafana_schema"
TSC = HERE / "node_modules" / "typescript" / "bin" / "tsc"
SCHEMA = HERE / "node_modules" / "@grafana" / "schema" / "package.json"
NODE = shutil.which("node")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        (NODE is None or not TSC.is_file() or not SCHEMA.is_file())
        and os.environ.get("CI") != "true",
        reason="@grafana/schema not installed (npm ci --prefix tests/dashboards/grafana_schema)",
    ),
]


def _module(dashboard: dict[str, object]) -> str:
    template = (HERE / "check-template.ts").read_text()
    return template.replace("DASHBOARD_JSON", json.dumps(dashboard, indent=2))


def _tsc(directory: Path, files: list[Path]) -> subprocess.CompletedProcess[str]:
    assert NODE is not None, "node is required in CI"
    # The checked modules sit beside node_modules so `@grafana/schema` resolves.
    options = ["--noEmit", "--strict", "--target", "es2022", "--module", "esnext"]
    return subprocess.run(
        [NODE, str(TSC), *options, "--moduleResolution", "bundler", *map(str, files)],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_every_dashboard_matches_the_published_schema_and_a_broken_one_does_not() -> None:
    """One tsc run: the real dashboards pass, a copy with the old `current: {}` fails."""
    assert json.loads(SCHEMA.read_text())["name"] == "@grafana/schema"
    files = []
    for path in DASHBOARDS:
        checked = HERE / f"_check_{path.stem}.ts"
        checked.write_text(_module(load(path)))
        files.append(checked)
    broken = load(DASHBOARDS[0])
    broken["templating"]["list"][0]["current"] = {}
    broken_file = HERE / "_check_broken.ts"
    broken_file.write_text(_module(broken))
    try:
        result = _tsc(HERE, [*files, broken_file])
    finally:
        for each in [*files, broken_file]:
            each.unlink(missing_ok=True)
    errors = [line for line in result.stdout.splitlines() if "error TS" in line]
    assert errors, "the broken copy passed: the check cannot fail"
    assert all(line.startswith("_check_broken.ts") for line in errors), "\n".join(errors)
    assert any("text, value" in line for line in errors), "\n".join(errors)
