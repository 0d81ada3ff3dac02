"""The proxy, with the mirror run inline: what the caller gets, and what is observed."""

from __future__ import annotations

import io
import json
import os
import threading
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from shadow import ContractError, read
from shadow.runtime import (
    REDACTED,
    LiveSettings,
    Observation,
    Outcome,
    Reason,
    Runtime,
    ServiceSettings,
    ShadowSettings,
    Side,
    SideFactory,
    json_logger,
)
from shadow.testing import capture_comparisons
from tests.runtime import runtime_kv
from tests.runtime.runtime_kv import Entry, KeyMissingError, KeyValue, MakeRuntime


def count(runtime: Runtime, method: str, outcome: str) -> float:
    value = runtime.metrics.registry.get_sample_value(
        "shadow_comparisons_total", {"service": "kv", "method": method, "outcome": outcome}
    )
    return value or 0.0


def test_the_proxy_implements_the_contract_and_returns_the_authoritative_record(
    make_runtime: MakeRuntime,
) -> None:
    runtime = make_runtime()
    kv = runtime.proxy(KeyValue, "kv")
    assert isinstance(kv, KeyValue)
    entry = kv.put("a", "1")
    assert isinstance(entry, Entry)
    assert kv.get("a") == entry
    assert count(runtime, "put", "match") == 1
    assert count(runtime, "get", "match") == 1


def test_ids_and_python_times_drawn_during_a_write_are_identical_in_both_stores(
    make_runtime: MakeRuntime, paths: dict[str, str]
) -> None:
    runtime = make_runtime()
    kv = runtime.proxy(KeyValue, "kv")
    for key in "abc":
        kv.put(key, key * 2)
    legacy_rows = runtime_kv.rows(paths["legacy"])
    assert [row[1] for row in legacy_rows] == ["kv-000001", "kv-000002", "kv-000003"]
    assert runtime_kv.rows(paths["candidate"]) == legacy_rows


@pytest.mark.parametrize("method", ["put", "get"])
def test_a_raising_candidate_never_changes_the_result_and_counts_as_candidate_error(
    make_runtime: MakeRuntime, method: str
) -> None:
    runtime = make_runtime(candidate_options={"fault": "raise", "fault_method": method})
    kv = runtime.proxy(KeyValue, "kv")
    put = kv.put("a", "1")
    got = kv.get("a")
    assert (put.value, got.value) == ("1", "1")
    assert count(runtime, method, "candidate_error") == 1


def test_a_candidate_returning_another_value_is_a_divergence_under_its_method_and_path(
    make_runtime: MakeRuntime,
) -> None:
    runtime = make_runtime(candidate_options={"fault": "wrong", "fault_method": "get"})
    with capture_comparisons(runtime) as seen:
        kv = runtime.proxy(KeyValue, "kv")
        kv.put("a", "abc")
        assert kv.get("a").value == "abc"
        divergences = [item for item in seen if item.outcome is Outcome.DIVERGENCE]
        assert [(item.service, item.method, item.paths) for item in divergences] == [
            ("kv", "get", ("root['value']",))
        ]
        assert divergences[0].differences[0].authoritative == "abc"
        assert divergences[0].differences[0].mirror == "ABC"
        assert count(runtime, "get", "divergence") == 1
        assert count(runtime, "put", "match") == 1


def test_the_authoritative_exception_reaches_the_caller_unchanged(
    make_runtime: MakeRuntime,
) -> None:
    runtime = make_runtime(candidate_options={"fault": "raise", "fault_method": "delete"})
    kv = runtime.proxy(KeyValue, "kv")
    direct = runtime.switchboard.implementation(
        runtime.settings.effective_mode("kv").authoritative, "kv"
    )
    with pytest.raises(KeyMissingError) as through_proxy:
        kv.get("nope")
    with pytest.raises(KeyMissingError) as plain:
        direct.get("nope")
    assert str(through_proxy.value) == str(plain.value) == "nope"
    # Both sides raised the same type: a match, not a divergence.
    assert count(runtime, "get", "match") == 1


def test_an_error_on_one_side_only_is_a_divergence_with_both_error_types(
    make_runtime: MakeRuntime, paths: dict[str, str]
) -> None:
    runtime = make_runtime()
    with capture_comparisons(runtime) as seen:
        kv = runtime.proxy(KeyValue, "kv")
        # Put a row into the candidate store only, behind the runtime's back.
        runtime_kv.SqliteKeyValue(paths["candidate"], ids=runtime.ids, clock=runtime.clock).put(
            "ghost", "x"
        )
        with pytest.raises(KeyMissingError):
            kv.get("ghost")
        (observation,) = seen
        assert observation.outcome is Outcome.DIVERGENCE
        assert observation.error_types == ("tests.runtime.runtime_kv.KeyMissingError", "none")


