"""The schema's triggers, per backend: the same call stores the same values everywhere.

The legacy SQLite schema refreshes ``updated_at`` with ``AFTER UPDATE``
triggers and stamps the queue's ``started_at``/``completed_at`` when its status
is set. This module renders the equivalent DDL for each backend:

* SQLite: the legacy triggers themselves, text for text (``shadow db parity``
  compares them).
* PostgreSQL: ``BEFORE UPDATE`` row triggers calling one PL/pgSQL function each,
  assigning ``NEW.<column>``; ``UPDATE OF status`` has SQLite's meaning there
  ("status is in the SET list").
* MariaDB: ``BEFORE UPDATE`` row triggers with ``SET NEW.<column>``.

Semantic gaps, by design of the backends:

* SQLite's refresh ``UPDATE ... WHERE key = OLD.key`` matches nothing once the
  row's key changed, so moving a board image to another board does not refresh
  it; the other backends refresh only when the key columns are unchanged,
  which is the same outcome.
* MariaDB has no ``UPDATE OF column``: its queue triggers fire when the status
  *changes*, where SQLite's fire whenever status is assigned, even to its
  current value. The queue service never re-assigns an unchanged status (terminal
  states are no-ops), so the stored values agree for every service call.
* "Now" is ``statement_timestamp()`` on PostgreSQL and ``UTC_TIMESTAMP(3)`` on
  MariaDB, truncated like SQLite's (milliseconds, or seconds where SQLite
  uses ``CURRENT_TIMESTAMP``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TRIGGERS", "Trigger", "create_statements", "drop_statements"]

_SQLITE_NOW = {3: "STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW')", 0: "CURRENT_TIMESTAMP"}
_POSTGRES_NOW = {
    3: "date_trunc('milliseconds', statement_timestamp())",
    0: "date_trunc('seconds', statement_timestamp())",
}
_MARIADB_NOW = {3: "UTC_TIMESTAMP(3)", 0: "UTC_TIMESTAMP()"}


@dataclass(frozen=True)
class Trigger:
    """One trigger: after an update of ``table``, set ``column`` to now.

    ``match`` are the columns that must be unchanged for the refresh to apply
    (SQLite matches the row again on their OLD values). ``status_in`` restricts
    the trigger to updates assigning ``status`` one of these values.
    """

    table: str
    column: str
    match: tuple[str, ...]
    precision: int = 3
    status_in: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """``tg_<table>_<column>``, the legacy schema's names."""
        return f"tg_{self.table}_{self.column}"


def _updated_at(table: str, *match: str, precision: int = 3) -> Trigger:
    return Trigger(table, "updated_at", match, precision)


TRIGGERS: tuple[Trigger, ...] = (
    _updated_at("app_settings", "key"),
    _updated_at("client_state", "user_id", "key", precision=0),
    _updated_at("style_presets", "id"),
    _updated_at("workflow_library", "workflow_id"),
    _updated_at("users", "user_id"),
    _updated_at("boards", "board_id", precision=0),
    _updated_at("board_images", "board_id", "image_name"),
    _updated_at("images", "image_name"),
    _updated_at("models", "id"),
    _updated_at("session_queue", "item_id"),
    Trigger("session_queue", "started_at", ("item_id",), status_in=("in_progress",)),
    Trigger(
        "session_queue",
        "completed_at",
        ("item_id",),
        status_in=("completed", "failed", "canceled"),
    ),
)
"""Every trigger of the schema, in creation order."""


def _status_list(trigger: Trigger) -> str:
    return ", ".join(f"'{status}'" for status in trigger.status_in)


def _sqlite(trigger: Trigger) -> str:
    where = " AND ".join(f"{column} = OLD.{column}" for column in trigger.match)
    event = "UPDATE"
    when = ""
    if trigger.status_in:
        event = "UPDATE OF status"
        when = f" WHEN NEW.status IN ({_status_list(trigger)})"
    return (
        f"CREATE TRIGGER {trigger.name} AFTER {event} ON {trigger.table} FOR EACH ROW{when}\n"
        f"BEGIN\n"
        f"    UPDATE {trigger.table} SET {trigger.column} = {_SQLITE_NOW[trigger.precision]}"
        f" WHERE {where};\n"
        f"END"
    )


def _postgresql(trigger: Trigger) -> list[str]:
    same_key = " AND ".join(f"NEW.{c} IS NOT DISTINCT FROM OLD.{c}" for c in trigger.match)
    event = "UPDATE OF status" if trigger.status_in else "UPDATE"
    when = f" WHEN (NEW.status IN ({_status_list(trigger)}))" if trigger.status_in else ""
    return [
        f"CREATE FUNCTION {trigger.name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n"
        f"    IF {same_key} THEN\n"
        f"        NEW.{trigger.column} := {_POSTGRES_NOW[trigger.precision]};\n"
        f"    END IF;\n"
        f"    RETURN NEW;\n"
        f"END\n"
        f"$$",
        f"CREATE TRIGGER {trigger.name} BEFORE {event} ON {trigger.table} FOR EACH ROW{when}"
        f" EXECUTE FUNCTION {trigger.name}()",
    ]


def _mariadb(trigger: Trigger) -> str:
    condition = " AND ".join(f"NEW.`{c}` <=> OLD.`{c}`" for c in trigger.match)
    if trigger.status_in:
        condition += (
            f" AND NEW.status IN ({_status_list(trigger)}) AND NOT NEW.status <=> OLD.status"
        )
    return (
        f"CREATE TRIGGER {trigger.name} BEFORE UPDATE ON `{trigger.table}` FOR EACH ROW\n"
        f"IF {condition} THEN\n"
        f"    SET NEW.{trigger.column} = {_MARIADB_NOW[trigger.precision]};\n"
        f"END IF"
    )


def create_statements(dialect_name: str) -> list[str]:
    """The DDL creating every trigger on a backend (``sqlite``, ``postgresql``, ``mysql``)."""
    statements: list[str] = []
    for trigger in TRIGGERS:
        if dialect_name == "sqlite":
            statements.append(_sqlite(trigger))
        elif dialect_name == "postgresql":
            statements.extend(_postgresql(trigger))
        elif dialect_name in ("mysql", "mariadb"):
            statements.append(_mariadb(trigger))
        else:
            raise ValueError(f"no trigger definitions for the {dialect_name!r} backend")
    return statements


def drop_statements(dialect_name: str) -> list[str]:
    """The DDL dropping every trigger (and PostgreSQL's trigger functions)."""
    statements: list[str] = []
    for trigger in reversed(TRIGGERS):
        if dialect_name == "postgresql":
            statements.append(f"DROP TRIGGER IF EXISTS {trigger.name} ON {trigger.table}")
            statements.append(f"DROP FUNCTION IF EXISTS {trigger.name}()")
        else:
            statements.append(f"DROP TRIGGER IF EXISTS {trigger.name}")
    return statements
