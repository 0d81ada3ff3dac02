"""The legacy migrator: applies the numbered raw-SQL chain, one transaction each.

Bookkeeping lives in the ``migrations`` table (``version``, ``migrated_at``),
created with a version-0 row the first time. Each pending migration runs in
its own transaction and is recorded in the same transaction, so a failed step
leaves the database at the previous version. Before the first pending step on
a file database, the migrator copies the file with SQLite's online backup API
(``<name>.backup-v<N>``), the way the legacy app protected its users' data.

Before writing anything it checks the database is its own
(:mod:`imagegen.db.legacy._provenance`): a foreign ``migrations`` table, or
tables and columns this chain never built, are refused with
:class:`ForeignDatabaseError`, and a version past the chain's end with
:class:`MigrationChainError`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path

from imagegen.db.legacy._chain import CHAIN, Migration
from imagegen.db.legacy._connection import LegacyDatabase, open_read_only
from imagegen.db.legacy._provenance import ForeignDatabaseError, Provenance, provenance
from shadow._exceptions import ConfigError

__all__ = [
    "LATEST_VERSION",
    "ForeignDatabaseError",
    "MigrationChainError",
    "check_file",
    "current_version",
    "migrate",
    "open_legacy",
    "require_ours",
    "validate_chain",
]


class MigrationChainError(ConfigError):
    """The migration chain is broken: a gap, a duplicate, or an unknown stored version."""


def validate_chain(chain: Mapping[int, Migration]) -> int:
    """Check the chain is numbered 1..N with no gap and no migration used twice; return N."""
    versions = sorted(chain)
    expected = list(range(1, len(versions) + 1))
    if versions != expected:
        missing = sorted(set(range(1, max(versions, default=0) + 1)) - set(versions))
        raise MigrationChainError(
            f"legacy migration chain has a gap: versions {versions}, missing {missing}",
            versions=versions,
        )
    seen: dict[int, int] = {}
    for version in versions:
        identity = id(chain[version])
        if identity in seen:
            raise MigrationChainError(
                f"legacy migration chain has a duplicate: versions {seen[identity]} and "
                f"{version} are the same migration",
                versions=versions,
            )
        seen[identity] = version
    return len(versions)


LATEST_VERSION = validate_chain(CHAIN)
"""The version a fully migrated legacy database is at."""

_BOOKKEEPING = """CREATE TABLE IF NOT EXISTS migrations (
    version INTEGER NOT NULL,
    migrated_at DATETIME NOT NULL DEFAULT (STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW')),
    CONSTRAINT pk_migrations PRIMARY KEY (version)
)"""


def current_version(connection: sqlite3.Connection) -> int | None:
    """The highest recorded version, or None when the bookkeeping table does not exist."""
    exists = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'migrations'"
    ).fetchone()
    if exists is None:
        return None
    row = connection.execute("SELECT MAX(version) FROM migrations").fetchone()
    return None if row[0] is None else int(row[0])


def require_ours(found: Provenance, path: str | Path) -> None:
    """Raise unless ``found`` says this chain's migrator built the database at ``path``.

    :class:`ForeignDatabaseError` names what is unknown; :class:`MigrationChainError`
    a version past the chain's end. Both say what to do instead.
    """
    if found.foreign:
        raise ForeignDatabaseError(
            f"{path} was not built by this legacy migrator: {'; '.join(found.foreign)}. "
            "Refusing to migrate it (nothing was written): init-legacy only creates or "
            "upgrades its own databases, so give it a new file, or keep this database "
            "with the application that built it",
            foreign=list(found.foreign),
        )
    if found.newer:
        raise MigrationChainError(
            f"legacy database {path} is at version {found.version}, newer than this "
            f"chain's latest ({found.latest}). Refusing to migrate it (nothing was written): "
            "this migrator cannot downgrade, so use it with the application that migrated "
            "it, or create a new one with `shadow db init-legacy NEW_FILE`",
            version=found.version,
            latest=found.latest,
        )


def migrate(db: LegacyDatabase, chain: Mapping[int, Migration] = CHAIN) -> list[int]:
    """Run the pending migrations of ``chain`` on ``db``; return the versions applied.

    Refuses, before writing anything, a database this chain did not build
    (see :func:`require_ours`).
    """
    latest = validate_chain(chain)
    with db.lock:
        require_ours(provenance(db.connection, chain), db.path)
        with db.transaction() as cursor:
            cursor.execute(_BOOKKEEPING)
            cursor.execute("INSERT OR IGNORE INTO migrations (version) VALUES (0)")
        version = current_version(db.connection) or 0
        pending = list(range(version + 1, latest + 1))
        if pending and db.path != ":memory:" and not db.path.startswith("file:"):
            _backup(db, version)
        for step in pending:
            with db.transaction() as cursor:
                chain[step](cursor)
                cursor.execute("INSERT INTO migrations (version) VALUES (?)", (step,))
        return pending


def _is_file(path: str | Path) -> bool:
    name = str(path)
    return name != ":memory:" and not name.startswith("file:") and Path(name).is_file()


def _backup(db: LegacyDatabase, version: int) -> Path:
    """Copy the database file with the online backup API before it is migrated."""
    target = Path(f"{db.path}.backup-v{version}")
    destination = sqlite3.connect(target)
    try:
        db.connection.backup(destination)
    finally:
        destination.close()
    return target


def check_file(path: str | Path, chain: Mapping[int, Migration] = CHAIN) -> Provenance:
    """Judge the existing database file at ``path`` through a read-only connection.

    Raises as :func:`require_ours` does, before anything (even the journal
    mode) is written; ``sqlite3.DatabaseError`` when the file is not SQLite.
    Returns the provenance of a database that is ours.
    """
    validate_chain(chain)
    connection = open_read_only(path)
    try:
        found = provenance(connection, chain)
    finally:
        connection.close()
    require_ours(found, path)
    return found


def open_legacy(path: str | Path) -> LegacyDatabase:
    """Open (creating if needed) a legacy database and bring it to :data:`LATEST_VERSION`.

    An existing file is judged read-only first (:func:`check_file`), so a
    foreign database is refused without being touched.
    """
    if _is_file(path):
        check_file(path)
    db = LegacyDatabase(path)
    try:
        migrate(db)
    except BaseException:
        db.close()
        raise
    return db
