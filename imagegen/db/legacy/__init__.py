"""The legacy layer's database: one shared sqlite3 connection and its migrator."""

from __future__ import annotations

from imagegen.db.legacy._connection import LegacyDatabase, open_read_only
from imagegen.db.legacy._migrator import (
    LATEST_VERSION,
    ForeignDatabaseError,
    MigrationChainError,
    check_file,
    current_version,
    migrate,
    open_legacy,
    require_ours,
    validate_chain,
)
from imagegen.db.legacy._provenance import Provenance, provenance

__all__ = [
    "LATEST_VERSION",
    "ForeignDatabaseError",
    "LegacyDatabase",
    "MigrationChainError",
    "Provenance",
    "check_file",
    "current_version",
    "migrate",
    "open_legacy",
    "open_read_only",
    "provenance",
    "require_ours",
    "validate_chain",
]
