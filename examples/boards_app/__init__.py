"""A small board-keeping application, written without shadow in mind (docs/adopting.md).

Its storage layer is an abstract base class, :class:`~boards_app.storage.BoardRecordStorageBase`,
with two implementations: the raw-sqlite3 one it runs on today
(:mod:`boards_app.sqlite_storage`) and a SQLModel port (:mod:`boards_app.orm_storage`).
It draws its own ids (``uuid.uuid4()`` in a pydantic ``default_factory``), lets the
database stamp ``created_at``/``updated_at``, and writes at start-up
(:func:`boards_app.app.start_up`). :mod:`boards_app.shadowing` is all the glue that
puts shadow in front of it.
"""
