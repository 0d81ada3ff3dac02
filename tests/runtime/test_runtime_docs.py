"""The documentation is executable and complete."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from shadow.runtime import ServiceSettings, ShadowSettings, load_settings

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_complete_example_in_runtime_md_runs() -> None:
    text = (DOCS / "runtime.md").read_text()
    example = text.split("## A complete example", 1)[1]
    code = re.search(r"```python\n(.*?)```", example, re.DOTALL)
    assert code is not None
    exec(compile(code.group(1), "docs/runtime.md", "exec"), {"__name__": "docs_example"})


def test_every_setting_is_documented_with_its_environment_variable() -> None:
    text = (DOCS / "configuration.md").read_text()
    for name in ShadowSettings.model_fields:
        if name == "services":
            continue
        assert f"| `{name}` | `SHADOW_{name.upper()}` |" in text, name
    for name in ServiceSettings.model_fields:
        assert f"`SHADOW_SERVICES__<NAME>__{name.upper()}`" in text, name


def test_the_example_configuration_file_is_valid(tmp_path: Path) -> None:
    text = (DOCS / "configuration.md").read_text()
    block = re.search(r"```toml\n(.*?)```", text, re.DOTALL)
    assert block is not None
    tomllib.loads(block.group(1))
    path = tmp_path / "shadow.toml"
    path.write_text(block.group(1))
    assert load_settings(path).service("users").read_sample_rate == 0.2
