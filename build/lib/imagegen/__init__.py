"""The reference application: the persistence layer of an image-generation server.

It is shadow's first user and its demo, kept apart from the generic tool:

* ``imagegen.db`` -- the legacy SQLite store and its migrator, the SQLModel
  tables, engines for SQLite, PostgreSQL and MariaDB, Alembic, schema parity;
* ``imagegen.services`` -- 11 services: a contract each, a legacy raw-``sqlite3``
  implementation and a SQLAlchemy Core implementation over the SQLModel tables;
* ``imagegen.demo`` -- the services wired to the runtime, realistic traffic and
  ``shadow demo``;
* ``imagegen.cutover`` -- its phase plan, contracts and demo gate policy;
* ``imagegen.cli`` -- the ``shadow`` command with ``db`` and ``demo`` added.

Layers import one way (cli, demo, services, db) and only ever import
``shadow``, never the reverse. The domain is described in docs/reference-app.md.
"""
