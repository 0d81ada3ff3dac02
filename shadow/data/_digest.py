"""Chunk digests computed by PostgreSQL and MariaDB: equal chunks cost no row transfer.

Against a server store, reading every row into Python costs the wire and the
driver. Here, per key range, the server returns two numbers: the count of its
rows and the sum of a 60-bit hash of each row (``md5`` of one canonical text
per row, its first 15 hex digits). The other side computes the same numbers:
in SQL when it is a server, in Python over its own rows when it is a SQLite
file (a local read, not a network transfer). Equal numbers: the range is
equal and no row of it left the server. Different: the range is split at the
median key of the side holding more rows (bisection, as data-diff does) until
both sides hold at most :data:`LEAF` rows, and only those rows are read and
merged through the table's rules (:mod:`shadow.data._verify`), which decide:
a digest mismatch is never reported as a difference by itself.

The canonical text of a row is, per compared column, ``n`` for NULL or
``v<length>:<text>`` (NULL is distinct from an empty text and no two rows
share a text): integers in decimal, booleans ``0``/``1``, timestamps as
:data:`~shadow.data._canonical.CANONICAL` UTC text, text and JSON text as
stored (equal JSON texts are equal JSON; texts equal only after parsing, such
as another key order, differ here and the rules call them equal on the row
path). A digest only says "equal" when every value has the same canonical
text, which means the rules' normalized values are equal. The risk left is a
hash collision: two different ranges whose row-hash sums coincide, about
2**-60 per range (md5 is not used for security here).

Used only where it is sound and cheap: every compared column has a type this
module encodes (integer, boolean, text, JSON, a timestamp the server rewrites
to canonical text; a float, a MariaDB ``TIMESTAMP`` or another type makes the
table fall to the row path) and every key column sorts by code point on each
server side (so a range ``after < key <= upto`` means the same rows on both
sides and walks the primary-key index; MariaDB's default
``utf8mb4_general_ci`` does not, see :mod:`shadow.data._read`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from shadow.data._canonical import canonical_sql, is_datetime
from shadow.data._read import Key, key_getter, sorts_by_code_point
from shadow.data._rules import (
    Exact,
    Json,
    TableRules,
    Tolerance,
    _identity,
    _normalize_bool,
    normalize_datetime,
)

__all__ = ["LEAF", "SERVERS", "DigestSide", "digestible"]

LEAF = 256
"""Rows per side at or below which a differing range is read and merged."""

SERVERS = frozenset({"postgresql", "mysql", "mariadb"})

_MASK_HEX = 15  # 60 bits of the md5: sums of 5,000 of them stay exact in every engine


def _kind(column: sa.Column[Any]) -> str | None:
    """How a column is encoded: ``int``, ``bool``, ``text``, ``time``; None: not at all."""
    if is_datetime(column):
        return "time"
    column_type = column.type
    impl = getattr(column_type, "impl", None)
    impl = impl() if isinstance(impl, type) else impl
    for candidate in (column_type, impl):
        if isinstance(candidate, sa.Boolean):
            return "bool"
        if isinstance(candidate, sa.Integer):
            return "int"
        if isinstance(candidate, sa.String | sa.JSON):
            return "text"
    return None


def _rule_fits(rules: TableRules, column: sa.Column[Any]) -> bool:
    """Whether equal canonical text implies the rule's equality (only the rules we know)."""
    rule = rules.rule(column)
    if isinstance(rule, Json | Tolerance):
        return True
    return isinstance(rule, Exact) and rule.normalizer in (
        _identity,
        normalize_datetime,
        _normalize_bool,
    )


def digestible(rules: TableRules, engines: Sequence[sa.Engine]) -> bool:
    """True when this module can decide chunks of ``rules``' table on ``engines``."""
    names = [engine.dialect.name for engine in engines]
    if not any(name in SERVERS for name in names):
        return False
    if not all(name in SERVERS or name == "sqlite" for name in names):
        return False
    for column in rules.compared:
        kind = _kind(column)
        if kind is None or not _rule_fits(rules, column):
            return False
        if kind == "time":
            for engine in engines:
                if engine.dialect.name in SERVERS and canonical_sql(column, engine.dialect) is None:
                    return False
    for engine in engines:
        if engine.dialect.name in SERVERS:
            with engine.connect() as connection:
                if not all(sorts_by_code_point(connection, c) for c in rules.key):
                    return False
    return True


def _text_sql(column: sa.Column[Any], dialect: sa.Dialect) -> str:
    name = dialect.identifier_preparer.quote(column.name)
    kind = _kind(column)
    mysql = dialect.name != "postgresql"
    if kind == "time":
        sql = canonical_sql(column, dialect)
        assert sql is not None  # checked by digestible()
        return sql
    if kind == "bool":
        return f"(CASE WHEN {name} THEN '1' ELSE '0' END)"
    if mysql:
        return f"CAST({name} AS CHAR)"
    return f"CAST({name} AS TEXT)"


