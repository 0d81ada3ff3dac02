"""Fixtures for the runtime's tests: runtimes over two real sqlite3 key-value stores."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from shadow import FixedClock, SequentialIds
from shadow.runtime import Runtime, ServiceSettings, ShadowSettings, SideFactory
from tests.runtime.runtime_kv import MakeRuntime


@pytest.fixture(autouse=True)
def _no_shadow_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings in these tests come from the test itself, never from the caller's shell."""
    for name in list(os.environ):
        if name.startswith("SHADOW_") and not name.startswith("SHADOW_TEST_"):
            monkeypatch.delenv(name)


@pytest.fixture
def paths(tmp_path: Path) -> dict[str, str]:
    """Database files of the two sides and of the divergence store."""
    return {
        "legacy": str(tmp_path / "legacy.db"),
        "candidate": str(tmp_path / "candidate.db"),
        "store": f"sqlite:///{tmp_path / 'store.db'}",
    }


@pytest.fixture
def make_runtime(paths: dict[str, str]) -> Iterator[MakeRuntime]:
    """Build a runtime for the ``kv`` service; closed at the end of the test.

    ``candidate_builder`` names the :mod:`tests.runtime.runtime_kv` function that
    builds the candidate side (``build_grouped``: one offering group commit).
    """
    created: list[Runtime] = []

    def make(
        *,
        worker: str = "inline",
        mode: str = "shadow",
        read_sample_rate: float = 1.0,
        legacy_options: dict[str, Any] | None = None,
        candidate_options: dict[str, Any] | None = None,
        candidate_builder: str = "build",
        **settings: Any,
    ) -> Runtime:
        runtime = Runtime(
            ShadowSettings(
                worker=worker,
                services={"kv": ServiceSettings(mode=mode, read_sample_rate=read_sample_rate)},
                store_url=paths["store"],
                **settings,
            ),
            legacy=SideFactory(
                "tests.runtime.runtime_kv:build",
                {"path": paths["legacy"], **(legacy_options or {})},
            ),
            candidate=SideFactory(
                f"tests.runtime.runtime_kv:{candidate_builder}",
                {"path": paths["candidate"], **(candidate_options or {})},
            ),
            registry=CollectorRegistry(),
            ids=SequentialIds("kv"),
            clock=FixedClock(),
        )
        created.append(runtime)
        return runtime

    yield make
    for runtime in created:
        runtime.close()
