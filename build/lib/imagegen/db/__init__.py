"""The databases layer: the legacy SQLite store, the SQLModel schema and its engines.

* ``imagegen.db.legacy`` -- the raw-SQL side: one shared connection and its migrator;
* ``imagegen.db.tables`` -- the SQLModel table models (``imagegen.db.types`` holds the
  per-backend column types and expressions, ``imagegen.db.triggers`` the triggers,
  ``imagegen.db.seed`` the seed rows);
* ``imagegen.db.engine`` -- the engine factory and schema builder for SQLite,
  PostgreSQL and MariaDB; ``imagegen.db.migrate`` drives Alembic;
* ``imagegen.db.parity`` -- compares the legacy-built schema with the Alembic-built one;
* ``imagegen.db.backfill`` -- copies rows from one store to another;
* ``imagegen.db.admin`` -- the operations behind ``shadow db``.
"""
