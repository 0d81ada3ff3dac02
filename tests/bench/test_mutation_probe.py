"""The mutation probe finds the service a planted mutant sits in (what it then explores)."""

from __future__ import annotations

import shutil
from pathlib import Path

from bench.mutation_probe import CORE, SHARED, mutated_services, service_of

_ROOT = Path(__file__).resolve().parents[2]


def test_each_module_belongs_to_its_service_and_underscored_ones_are_shared() -> None:
    """Service modules name their service; ``_helpers.py`` modules are shared by all."""
    assert service_of(Path("users.py")) == "users"
    assert service_of(Path("session_queue_batches.py")) == "session_queue"
    assert service_of(Path("_base.py")) == service_of(Path("_portable.py")) == SHARED


def test_the_changed_file_names_the_service_to_explore(tmp_path: Path) -> None:
    """One changed service file -> that service; a changed helper or none -> every service."""
    code, pristine = tmp_path / "code", tmp_path / "pristine"
    shutil.copytree(_ROOT / CORE, code / CORE)
    shutil.copytree(_ROOT / CORE, pristine)
    assert mutated_services(code, pristine) == []
    batches = code / CORE / "session_queue_batches.py"
    batches.write_text(batches.read_text().replace("==", "!=", 1))
    assert mutated_services(code, pristine) == ["session_queue"]
    helper = code / CORE / "_base.py"
    helper.write_text(helper.read_text() + "\n# planted\n")
    assert mutated_services(code, pristine) == []
