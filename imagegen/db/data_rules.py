"""How the reference schema's rows are compared at rest (``shadow data verify``).

The generic verifier (:mod:`shadow.data`) normalizes columns by their types:
:class:`~imagegen.db.types.UtcDateTime` reads the legacy layer's three
timestamp text formats as instants, booleans read as ``bool`` from 0/1. This
module adds what the types alone do not say:

* JSON documents (``images.metadata``, ``workflow_library.workflow``,
  ``models.config``, ``style_presets.preset_data``, the queue's ``session``,
  ``field_values`` and ``workflow``) compare as parsed JSON: key order and
  whitespace do not count;
* timestamps the database fills itself (every ``DEFAULT now`` column and every
  column a trigger sets, :data:`imagegen.db.triggers.TRIGGERS`) compare within
  a tolerance: each store stamps them when it applies the write, and the
  mirror applies it a little later. Timestamps the services write come from
  the injected clock, replayed into the mirrored call, and compare exactly;
* ``users.password_hash`` is excluded: each side salts independently (a fresh
  random salt per hash), so equal passwords hash differently. Whether a
  password works on both sides is what ``authenticate`` comparisons check.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from imagegen.db.tables import metadata
from imagegen.db.triggers import TRIGGERS
from imagegen.db.types import UtcDateTime
from shadow.data import ColumnRule, Excluded, Json, Tolerance

__all__ = ["DEFAULT_TOLERANCE_SECONDS", "JSON_COLUMNS", "reference_rules"]

DEFAULT_TOLERANCE_SECONDS = 120.0
"""How far apart two stores may stamp a database-filled timestamp.

Generous on purpose: it must cover the mirror's lag under load (a burst of
writes queues behind the mirror worker for seconds) plus second-precision
``CURRENT_TIMESTAMP`` columns. A difference beyond it is reported."""

JSON_COLUMNS: dict[str, tuple[str, ...]] = {
    "images": ("metadata",),
    "workflow_library": ("workflow",),
    "models": ("config",),
    "style_presets": ("preset_data",),
    "session_queue": ("session", "field_values", "workflow"),
}
"""The JSON text columns, per table."""

_EXCLUDED: dict[tuple[str, str], str] = {
    ("users", "password_hash"): (
        "salted with a fresh random salt on each side: equal passwords hash differently"
    ),
}


def _database_filled(table: sa.Table, column: sa.Column[Any]) -> bool:
    if not isinstance(column.type, UtcDateTime):
        return False
    if column.server_default is not None:
        return True
    return any(t.table == table.name and t.column == column.name for t in TRIGGERS)


def reference_rules(
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
) -> dict[str, dict[str, ColumnRule]]:
    """Per table, per column: the rules that replace the type defaults (see above)."""
    rules: dict[str, dict[str, ColumnRule]] = {}
    for table in metadata.sorted_tables:
        own: dict[str, ColumnRule] = {}
        for column in table.columns:
            if column.computed is not None:
                continue
            reason = _EXCLUDED.get((table.name, column.name))
            if reason is not None:
                own[column.name] = Excluded(reason)
            elif column.name in JSON_COLUMNS.get(table.name, ()):
                own[column.name] = Json()
            elif _database_filled(table, column):
                own[column.name] = Tolerance(tolerance_seconds, "set by the database")
        if own:
            rules[table.name] = own
    return rules
