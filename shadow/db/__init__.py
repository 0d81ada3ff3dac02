"""The databases layer: the legacy SQLite store, the SQLModel schema and its engines.

* ``shadow.db.legacy`` -- the raw-SQL side: one shared connection and its migrator;
* ``shadow.db.tables`` -- the SQLModel table models (``shadow.db.types`` holds the
  per-backend column types and expressions, ``shadow.db.triggers`` the triggers,
  ``shadow.db.seed`` the seed rows);
* ``shadow.db.engine`` -- the engine factory and schema builder for SQLite,
  PostgreSQL and MariaDB; ``shadow.db.migrate`` drives Alembic;
* ``shadow.db.parity`` -- compares the legacy-built schema with the Alembic-built one;
* ``shadow.db.backfill`` -- copies rows from one store to another;
* ``shadow.db.admin`` -- the operations behind ``shadow db``.
"""
