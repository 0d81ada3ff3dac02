"""Column types and SQL expressions that mean the same thing on every backend.

The schema is written once (``imagegen.db.tables``) and built on SQLite,
PostgreSQL and MariaDB. Where the three disagree, the difference is isolated
here, one construct per concept, each compiled per dialect:

* :class:`UtcDateTime` -- a datetime column that always reads back an aware UTC
  instant, whatever text format the legacy layer stored on SQLite;
* :data:`KeyText`, :data:`LongText` -- text types that MariaDB can index
  (``VARCHAR``) or that hold large JSON documents (``LONGTEXT``); ``TEXT`` elsewhere;
* :class:`UtcNow` -- the database's "now" at millisecond or second precision,
  used by server defaults and triggers;
* :class:`JsonField` -- a scalar pulled out of a JSON text column, for the
  generated (computed) columns.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateColumn
from sqlalchemy.sql.compiler import DDLCompiler, SQLCompiler
from sqlalchemy.sql.expression import ColumnElement

__all__ = [
    "BoolLiteral",
    "Generated",
    "JsonField",
    "KeyText",
    "LongText",
    "ShortText",
    "UtcDateTime",
    "UtcNow",
    "parse_utc",
    "to_sqlite_text",
]

_MARIADB = ("mysql", "mariadb")

KeyText: sa.types.TypeEngine[str] = sa.Text().with_variant(sa.String(255), *_MARIADB)
"""Identifiers and other indexed text: ``TEXT``, but ``VARCHAR(255)`` on MariaDB,
which cannot index or key an unbounded ``TEXT`` column."""

ShortText: sa.types.TypeEngine[str] = sa.Text().with_variant(sa.String(768), *_MARIADB)
"""Indexed free text (names, paths, descriptions): ``VARCHAR(768)`` on MariaDB, the
longest utf8mb4 column an InnoDB index accepts (3072 bytes). Longer values are
rejected there while SQLite and PostgreSQL accept them: a documented gap."""

LongText: sa.types.TypeEngine[str] = sa.Text().with_variant(mysql.LONGTEXT(), *_MARIADB)
"""JSON documents and other large text: ``LONGTEXT`` on MariaDB, where ``TEXT``
stops at 64 KiB and a queue session or workflow can be larger."""

_SQLITE_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def parse_utc(value: str) -> datetime:
    """Read a stored SQLite timestamp as an aware UTC datetime.

    Accepts the three formats the legacy layer produces: the STRFTIME default
    (``2026-08-19 01:13:04.123``), ``CURRENT_TIMESTAMP`` (``2026-08-19 01:13:04``)
    and Python's ``isoformat()`` (``2026-08-19T01:13:04.123000+00:00``). Text
    without an offset is UTC, as SQLite's own date functions are.
    """
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def to_sqlite_text(value: datetime) -> str:
    """Format an aware datetime the way SQLAlchemy stores SQLite datetimes.

    ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC: the same shape as the schema's
    STRFTIME defaults (which stop at milliseconds), so text comparison and
    ordering in SQL agree with time order.
    """
    return _require_aware(value).astimezone(UTC).strftime(_SQLITE_FORMAT)


def _require_aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime given to a UTC column; pass an aware datetime")
    return value


class _SQLiteDateTimeText(sqlite.DATETIME):
    """SQLite ``DATETIME`` whose values pass through as text, parsed by UtcDateTime.

    SQLAlchemy's own SQLite datetime parser reads ``.123`` as 123 microseconds
    and rejects the ``T``/offset form, so the text is handled in one place here.
    """

    def bind_processor(self, dialect: sa.Dialect) -> None:
        return None

    def result_processor(self, dialect: sa.Dialect, coltype: object) -> None:
        return None


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp that is always an aware UTC ``datetime`` in Python.

    Storage per backend: SQLite ``DATETIME`` text (written as
    ``YYYY-MM-DD HH:MM:SS.ffffff``, read in any of the legacy formats),
    PostgreSQL ``timestamptz``, MariaDB ``DATETIME(6)`` holding UTC.
    Naive datetimes are refused: their instant is ambiguous.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SQLiteDateTimeText())  # type: ignore[no-untyped-call]
        if dialect.name in _MARIADB:
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.TIMESTAMP(timezone=True))
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return to_sqlite_text(value)
        if dialect.name in _MARIADB:
            return _require_aware(value).astimezone(UTC).replace(tzinfo=None)
        return _require_aware(value).astimezone(UTC)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return parse_utc(value)
        if isinstance(value, datetime):
            if value.tzinfo is None:
                return value.replace(tzinfo=UTC)
            return value.astimezone(UTC)
        raise TypeError(f"unexpected stored timestamp of type {type(value).__name__}")


class UtcNow(ColumnElement[datetime]):
    """The database's current UTC time at millisecond (default) or second precision.

    SQLite: ``STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW')`` or ``CURRENT_TIMESTAMP``
    (the legacy schema's two defaults); PostgreSQL: ``statement_timestamp()``
    truncated; MariaDB: ``UTC_TIMESTAMP(3)`` / ``UTC_TIMESTAMP()``, which do not
    depend on the session time zone.
    """

    inherit_cache = True
    type = UtcDateTime()

    def __init__(self, precision: int = 3) -> None:
        if precision not in (0, 3):
            raise ValueError("precision is 3 (milliseconds) or 0 (seconds)")
        self.precision = precision

    _traverse_internals = []  # noqa: RUF012  (SQLAlchemy's cache protocol wants a plain list)


@compiles(UtcNow, "sqlite")
def _utc_now_sqlite(element: UtcNow, compiler: SQLCompiler, **kw: Any) -> str:
    if element.precision == 0:
        return "CURRENT_TIMESTAMP"
    return "STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW')"


@compiles(UtcNow, "postgresql")
def _utc_now_postgresql(element: UtcNow, compiler: SQLCompiler, **kw: Any) -> str:
    unit = "seconds" if element.precision == 0 else "milliseconds"
    return f"date_trunc('{unit}', statement_timestamp())"


@compiles(UtcNow, "mysql")
@compiles(UtcNow, "mariadb")
def _utc_now_mariadb(element: UtcNow, compiler: SQLCompiler, **kw: Any) -> str:
    return "UTC_TIMESTAMP()" if element.precision == 0 else "UTC_TIMESTAMP(3)"


class BoolLiteral(ColumnElement[bool]):
    """``TRUE``/``FALSE`` for server defaults; ``1``/``0`` on MariaDB.

    MariaDB's BOOL is TINYINT(1) and reports its default back as ``0``/``1``;
    rendering it that way keeps Alembic's drift check quiet there.
    """

    inherit_cache = True
    type = sa.Boolean()
    _traverse_internals = []  # noqa: RUF012

    def __init__(self, value: bool) -> None:
        self.value = value


@compiles(BoolLiteral)
def _bool_literal(element: BoolLiteral, compiler: SQLCompiler, **kw: Any) -> str:
    return "TRUE" if element.value else "FALSE"


@compiles(BoolLiteral, "mysql")
@compiles(BoolLiteral, "mariadb")
def _bool_literal_mariadb(element: BoolLiteral, compiler: SQLCompiler, **kw: Any) -> str:
    return "1" if element.value else "0"


class JsonField(ColumnElement[Any]):
    """A scalar read from a JSON text column by path, for generated columns.

    ``path`` is a simple dotted JSON path such as ``$.meta.category``. SQLite
    uses ``json_extract``; PostgreSQL the ``->>`` / ``#>>`` operators on a
    ``json`` cast; MariaDB ``JSON_VALUE``. ``as_integer`` casts the value for
    integer columns where the backend would otherwise return text.

    Scalars (strings, numbers, JSON null) come out the same on every backend.
    Arrays and objects do not: SQLite returns minified JSON text, PostgreSQL
    the original text, MariaDB's ``JSON_VALUE`` NULL. Workflow ``tags`` is a
    comma-separated string (a scalar); ``models.trigger_phrases`` is a list and
    must be read from ``config``, never from its generated column.
    """

    inherit_cache = True

    def __init__(self, column: str, path: str, *, as_integer: bool = False) -> None:
        if not path.startswith("$.") or not all(
            part.isidentifier() for part in path[2:].split(".")
        ):
            raise ValueError(f"unsupported JSON path {path!r}")
        self.column = column
        self.path = path
        self.as_integer = as_integer

    _traverse_internals = []  # noqa: RUF012

    @property
    def keys(self) -> list[str]:
        """The path's object keys, outermost first."""
        return self.path[2:].split(".")


@compiles(JsonField, "sqlite")
def _json_field_sqlite(element: JsonField, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_extract({element.column}, '{element.path}')"


@compiles(JsonField, "postgresql")
def _json_field_postgresql(element: JsonField, compiler: SQLCompiler, **kw: Any) -> str:
    # Written in the form PostgreSQL reflects it back, so Alembic sees no change.
    keys = element.keys
    if len(keys) == 1:
        text = f"(({element.column})::json ->> '{keys[0]}'::text)"
    else:
        text = f"(({element.column})::json #>> '{{{','.join(keys)}}}'::text[])"
    return f"({text})::bigint" if element.as_integer else text


@compiles(JsonField, "mysql")
@compiles(JsonField, "mariadb")
def _json_field_mariadb(element: JsonField, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_value(`{element.column}`,'{element.path}')"


class Generated(sa.Computed):
    """A generated column: ``VIRTUAL`` where the backend has it, ``STORED`` on PostgreSQL.

    PostgreSQL before 18 has only stored generated columns; SQLite and MariaDB
    compute virtual ones on read, as the legacy schema declares them.
    """

    inherit_cache = True

    def __init__(self, expression: JsonField) -> None:
        super().__init__(expression, persisted=False)


@compiles(Generated)
def _generated_virtual(element: Generated, compiler: DDLCompiler, **kw: Any) -> str:
    sqltext = compiler.sql_compiler.process(
        element.sqltext, include_table=False, literal_binds=True
    )
    return f"GENERATED ALWAYS AS ({sqltext}) VIRTUAL"


@compiles(Generated, "postgresql")
def _generated_stored(element: Generated, compiler: DDLCompiler, **kw: Any) -> str:
    sqltext = compiler.sql_compiler.process(
        element.sqltext, include_table=False, literal_binds=True
    )
    return f"GENERATED ALWAYS AS ({sqltext}) STORED"


@compiles(CreateColumn, "mysql")
@compiles(CreateColumn, "mariadb")
def _mariadb_column(element: CreateColumn, compiler: DDLCompiler, **kw: Any) -> str:
    # MariaDB refuses NOT NULL on a generated column; the tables add a CHECK instead.
    text: str = compiler.visit_create_column(element, **kw)  # type: ignore[no-untyped-call]
    if element.element.computed is not None:
        text = text.replace(" NOT NULL", "")
    return text
