"""Side-by-side values of a difference: pretty-printed, wrapped, aligned, changes marked."""

from __future__ import annotations

from shadow.cutover.sidebyside import ABSENT, WIDTH, Line, ndiff_lines, pretty, side_by_side


def _text(line: Line) -> str:
    return "".join(segment.text for segment in line)


def _changed(lines: tuple[Line, ...]) -> list[str]:
    return [segment.text for line in lines for segment in line if segment.changed]


def test_a_changed_string_marks_only_the_characters_that_differ() -> None:
    sides = side_by_side("values_changed", "Preset 1", "PRESET 1")
    assert [_text(line) for line in sides.authoritative] == ['"Preset 1"']
    assert [_text(line) for line in sides.mirror] == ['"PRESET 1"']
    assert _changed(sides.authoritative) == ["reset"]
    assert _changed(sides.mirror) == ["RESET"]


def test_nested_values_are_indented_json_and_only_changed_lines_are_marked() -> None:
    authoritative = {"name": "a", "tags": ["x", "y"], "count": 2}
    mirror = {"name": "a", "tags": ["x", "y", "z"], "count": 3}
    sides = side_by_side("values_changed", authoritative, mirror)
    assert len(sides.authoritative) == len(sides.mirror)  # aligned row by row
    left = [_text(line) for line in sides.authoritative]
    assert left[:2] == ["{", '  "count": 2,']
    assert _changed(sides.authoritative) == ["2"]
    assert '    "z"' in _changed(sides.mirror)
    # The line the authoritative side lacks faces an empty filler line.
    filler = [i for i, line in enumerate(sides.authoritative) if line == ()]
    assert [_text(sides.mirror[i]) for i in filler] == ['    "z"']


def test_an_added_item_has_nothing_on_the_authoritative_side() -> None:
    sides = side_by_side("dictionary_item_added", None, {"k": 1})
    assert [_text(line) for line in sides.authoritative] == [ABSENT, "", ""]  # faces {, "k", }
    assert ndiff_lines("iterable_item_removed", [1], None) == ["- [", "-   1", "- ]", f"+ {ABSENT}"]


def test_long_values_are_wrapped_not_cut() -> None:
    value = {"prompt": "word " * 60}
    lines = pretty(value)
    assert all(len(line) <= WIDTH for line in lines)
    assert "".join(line.strip() for line in lines).count("word") == 60


def test_ndiff_lines_mark_authoritative_with_minus_and_mirror_with_plus() -> None:
    lines = ndiff_lines("values_changed", {"a": 1}, {"a": 2})
    assert '-   "a": 1' in lines and '+   "a": 2' in lines and "  {" in lines
