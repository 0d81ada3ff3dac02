"""Compare two results of one call under the method's :class:`~shadow.Compare` spec.

The pipeline, cheapest first (docs/architecture.md, "Comparison"):

0. Fast paths on the raw results: ``==`` with records compared by their field
   values; then, position by position, the same allowing ``timestamps`` within
   the tolerance and skipping ``ignore`` fields. Most calls end here.
1. :func:`normalize` both sides to canonical plain data: pydantic models and
   dataclasses to dicts, tuples to lists, sets to sorted lists, datetimes to
   aware UTC, enums to their values, JSON text (a string holding a JSON object
   or array) parsed, ``ignore`` fields dropped at any depth.
2. Arrange the rows the spec says are not totally ordered: ``UNORDERED`` lists
   are sorted by ``key``; ``TIES`` lists are split into runs of equal
   ``sort_key`` (timestamps within the tolerance count as equal) and each run
   is sorted by ``key``, so only the declared order is checked. A ``tie_key``
   order (the result does not carry the value it is ordered by) is checked
   only when ``==`` fails, by the order rule of :func:`_ties_agree`.
3. ``==`` on the canonical data.
4. Only when that fails: database-generated ``timestamps`` within the
   tolerance are aligned (the mirror's value replaced by the authoritative
   one) and ``==`` is tried again; a ``timestamp_result`` (the result itself
   a timestamp, or a list of them) is judged by the same rule.
5. Only when that fails too: DeepDiff explains the mismatch (tree view; rows
   grouped by their key, never ``ignore_order=True`` on a result set). The
   differing paths, with list indices and row keys wildcarded, make the
   fingerprint; values in the explanation are redacted for ``sensitive``
   fields (and entirely for ``sensitive_result``).
"""

from __future__ import annotations

import dataclasses
import enum
import fnmatch
import functools
import hashlib
import json
import math
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from deepdiff import DeepDiff
from pydantic import BaseModel

from shadow._contract import Compare, Order
from shadow.runtime._stamps import StampRule, Window, as_instant

__all__ = [
    "REDACTED",
    "Difference",
    "Verdict",
    "compare_values",
    "fingerprint",
    "is_sensitive",
    "normalize",
    "redact",
]

REDACTED = "[redacted]"
"""What a sensitive value is replaced with in everything stored, logged or reported."""

_NO_IGNORE: frozenset[str] = frozenset()


_SCALARS = frozenset({int, float, bool, type(None)})
_JSON_OPENERS = ("{", "[")


def normalize(value: Any, ignore: frozenset[str] = _NO_IGNORE) -> Any:
    """Return ``value`` as canonical plain data (see the module docstring)."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is str:
        return _maybe_json(value, ignore) if value.startswith(_JSON_OPENERS) else value
    if kind is dict:
        return _normalize_items(value.items(), ignore)
    if kind is list or kind is tuple:
        return [_normalize_item(item, ignore) for item in value]
    if kind is datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, BaseModel):
        # A model's field values live in its __dict__; reading them there is
        # twice as fast as model_dump() and needs one walk, not two.
        return _normalize_items(value.__dict__.items(), ignore)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    if isinstance(value, enum.Enum):
        return normalize(value.value, ignore)
    if isinstance(value, str):
        return normalize(str(value), ignore)
    if isinstance(value, Mapping):
        return _normalize_items(value.items(), ignore)
    if isinstance(value, list | tuple):
        return [normalize(item, ignore) for item in value]
    if isinstance(value, set | frozenset):
        return sorted((normalize(item, ignore) for item in value), key=_sort_token)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _normalize_items(
            ((item.name, getattr(value, item.name)) for item in dataclasses.fields(value)),
            ignore,
        )
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _is_final(value: Any) -> bool:
    """True for values normalizing leaves as they are (checked inline: it is the hot path)."""
    kind = type(value)
    return kind in _SCALARS or (kind is str and not value.startswith(_JSON_OPENERS))


def _normalize_item(value: Any, ignore: frozenset[str]) -> Any:
    return value if _is_final(value) else normalize(value, ignore)


def _normalize_items(items: Iterable[tuple[Any, Any]], ignore: frozenset[str]) -> dict[Any, Any]:
    # The _is_final test is spelled out inline: this loop is the hot path.
    return {
        key: value
        if (kind := type(value)) in _SCALARS
        or (kind is str and not value.startswith(_JSON_OPENERS))
        else normalize(value, ignore)
        for key, value in items
        if key not in ignore
    }


def _maybe_json(text: str, ignore: frozenset[str]) -> Any:
    # Only text that looks like a JSON object or array is parsed: key order and
    # whitespace of stored JSON differ between layers, its content must not.
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    return normalize(parsed, ignore)


def _sort_token(value: Any) -> tuple[int, Any]:
    """A key that sorts values of mixed types without raising."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool | int | float):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    if isinstance(value, datetime):
        return (3, value.timestamp())
    return (4, json.dumps(value, sort_keys=True, default=str))


