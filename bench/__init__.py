"""Benchmarks: legacy raw ``sqlite3`` against the SQLModel layer, on the same data.

Run them with ``./dev bench`` (every benchmark module) or ``./dev bench NAME``
(one of them: ``services``, ``queue``, ``comparison``, ``overhead``, whichever
exist). :mod:`bench.harness` measures; :mod:`bench.services` runs the service
cases in :mod:`bench.cases`. Performance claims come from here, never from
timed unit tests.
"""
