"""Alembic, programmatically: upgrade, downgrade, stamp and drift-check a database.

The migration scripts live in the project's top-level ``migrations/``
directory (``alembic.ini`` points there too, for the ``alembic`` command).
Every function here runs Alembic on the caller's engine by handing it a
connection through ``config.attributes["connection"]``, so the PRAGMAs and
session settings of :func:`imagegen.db.engine.create_engine` apply.
"""

from __future__ import annotations

import warnings
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import produce_migrations
from alembic.config import Config
from alembic.operations import ops
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from imagegen.db.parity import default_meaning
from shadow._exceptions import ConfigError

__all__ = [
    "ENVIRONMENT_OPTIONS",
    "MIGRATIONS_DIR",
    "alembic_config",
    "current_revision",
    "downgrade",
    "drift",
    "head_revision",
    "schema_differences",
    "stamp",
    "upgrade",
]

MIGRATIONS_DIR = Path(str(resources.files("imagegen.migrations")))
"""The Alembic script directory: ``migrations/`` at the top of the repository,
shipped in the wheel as the package ``imagegen.migrations``."""

_NOT_OURS = frozenset({"migrations", "alembic_version", "sqlite_sequence"})
"""Tables in a database that are bookkeeping, not schema: the legacy migrator's
own table, Alembic's, and SQLite's autoincrement counters."""


_MARIADB = ("mysql", "mariadb")


def _include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    return not (type_ == "table" and name in _NOT_OURS)


def _rendered_default(default: Any, dialect: sa.Dialect) -> str | None:
    """A server default's SQL for ``dialect``; None when it has none or cannot be rendered."""
    argument = getattr(default, "arg", default)
    if argument is None or isinstance(argument, str):
        return argument
    text = getattr(argument, "text", None)
    if isinstance(text, str):
        return text
    try:
        return str(argument.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    except sa.exc.CompileError:
        return None


def _same_default(op: ops.AlterColumnOp, dialect: sa.Dialect) -> bool:
    """Whether a default change is only spelling (``'NOW'``/``'now'``, case, layout).

    Alembic compares defaults as text; :func:`imagegen.db.parity.default_meaning`
    compares what they mean, so another migrator's spelling is not drift.
    """
    database = _rendered_default(op.existing_server_default, dialect)
    models = _rendered_default(op.modify_server_default, dialect)
    if database is None or models is None:
        return False
    type_ = op.existing_type if op.existing_type is not None else sa.types.NullType()
    return default_meaning(database, type_) == default_meaning(models, type_)


def _index_columns(index: sa.Index) -> list[str]:
    """The names of an index's columns, a ``DESC`` one by its column's name."""
    names = []
    for expression in index.expressions:
        element = getattr(expression, "element", expression)  # desc(column) -> column
        names.append(getattr(element, "name", str(element)))
    return names


def _without_sort_order_only(
    table_ops: list[ops.MigrateOperation],
) -> list[ops.MigrateOperation]:
    """``table_ops`` without a drop and a create of one index over the same columns."""
    dropped = {op.index_name: op for op in table_ops if isinstance(op, ops.DropIndexOp)}
    same = {
        op.index_name
        for op in table_ops
        if isinstance(op, ops.CreateIndexOp)
        and op.index_name in dropped
        and _index_columns(op.to_index()) == _index_columns(dropped[op.index_name].to_index())
    }
    return [
        op
        for op in table_ops
        if not (isinstance(op, ops.CreateIndexOp | ops.DropIndexOp) and op.index_name in same)
    ]


def _drop_backend_gaps(context: MigrationContext, upgrade_ops: ops.UpgradeOps) -> None:
    """Remove differences that are spelling or the backend's limits, not drift.

    A server default spelled differently with the same meaning is no change.
    MariaDB cannot declare a generated column NOT NULL (the schema enforces it
    with a CHECK there), so its reflected generated columns are nullable.
    SQLite's and MariaDB's reflection do not say which index columns are
    descending, so an index with a ``DESC`` column reads back as another one over
    the same columns (on SQLite the legacy parity check reads the SQL, and sees
    the order).
    """
    from imagegen.db.tables import metadata  # noqa: PLC0415

    mariadb = context.dialect.name in _MARIADB
    for table_ops in upgrade_ops.ops:
        if not isinstance(table_ops, ops.ModifyTableOps):
            continue
        if mariadb or context.dialect.name == "sqlite":
            table_ops.ops = _without_sort_order_only(table_ops.ops)
        kept: list[ops.MigrateOperation] = []
        for op in table_ops.ops:
            if (
                isinstance(op, ops.AlterColumnOp)
                and op.modify_server_default is not False
                and _same_default(op, context.dialect)
            ):
                op.modify_server_default = False
                if not op.has_changes():
                    continue
            if mariadb and isinstance(op, ops.AlterColumnOp) and op.modify_nullable is not None:
                table = metadata.tables.get(op.table_name)
                column = table.c.get(op.column_name) if table is not None else None
                if column is not None and column.computed is not None:
                    op.modify_nullable = None
                    if not op.has_changes():
                        continue
            kept.append(op)
        table_ops.ops = kept
    upgrade_ops.ops = [
        table_ops
        for table_ops in upgrade_ops.ops
        if not (isinstance(table_ops, ops.ModifyTableOps) and not table_ops.ops)
    ]


def _process_revision_directives(
    context: MigrationContext, revision: Any, directives: list[ops.MigrationScript]
) -> None:
    for script in directives:
        for upgrade_ops in script.upgrade_ops_list:
            _drop_backend_gaps(context, upgrade_ops)


ENVIRONMENT_OPTIONS: dict[str, Any] = {
    "render_as_batch": True,
    "user_module_prefix": "shadow_types.",
    "compare_type": True,
    "compare_server_default": True,
    "include_name": _include_name,
    "process_revision_directives": _process_revision_directives,
}
"""The options ``migrations/env.py`` and :func:`drift` both configure Alembic with."""


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """An Alembic config for :data:`MIGRATIONS_DIR`, reusing ``connection`` when given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The single head revision of the migration scripts."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migration scripts in {MIGRATIONS_DIR}")
    return head


def current_revision(connection: sa.Connection) -> str | None:
    """The revision a database is stamped with, or None."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Upgrade the database behind ``engine`` to ``revision``."""
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def downgrade(engine: sa.Engine, revision: str = "base") -> None:
    """Downgrade the database behind ``engine`` to ``revision``."""
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), revision)


