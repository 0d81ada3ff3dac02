"""Was this database built by our legacy migrator? Read-only, before anything is written.

A ``migrations`` table alone proves nothing: the reference application's real
upstream migrator keeps one too, with the same name and its own numbering, so
trusting it would apply our migration 3 to *its* version 2 and record our
version in its history. A database is ours when all of this holds:

* its ``migrations`` table has our columns (``version``, ``migrated_at``) and
  records the versions our migrator writes: 0 (the bookkeeping row), then
  1, 2, ... one by one with no gap;
* its tables, and each table's columns, are exactly those our chain builds at
  the recorded version (replayed on a scratch in-memory database). A database
  with no ``migrations`` table is ours only when it has no tables at all.

Extra or missing tables or columns make it foreign: the migrator must not
guess what an unknown schema means. Indexes and triggers are not part of the
test: a difference there is drift, which ``shadow db parity`` reports.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass

from imagegen.db.legacy._chain import Migration
from shadow._exceptions import ConfigError

__all__ = ["ForeignDatabaseError", "Provenance", "provenance"]

_BOOKKEEPING_COLUMNS = frozenset({"version", "migrated_at"})
_NOT_SCHEMA = frozenset({"migrations", "alembic_version"})
"""Bookkeeping tables: the legacy migrator's own, and Alembic's once adopted."""

_SHOWN = 6
"""How many unknown names a reason lists before it says "and N more"."""


class ForeignDatabaseError(ConfigError):
    """The database was not built by this legacy migrator; nothing was migrated."""


@dataclass(frozen=True)
class Provenance:
    """What a database's history and schema say about who built it.

    ``version`` is the highest recorded version (None: no ``migrations``
    table); ``foreign`` lists why the database is not ours (empty when it is);
    ``latest`` is the chain's last version.
    """

    version: int | None
    latest: int
    foreign: tuple[str, ...] = ()

    @property
    def newer(self) -> bool:
        """Recorded at a version past the chain's end: not ours to migrate or judge."""
        return self.version is not None and self.version > self.latest

    @property
    def ours(self) -> bool:
        """Built by this chain, at or before its latest version."""
        return not self.foreign and not self.newer


def _names(names: set[str]) -> str:
    shown = sorted(names)[:_SHOWN]
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "")


def _schema(connection: sqlite3.Connection) -> dict[str, set[str]]:
    """Table -> column names (generated columns included), bookkeeping left out."""
    tables = [
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    schema = {}
    for table in tables:
        quoted = table.replace('"', '""')
        rows = connection.execute(f'PRAGMA table_xinfo("{quoted}")')
        schema[table.lower()] = {str(row[1]).lower() for row in rows}
    return schema


def _recorded_versions(connection: sqlite3.Connection) -> tuple[list[object], set[str]]:
    columns = {str(row[1]).lower() for row in connection.execute("PRAGMA table_xinfo(migrations)")}
    if "version" not in columns:
        return [], columns
    rows = connection.execute("SELECT version FROM migrations ORDER BY version").fetchall()
    return [row[0] for row in rows], columns


def _history_problems(versions: list[object], columns: set[str]) -> list[str]:
    """Why a ``migrations`` table is not one our migrator wrote; empty when it is."""
    if columns != _BOOKKEEPING_COLUMNS:
        return [
            f"its migrations table has columns ({', '.join(sorted(columns))}), "
            f"ours has ({', '.join(sorted(_BOOKKEEPING_COLUMNS))})"
        ]
    if not all(isinstance(version, int) for version in versions):
        return ["its migrations table records versions that are not whole numbers"]
    numbers = [version for version in versions if isinstance(version, int)]
    if numbers and numbers != list(range(numbers[-1] + 1)):
        shown = ", ".join(map(str, numbers[:10])) + (", ..." if len(numbers) > 10 else "")
        return [
            f"its migrations table records versions {shown}; ours records 0, 1, 2, ... "
            "one by one from 0"
        ]
    return []


def _expected_schema(chain: Mapping[int, Migration], version: int) -> dict[str, set[str]]:
    """The tables and columns our chain builds at ``version``, replayed in memory."""
    if version == 0:
        return {}
    scratch = sqlite3.connect(":memory:", isolation_level=None)
    try:
        cursor = scratch.cursor()
        cursor.execute("BEGIN")
        for step in range(1, version + 1):
            chain[step](cursor)
        cursor.execute("COMMIT")
        return _schema(scratch)
    finally:
        scratch.close()


def _schema_problems(actual: dict[str, set[str]], expected: dict[str, set[str]]) -> list[str]:
    problems = []
    if unknown := set(actual) - set(expected):
        problems.append(f"unknown tables: {_names(unknown)}")
    if missing := set(expected) - set(actual):
        problems.append(f"missing tables: {_names(missing)}")
    for table in sorted(set(actual) & set(expected)):
        if unknown := actual[table] - expected[table]:
            problems.append(f"unknown columns in {table}: {_names(unknown)}")
        if missing := expected[table] - actual[table]:
            problems.append(f"missing columns in {table}: {_names(missing)}")
    return problems


def provenance(connection: sqlite3.Connection, chain: Mapping[int, Migration]) -> Provenance:
    """Judge, reading only, whether ``chain``'s migrator built the database behind ``connection``.

    ``chain`` must be valid (see ``validate_chain``). Raises
    ``sqlite3.DatabaseError`` when the file is not a readable SQLite database.
    """
    latest = max(chain, default=0)
    schema = _schema(connection)
    tables = set(schema) - _NOT_SCHEMA
    if "migrations" not in schema:
        foreign = [f"it has no migrations table but has tables: {_names(tables)}"] if tables else []
        return Provenance(version=None, latest=latest, foreign=tuple(foreign))
    versions, columns = _recorded_versions(connection)
    version = max((v for v in versions if isinstance(v, int)), default=0)
    foreign = _history_problems(versions, columns)
    if not foreign and version <= latest:
        expected = _expected_schema(chain, version)
        differences = _schema_problems({name: schema[name] for name in tables}, expected)
        if differences:
            foreign = [f"its schema is not our version {version}: {'; '.join(differences)}"]
    return Provenance(version=version, latest=latest, foreign=tuple(foreign))
