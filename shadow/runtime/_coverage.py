"""Coverage as evidence: which lines and branches of the candidate compared calls ran.

A :class:`CoverageMeter` lives with the :class:`~shadow.runtime._worker.MirrorEngine`
(in the worker process, the worker thread, or inline for tests) and measures
with coverage.py, only while a mirrored call of the candidate runs: one
``coverage.Coverage`` per service, started and stopped around each call, so
the lines are attributed to the service whose call ran them and nothing else
in the process is traced. The caller's threads never pay for it.

What is measured for a service: the source files of its implementation
class (the class's own module, and the files defining the methods the class
inherits, except ``object``'s and the standard library's). What counts as
measurable: the statements inside function bodies (a ``def`` line or an
import runs when the module is imported, never under a call, so counting it
would make a share no traffic can reach) and the branches leaving those
statements. In the class's own module every function counts (its module-level
helpers are part of the implementation); in the other files only the inherited
methods the class actually resolves to.

:meth:`CoverageMeter.report` returns what is new since the last report (the
measurable sets once per file, then only newly executed lines and branches),
so after warm-up almost nothing crosses the pipe; the recorder merges it into
the divergence store (``shadow_coverage``), where runs and workers add up.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import coverage

__all__ = ["Branch", "CoverageMeter", "CoverageReport", "FileCoverage"]

Branch = tuple[int, int]
"""One branch as coverage.py records arcs: (from line, to line; negative = leaving the code)."""


@dataclass(frozen=True, slots=True)
class FileCoverage:
    """What is new about one source file of one service since the last report."""

    service: str
    path: str
    """Where the file sits in its package (``pkg/module.py``): the same on every machine."""
    source_hash: str
    """Of the file's text: measurements of another version of the file are not merged."""
    measurable_lines: frozenset[int] | None
    """Sent once per worker (None afterwards)."""
    measurable_branches: frozenset[Branch] | None
    lines: frozenset[int]
    """Measurable lines newly executed."""
    branches: frozenset[Branch]


@dataclass(frozen=True, slots=True)
class CoverageReport:
    """A worker's coverage news (picklable: it crosses the worker's pipe)."""

    files: tuple[FileCoverage, ...]


@dataclass(slots=True)
class _File:
    absolute: str
    path: str
    source_hash: str
    lines: frozenset[int]
    branches: frozenset[Branch]
    reported_lines: set[int] = field(default_factory=set)
    reported_branches: set[Branch] = field(default_factory=set)
    sent: bool = False


@dataclass(slots=True)
class _Service:
    measure: coverage.Coverage
    files: list[_File]
    ran: bool = False


def _display_path(module: str) -> str:
    found = sys.modules.get(module)
    suffix = "/__init__.py" if found is not None and hasattr(found, "__path__") else ".py"
    return module.replace(".", "/") + suffix


