"""Legacy implementations: hand-written SQL over the shared ``sqlite3`` connection."""
