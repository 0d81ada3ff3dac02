"""SQLModel implementations: the candidate layer, on SQLite, PostgreSQL and MariaDB."""
