"""How the rows of two stores are compared: per-column rules and their normalization.

Two stores of one schema hold the same data in different shapes: a SQLite
file keeps timestamps as text in several formats and booleans as 0/1, a
PostgreSQL store as ``timestamptz`` and ``bool``; JSON text differs in key
order and whitespace. A :class:`TableRules` says, per column, how values are
brought to one canonical form before they are compared, and which columns are
not compared exactly:

* every column gets a normalizer from its SQLAlchemy type (:func:`default_rule`):
  datetimes (of any ``DateTime`` type, including a ``TypeDecorator`` over one)
  become UTC datetimes whether they arrive as text, naive or aware values;
  booleans become ``bool``; everything else is kept as the driver returns it;
* :class:`Json` parses JSON text and re-serializes it canonically;
* :class:`Tolerance` compares a timestamp within a number of seconds (columns
  the database fills itself, written a little apart on the two sides);
* :class:`Excluded` leaves a column out, with the reason it is not comparable;
  generated (computed) columns are excluded automatically, with that reason.

Nothing is left out silently: every verification result lists the excluded
columns with their reasons and the tolerated ones with their tolerance.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

__all__ = [
    "ColumnRule",
    "Exact",
    "Excluded",
    "Json",
    "TableRules",
    "Tolerance",
    "default_rule",
    "normalize_datetime",
]

Normalizer = Callable[[Any], Any]


def normalize_datetime(value: Any) -> Any:
    """A naive UTC datetime from text (any ISO form), a naive (UTC) or an aware datetime.

    Naive UTC rather than aware: the legacy texts without an offset parse
    straight to it, which is the common case and the cheap one. Values that
    are none of those (``None``, or a malformed text) are returned unchanged,
    so they compare unequal to a real instant rather than raising.
    """
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _normalize_bool(value: Any) -> Any:
    if value is None:
        return None
    return bool(value)


def _identity(value: Any) -> Any:
    return value


def _normalize_json(value: Any) -> Any:
    if not isinstance(value, str | bytes):
        return value
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    return json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class ColumnRule:
    """How one column is normalized and compared. Subclasses below."""

    normalize: Normalizer = staticmethod(_identity)
    compared: bool = True

    def same(self, left: Any, right: Any) -> bool:
        """True when two normalized values count as equal."""
        return bool(left == right)

    def describe(self) -> str:
        """A short description for reports (``exact``, ``json``, ``within 2s``...)."""
        return "exact"


@dataclass(frozen=True)
class Exact(ColumnRule):
    """Compare after ``normalizer`` (default: the value as the driver returns it)."""

    normalizer: Normalizer = _identity
    name: str = "exact"

    def __post_init__(self) -> None:
        object.__setattr__(self, "normalize", self.normalizer)

    def describe(self) -> str:
        return self.name


@dataclass(frozen=True)
class Json(ColumnRule):
    """JSON text: compared after parsing (key order and whitespace do not count)."""

    normalize: Normalizer = field(default=staticmethod(_normalize_json))

    def describe(self) -> str:
        return "json"


@dataclass(frozen=True)
class Tolerance(ColumnRule):
    """A timestamp compared within ``seconds``; ``None`` only equals ``None``."""

    seconds: float
    reason: str = ""
    normalize: Normalizer = field(default=staticmethod(normalize_datetime))

    def same(self, left: Any, right: Any) -> bool:
        if isinstance(left, datetime) and isinstance(right, datetime):
            return abs(left - right) <= timedelta(seconds=self.seconds)
        return bool(left == right)

    def describe(self) -> str:
        return f"within {self.seconds:g}s" + (f" ({self.reason})" if self.reason else "")


@dataclass(frozen=True)
class Excluded(ColumnRule):
    """A column left out of the comparison, with the reason (shown in every result)."""

    reason: str
    compared: bool = False

    def describe(self) -> str:
        return f"excluded: {self.reason}"


def _is_type(column_type: sa.types.TypeEngine[Any], kind: type) -> bool:
    if isinstance(column_type, kind):
        return True
    impl = getattr(column_type, "impl", None)
    return isinstance(impl, kind) or (isinstance(impl, type) and issubclass(impl, kind))


def default_rule(column: sa.Column[Any]) -> ColumnRule:
    """The rule a column gets from its type alone (see the module docstring)."""
    if column.computed is not None:
        return Excluded("generated by the database from other columns")
    if _is_type(column.type, sa.DateTime):
        return Exact(normalize_datetime, "timestamp (UTC)")
    if _is_type(column.type, sa.Boolean):
        return Exact(_normalize_bool, "boolean")
    if _is_type(column.type, sa.JSON):
        return Json()
    return Exact()


@dataclass(frozen=True)
class TableRules:
    """The comparison of one table: its key, and a rule for every column.

    ``overrides`` maps column names to rules that replace :func:`default_rule`;
    a name that is not a column of the table is refused (a typo must not leave
    a column compared in a way nobody meant).
    """

    table: sa.Table
    overrides: Mapping[str, ColumnRule] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.overrides) - set(self.table.columns.keys())
        if unknown:
            raise ValueError(f"rules for unknown columns of {self.table.name}: {sorted(unknown)}")
        if not self.table.primary_key.columns:
            raise ValueError(f"table {self.table.name} has no primary key to chunk and match by")

    @property
    def name(self) -> str:
        """The table's name."""
        return self.table.name

    @property
    def key(self) -> tuple[sa.Column[Any], ...]:
        """The primary-key columns, in declaration order."""
        return tuple(self.table.primary_key.columns)

    def rule(self, column: sa.Column[Any]) -> ColumnRule:
        """The rule of ``column``."""
        return self.overrides.get(column.name) or default_rule(column)

    @property
    def compared(self) -> tuple[sa.Column[Any], ...]:
        """Key columns first, then every compared column, in table order."""
        keys = self.key
        rest = [c for c in self.table.columns if c not in keys and self.rule(c).compared]
        return (*keys, *rest)

    @property
    def writable(self) -> tuple[sa.Column[Any], ...]:
        """Every column a copy writes (all but generated ones), key columns first."""
        keys = self.key
        rest = [c for c in self.table.columns if c not in keys and c.computed is None]
        return (*keys, *rest)

    def declared(self) -> dict[str, str]:
        """Every column not compared exactly, with how it is treated (for results)."""
        found = {}
        for column in self.table.columns:
            rule = self.rule(column)
            if not rule.compared or isinstance(rule, Tolerance):
                found[column.name] = rule.describe()
        return found
