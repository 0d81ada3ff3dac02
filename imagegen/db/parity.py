"""Schema parity: does the legacy-built schema match the Alembic-built one?

Both schemas are reflected into the same backend-neutral shape and compared
table by table: columns (type class, nullability, default, generated
expression's JSON path), primary keys, foreign keys with their ``ON DELETE``,
unique constraints, indexes (by definition: columns or expressions,
uniqueness and partial-index predicate, whatever their names) and triggers
(by name on every backend; by SQL text too when both sides are SQLite).

Normalizations, so only real differences are reported:

* SQL text (trigger bodies, index expressions, defaults) compares in one
  canonical spelling (:mod:`imagegen.db.sqltext`): letter case outside string
  literals, whitespace and quoting of identifiers do not count;
* an index renamed keeps its definition, so it is not a difference;
* types compare by class (text, integer, boolean, datetime, ...), not by
  spelling: ``TEXT`` on SQLite and ``VARCHAR(255)`` on MariaDB are both text,
  and MariaDB's ``TINYINT(1)`` is its boolean;
* defaults compare by meaning: every backend's "now to the millisecond" is
  ``now(ms)``, ``FALSE``/``false``/``0`` are ``false``, casts and quotes go;
* MariaDB cannot declare a generated column NOT NULL; a ``CHECK (col IS NOT
  NULL)`` there counts as NOT NULL;
* MariaDB's automatic indexes for foreign keys and unique constraints, and the
  bookkeeping tables (``migrations``, ``alembic_version``, ``sqlite_sequence``)
  are ignored.

What reflection cannot read (SQLAlchemy warns, e.g. about an index on
expressions) is never silently dropped: SQLite's expression indexes are read
from their SQL instead, and any other reflection warning becomes a reported
line "could not be fully read", so parity never says "match" about a part it
did not see.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from imagegen.db.legacy import open_read_only
from imagegen.db.sqltext import normalized_sql, sql_tokens
from shadow._exceptions import ConfigError

__all__ = ["ColumnShape", "TableShape", "compare", "describe", "parity", "read_only_sqlite"]

_IGNORED_TABLES = frozenset({"migrations", "alembic_version", "sqlite_sequence"})


@dataclass(frozen=True)
class ColumnShape:
    """A column, backend-neutral."""

    type: str
    nullable: bool
    default: str | None
    generated: str | None


@dataclass
class TableShape:
    """A table, backend-neutral: what parity compares."""

    columns: dict[str, ColumnShape] = field(default_factory=dict)
    primary_key: tuple[str, ...] = ()
    foreign_keys: set[tuple[tuple[str, ...], str, tuple[str, ...], str]] = field(
        default_factory=set
    )
    unique: set[tuple[str, ...]] = field(default_factory=set)
    indexes: Counter[IndexShape] = field(default_factory=Counter)
    triggers: dict[str, str | None] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)
    """What reflection warned it could not read: reported, never compared as equal."""


@dataclass(frozen=True, order=True)
class IndexShape:
    """An index by definition, not by name: its key parts, uniqueness and predicate.

    A key part is a column name, or a normalized expression for an index on
    expressions; ``where`` is a partial index's normalized predicate.
    """

    parts: tuple[str, ...]
    unique: bool
    where: str | None = None

    def __str__(self) -> str:
        text = f"({', '.join(self.parts)})"
        if self.unique:
            text = f"unique {text}"
        return f"{text} where {self.where}" if self.where else text


def _type_class(type_: sa.types.TypeEngine[Any]) -> str:
    if isinstance(type_, sa.Boolean) or (
        type(type_).__name__ == "TINYINT" and getattr(type_, "display_width", None) == 1
    ):
        return "boolean"
    if isinstance(type_, sa.DateTime):
        return "datetime"
    if isinstance(type_, sa.Integer):
        return "integer"
    if isinstance(type_, (sa.String, sa.Text)):
        return "text"
    if isinstance(type_, sa.Float):
        return "real"
    if isinstance(type_, sa.LargeBinary):
        return "blob"
    if isinstance(type_, sa.Numeric):
        return "numeric"
    return type(type_).__name__.lower()


_NOW_PATTERNS = (
    (re.compile(r"strftime\('%y-%m-%d %h:%m:%f', ?'now'\)"), "now(ms)"),
    (re.compile(r"date_trunc\('milliseconds'(::text)?, ?statement_timestamp\(\)\)"), "now(ms)"),
    (re.compile(r"utc_timestamp\(3\)"), "now(ms)"),
    (re.compile(r"date_trunc\('seconds'(::text)?, ?statement_timestamp\(\)\)"), "now(s)"),
    (re.compile(r"utc_timestamp\(\)|current_timestamp(\(\))?"), "now(s)"),
)


def _default(text: str | None, type_class: str) -> str | None:
    """A default's meaning: ``now(ms)``, ``now(s)``, ``false``, ``'system'``, ``0``..."""
    if text is None:
        return None
    value = text.strip()
    while value.startswith("(") and value.endswith(")"):
        value = value[1:-1].strip()
    lowered = value.lower()
    if lowered.startswith("nextval("):
        return None  # PostgreSQL's serial counter: the autoincrement primary key, not a default
    for pattern, token in _NOW_PATTERNS:
        if pattern.fullmatch(lowered):
            return token
    if type_class == "boolean" and lowered in _BOOLEANS:
        return _BOOLEANS[lowered]
    value = re.sub(r"::[a-z ]+$", "", value)
    tokens = sql_tokens(value)
    if len(tokens) == 1 and tokens[0].startswith("'"):
        return repr(tokens[0][1:-1].replace("''", "'"))
    return " ".join(tokens)


