"""The legacy layer's database: one shared sqlite3 connection and its migrator."""

from __future__ import annotations

from imagegen.db.legacy._connection import LegacyDatabase
from imagegen.db.legacy._migrator import (
    LATEST_VERSION,
    MigrationChainError,
    current_version,
    migrate,
    open_legacy,
    validate_chain,
)

__all__ = [
    "LATEST_VERSION",
    "LegacyDatabase",
    "MigrationChainError",
    "current_version",
    "migrate",
    "open_legacy",
    "validate_chain",
]
