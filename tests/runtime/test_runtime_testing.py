"""shadow.testing: strict mode and comparison capture for other projects' test suites."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypedDict

import pytest

from shadow import DivergenceError, FixedClock, SequentialIds
from shadow.runtime import Outcome, SideFactory
from shadow.testing import capture_comparisons, shadow_runtime, strict
from tests.runtime import runtime_kv
from tests.runtime.runtime_kv import KeyValue


class Sides(TypedDict):
    """The two side factories ``shadow_runtime`` takes."""

    legacy: SideFactory
    candidate: SideFactory


def factories(tmp_path: Path, **candidate: Any) -> Sides:
    return {
        "legacy": SideFactory(runtime_kv.build, {"path": str(tmp_path / "l.db")}),
        "candidate": SideFactory(runtime_kv.build, {"path": str(tmp_path / "c.db"), **candidate}),
    }


def test_strict_mode_raises_divergence_error_from_the_diverging_call(tmp_path: Path) -> None:
    runtime = shadow_runtime(
        **factories(tmp_path, fault="wrong", fault_method="get"),
        ids=SequentialIds(),
        clock=FixedClock(),
    )
    with runtime:
        kv = runtime.proxy(KeyValue, "kv")
        kv.put("a", "abc")  # equal on both sides: no error
        with pytest.raises(DivergenceError) as raised:
            kv.get("a")
    assert raised.value.details["method"] == "get"
    assert raised.value.details["paths"] == ("root['value']",)
    assert "abc" not in str(raised.value) and "ABC" not in str(raised.value)


def test_capture_collects_every_comparison_in_the_block_only(tmp_path: Path) -> None:
    with shadow_runtime(**factories(tmp_path), strict=False) as runtime:
        kv = runtime.proxy(KeyValue, "kv")
        kv.put("before", "1")
        with capture_comparisons(runtime) as seen:
            kv.put("a", "1")
            kv.get("a")
        kv.get("before")
    assert [(item.method, item.outcome) for item in seen] == [
        ("put", Outcome.MATCH),
        ("get", Outcome.MATCH),
    ]


def test_strict_can_be_switched_on_for_a_block(tmp_path: Path) -> None:
    with shadow_runtime(
        **factories(tmp_path, fault="raise", fault_method="put"), strict=False
    ) as runtime:
        kv = runtime.proxy(KeyValue, "kv")
        kv.put("a", "1")  # candidate_error, tolerated outside strict
        with strict(runtime), pytest.raises(DivergenceError, match="candidate_error"):
            kv.put("b", "1")
        kv.put("c", "1")