@dataclass(frozen=True, slots=True)
class Difference:
    """One difference between the two results, with redacted values.

    ``path`` is concrete (``root['items']['img-7']['starred']``, the row key in
    place of a position), ``pattern`` is the same path with list indices and
    row keys wildcarded (``root['items'][*]['starred']``): the part that goes
    into the fingerprint.
    """

    path: str
    pattern: str
    change: str
    authoritative: Any
    mirror: Any


@dataclass(frozen=True, slots=True)
class Verdict:
    """The result of comparing two values: equal, or the differences that explain why not."""

    equal: bool
    differences: tuple[Difference, ...] = ()

    @property
    def patterns(self) -> tuple[str, ...]:
        """The sorted, de-duplicated wildcarded paths of the differences."""
        return tuple(sorted({item.pattern for item in self.differences}))


_EQUAL = Verdict(equal=True)


def compare_values(
    spec: Compare,
    authoritative: Any,
    mirror: Any,
    *,
    tolerance: float = 0.0,
    windows: tuple[Window, Window] | None = None,
    tie_value: Callable[[Any], Any] | None = None,
) -> Verdict:
    """Compare two results under ``spec``; ``tolerance`` is in seconds for ``timestamps``.

    ``tolerance`` is the largest recent write lag plus the spec's
    ``timestamp_precision``. ``windows`` -- when each side's call ran,
    (authoritative, mirror) -- are given for writes: their timestamps are then
    judged by the window rule of :mod:`shadow.runtime._stamps`, not by the
    tolerance alone. ``tie_value(row)`` runs the spec's ``tie_key`` against
    the authoritative side (the worker binds it); without it a ``tie_key``
    order is compared as ``ORDERED``. Both values may be raw results (models,
    records) or already normalized.
    """
    stamps = StampRule(spec, tolerance, windows)
    try:
        # Fast paths on the raw values: equal raw results are equal after
        # normalizing; so are results whose only differences are timestamps
        # within the tolerance or ignored fields, position by position.
        if _raw_equal(authoritative, mirror):
            return _EQUAL
        if (spec.timestamps or spec.ignore) and _raw_close(authoritative, mirror, spec, stamps):
            return _EQUAL
    except Exception:  # an exotic __eq__ or a naive/aware mix only costs the fast path
        pass
    normal_left = normalize(authoritative, spec.ignore)
    normal_right = normalize(mirror, spec.ignore)
    left = _arrange(spec, normal_left, tolerance)
    right = _arrange(spec, normal_right, tolerance)
    if left == right:
        return _EQUAL
    tied = _tie_rule(spec, stamps, tie_value)
    if tied is not None and _ties_agree(spec, normal_left, normal_right, stamps, tied):
        return _EQUAL
    if spec.timestamp_result and _stamps_agree(normal_left, normal_right, stamps):
        return _EQUAL
    if spec.timestamps:
        right = _align(left, right, stamps)
        if left == right:
            return _EQUAL
    return Verdict(equal=False, differences=_explain(spec, left, right))


def _raw_equal(left: Any, right: Any) -> bool:
    """``==`` on raw results, comparing models by their field values directly.

    pydantic's own ``__eq__`` also compares private and "fields set" state and
    costs several microseconds per record; the field values (the model's
    ``__dict__``) are exactly what :func:`normalize` reads, so comparing them
    is both sufficient and about five times faster.
    """
    if type(left) is list and type(right) is list:
        return len(left) == len(right) and all(map(_raw_equal, left, right))
    if isinstance(left, BaseModel):
        return type(left) is type(right) and left.__dict__ == right.__dict__
    return (left == right) is True


def _raw_close(left: Any, right: Any, spec: Compare, stamps: StampRule) -> bool:
    """Like :func:`_raw_equal`, but skipping ``ignore`` fields and allowing ``timestamps``
    that ``stamps`` accepts. Lists are compared position by position."""
    if type(left) is list and type(right) is list:
        return len(left) == len(right) and all(
            _raw_close(first, second, spec, stamps)
            for first, second in zip(left, right, strict=True)
        )
    if isinstance(left, BaseModel):
        if type(left) is not type(right):
            return False
        left, right = left.__dict__, right.__dict__
    if type(left) is not dict or type(right) is not dict:
        return (left == right) is True
    if left.keys() != right.keys():
        return False
    for key, value in left.items():
        other = right[key]
        if value == other or key in spec.ignore:
            continue
        if key in spec.timestamps and isinstance(value, datetime) and isinstance(other, datetime):
            if stamps.accepts(key, value, other):
                continue
            return False
        if not _raw_close(value, other, spec, stamps):
            return False
    return True