def default_meaning(text: str | None, type_: sa.types.TypeEngine[Any]) -> str | None:
    """What a server default means, however the backend or migrator spelled it.

    ``now(ms)``, ``now(s)``, ``false``/``true``, a quoted string's value, or
    the SQL in canonical spelling; None for no default. Two defaults with the
    same meaning are equivalent (``shadow db check`` and ``parity`` use this).
    """
    return _default(text, _type_class(type_))


_BOOLEANS = {"false": "false", "0": "false", "'0'": "false", "true": "true", "1": "true"}


def _json_path(sqltext: str) -> str:
    """The JSON path a generated column extracts, whatever the backend's syntax."""
    if match := re.search(r"'(\$(?:\.\w+)+)'", sqltext):
        return match.group(1)
    if match := re.search(r"#>> ?'\{([\w,]+)\}'", sqltext):
        return "$." + match.group(1).replace(",", ".")
    if match := re.search(r"->> ?'(\w+)'", sqltext):
        return "$." + match.group(1)
    return sqltext


def _triggers(connection: sa.Connection) -> dict[str, dict[str, str | None]]:
    dialect = connection.dialect.name
    found: dict[str, dict[str, str | None]] = {}
    if dialect == "sqlite":
        rows = connection.exec_driver_sql(
            "SELECT tbl_name, name, sql FROM sqlite_master WHERE type = 'trigger'"
        )
        for table, name, sql in rows:
            # SQLite names are case-insensitive: TG_X and tg_x are one trigger
            found.setdefault(table, {})[name.lower()] = normalized_sql(sql)
    elif dialect == "postgresql":
        rows = connection.exec_driver_sql(
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE NOT t.tgisinternal AND n.nspname = current_schema()"
        )
        for table, name in rows:
            found.setdefault(table, {})[name] = None
    else:
        rows = connection.exec_driver_sql(
            "SELECT event_object_table, trigger_name FROM information_schema.triggers"
            " WHERE trigger_schema = DATABASE()"
        )
        for table, name in rows:
            found.setdefault(table, {})[name] = None
    return found


def describe(engine: sa.Engine) -> dict[str, TableShape]:
    """Reflect the schema behind ``engine`` into backend-neutral shapes."""
    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        triggers = _triggers(connection)
        shapes: dict[str, TableShape] = {}
        for table in inspector.get_table_names():
            if table in _IGNORED_TABLES:
                continue
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", sa.exc.SAWarning)
                shape = _describe_table(inspector, table, triggers.get(table, {}))
            if connection.dialect.name == "sqlite":
                shape.indexes.update(_sqlite_expression_indexes(connection, table, caught))
            for warning in caught:
                if _TYPE_ARGUMENTS_DROPPED.search(str(warning.message)):
                    continue  # e.g. INTEGER(11): types compare by class, which was read
                if issubclass(warning.category, sa.exc.SAWarning):
                    shape.unreadable.append(str(warning.message))
                else:  # not about reflection: pass it on as it was
                    warnings.warn_explicit(
                        warning.message, warning.category, warning.filename, warning.lineno
                    )
            shapes[table] = shape
    return shapes


