"""The databases layer: the legacy SQLite store, the SQLModel schema and its engines.

``shadow.db.legacy`` holds the raw-SQL side (connection and migrator);
``shadow.db.tables`` the SQLModel table models; ``shadow.db.engine`` the engine
factory and schema builder for SQLite, PostgreSQL and MariaDB.
"""