# -- arranging rows -------------------------------------------------------------------------


def _rows_of(spec: Compare, value: Any) -> Any:
    if spec.rows is None:
        return value
    if isinstance(value, dict):
        return value.get(spec.rows)
    return None


def _with_rows(spec: Compare, value: Any, rows: Any) -> Any:
    if spec.rows is None:
        return rows
    return {**value, spec.rows: rows}


def _row_key(spec: Compare, row: Any) -> tuple[tuple[int, Any], ...]:
    if isinstance(row, dict):
        return tuple(_sort_token(row.get(name)) for name in spec.key)
    return (_sort_token(row),)


def _arrange(spec: Compare, value: Any, tolerance: float) -> Any:
    if spec.order is Order.ORDERED or spec.tie_key is not None:
        return value
    rows = _rows_of(spec, value)
    if not isinstance(rows, list):
        return value
    if spec.order is Order.UNORDERED:
        return _with_rows(spec, value, sorted(rows, key=lambda row: _row_key(spec, row)))
    return _with_rows(spec, value, _sort_runs(spec, rows, tolerance))


Tied = Callable[[Any, Any], bool]
"""Whether two rows of the authoritative result tie in the declared order."""


def _tie_rule(
    spec: Compare, stamps: StampRule, tie_value: Callable[[Any], Any] | None
) -> Tied | None:
    """How rows tie under ``spec``: by ``sort_key``, by ``tie_key`` values, or not at all."""
    if spec.order is not Order.TIES:
        return None
    if spec.tie_key is None:
        return lambda first, second: _same_sort_key(spec, first, second, stamps.tolerance)
    if tie_value is None:
        return None
    values: dict[Any, Any] = {}

    def value_of(row: Any) -> Any:
        token = _row_key(spec, row)
        if token not in values:
            values[token] = tie_value(row)
        return values[token]

    def tied(first: Any, second: Any) -> bool:
        one, other = value_of(first), value_of(second)
        if one == other or one is None or other is None:
            return True
        one_instant, other_instant = as_instant(one), as_instant(other)
        return (
            one_instant is not None
            and other_instant is not None
            and abs((one_instant - other_instant).total_seconds()) <= stamps.tolerance
        )

    return tied


def _stamps_agree(left: Any, right: Any, stamps: StampRule) -> bool:
    """A result that is itself a timestamp (or a list of them), under the stamp rule."""
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(
            _stamps_agree(first, second, stamps) for first, second in zip(left, right, strict=True)
        )
    return bool(left == right) or stamps.accepts("", left, right)


def _ties_agree(spec: Compare, left: Any, right: Any, stamps: StampRule, tied: Tied) -> bool:
    """Same rows, equal within the tolerance, and ordered differently only where tied.

    Rows stamped by each database while the mirror lagged by varying amounts
    can swap places on the mirror: two rows swap only when their authoritative
    timestamps are closer than the difference of their lags, so within the
    tolerance. Grouping each side into runs of near-equal sort keys does not
    catch that (the run boundaries fall differently on each side), so this
    checks the rule itself: the mirror's order may invert a pair of rows only
    when the authoritative side has them tied (equal sort keys within the
    tolerance). O(n^2) pairs, run only when the fast comparisons failed.

    A single record under ``TIES`` (``rows`` unset, the result one row) is the
    *first* row of the declared order: when two rows tie for first place the
    two stores may each return either, so another row is accepted when its
    sort key ties with the authoritative row's (see :func:`_first_rows_tie`);
    so is a single bare value (the first id of a ``tie_key`` order).
    """
    if spec.rows is None and isinstance(left, dict) and isinstance(right, dict):
        return _first_rows_tie(spec, left, right, stamps, tied)
    left_rows, right_rows = _rows_of(spec, left), _rows_of(spec, right)
    if spec.rows is None and _is_bare(left) and _is_bare(right):
        return tied(left, right)
    if not isinstance(left_rows, list) or not isinstance(right_rows, list):
        return False
    if len(left_rows) != len(right_rows) or _with_rows(spec, left, []) != _with_rows(
        spec, right, []
    ):
        return False
    position = {_row_key(spec, row): index for index, row in enumerate(left_rows)}
    if len(position) != len(left_rows):
        return False
    mirror_order: list[int] = []
    for row in right_rows:
        index = position.get(_row_key(spec, row))
        if index is None:
            return False
        authoritative_row = left_rows[index]
        if _align(authoritative_row, row, stamps) != authoritative_row:
            return False
        mirror_order.append(index)
    for later, second in enumerate(mirror_order):
        for first in mirror_order[:later]:
            if first > second and not tied(left_rows[second], left_rows[first]):
                return False
    return True


