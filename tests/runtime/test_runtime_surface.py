"""The public surface of shadow.runtime is what __all__ says, sorted, and importable."""

from __future__ import annotations

import subprocess
import sys

import pytest
from prometheus_client import REGISTRY

import shadow.runtime


def test_all_is_sorted_constants_classes_functions_and_every_name_exists() -> None:
    names = list(shadow.runtime.__all__)
    assert names == sorted(names, key=lambda name: (not name.isupper(), name[0].islower(), name))
    for name in names:
        assert getattr(shadow.runtime, name) is not None


@pytest.mark.slow
def test_the_runtime_imports_nothing_from_the_reference_services_or_databases() -> None:
    code = (
        "import sys, shadow.runtime, shadow.testing; "
        "bad = [m for m in sys.modules if m.startswith(('imagegen.services', 'imagegen.db'))]; "
        "print(','.join(bad))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert found == ""


def test_nothing_is_registered_on_the_global_prometheus_registry() -> None:
    collected = {family.name for family in REGISTRY.collect()}
    assert not [name for name in collected if name.startswith("shadow_")]
