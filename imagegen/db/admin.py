"""The operations behind ``shadow db``: plain functions the CLI calls.

Each takes plain values (paths, URLs), does one thing, and returns what the
CLI prints. Unusable input (a missing file, a malformed URL, an unreachable
server, a file that is not a SQLite database) raises
:class:`~shadow.ConfigError`; a refusal or a finding is a return value.
"""

from __future__ import annotations

import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from imagegen.db import migrate
from imagegen.db.engine import connectable, create_engine, create_schema
from imagegen.db.legacy import LATEST_VERSION, LegacyDatabase, Provenance, check_file, provenance
from imagegen.db.legacy import migrate as migrate_legacy
from imagegen.db.legacy._chain import CHAIN
from imagegen.db.parity import compare, describe, parity, read_only_sqlite
from shadow._exceptions import ConfigError

__all__ = ["AdoptResult", "adopt", "check", "init_legacy", "parity", "upgrade"]


def init_legacy(path: str | Path) -> list[int]:
    """Create or migrate the legacy database at ``path``; return the versions applied.

    An existing file is judged read-only first: a database this legacy chain
    did not build (a foreign ``migrations`` history, unknown tables or
    columns) or one at a newer version is refused with a
    :class:`~shadow.ConfigError` saying what is unknown, and nothing is written.
    """
    file = Path(path)
    if not file.parent.is_dir():
        raise ConfigError(f"directory does not exist: {file.parent}")
    if file.is_dir():
        raise ConfigError(f"{file} is a directory, not a database file")
    try:
        if file.exists():
            check_file(file)
        db = LegacyDatabase(file)
        try:
            return migrate_legacy(db)
        finally:
            db.close()
    except sqlite3.DatabaseError as error:
        raise ConfigError(f"{file} is not a usable SQLite database: {error}") from None


def upgrade(url: str) -> str:
    """Bring the database at ``url`` to the head revision; return the revision."""
    with connectable(url, must_exist=False) as engine:
        migrate.upgrade(engine)
    return migrate.head_revision()


def check(url: str) -> list[str]:
    """Drift of the database at ``url`` from head: empty when there is none."""
    with connectable(url) as engine:
        return migrate.drift(engine)


@dataclass
class AdoptResult:
    """The outcome of :func:`adopt`: stamped or not, and why."""

    adopted: bool
    revision: str | None = None
    reasons: list[str] = field(default_factory=list)


def adopt(path: str | Path) -> AdoptResult:
    """Bring an existing legacy database under Alembic by stamping the baseline.

    Only after the drift gate passes: the legacy migrator's version must be
    the chain's final one, and the schema must match both an Alembic-built
    schema (:mod:`imagegen.db.parity`) and the models (Alembic's comparison).
    A refusal writes nothing.
    """
    legacy = read_only_sqlite(path)
    try:
        reasons = _adopt_gate(path, legacy)
        if reasons:
            return AdoptResult(adopted=False, reasons=reasons)
        with legacy.connect() as connection:
            already = migrate.current_revision(connection)
    finally:
        legacy.dispose()
    head = migrate.head_revision()
    if already == head:
        return AdoptResult(adopted=True, revision=head, reasons=["already stamped at head"])
    if already is not None:
        return AdoptResult(
            adopted=False, reasons=[f"already stamped with revision {already}, head is {head}"]
        )
    engine = create_engine(f"sqlite:///{Path(path)}")
    try:
        migrate.stamp(engine, head)
    finally:
        engine.dispose()
    return AdoptResult(adopted=True, revision=head)


def _provenance(path: str | Path, legacy: sa.Engine) -> Provenance:
    """Who built the database (see ``imagegen.db.legacy.provenance``), read-only."""
    try:
        with legacy.connect() as connection:
            raw = connection.connection.driver_connection
            assert isinstance(raw, sqlite3.Connection)
            return provenance(raw, CHAIN)
    except (sa.exc.DatabaseError, sqlite3.DatabaseError) as error:
        reason = getattr(error, "orig", None) or error
        raise ConfigError(f"{path} is not a usable SQLite database: {reason}") from None


def _version_refusal(path: str | Path, found: Provenance) -> str | None:
    """Why adopt cannot take this database's legacy version, and what to do; None if it can.

    The advice must work when followed: only a database of our own chain at an
    older version is sent to ``init-legacy``, which refuses the others.
    """
    if found.foreign:
        return (
            f"{path} was not built by this legacy migrator: {'; '.join(found.foreign)}; "
            "adopt and init-legacy only handle databases this migrator built, so this one "
            "cannot be adopted (keep it with the application that built it)"
        )
    if found.newer:
        return (
            f"legacy version is {found.version}, newer than this chain's latest "
            f"({found.latest}); adopt needs version {LATEST_VERSION} and init-legacy cannot "
            "downgrade, so this database cannot be adopted"
        )
    if found.version != LATEST_VERSION:
        shown = found.version if found.version is not None else "none"
        return (
            f"legacy version is {shown}, adopt needs version {LATEST_VERSION}: "
            f"run `shadow db init-legacy {path}` first"
        )
    return None


def _adopt_gate(path: str | Path, legacy: sa.Engine) -> list[str]:
    refusal = _version_refusal(path, _provenance(path, legacy))
    if refusal is not None:
        return [refusal]
    with tempfile.TemporaryDirectory(prefix="shadow-adopt-") as scratch:
        reference = create_engine(f"sqlite:///{Path(scratch) / 'reference.db'}")
        try:
            create_schema(reference)
            reasons = compare(describe(legacy), describe(reference))
        finally:
            reference.dispose()
    reasons += migrate.schema_differences(legacy)
    return reasons