def _is_bare(value: Any) -> bool:
    """A single value that is not a row: an id, say."""
    return value is not None and not isinstance(value, list | dict)


def _first_rows_tie(
    spec: Compare, left: dict[str, Any], right: dict[str, Any], stamps: StampRule, tied: Tied
) -> bool:
    """Two "first row" results that differ only because rows tie for first place.

    The same row is compared field by field as usual. A different row is
    accepted when its sort key ties with the authoritative row's: equal, with
    timestamps within the read tolerance (the two stores stamp one write up
    to the write lag apart, so a near-tie on one store can be an exact tie or
    the reverse order on the other). Nothing else of that row can be checked
    -- the authoritative side never returned it -- which is the price of an
    order that does not decide between them.
    """
    if _row_key(spec, left) == _row_key(spec, right):
        return bool(_align(left, right, stamps) == left)
    return tied(left, right)


def _sort_runs(spec: Compare, rows: list[Any], tolerance: float) -> list[Any]:
    """Sort each run of rows with equal ``sort_key`` by ``key``, keeping the runs' order."""
    arranged: list[Any] = []
    run: list[Any] = []
    for row in rows:
        if run and not _same_sort_key(spec, run[-1], row, tolerance):
            arranged.extend(sorted(run, key=lambda item: _row_key(spec, item)))
            run = []
        run.append(row)
    arranged.extend(sorted(run, key=lambda item: _row_key(spec, item)))
    return arranged


def _same_sort_key(spec: Compare, first: Any, second: Any, tolerance: float) -> bool:
    if not isinstance(first, dict) or not isinstance(second, dict):
        return bool(first == second)
    for name in spec.sort_key:
        left, right = first.get(name), second.get(name)
        if left == right:
            continue
        if (
            name in spec.timestamps
            and isinstance(left, datetime)
            and isinstance(right, datetime)
            and abs((left - right).total_seconds()) <= tolerance
        ):
            continue
        return False
    return True


# -- timestamp tolerance --------------------------------------------------------------------


def _align(left: Any, right: Any, stamps: StampRule) -> Any:
    """``right`` with each timestamp field that ``stamps`` accepts set to ``left``'s value."""
    if isinstance(left, dict) and isinstance(right, dict):
        aligned = {}
        for key, value in right.items():
            if key not in left or left[key] == value:
                aligned[key] = value
            elif key in stamps.spec.timestamps and stamps.accepts(key, left[key], value):
                aligned[key] = left[key]
            else:
                aligned[key] = _align(left[key], value, stamps)
        return aligned
    if isinstance(left, list) and isinstance(right, list):
        return [
            _align(left[index], value, stamps) if index < len(left) else value
            for index, value in enumerate(right)
        ]
    return right


# -- explaining a mismatch ------------------------------------------------------------------


def _keyed_rows(spec: Compare, rows: Any) -> dict[str, Any] | None:
    """Rows as a mapping from their key (for grouping), or None when they have none."""
    if not spec.key or not isinstance(rows, list):
        return None
    keyed: dict[str, Any] = {}
    for row in rows:
        if not isinstance(row, dict) or any(name not in row for name in spec.key):
            return None
        label = "|".join(str(row[name]) for name in spec.key)
        if label in keyed:
            return None
        keyed[label] = row
    return keyed


def _rows_path(spec: Compare) -> list[Any]:
    return [] if spec.rows is None else [spec.rows]


