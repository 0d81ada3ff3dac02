"""The public surface of ``shadow`` is exactly what we mean it to be."""

from __future__ import annotations

import inspect

import shadow
import shadow.cutover
import shadow.runtime
import shadow.testing

EXPECTED = {
    # declaring a contract
    "Compare",
    "Kind",
    "MethodSpec",
    "Order",
    "contract_methods",
    "read",
    "read_write",
    "write",
    # injected sources
    "Clock",
    "FixedClock",
    "IdSource",
    "SequentialIds",
    "SystemClock",
    "UuidIds",
    # running it
    "DivergenceStore",
    "LiveSettings",
    "Mode",
    "Observation",
    "Observer",
    "Outcome",
    "Runtime",
    "ServiceSettings",
    "ShadowSettings",
    "Side",
    "SideFactory",
    "WorkerKind",
    "json_logger",
    "load_settings",
    # exceptions
    "ConfigError",
    "ContractError",
    "DivergenceError",
    "ShadowError",
    "StoreError",
}


def test_the_top_level_exports_exactly_the_intended_names_sorted() -> None:
    assert set(shadow.__all__) == EXPECTED
    assert shadow.__all__ == sorted(shadow.__all__)


def test_every_exported_class_and_function_is_defined_in_shadow() -> None:
    for module in (shadow, shadow.runtime, shadow.cutover, shadow.testing):
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value) or inspect.isfunction(value):
                assert value.__module__.startswith("shadow."), (module.__name__, name)


def test_every_exported_class_and_function_has_a_docstring() -> None:
    for module in (shadow, shadow.runtime, shadow.cutover, shadow.testing):
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value) or inspect.isfunction(value):
                assert inspect.getdoc(value), f"{module.__name__}.{name} has no docstring"


def test_the_exception_tree_has_one_root() -> None:
    for name in ("ConfigError", "ContractError", "DivergenceError", "StoreError"):
        assert issubclass(getattr(shadow, name), shadow.ShadowError)
