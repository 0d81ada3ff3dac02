"""Recording and replaying the ids and times an authoritative call drew."""

from __future__ import annotations

from shadow import FixedClock, SequentialIds, UuidIds
from shadow.runtime import TapeClock, TapeIds
from shadow.runtime._tape import recording, replaying


def test_replay_serves_the_recorded_values_in_order() -> None:
    ids, clock = TapeIds(SequentialIds("a")), TapeClock(FixedClock())
    with recording() as tape:
        drawn = [ids.new_id(), ids.new_id()]
        moment = clock.now()
    mirror_ids, mirror_clock = TapeIds(UuidIds()), TapeClock(FixedClock())
    with replaying(tape) as replay:
        assert [mirror_ids.new_id(), mirror_ids.new_id()] == drawn == ["a-000001", "a-000002"]
        assert mirror_clock.now() == moment
        assert not replay.overdrawn


def test_an_overdrawn_tape_falls_back_and_says_so() -> None:
    ids = TapeIds(SequentialIds("a"))
    with recording() as tape:
        ids.new_id()
    mirror = TapeIds(SequentialIds("m"))
    with replaying(tape) as replay:
        assert mirror.new_id() == "a-000001"
        assert mirror.new_id() == "m-000001"
    assert replay.overdrawn


def test_outside_a_tape_the_sources_pass_through() -> None:
    ids = TapeIds(SequentialIds("p"))
    assert ids.new_id() == "p-000001"
