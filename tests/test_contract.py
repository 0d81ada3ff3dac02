"""The contract vocabulary: declarations are read back, undeclared methods refused."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import pytest

from shadow import Compare, ContractError, Kind, Order, contract_methods, read, read_write, write


class Greeter(ABC):
    @read()
    @abstractmethod
    def get(self, key: str) -> str | None: ...

    @write()
    @abstractmethod
    def put(self, key: str, value: str) -> None: ...

    @read_write(order=Order.UNORDERED, key="id", timestamps={"created_at"})
    @abstractmethod
    def take(self) -> list[dict[str, str]]: ...


def test_declarations_are_read_back_by_name_with_kind_and_compare_spec() -> None:
    specs = contract_methods(Greeter)
    assert {name: spec.kind for name, spec in specs.items()} == {
        "get": Kind.READ,
        "put": Kind.WRITE,
        "take": Kind.READ_WRITE,
    }
    assert specs["take"].compare == Compare(
        order=Order.UNORDERED, key=("id",), timestamps=frozenset({"created_at"})
    )
    assert specs["put"].kind.mutates and specs["take"].kind.mutates
    assert not specs["get"].kind.mutates


def test_a_public_method_without_declaration_is_refused_with_its_name() -> None:
    class Sloppy(Greeter):
        def helper(self) -> None: ...

    with pytest.raises(ContractError, match="helper") as caught:
        contract_methods(Sloppy)
    assert caught.value.details["methods"] == ("helper",)


def test_private_methods_need_no_declaration() -> None:
    class WithPrivate(Greeter):
        def _helper(self) -> None: ...

    assert set(contract_methods(WithPrivate)) == {"get", "put", "take"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"order": Order.TIES, "key": ("id",)}, "sort_key"),
        ({"order": Order.UNORDERED}, "key"),
    ],
)
def test_incomplete_order_declarations_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ContractError, match=message):
        read(**options)
