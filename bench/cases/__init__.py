"""Service benchmark cases, one module per service.

Each module defines ``cases(workdir: pathlib.Path) -> list[bench.harness.Case]``:
it builds identical data for both arms (usually with :func:`bench.harness.open_pair`
and the two implementations of its service, fed identically seeded id sources)
and returns zero-argument callables that run one hot method on that data.
:mod:`bench.services` discovers every module here and measures its cases.
"""