def stamp(engine: sa.Engine, revision: str = "head") -> None:
    """Record ``revision`` as applied without running any migration."""
    with engine.begin() as connection:
        command.stamp(alembic_config(connection), revision)


def drift(engine: sa.Engine) -> list[str]:
    """Why the database is not exactly at head, one readable line each.

    Empty when the database is stamped with the head revision and
    :func:`schema_differences` finds nothing.
    """
    with engine.connect() as connection:
        current, head = current_revision(connection), head_revision()
    problems = []
    if current != head:
        problems.append(f"database is at revision {current or 'none'}, head is {head}")
    return problems + schema_differences(engine)


def schema_differences(engine: sa.Engine, metadata: sa.MetaData | None = None) -> list[str]:
    """Differences between the database's schema and the models, one line each.

    Alembic's autogenerate comparison: tables, columns, types, nullability,
    server defaults (by meaning, see :func:`_compare_server_default`), indexes,
    unique and foreign-key constraints. Read-only. ``metadata`` defaults to the
    reference application's models. A model's SQL construct that cannot be
    rendered for this backend at all is a :class:`~shadow.ConfigError`.
    """
    if metadata is None:
        from imagegen.db.tables import metadata as models  # noqa: PLC0415  (heavy to import)

        metadata = models

    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={**ENVIRONMENT_OPTIONS, "target_metadata": metadata}
        )
        try:
            with warnings.catch_warnings():
                # Alembic cannot compare an index with a DESC column on SQLite (the
                # gap _drop_backend_gaps documents): a known limit, not news each time.
                warnings.filterwarnings(
                    "ignore", "autogenerate skipping metadata-specified expression-based index"
                )
                upgrade_ops = produce_migrations(context, metadata).upgrade_ops
        except sa.exc.CompileError as error:
            raise ConfigError(
                f"cannot compare the models with this {connection.dialect.name} database: "
                f"a model's SQL cannot be rendered for {connection.dialect.name}: "
                f"{_first_line(error)}"
            ) from None
        assert upgrade_ops is not None
        _drop_backend_gaps(context, upgrade_ops)
        return [_describe(diff, connection.dialect) for diff in upgrade_ops.as_diffs()]


def _first_line(error: Exception) -> str:
    return str(error).split("(Background on this error", 1)[0].strip().splitlines()[0]


def _describe(diff: Any, dialect: sa.Dialect) -> str:
    """One line for an autogenerate diff tuple (or a list of column modifications)."""
    if isinstance(diff, list):
        return "; ".join(_describe(item, dialect) for item in diff)
    kind, *details = diff
    if kind.startswith("modify_"):
        _schema, table, column, _existing, before, after = details
        return (
            f"{kind}: {table}.{column}: database has {_show(before, dialect)}, "
            f"models have {_show(after, dialect)}"
        )
    if kind in ("add_table", "remove_table"):
        return f"{kind}: {details[0].name}"
    if kind in ("add_column", "remove_column"):
        return f"{kind}: {details[1]}.{details[2].name}"
    if kind in ("add_index", "remove_index", "add_constraint", "remove_constraint"):
        item = details[0]
        columns = ", ".join(column.name for column in item.columns)
        return f"{kind}: {item.table.name}.{item.name} ({columns})"
    if kind in ("add_fk", "remove_fk"):
        fk = details[0]
        return f"{kind}: {fk.table.name}.{fk.name}"
    return " ".join(str(part) for part in diff)


def _show(value: Any, dialect: sa.Dialect) -> str:
    """A type, default or flag as it reads in DDL for ``dialect``.

    A SQL construct is compiled for the database's own dialect (a custom one
    like :class:`~imagegen.db.types.UtcNow` has no generic spelling); one that
    cannot be compiled there is shown by its class and attributes, never raised.
    """
    argument = getattr(value, "arg", value)
    text = getattr(argument, "text", argument)
    if isinstance(text, str):
        return repr(text)
    if isinstance(text, sa.types.TypeEngine):
        try:
            return str(text.compile(dialect=dialect))
        except sa.exc.CompileError:
            return repr(text)
    if isinstance(text, sa.sql.ClauseElement):
        try:
            return repr(str(text.compile(dialect=dialect, compile_kwargs={"literal_binds": True})))
        except sa.exc.CompileError:
            attributes = ", ".join(
                f"{name}={attribute!r}"
                for name, attribute in vars(text).items()
                if not name.startswith("_")
            )
            return f"{type(text).__name__}({attributes})"
    return str(text)
