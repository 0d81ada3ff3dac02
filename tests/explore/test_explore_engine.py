"""The exploration engine on a toy contract: finds, shrinks, stores, redacts, exports, replays."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from hypothesis import given, settings

from shadow import ConfigError, DivergenceError
from shadow.explore import contract_inputs, explore, explore_inputs, export_test, replay_steps
from shadow.explore._pools import Pools
from shadow.explore._strategies import argument_strategy
from shadow.runtime import DivergenceStore
from shadow.runtime._provenance import (
    EXPLORATION,
    group_origins,
    load_reproduction,
    origin_counts,
)
from tests.explore.explore_toy import Tags, ToyTarget


def test_declared_inputs_are_inherited_and_only_args_are_accepted() -> None:
    """A subclass keeps its contract's declarations; explore_inputs refuses a non-Arg value."""

    class Sub(Tags):
        pass

    assert contract_inputs(Sub)["tag_id"].pool == "tag_id"
    with pytest.raises(TypeError):
        explore_inputs(tag_id="not an Arg")  # type: ignore[arg-type]


def test_pools_harvest_only_their_own_service_results_and_kept_arguments() -> None:
    """A result field feeds the pool its service declares; ``keep`` arguments join theirs."""
    pools = Pools({"tags": contract_inputs(Tags), "other": {}})
    pools.harvest("other", {"tag_id": "from-elsewhere"})
    pools.harvest("tags", [{"tag_id": "t-1"}, {"tag_id": "t-2"}])
    pools.keep(contract_inputs(Tags), {"secret": "kept", "owner": "alice"})
    assert list(pools.values("tag_id")) == ["t-1", "t-2"]
    assert list(pools.values("secret")) == ["kept"]


@pytest.mark.slow
def test_a_planted_bug_is_found_shrunk_stored_and_counted_as_exploration(tmp_path: Path) -> None:
    """Exploration finds the '%' bug in ``find``, shrinks it to one call, stores it redacted."""
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    result = explore(ToyTarget(buggy=True), store=url, budget_seconds=12, seed=3)
    assert result.found
    assert {(found.service, found.method) for found in result.found} == {("tags", "find")}
    found = min(result.found, key=lambda item: len(item.steps))
    # Shrinking is bounded by the budget: on a loaded machine it may stop one or two
    # steps short of the minimum; the diverging call always ends the sequence.
    assert len(found.steps) <= 4 and "%" in found.steps[-1]["arguments"]["prefix"]
    assert found.reproduces_redacted
    store = DivergenceStore(url)
    try:
        group = store.group(found.fingerprint)
        reproduction = load_reproduction(store, found.fingerprint)
        origins = group_origins(store)
        counted = origin_counts(store)
    finally:
        store.close()
    assert group is not None and group.status == "open" and group.count >= 1
    assert reproduction is not None and list(reproduction.steps) == list(found.steps)
    assert origins[found.fingerprint] == {EXPLORATION: group.count}
    explored = sum(origins[item.fingerprint][EXPLORATION] for item in result.found)
    assert counted[("tags", "find", "divergence", EXPLORATION)] == explored
    assert any(key[2] == "match" for key in counted)  # clean examples are evidence too
    assert "s3cret" not in str(group.examples) + str(reproduction.steps)


def test_no_bug_means_no_divergence_and_every_method_called(tmp_path: Path) -> None:
    """With identical sides, exploration reports nothing and reaches every declared method."""
    result = explore(ToyTarget(), store=None, budget_seconds=3, seed=1)
    assert result.ok and result.examples > 0
    assert set(result.calls) == {"tags.add", "tags.get", "tags.find", "tags.remove"}


def test_secrets_in_steps_become_placeholders_a_replay_can_resolve(tmp_path: Path) -> None:
    """A secret drawn from a pool is stored as a pool pick; replay reproduces without it."""
    steps = [
        {
            "service": "tags",
            "method": "add",
            "arguments": {
                "owner": "bob",
                "name": "x",
                "secret": {"__redacted__": 0, "kind": "str"},
            },
        },
        {"service": "tags", "method": "find", "arguments": {"owner": "bob", "prefix": "%"}},
    ]
    with pytest.raises(DivergenceError) as raised:
        replay_steps(ToyTarget(buggy=True), steps)
    assert "tags.find" in str(raised.value)
    assert replay_steps(ToyTarget(buggy=False), steps)  # observations, no error


def test_exported_reproduction_is_a_pytest_module_failing_while_the_bug_remains(
    tmp_path: Path,
) -> None:
    """The exported module runs; its test raises DivergenceError for the buggy target only."""
    steps = [{"service": "tags", "method": "find", "arguments": {"owner": "alice", "prefix": "a%"}}]
    for buggy in (True, False):
        text = export_test(
            fingerprint="abc123",
            service="tags",
            method="find",
            steps=steps,
            target=ToyTarget(buggy=buggy).describe(),
            reproduces_redacted=True,
        )
        path = tmp_path / f"test_repro_{buggy}.py"
        path.write_text(text)
        namespace = runpy.run_path(str(path))
        test = namespace["test_tags_find_abc123"]
        if buggy:
            with pytest.raises(DivergenceError):
                test()
        else:
            test()


def test_a_bad_budget_or_service_is_one_clear_error() -> None:
    """A non-positive budget or an unknown service is a ConfigError, not a traceback."""
    with pytest.raises(ConfigError, match="budget"):
        explore(ToyTarget(), store=None, budget_seconds=0)
    with pytest.raises(ConfigError, match="no such service"):
        explore(ToyTarget(), store=None, budget_seconds=1, services=["nope"])


def test_arg_declaration_keeps_only_examples_when_asked() -> None:
    """``only=True`` draws nothing but the declared examples (and pool)."""
    strategy = argument_strategy("owner", str, contract_inputs(Tags), Pools({}))

    @settings(max_examples=50, database=None)
    @given(strategy)
    def check(value: str) -> None:
        assert value in ("alice", "bob")

    check()


def test_an_example_budget_ends_exploration_after_whole_rounds() -> None:
    """``max_examples`` stops after the rounds that reach it, long before the time budget."""
    result = explore(ToyTarget(), store=None, budget_seconds=600, seed=1, max_examples=13)
    assert result.rounds == 2  # rounds of 12: the second reaches 13
    assert result.elapsed_seconds < 600
    with pytest.raises(ConfigError, match="example budget"):
        explore(ToyTarget(), store=None, budget_seconds=1, max_examples=0)


def test_the_value_a_pool_got_last_is_drawn_often() -> None:
    """A pool's latest value (what the previous call just made) is drawn far above its share.

    Among 40 values a uniform pick would choose the last one in at most 1 draw
    of 40 (fewer: some draws are the declared examples or type-derived); a
    sequence that creates something and uses it next needs it much more often.
    """
    pools = Pools({"tags": contract_inputs(Tags)})
    for number in range(40):
        pools.add("tag_id", f"t-{number}")
    strategy = argument_strategy("tag_id", str, contract_inputs(Tags), pools)
    drawn: list[str] = []

    @settings(max_examples=300, database=None)
    @given(strategy)
    def collect(value: str) -> None:
        drawn.append(value)

    collect()
    assert drawn.count("t-39") > len(drawn) / 25