def _explain(spec: Compare, left: Any, right: Any) -> tuple[Difference, ...]:
    rows_path = _rows_path(spec)
    left_rows, right_rows = _rows_of(spec, left), _rows_of(spec, right)
    grouped_left, grouped_right = _keyed_rows(spec, left_rows), _keyed_rows(spec, right_rows)
    grouped = grouped_left is not None and grouped_right is not None
    # A mapping at the rows location (id -> row) is keyed already.
    keyed_level = grouped or (bool(spec.key) and isinstance(left_rows, dict))
    if grouped:
        left, right = _with_rows(spec, left, grouped_left), _with_rows(spec, right, grouped_right)
    tree = DeepDiff(left, right, view="tree", verbose_level=2)
    differences = [
        _difference(spec, change, level, rows_path if keyed_level else None)
        for change, levels in sorted(tree.items())
        for level in levels
    ]
    if not differences and grouped:
        # Same rows, different positions: an ORDERED list in another order.
        where = _path_text(rows_path, None, wildcard=False)
        hide = _hides_key(spec)
        differences.append(
            Difference(
                path=where,
                pattern=where + "[order]",
                change="order_changed",
                authoritative=REDACTED if hide else list(grouped_left or {}),
                mirror=REDACTED if hide else list(grouped_right or {}),
            )
        )
    return tuple(differences)


def _difference(spec: Compare, change: str, level: Any, keyed_at: list[Any] | None) -> Difference:
    elements = level.path(output_format="list")
    key_position = len(keyed_at) if keyed_at is not None else None
    if key_position is not None and elements[:key_position] != keyed_at:
        key_position = None
    sensitive_path = spec.sensitive_result or any(
        isinstance(element, str) and is_sensitive(element, spec.sensitive) for element in elements
    )
    hide_key = _hides_key(spec)
    return Difference(
        path=_path_text(elements, key_position if hide_key else None, wildcard=False),
        pattern=_path_text(elements, key_position, wildcard=True),
        change=change,
        authoritative=_shown(level.t1, spec, sensitive_path),
        mirror=_shown(level.t2, spec, sensitive_path),
    )


def _path_text(elements: Sequence[Any], key_position: int | None, *, wildcard: bool) -> str:
    parts = ["root"]
    for position, element in enumerate(elements):
        if position == key_position:
            parts.append("[*]" if wildcard else f"[{REDACTED!r}]")
        elif isinstance(element, int) and not isinstance(element, bool):
            parts.append("[*]" if wildcard else f"[{element}]")
        else:
            parts.append(f"[{element!r}]")
    return "".join(parts)


def _shown(value: Any, spec: Compare, sensitive_path: bool) -> Any:
    if type(value).__name__ == "NotPresent":
        return None
    if sensitive_path:
        return REDACTED
    return redact(value, spec.sensitive)


SECRET_NAME_PARTS = ("password", "token", "secret", "hash")
"""A field or argument whose name contains one of these is redacted, declared or not."""


@functools.lru_cache(maxsize=4096)
def is_sensitive(name: str, declared: frozenset[str]) -> bool:
    """True when field or argument ``name`` must never be stored, logged or reported.

    Sensitive are: the names ``declared`` (exactly, or matching a declared glob
    such as ``*_email``); any name containing ``password``, ``token``,
    ``secret`` or ``hash`` (so a candidate returning a whole row leaks no
    ``password_hash`` the contract did not think to declare); and, where the
    declaration names a code (``code``, ``invitation_code``), any name
    containing ``code``: not everywhere, since ``status_code`` or
    ``error_code`` are useful in an explanation and secret nowhere.
    """
    if name in declared:
        return True
    lowered = name.lower()
    if any(part in lowered for part in SECRET_NAME_PARTS):
        return True
    if "code" in lowered and any("code" in item.lower() for item in declared):
        return True
    return any(
        fnmatch.fnmatchcase(lowered, item.lower()) for item in declared if _GLOB.search(item)
    )


_GLOB = re.compile(r"[*?\[]")


def _hides_key(spec: Compare) -> bool:
    return spec.sensitive_result or any(is_sensitive(name, spec.sensitive) for name in spec.key)


def redact(value: Any, sensitive: Iterable[str]) -> Any:
    """``value`` (normalized) with every sensitive field replaced by REDACTED.

    Sensitive fields are those :func:`is_sensitive` names: declared in
    ``sensitive``, or secret by their name.

    Also makes the value JSON-friendly (datetimes as ISO text), since what is
    redacted is what gets stored and logged.
    """
    names = sensitive if isinstance(sensitive, frozenset) else frozenset(sensitive)
    return _redacted(normalize(value), names)


def _redacted(value: Any, names: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {
            str(key): REDACTED if is_sensitive(str(key), names) else _redacted(item, names)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redacted(item, names) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def fingerprint(
    service: str, method: str, patterns: Iterable[str], error_types: Iterable[str] = ()
) -> str:
    """A stable id for a kind of divergence: service, method, wildcarded paths, error types."""
    material = json.dumps([service, method, sorted(set(patterns)), list(error_types)])
    return hashlib.sha256(material.encode()).hexdigest()[:16]
