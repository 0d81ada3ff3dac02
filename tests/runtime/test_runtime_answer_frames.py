"""The worker's answers as framed on the pipe: any cut of the stream gives them back in order."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shadow._vocabulary import Outcome
from shadow.runtime._observation import Answer, AnswerFrames, Observation, Wire

_ANSWERS: list[Answer] = [
    (0.001, 0.0002, 0.01),
    Observation("kv", "get", Outcome.DIVERGENCE, seq=2, paths=("$.value",)),
    (None, None, None),
    Observation("kv", "put", Outcome.DROPPED, seq=4, detail="x" * 70_000),
]


@given(st.lists(st.integers(min_value=1, max_value=80_000), max_size=12))
def test_answers_come_back_whole_and_in_order_however_the_stream_is_cut(
    sizes: list[int],
) -> None:
    stream = b"".join(Wire.frame(answer) for answer in _ANSWERS)
    frames = AnswerFrames()
    received: list[Answer] = []
    start = 0
    for size in [*sizes, len(stream)]:
        received.extend(frames.feed(stream[start : start + size]))
        start += size
    assert received == _ANSWERS


def test_a_chunk_ending_inside_a_frame_yields_only_the_frames_before_it() -> None:
    first, second = Wire.frame((0.1, 0.2, 0.3)), Wire.frame((0.4, 0.5, 0.6))
    frames = AnswerFrames()
    assert frames.feed(first + second[:3]) == [(0.1, 0.2, 0.3)]
    assert frames.feed(second[3:]) == [(0.4, 0.5, 0.6)]
    assert frames.feed(b"") == []