def test_sensitive_fields_are_compared_but_redacted_in_what_is_reported(
    make_runtime: MakeRuntime, paths: dict[str, str]
) -> None:
    runtime = make_runtime()
    with capture_comparisons(runtime) as seen:
        kv = runtime.proxy(KeyValue, "kv")
        kv.put("a", "1", secret="hunter2")
        # Change the secret in the candidate store only: a divergence on a sensitive field.
        runtime_kv.SqliteKeyValue(paths["candidate"], ids=runtime.ids, clock=runtime.clock).put(
            "a", "1", secret="other"
        )
        with capture_logs() as logs:
            kv.get("a")
        runtime.flush()
        (divergence,) = [item for item in seen if item.outcome is Outcome.DIVERGENCE]
        assert divergence.paths == ("root['secret']",)
        assert divergence.differences[0].authoritative == REDACTED
        assert divergence.differences[0].mirror == REDACTED
        stored = runtime.store.group(divergence.fingerprint or "")
        assert stored is not None
        assert "hunter2" not in repr(stored.examples) and "other" not in repr(stored.examples)
        assert "hunter2" not in repr(logs) and "other" not in repr(logs)
        assert [line["fingerprint"] for line in logs if line["event"] == "shadow_divergence"] == [
            divergence.fingerprint
        ]


