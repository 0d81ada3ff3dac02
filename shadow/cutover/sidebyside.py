"""The authoritative and mirror values of one difference, side by side, changes marked.

A divergence example holds, per differing deepdiff path, the value each side
returned there (already redacted). A reviewer needs to see both whole and what
differs between them at a glance, so each value is pretty-printed as indented
JSON, long lines are wrapped, and :mod:`difflib` marks what changed: whole
lines that only one side has, and within a line that changed, the characters
that differ. The HTML report highlights the marked segments; the Markdown
report shows the same comparison as :func:`difflib.ndiff` lines.
"""

from __future__ import annotations

import difflib
import json
import textwrap
from dataclasses import dataclass
from typing import Any

__all__ = ["ABSENT", "WIDTH", "Segment", "SideBySide", "ndiff_lines", "pretty", "side_by_side"]

WIDTH = 72
"""Columns a pretty-printed value is wrapped at (each side gets half a wide page)."""

ABSENT = "(absent)"
"""What a side shows when the path does not exist there (an item added or removed)."""


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of text on one line, changed or not."""

    text: str
    changed: bool


Line = tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class SideBySide:
    """The two values as lines of segments; a line is ``()`` where only the other side has one."""

    authoritative: tuple[Line, ...]
    mirror: tuple[Line, ...]


def pretty(value: Any) -> list[str]:
    """``value`` as indented JSON (keys sorted), lines wrapped at :data:`WIDTH`."""
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    lines: list[str] = []
    for line in text.splitlines():
        indent = " " * (len(line) - len(line.lstrip(" ")))
        lines += textwrap.wrap(
            line,
            WIDTH,
            subsequent_indent=indent + "  ",
            drop_whitespace=False,
            replace_whitespace=False,
            break_on_hyphens=False,
        ) or [line]
    return lines


def _sides(change: str, authoritative: Any, mirror: Any) -> tuple[list[str], list[str]]:
    # deepdiff names an added item "..._item_added": the authoritative side has nothing there.
    left = [ABSENT] if change.endswith("_item_added") else pretty(authoritative)
    right = [ABSENT] if change.endswith("_item_removed") else pretty(mirror)
    return left, right


def _characters(left: str, right: str) -> tuple[Line, Line]:
    matcher = difflib.SequenceMatcher(None, left, right, autojunk=False)
    ours: list[Segment] = []
    theirs: list[Segment] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if i2 > i1:
            ours.append(Segment(left[i1:i2], tag != "equal"))
        if j2 > j1:
            theirs.append(Segment(right[j1:j2], tag != "equal"))
    return tuple(ours), tuple(theirs)


def side_by_side(change: str, authoritative: Any, mirror: Any) -> SideBySide:
    """Both values of one difference, aligned line by line, with what differs marked.

    Lines only one side has are wholly marked and face an empty line; lines
    replaced by others are compared character by character.
    """
    left, right = _sides(change, authoritative, mirror)
    ours: list[Line] = []
    theirs: list[Line] = []
    matcher = difflib.SequenceMatcher(None, left, right, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            ours += [(Segment(line, False),) for line in left[i1:i2]]
            theirs += [(Segment(line, False),) for line in right[j1:j2]]
            continue
        pairs = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        for offset in range(pairs):
            mine, other = _characters(left[i1 + offset], right[j1 + offset])
            ours.append(mine)
            theirs.append(other)
        only_left: list[Line] = [(Segment(line, True),) for line in left[i1 + pairs : i2]]
        only_right: list[Line] = [(Segment(line, True),) for line in right[j1 + pairs : j2]]
        filler: Line = ()
        ours += only_left + [filler] * len(only_right)
        theirs += [filler] * len(only_left) + only_right
    return SideBySide(tuple(ours), tuple(theirs))


def ndiff_lines(change: str, authoritative: Any, mirror: Any) -> list[str]:
    """The same comparison as :func:`difflib.ndiff` lines (``-`` authoritative, ``+`` mirror)."""
    left, right = _sides(change, authoritative, mirror)
    if ABSENT in (left[0], right[0]):  # nothing to line up: the one side, then the other
        return [f"- {line}" for line in left] + [f"+ {line}" for line in right]
    return [line.rstrip("\n") for line in difflib.ndiff(left, right)]
