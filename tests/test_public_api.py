"""The public surface of ``shadow`` is exactly what we mean it to be."""

from __future__ import annotations

import inspect

import shadow
import shadow.cutover
import shadow.runtime
import shadow.testing
from shadow.cutover import evidence, modes, plan
from shadow.runtime import _settings, _store

EXPECTED = {
    # declaring a contract
    "Compare",
    "Kind",
    "MethodSpec",
    "Order",
    "contract_methods",
    "declare",
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
    "Observation",
    "Observer",
    "Runtime",
    "ServiceSettings",
    "ShadowSettings",
    "SideFactory",
    "WorkerKind",
    "json_logger",
    "load_settings",
    # the shared vocabulary
    "LatencySummary",
    "Mode",
    "Outcome",
    "ReviewStatus",
    "Side",
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


def test_the_shared_vocabulary_exists_once_for_every_layer() -> None:
    """Side, Mode, Outcome, ReviewStatus and LatencySummary are one object each.

    A second look-alike ``Mode`` compared with ``is`` fails silently; the
    runtime, cutover control and the top level must hand out the same classes.
    """
    # vars(): the name as bound in each module (they import it, they do not re-export it).
    assert shadow.Mode is shadow.cutover.Mode is shadow.runtime.Mode is vars(_settings)["Mode"]
    assert plan.Mode is vars(modes)["Mode"] is shadow.Mode
    assert shadow.Side is shadow.runtime.Side
    assert shadow.Outcome is shadow.runtime.Outcome
    assert shadow.ReviewStatus is shadow.cutover.ReviewStatus is vars(evidence)["ReviewStatus"]
    assert shadow.LatencySummary is shadow.cutover.LatencySummary is vars(_store)["LatencySummary"]


def test_the_mode_order_is_the_cutover_order() -> None:
    """Modes rank legacy < shadow < reverse < sqlmodel, with next/previous along it."""
    order = [shadow.Mode.LEGACY, shadow.Mode.SHADOW, shadow.Mode.REVERSE, shadow.Mode.SQLMODEL]
    assert list(shadow.Mode) == order
    assert [mode.rank for mode in order] == [0, 1, 2, 3]
    assert [mode.next() for mode in order] == [*order[1:], None]
    assert [mode.previous() for mode in order] == [None, *order[:-1]]
    assert [mode.authoritative for mode in order] == [
        shadow.Side.LEGACY,
        shadow.Side.LEGACY,
        shadow.Side.CANDIDATE,
        shadow.Side.CANDIDATE,
    ]


def test_judged_outcomes_are_a_subset_of_those_where_both_sides_ran() -> None:
    """The gate's sample (judged) excludes raced; skipped and dropped never ran both sides."""
    judged = {outcome for outcome in shadow.Outcome if outcome.judged}
    both = {outcome for outcome in shadow.Outcome if outcome.ran_both_sides}
    assert judged == {"match", "divergence", "candidate_error"}
    assert both == judged | {"raced"}
