"""``declare``: contracts over an existing class, without writing a new one."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from shadow import (
    Clock,
    Compare,
    ContractError,
    IdSource,
    Kind,
    Runtime,
    ServiceSettings,
    ShadowSettings,
    SideFactory,
    contract_methods,
    declare,
    read,
)
from shadow.testing import capture_comparisons


class NotesBase(ABC):
    """An application's own base class: it knows nothing of shadow."""

    @abstractmethod
    def add(self, note: str) -> int: ...

    @abstractmethod
    def all(self) -> list[str]: ...

    @abstractmethod
    def pop(self) -> str | None: ...


class MemoryNotes(NotesBase):
    """One implementation; ``reverse`` makes ``all`` return the notes backwards."""

    def __init__(self, reverse: bool = False) -> None:
        self._notes: list[str] = []
        self._reverse = reverse

    def add(self, note: str) -> int:
        self._notes.append(note)
        return len(self._notes)

    def all(self) -> list[str]:
        return list(reversed(self._notes)) if self._reverse else list(self._notes)

    def pop(self) -> str | None:
        return self._notes.pop() if self._notes else None


def build(*, ids: IdSource, clock: Clock, reverse: bool = False) -> dict[str, Any]:
    """The side factory: the ``notes`` service (it draws no ids or times)."""
    return {"notes": MemoryNotes(reverse)}


def test_declared_methods_carry_their_kind_and_compare_spec() -> None:
    """reads / writes / read_writes and per-method compare specs are what contract_methods sees."""
    contract = type("Notes", (NotesBase,), {})
    declare(
        contract,
        reads={"all"},
        writes={"add"},
        read_writes={"pop"},
        compare={"all": Compare(ignore=frozenset({"x"})), "pop": {"sensitive": {"note"}}},
    )
    specs = contract_methods(contract)
    assert {name: spec.kind for name, spec in specs.items()} == {
        "add": Kind.WRITE,
        "all": Kind.READ,
        "pop": Kind.READ_WRITE,
    }
    assert specs["all"].compare.ignore == {"x"}
    assert specs["pop"].compare.sensitive == {"note"}
    assert specs["add"].compare == Compare()


def test_an_undeclared_public_method_is_still_refused() -> None:
    """Declaring only some methods leaves the contract refused, naming the rest."""
    contract = type("Notes", (NotesBase,), {})
    declare(contract, reads={"all"}, writes={"add"})
    with pytest.raises(ContractError, match="pop"):
        contract_methods(contract)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"reads": {"missing"}}, "no public method 'missing'"),
        ({"reads": {"_private"}}, "no public method '_private'"),
        ({"reads": {"all"}, "writes": {"all"}}, "declared twice"),
        ({"reads": {"all"}, "compare": {"add": Compare()}}, "undeclared methods: add"),
    ],
)
def test_bad_declarations_are_refused(options: dict[str, Any], message: str) -> None:
    """Unknown, private, doubly declared names and stray compare entries are errors."""
    contract = type("Notes", (NotesBase,), {"_private": lambda self: None})
    with pytest.raises(ContractError, match=message):
        declare(contract, **options)


def test_a_decorated_method_cannot_be_declared_again() -> None:
    """A method already carrying a decorator is not silently re-declared."""

    class Decorated:
        @read()
        def get(self) -> int:
            return 1

    with pytest.raises(ContractError, match="already declared"):
        declare(Decorated, reads={"get"})


@pytest.mark.parametrize("worker", ["inline", "thread", "process"])
def test_a_proxy_over_a_declared_base_class_mirrors_and_compares(
    tmp_path: Path, worker: str
) -> None:
    """The runtime runs a declared existing ABC like any contract, and sees a divergence."""
    contract = type("Notes", (NotesBase,), {})
    declare(contract, reads={"all"}, writes={"add"}, read_writes={"pop"})
    runtime = Runtime(
        ShadowSettings(
            worker=worker,
            services={"notes": ServiceSettings(mode="shadow")},
            store_url=f"sqlite:///{tmp_path / 'store.db'}",
        ),
        legacy=SideFactory(f"{__name__}:build"),
        candidate=SideFactory(f"{__name__}:build", {"reverse": True}),
        registry=CollectorRegistry(),
    )
    try:
        # A contract declared at run time: its methods are known to the test, not to mypy.
        notes: Any = runtime.proxy(contract, "notes")
        with capture_comparisons(runtime) as seen:
            assert notes.add("a") == 1
            assert notes.add("b") == 2
            assert notes.all() == ["a", "b"]  # the caller gets the legacy order
            assert notes.pop() == "b"
            assert runtime.flush(60)
    finally:
        runtime.close()
    outcomes = [(item.method, item.outcome.value) for item in seen]
    assert outcomes == [("add", "match"), ("add", "match"), ("all", "divergence"), ("pop", "match")]