def _row_sql(columns: Sequence[sa.Column[Any]], dialect: sa.Dialect) -> str:
    parts = []
    mysql = dialect.name != "postgresql"
    for column in columns:
        name = dialect.identifier_preparer.quote(column.name)
        text = _text_sql(column, dialect)
        if mysql:
            encoded = f"CONCAT('v', CHAR_LENGTH({text}), ':', {text})"
        else:
            encoded = f"('v' || char_length({text}) || ':' || {text})"
        parts.append(f"(CASE WHEN {name} IS NULL THEN 'n' ELSE {encoded} END)")
    if mysql:
        return f"MD5(CONCAT({', '.join(parts)}))"
    return f"md5({' || '.join(parts)})"


def _sum_sql(row: str, dialect: sa.Dialect) -> str:
    if dialect.name == "postgresql":
        return f"COALESCE(sum(('x' || substr({row}, 1, {_MASK_HEX}))::bit(60)::bigint), 0)"
    return f"COALESCE(SUM(CAST(CONV(SUBSTR({row}, 1, {_MASK_HEX}), 16, 10) AS UNSIGNED)), 0)"


def _python_text(kind: str | None, value: Any) -> str:
    """The canonical text of one SQLite value; a value of another kind gets one no server
    writes (a leading NUL), so its range differs and the rules decide."""
    if value is None:
        return "n"
    if kind == "int" and type(value) is int:
        text = str(value)
    elif kind == "bool" and value in (0, 1) and type(value) in (int, bool):
        text = "1" if value else "0"
    elif kind in ("text", "time") and isinstance(value, str):
        # A time read through canonical SQL: canonical text, or a shape SQL could not
        # rewrite, which never equals a server's canonical text.
        text = value
    else:
        text = f"\0{value!r}"
    return f"v{len(text)}:{text}"


class DigestSide:
    """One store's view of a table: counts, digests, split keys and rows of key ranges."""

    def __init__(
        self,
        connection: sa.Connection,
        rules: TableRules,
        selected: Sequence[sa.ColumnElement[Any]],
        on_rows: Callable[[int], None] | None = None,
    ) -> None:
        self.connection = connection
        dialect = connection.dialect
        self.server = dialect.name in SERVERS
        self._rules = rules
        self._keys = list(rules.key)
        self._width = len(self._keys)
        self._get_key = key_getter(self._width)
        self._selected = list(selected)
        self._kinds = [_kind(c) for c in rules.compared]
        self._on_rows = on_rows
        self._row = _row_sql(rules.compared, dialect) if self.server else ""
        self._sum = _sum_sql(self._row, dialect) if self.server else ""

    def _range(self, after: Key | None, upto: Key | None) -> sa.ColumnElement[bool]:
        key: Any = self._keys[0] if self._width == 1 else sa.tuple_(*self._keys)

        def bound(value: Key) -> Any:
            return value if self._width == 1 else sa.tuple_(*(sa.literal(v) for v in value))

        terms = []
        if after is not None:
            terms.append(key > bound(after))
        if upto is not None:
            terms.append(key <= bound(upto))
        return sa.and_(sa.true(), *terms)

    def nth_key(self, after: Key | None, upto: Key | None, offset: int) -> Key | None:
        """The key ``offset`` rows (0-based) past ``after`` within the range, or None."""
        statement = (
            sa.select(*self._keys)
            .where(self._range(after, upto))
            .order_by(*self._keys)
            .offset(offset)
            .limit(1)
        )
        row = self.connection.execute(statement).first()
        return None if row is None else self._get_key(tuple(row))

    def count(self, after: Key | None, upto: Key | None) -> int:
        statement = sa.select(sa.func.count()).select_from(self._rules.table)
        return int(self.connection.execute(statement.where(self._range(after, upto))).scalar_one())

    def digest(self, after: Key | None, upto: Key | None) -> tuple[int, int]:
        """``(rows, sum of row hashes)`` of the range."""
        if self.server:
            statement = (
                sa.select(sa.func.count(), sa.literal_column(self._sum, sa.Numeric()))
                .select_from(self._rules.table)
                .where(self._range(after, upto))
            )
            found, summed = self.connection.execute(statement).one()
            return int(found), int(summed)
        total = rows = 0
        kinds = self._kinds
        for row in self.connection.execute(self._statement(after, upto)):
            text = "".join(_python_text(k, value) for k, value in zip(kinds, row, strict=True))
            total += int(hashlib.md5(text.encode()).hexdigest()[:_MASK_HEX], 16)
            rows += 1
        return rows, total

    def _statement(self, after: Key | None, upto: Key | None) -> sa.Select[Any]:
        return (
            sa.select(*self._selected)
            .select_from(self._rules.table)
            .where(self._range(after, upto))
            .order_by(*self._keys)
        )

    def rows(self, after: Key | None, upto: Key | None) -> list[Any]:
        """The range's rows as compared (key order), as plain tuples."""
        found = [tuple(row) for row in self.connection.execute(self._statement(after, upto))]
        if self._on_rows is not None:
            self._on_rows(len(found))
        return found
