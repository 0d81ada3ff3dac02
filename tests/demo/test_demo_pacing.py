"""The demo's paced traffic: one shared schedule, requests one at a time."""

from __future__ import annotations

import itertools

import pytest

from imagegen.demo.run import paced_slots


@pytest.mark.parametrize("threads", [1, 4, 8])
def test_paced_requests_are_evenly_spaced_over_all_threads(threads: int) -> None:
    """Merged over the threads, every request is 1 / rate after the one before: no bursts."""
    rate, start = 150.0, 1000.0
    slots = sorted(
        slot
        for index in range(threads)
        for slot in itertools.islice(paced_slots(start, index, threads, rate), 50)
    )
    gaps = [later - earlier for earlier, later in itertools.pairwise(slots)]
    assert slots[0] == pytest.approx(start + 1 / rate)
    assert gaps == pytest.approx([1 / rate] * len(gaps))


def test_each_thread_keeps_its_share_of_the_rate() -> None:
    """Each of n threads makes a request every n / rate: the rate is over all of them."""
    slots = list(itertools.islice(paced_slots(0.0, 2, 4, 100.0), 3))
    assert slots == pytest.approx([0.03, 0.07, 0.11])