_TYPE_ARGUMENTS_DROPPED = re.compile(r"Could not instantiate type .* with reflected arguments")
_EXPRESSION_INDEX_SKIPPED = re.compile(
    r"Skipped unsupported reflection of expression-based index (\S+)"
)
_INDEX_DEFINITION = re.compile(
    r"create (unique )?index (if not exists )?\S+ on \S+ \( (.*?) \)(?: where (.*))?"
)


def _key_parts(tokens: str) -> tuple[str, ...]:
    """Split an index's normalized key list at its top-level commas."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for token in tokens.split(" "):
        depth += {"(": 1, ")": -1}.get(token, 0)
        if token == "," and depth == 0:
            parts.append(" ".join(current))
            current = []
        else:
            current.append(token)
    parts.append(" ".join(current))
    return tuple(parts)


def _sqlite_expression_indexes(
    connection: sa.Connection, table: str, caught: list[warnings.WarningMessage]
) -> list[IndexShape]:
    """SQLite indexes on expressions, which SQLAlchemy skips with a warning, read from their SQL."""
    shapes = []
    read: set[str] = set()
    for warning in list(caught):
        match = _EXPRESSION_INDEX_SKIPPED.search(str(warning.message))
        if match is None:
            continue
        if match.group(1) in read:  # reflection warns once per call that lists indexes
            caught.remove(warning)
            continue
        sql = connection.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ? AND tbl_name = ?",
            (match.group(1), table),
        ).scalar()
        definition = _INDEX_DEFINITION.fullmatch(normalized_sql(sql or ""))
        if definition is None:
            continue  # not ours to parse: the warning stays and is reported as unreadable
        caught.remove(warning)
        read.add(match.group(1))
        unique, _, parts, where = definition.groups()
        shapes.append(IndexShape(_key_parts(parts), bool(unique), where))
    return shapes


def _describe_table(
    inspector: sa.Inspector, table: str, triggers: dict[str, str | None]
) -> TableShape:
    shape = TableShape(triggers=triggers)
    checked_not_null = {
        match.group(1)
        for check in inspector.get_check_constraints(table)
        if (match := re.fullmatch(r"`?(\w+)`? is not null", check["sqltext"].strip().lower()))
    }
    for column in inspector.get_columns(table):
        computed = column.get("computed")
        type_class = _type_class(column["type"])
        shape.columns[column["name"]] = ColumnShape(
            type=type_class,
            nullable=bool(column["nullable"]) and column["name"] not in checked_not_null,
            default=_default(column.get("default"), type_class),
            generated=_json_path(str(computed["sqltext"])) if computed else None,
        )
    shape.primary_key = tuple(inspector.get_pk_constraint(table)["constrained_columns"])
    foreign_key_names = set()
    for fk in inspector.get_foreign_keys(table):
        foreign_key_names.add(fk["name"])
        ondelete = (fk.get("options") or {}).get("ondelete") or "NO ACTION"
        shape.foreign_keys.add(
            (
                tuple(fk["constrained_columns"]),
                fk["referred_table"],
                tuple(fk["referred_columns"]),
                "NO ACTION" if ondelete.upper() == "RESTRICT" else ondelete.upper(),
            )
        )
    unique_names = set()
    for unique in inspector.get_unique_constraints(table):
        unique_names.add(unique["name"])
        shape.unique.add(tuple(unique["column_names"]))
    for index in inspector.get_indexes(table):
        name = index["name"]
        if name is None or name in unique_names or name in foreign_key_names:
            continue
        if "duplicates_constraint" in index:
            continue
        expressions = index.get("expressions") or index["column_names"]
        parts = tuple(normalized_sql(str(part)) for part in expressions)
        where = next(
            (
                normalized_sql(str(value))
                for key, value in (index.get("dialect_options") or {}).items()
                if key.endswith("_where") and value is not None
            ),
            None,
        )
        shape.indexes[IndexShape(parts, bool(index["unique"]), where)] += 1
    return shape


def compare(legacy: dict[str, TableShape], candidate: dict[str, TableShape]) -> list[str]:
    """Every difference between two described schemas, one line each, legacy first."""
    problems: list[str] = []
    for table in sorted(set(legacy) | set(candidate)):
        if table not in candidate:
            problems.append(f"table {table}: only in the legacy schema")
            continue
        if table not in legacy:
            problems.append(f"table {table}: only in the Alembic schema")
            continue
        problems.extend(_compare_table(table, legacy[table], candidate[table]))
    return problems


def _compare_table(table: str, legacy: TableShape, candidate: TableShape) -> list[str]:
    problems: list[str] = []
    for name in sorted(set(legacy.columns) | set(candidate.columns)):
        ours, theirs = legacy.columns.get(name), candidate.columns.get(name)
        if ours is None or theirs is None:
            side = "legacy" if theirs is None else "Alembic"
            problems.append(f"column {table}.{name}: only in the {side} schema")
            continue
        for aspect in ("type", "nullable", "default", "generated"):
            if getattr(ours, aspect) != getattr(theirs, aspect):
                problems.append(
                    f"column {table}.{name}: {aspect} differs: legacy {getattr(ours, aspect)!r},"
                    f" Alembic {getattr(theirs, aspect)!r}"
                )
    pairs: list[tuple[str, Any, Any]] = [
        ("primary key", legacy.primary_key, candidate.primary_key),
        ("foreign keys", sorted(legacy.foreign_keys), sorted(candidate.foreign_keys)),
        ("unique constraints", sorted(legacy.unique), sorted(candidate.unique)),
    ]
    for label, ours, theirs in pairs:
        if ours != theirs:
            problems.append(f"table {table}: {label} differ: legacy {ours}, Alembic {theirs}")
    if legacy.indexes != candidate.indexes:
        sides = [
            f"only in the {side} schema: {', '.join(map(str, sorted(only.elements(), key=str)))}"
            for side, only in (
                ("legacy", legacy.indexes - candidate.indexes),
                ("Alembic", candidate.indexes - legacy.indexes),
            )
            if only
        ]
        problems.append(f"table {table}: indexes differ: {'; '.join(sides)}")
    for side, shape in (("legacy", legacy), ("Alembic", candidate)):
        problems.extend(
            f"table {table}: the {side} schema could not be fully read: {reason}"
            for reason in shape.unreadable
        )
    if set(legacy.triggers) != set(candidate.triggers):
        problems.append(
            f"table {table}: triggers differ: legacy {sorted(legacy.triggers)},"
            f" Alembic {sorted(candidate.triggers)}"
        )
    else:
        for name in sorted(legacy.triggers):
            ours_sql, theirs_sql = legacy.triggers[name], candidate.triggers[name]
            if ours_sql is not None and theirs_sql is not None and ours_sql != theirs_sql:
                problems.append(f"trigger {name} on {table}: SQL differs")
    return problems


def read_only_sqlite(path: str | Path) -> sa.Engine:
    """An engine reading an existing SQLite file without creating or changing it."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"no such SQLite database file: {file}")

    return sa.create_engine(
        "sqlite://", creator=lambda: open_read_only(file), poolclass=sa.NullPool
    )


def parity(legacy_path: str | Path, url: str) -> list[str]:
    """Compare the legacy database at ``legacy_path`` with the database at ``url``."""
    from imagegen.db.engine import connectable  # noqa: PLC0415  (engine imports this module's users)

    legacy_engine = read_only_sqlite(legacy_path)
    try:
        try:
            legacy_shape = describe(legacy_engine)
        except sa.exc.DatabaseError as error:
            raise ConfigError(
                f"{legacy_path} is not a usable SQLite database: {error.orig}"
            ) from None
        with connectable(url) as candidate_engine:
            return compare(legacy_shape, describe(candidate_engine))
    finally:
        legacy_engine.dispose()