def _function_regions(tree: ast.AST, first_lines: set[int] | None, skip: set[int]) -> set[int]:
    """Lines inside function bodies: of the functions starting at ``first_lines`` if given,
    except those starting at ``skip``."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        if (first_lines is not None and start not in first_lines) or start in skip:
            continue
        lines.update(range(node.body[0].lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def _constructor(implementation: Any) -> tuple[str, int] | None:
    """(file, first line) of the implementation's ``__init__``: it runs when the side is
    built, never under a compared call, so it is not counted."""
    init = getattr(type(implementation).__init__, "__code__", None)
    return (os.path.realpath(init.co_filename), init.co_firstlineno) if init else None


def _implementation_files(implementation: Any) -> dict[str, tuple[str, set[int] | None]]:
    """``{absolute path: (module, first lines of the functions that count, or None = all)}``.

    Inherited methods count only from the implementation's own top-level
    package: a contract it subclasses or a base class of the application, not
    a library's or the standard library's code.
    """
    cls = type(implementation)
    package = cls.__module__.partition(".")[0]
    files: dict[str, tuple[str, set[int] | None]] = {}
    own = inspect.getsourcefile(cls)
    if own is not None:
        files[os.path.realpath(own)] = (cls.__module__, None)
    seen: set[str] = set()
    for owner in cls.__mro__:
        if owner is object:
            continue
        for name, value in vars(owner).items():
            if name in seen:
                continue
            seen.add(name)
            function = value.fget if isinstance(value, property) else value
            function = getattr(function, "__func__", function)
            if not inspect.isfunction(function):
                continue
            if function.__module__.partition(".")[0] != package:
                continue
            source = inspect.getsourcefile(function)
            if source is None or not source.endswith(".py"):
                continue
            _module, wanted = files.setdefault(
                os.path.realpath(source), (function.__module__, set())
            )
            if wanted is not None:
                wanted.add(function.__code__.co_firstlineno)
    return files


class CoverageMeter:
    """Measures the candidate's coverage per service, call by call (one thread at a time)."""

    def __init__(self) -> None:
        self._services: dict[str, _Service | None] = {}

    def _service(self, service: str, implementation: Any) -> _Service | None:
        if service in self._services:
            return self._services[service]
        import coverage  # noqa: PLC0415 -- only a worker with coverage on pays for the import

        found = _implementation_files(implementation)
        measure = coverage.Coverage(
            data_file=None, branch=True, include=list(found), config_file=False
        )
        constructor = _constructor(implementation)
        files = [
            _File(
                absolute,
                _display_path(module),
                *_measurable(
                    measure,
                    absolute,
                    wanted,
                    {constructor[1]} if constructor and constructor[0] == absolute else set(),
                ),
            )
            for absolute, (module, wanted) in sorted(found.items())
        ]
        files = [item for item in files if item.lines]
        built = _Service(measure, files) if files else None
        self._services[service] = built
        return built

    @contextmanager
    def measuring(self, service: str, implementation: Any) -> Iterator[None]:
        """Measure what runs inside the block as ``service``'s coverage."""
        meter = self._service(service, implementation)
        if meter is None:
            yield
            return
        meter.measure.start()
        try:
            yield
        finally:
            meter.measure.stop()
            meter.ran = True

    def report(self) -> CoverageReport | None:
        """What is new since the last report, or None when nothing is."""
        news: list[FileCoverage] = []
        for service, meter in self._services.items():
            if meter is None or not meter.ran:
                continue
            meter.ran = False
            data = meter.measure.get_data()
            for item in meter.files:
                lines = (set(data.lines(item.absolute) or ()) & item.lines) - item.reported_lines
                arcs = set(data.arcs(item.absolute) or ())
                branches = (arcs & item.branches) - item.reported_branches
                if not lines and not branches and item.sent:
                    continue
                news.append(
                    FileCoverage(
                        service=service,
                        path=item.path,
                        source_hash=item.source_hash,
                        measurable_lines=None if item.sent else item.lines,
                        measurable_branches=None if item.sent else item.branches,
                        lines=frozenset(lines),
                        branches=frozenset(branches),
                    )
                )
                item.sent = True
                item.reported_lines |= lines
                item.reported_branches |= branches
        return CoverageReport(tuple(news)) if news else None


def _measurable(
    measure: coverage.Coverage, absolute: str, wanted: set[int] | None, skip: set[int]
) -> tuple[str, frozenset[int], frozenset[Branch]]:
    """The file's hash, its measurable statements and its measurable branches."""
    from coverage.python import PythonFileReporter  # noqa: PLC0415 -- see CoverageMeter

    with open(absolute, "rb") as handle:
        source = handle.read()
    regions = _function_regions(ast.parse(source), wanted, skip)
    reporter = PythonFileReporter(absolute, coverage=measure)
    lines = frozenset(line for line in reporter.lines() if line in regions)
    exits = reporter.exit_counts()
    branches = frozenset(
        (start, end) for start, end in reporter.arcs() if start in lines and exits.get(start, 0) > 1
    )
    return hashlib.sha256(source).hexdigest()[:16], lines, branches
