"""The reference application's services: contracts and two implementations each.

``contracts`` holds one abstract base class per service (its methods declared
read or write with their comparison spec) and the pydantic records it returns;
``legacy`` implements them with raw ``sqlite3`` SQL over the legacy connection;
``core`` implements them with SQLModel and SQLAlchemy Core, on SQLite,
PostgreSQL and MariaDB. Both implementations take their ids and Python-side
times from injected sources (``ids=``, ``clock=``), so the runtime can replay
the same values into both.
"""
