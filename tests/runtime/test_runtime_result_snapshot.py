"""A caller owns the result it gets: changing it afterwards changes nothing that is compared."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shadow import Clock, IdSource, read, write
from shadow.runtime import Runtime, ServiceSettings, ShadowSettings, SideFactory


class Shelf(ABC):
    @read()
    @abstractmethod
    def items(self) -> list[str]: ...

    @read()
    @abstractmethod
    def labels(self) -> dict[str, list[str]]: ...


class ListShelf(Shelf):
    def __init__(self, gate: Callable[[], Any] | None) -> None:
        self._gate = gate

    def _wait(self) -> None:
        if self._gate is not None:
            self._gate()

    def items(self) -> list[str]:
        self._wait()
        return ["a", "b"]

    def labels(self) -> dict[str, list[str]]:
        self._wait()
        return {"a": ["red"], "b": ["blue"]}


def test_mutating_a_returned_list_or_dict_after_the_call_is_not_a_divergence(
    tmp_path: Path,
) -> None:
    release = threading.Event()

    def legacy(*, ids: IdSource, clock: Clock) -> dict[str, Shelf]:
        return {"shelf": ListShelf(None)}

    def candidate(*, ids: IdSource, clock: Clock) -> dict[str, Shelf]:
        # The mirror waits until the caller has changed its results, so the
        # comparison is sure to run after the change.
        return {"shelf": ListShelf(release.wait)}

    runtime = Runtime(
        ShadowSettings(
            worker="thread",
            services={"shelf": ServiceSettings(mode="shadow")},
            store_url=f"sqlite:///{tmp_path / 'store.db'}",
        ),
        legacy=SideFactory(legacy),
        candidate=SideFactory(candidate),
    )
    try:
        shelf = runtime.proxy(Shelf, "shelf")
        items = shelf.items()
        items.append("c")
        items[0] = "z"
        labels = shelf.labels()
        labels["a"].append("green")
        labels["c"] = []
        release.set()
        assert runtime.flush(30)
        registry = runtime.metrics.registry
        for method in ("items", "labels"):
            labels_of = {"service": "shelf", "method": method}
            assert (
                registry.get_sample_value(
                    "shadow_comparisons_total", {**labels_of, "outcome": "match"}
                )
                == 1
            )
            assert (
                registry.get_sample_value(
                    "shadow_comparisons_total", {**labels_of, "outcome": "divergence"}
                )
                == 0
            )
    finally:
        runtime.close()


class Basket(ABC):
    @write()
    @abstractmethod
    def add_all(self, items: list[str]) -> int: ...


class MutatingBasket(Basket):
    """Legacy code that appends to the list it was given (it happens)."""

    def add_all(self, items: list[str]) -> int:
        items.append("bonus")
        return len(items)


class CleanBasket(Basket):
    def add_all(self, items: list[str]) -> int:
        return len(items) + 1


def test_the_mirror_gets_the_arguments_as_passed_even_if_the_authoritative_side_mutates_them(
    tmp_path: Path,
) -> None:
    def legacy(*, ids: IdSource, clock: Clock) -> dict[str, Basket]:
        return {"basket": MutatingBasket()}

    def candidate(*, ids: IdSource, clock: Clock) -> dict[str, Basket]:
        return {"basket": CleanBasket()}

    runtime = Runtime(
        ShadowSettings(
            worker="inline",
            services={"basket": ServiceSettings(mode="shadow")},
            store_url=f"sqlite:///{tmp_path / 'store.db'}",
        ),
        legacy=SideFactory(legacy),
        candidate=SideFactory(candidate),
    )
    try:
        basket = runtime.proxy(Basket, "basket")
        assert basket.add_all(["a", "b"]) == 3
        labels = {"service": "basket", "method": "add_all"}
        registry = runtime.metrics.registry
        assert (
            registry.get_sample_value("shadow_comparisons_total", {**labels, "outcome": "match"})
            == 1
        )
    finally:
        runtime.close()