def test_sensitive_arguments_are_redacted_in_examples(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime(candidate_options={"fault": "wrong", "fault_method": "put"})
    with capture_comparisons(runtime) as seen:
        kv = runtime.proxy(KeyValue, "kv")
        kv.put("a", "1", secret="hunter2")
        (divergence,) = [item for item in seen if item.outcome is Outcome.DIVERGENCE]
        assert divergence.arguments == {"key": "a", "value": "1", "secret": REDACTED}


def test_a_raced_read_is_not_a_divergence_and_is_rechecked(
    make_runtime: MakeRuntime,
) -> None:
    """A write sequenced while a read runs makes a mismatch ``raced``; the re-check matches."""
    runtime = make_runtime(worker="inline")
    with capture_comparisons(runtime) as seen:
        kv = runtime.proxy(KeyValue, "kv")
        kv.put("a", "old")
        authoritative: Any = runtime.switchboard.implementation(
            runtime.settings.effective_mode("kv").authoritative, "kv"
        )
        original_get = type(authoritative).get
        raced_once: list[Entry] = []

        def get_then_let_a_writer_in(self: Any, key: str) -> Entry:
            entry: Entry = original_get(self, key)
            if self is authoritative and not raced_once:
                # After the authoritative read fetched "old" and before it is handed
                # off, another thread's write completes and is mirrored first.
                raced_once.append(entry)
                writer = threading.Thread(target=kv.put, args=("a", "new"))
                writer.start()
                writer.join()
            return entry

        type(authoritative).get = get_then_let_a_writer_in
        try:
            assert kv.get("a").value == "old"
        finally:
            type(authoritative).get = original_get
        outcomes = [(item.method, item.outcome, item.recheck) for item in seen]
        assert outcomes[-2:] == [("get", Outcome.RACED, False), ("get", Outcome.MATCH, True)]
        assert ("put", Outcome.MATCH, False) in outcomes
        assert not [item for item in seen if item.outcome is Outcome.DIVERGENCE]


def test_a_read_never_waits_for_a_write_in_flight_and_is_numbered_before_it(
    make_runtime: MakeRuntime,
) -> None:
    """A read ending while another thread's write has not been handed off does not wait
    for that write: it is queued before it, marked raced, and its re-check matches."""
    # The mirror's reads wait until the write is over, so the raced read's re-check
    # (started when its observation arrives) cannot itself overlap the write.
    write_over = threading.Event()
    runtime = make_runtime(worker="thread", candidate_options={"gate": lambda: write_over.wait(30)})
    with capture_comparisons(runtime) as seen:
        kv = runtime.proxy(KeyValue, "kv")
        kv.put("a", "old")
        assert runtime.flush(30)
        authoritative: Any = runtime.switchboard.implementation(Side.LEGACY, "kv")
        original_put = type(authoritative).put
        committed, release = threading.Event(), threading.Event()

        def put_then_hold(self: Any, *args: Any, **kwargs: Any) -> Entry:
            entry: Entry = original_put(self, *args, **kwargs)
            if self is authoritative:
                committed.set()  # committed, not yet handed off: the sequencer lock is held
                release.wait(30)
            return entry

        type(authoritative).put = put_then_hold
        try:
            writer = threading.Thread(target=kv.put, args=("a", "new"))
            writer.start()
            assert committed.wait(30)
            read: list[str] = []
            reader = threading.Thread(target=lambda: read.append(kv.get("a").value))
            reader.start()
            reader.join(10)
            done_while_held = not reader.is_alive()
            release.set()
            writer.join(30)
            reader.join(30)
        finally:
            release.set()
            write_over.set()
            type(authoritative).put = original_put
        assert done_while_held, "the read waited for the write's hand-off"
        assert read == ["new"]  # the caller got what the authoritative store holds
        assert runtime.flush(30)
        deadline = time.monotonic() + 10  # the re-check is published by its own thread
        while len(seen) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        outcomes = [(item.method, item.outcome, item.recheck) for item in seen[1:]]
        # The read reached the mirror before the write it saw: raced, then re-checked.
        # The write's outcome and the re-check's are published by different threads,
        # so only the raced read's place (first) is fixed.
        assert outcomes[0] == ("get", Outcome.RACED, False)
        assert sorted(outcomes[1:]) == [("get", Outcome.MATCH, True), ("put", Outcome.MATCH, False)]
        get = seen[1]
        (put,) = [item for item in seen[1:] if item.method == "put"]
        assert get.seq < put.seq


def test_unordered_lists_match_in_any_order_and_ordered_ones_do_not(
    make_runtime: MakeRuntime,
) -> None:
    runtime = make_runtime(candidate_options={"list_reversed": True})
    with capture_comparisons(runtime) as seen:
        kv = runtime.proxy(KeyValue, "kv")
        for key, value in [("a", "x"), ("b", "x"), ("c", "y")]:
            kv.put(key, value)
        kv.list_all()  # UNORDERED: reversed rows still match
        kv.by_value()  # TIES on value: a/b tie (any order), c after them
        outcomes = {item.method: item.outcome for item in seen}
        assert outcomes["list_all"] is Outcome.MATCH
        assert outcomes["by_value"] is Outcome.MATCH


def test_ties_still_check_the_declared_order_between_runs(
    make_runtime: MakeRuntime, paths: dict[str, str]
) -> None:
    runtime = make_runtime()
    with capture_comparisons(runtime) as seen:
        kv = runtime.proxy(KeyValue, "kv")
        kv.put("a", "x")
        kv.put("b", "y")
        # Candidate store only: swap the values, so its rows come in another order of runs.
        candidate = runtime_kv.SqliteKeyValue(
            paths["candidate"], ids=runtime.ids, clock=runtime.clock
        )
        candidate.put("a", "z")
        kv.by_value()
        (observation,) = [item for item in seen if item.method == "by_value"]
        assert observation.outcome is Outcome.DIVERGENCE


def test_sampled_out_reads_are_skipped_and_not_mirrored(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime(read_sample_rate=0.0)
    kv = runtime.proxy(KeyValue, "kv")
    kv.put("a", "1")
    for _ in range(5):
        kv.get("a")
    assert count(runtime, "get", "skipped") == 5
    assert count(runtime, "put", "match") == 1  # writes are always mirrored


def test_legacy_mode_passes_through_and_observes_nothing(
    make_runtime: MakeRuntime, paths: dict[str, str]
) -> None:
    runtime = make_runtime(mode="legacy")
    with capture_comparisons(runtime) as seen:
        kv = runtime.proxy(KeyValue, "kv")
        kv.put("a", "1")
        assert runtime_kv.rows(paths["candidate"]) == []
        assert seen == []


def test_reverse_mode_makes_the_candidate_authoritative_and_mirrors_to_legacy(
    make_runtime: MakeRuntime, paths: dict[str, str]
) -> None:
    runtime = make_runtime(mode="reverse", legacy_options={"fault": "wrong", "fault_method": "get"})
    with capture_comparisons(runtime) as seen:
        kv = runtime.proxy(KeyValue, "kv")
        kv.put("a", "abc")
        assert kv.get("a").value == "abc"  # the candidate's answer, not legacy's "ABC"
        assert runtime_kv.rows(paths["legacy"]) == runtime_kv.rows(paths["candidate"])
        (divergence,) = [item for item in seen if item.outcome is Outcome.DIVERGENCE]
        assert divergence.method == "get"
        assert divergence.mirror is not None and divergence.mirror.value == "legacy"


def test_the_kill_switch_forces_legacy_only(
    make_runtime: MakeRuntime, paths: dict[str, str]
) -> None:
    runtime = make_runtime(mode="reverse", kill_switch=True)
    kv = runtime.proxy(KeyValue, "kv")
    kv.put("a", "1")
    assert runtime_kv.rows(paths["candidate"]) == []
    assert len(runtime_kv.rows(paths["legacy"])) == 1


def test_a_contract_with_an_undeclared_public_method_is_refused(make_runtime: MakeRuntime) -> None:
    class Sloppy(KeyValue):
        def extra(self) -> None: ...

    runtime = make_runtime()
    with pytest.raises(ContractError, match="extra"):
        runtime.proxy(Sloppy, "kv")


def test_only_declared_reads_are_needed_for_a_small_contract(make_runtime: MakeRuntime) -> None:
    """A contract with one declared method is proxied; the factory's object serves it."""

    class PidOnly(ABC):
        @read()
        @abstractmethod
        def worker_pid(self) -> int: ...

    runtime = make_runtime()
    proxy = runtime.proxy(PidOnly, "kv")
    assert proxy.worker_pid() > 0


def test_a_handed_off_task_never_shows_its_arguments_or_drawn_ids_in_a_repr(
    make_runtime: MakeRuntime,
) -> None:
    runtime = make_runtime()
    handed: list[Any] = []
    original = runtime.switchboard.hand_off

    def record_then_hand_off(task: Any) -> None:
        handed.append(task)
        original(task)

    runtime.switchboard.hand_off = record_then_hand_off  # type: ignore[method-assign]
    kv = runtime.proxy(KeyValue, "kv")
    kv.put("a", "1", secret="hunter2")
    (task,) = handed
    assert task.tape.ids == ["kv-000001"]
    assert "hunter2" not in repr(task) and "kv-000001" not in repr(task)


def test_a_service_left_dirty_by_an_earlier_run_stays_dirty(make_runtime: MakeRuntime) -> None:
    first = make_runtime()
    first.proxy(KeyValue, "kv")
    first.recorder.mark_dirty("kv", 0, method="put", reason=Reason.QUEUE_FULL)
    first.close()
    second = make_runtime()
    with capture_comparisons(second) as seen:
        kv = second.proxy(KeyValue, "kv")
        gauge = second.metrics.registry.get_sample_value("shadow_service_dirty", {"service": "kv"})
        assert gauge == 1
        kv.put("a", "1")
        assert seen[-1].outcome is Outcome.MATCH and seen[-1].evidence is False


def test_json_logs_have_one_line_per_divergence_without_sensitive_values(
    paths: dict[str, str],
) -> None:
    stream = io.StringIO()
    runtime = Runtime(
        ShadowSettings(
            worker="inline",
            store_url=paths["store"],
            services={"kv": ServiceSettings(mode="shadow")},
        ),
        legacy=SideFactory("tests.runtime.runtime_kv:build", {"path": paths["legacy"]}),
        candidate=SideFactory(
            "tests.runtime.runtime_kv:build",
            {"path": paths["candidate"], "fault": "wrong", "fault_method": "put"},
        ),
        registry=CollectorRegistry(),
        logger=json_logger(stream),
    )
    with runtime:
        kv = runtime.proxy(KeyValue, "kv")
        kv.put("a", "plain", secret="hunter2")
        kv.get("a")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    divergences = [line for line in lines if line["event"] == "shadow_divergence"]
    assert [(line["service"], line["method"], line["paths"]) for line in divergences] == [
        ("kv", "put", ["root['value']"])
    ]
    assert divergences[0]["fingerprint"]
    assert "hunter2" not in stream.getvalue() and "plain" not in stream.getvalue()


def test_a_failing_observer_never_changes_what_the_caller_gets(
    make_runtime: MakeRuntime,
) -> None:
    runtime = make_runtime()

    def broken(observation: Observation) -> None:
        raise RuntimeError("observer bug")

    runtime.recorder.add_observer(broken)
    kv = runtime.proxy(KeyValue, "kv")
    with capture_logs() as logs:
        assert kv.put("a", "1").value == "1"
        assert kv.get("a").value == "1"
    assert [line["error"] for line in logs if line["event"] == "shadow_internal_error"] == [
        "RuntimeError",
        "RuntimeError",
    ]


def test_a_live_switch_to_a_side_that_cannot_be_built_keeps_the_old_route(
    tmp_path: Path, paths: dict[str, str]
) -> None:
    config = tmp_path / "shadow.toml"
    config.write_text(
        f'worker = "inline"\nstore_url = "{paths["store"]}"\n[services.kv]\nmode = "legacy"\n'
    )
    with Runtime(
        LiveSettings(config, reload_check_seconds=0),
        legacy=SideFactory("tests.runtime.runtime_kv:build", {"path": paths["legacy"]}),
        candidate=SideFactory("tests.runtime.runtime_kv:build_nothing"),
        registry=CollectorRegistry(),
    ) as runtime:
        kv = runtime.proxy(KeyValue, "kv")
        kv.put("a", "1")
        config.write_text(config.read_text().replace('"legacy"', '"reverse"'))
        os.utime(config, ns=(1, 10**18))
        with capture_logs() as logs:
            assert kv.get("a").value == "1"
        events = [line["event"] for line in logs]
        assert events == ["settings_reloaded", "shadow_mode_change_failed"]
