"""The options of ``shadow demo``, apart from the run so the command line loads them cheaply."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shadow._exceptions import ConfigError
from shadow._vocabulary import Mode, WorkerKind

__all__ = ["DEMO_EXPLORE_SECONDS", "DemoOptions"]

DEMO_EXPLORE_SECONDS = 8.0
"""The default command's exploration budget: small enough for the demo's one minute."""


@dataclass(frozen=True)
class DemoOptions:
    """How to run the demo. The defaults are the README's ``shadow demo``."""

    ops: int = 3000
    seed: int = 1
    threads: int = 4
    queue_workers: int = 1
    workdir: Path = Path("shadow-work")
    mode: Mode = Mode.SHADOW
    candidate_url: str | None = None
    candidate_factory: str | None = None
    aa: bool = False
    metrics_port: int | None = None
    worker: WorkerKind = WorkerKind.PROCESS
    rate: float | None = None
    """API requests per second over all threads (None: as fast as they go).

    Evenly spaced: thread ``i`` of ``n`` takes every ``n``-th slot of one shared
    schedule, offset by ``i / rate``, so requests arrive one at a time rather
    than in bursts of ``n`` (see :func:`imagegen.demo.run.paced_slots`)."""
    explore_seconds: float = 0.0
    """Budget of the differential exploration run after the traffic (0: none; not with --aa).

    The ``shadow demo`` command explores for :data:`DEMO_EXPLORE_SECONDS` by
    default; the Python API does not, so benchmarks measure traffic alone."""
    coverage: bool = True
    """Measure the candidate's coverage under compared calls (the runtime's ``coverage``)."""
    legacy_template: Path | None = None
    """A legacy SQLite file (``shadow db seed --legacy``) the legacy store starts as a copy of
    (the candidate then starts as a copy of that, as always); None: a fresh empty store."""
    candidate_template: Path | None = None
    """A SQLModel SQLite file seeded with the same rows as ``legacy_template`` (``shadow db
    seed`` with the same sizes: its rows are deterministic) the SQLite candidate starts as a
    copy of, instead of the legacy rows copied into it (minutes at production scale)."""
    tour: bool = True
    """Call every declared method once before the traffic (:func:`imagegen.demo.traffic.tour`;
    the gate needs each one seen). Benchmarks on a seeded store turn it off: its bulk calls
    (``delete_intermediates``, ``prune``, the unboarded images' names) are maintenance, not
    requests, take minutes at production scale and would empty the seeded intermediates
    and queue before the traffic runs."""
    read_sample_rate: float = 1.0
    """Share of each service's reads mirrored (the demo compares every one by default)."""
    runtime_settings: Mapping[str, Any] = field(default_factory=dict)
    """More runtime settings for the demo's config file (``queue_size``, ``batch_size``, ...:
    any :class:`shadow.runtime.ShadowSettings` field); benchmarks use it to change one lever."""

    def validate(self) -> None:
        """Raise ConfigError for options that cannot work together."""
        if self.ops < 0 or self.threads < 1 or self.queue_workers < 1:
            raise ConfigError("--ops must be >= 0, --threads and --queue-workers >= 1")
        if self.aa and (self.candidate_url or self.candidate_factory):
            raise ConfigError("--aa runs legacy on both sides: it takes no candidate options")
        if self.rate is not None and self.rate <= 0:
            raise ConfigError("the request rate must be positive")
        if self.explore_seconds < 0:
            raise ConfigError("the exploration budget must not be negative")
        if not 0.0 <= self.read_sample_rate <= 1.0:
            raise ConfigError("the read sample rate must be between 0 and 1")
        if self.candidate_url is not None:
            from imagegen.db.engine import parse_url  # noqa: PLC0415 -- SQLAlchemy only when used

            parse_url(self.candidate_url)
        if self.metrics_port is not None:
            _check_port(self.metrics_port)
        _check_workdir(self.workdir)
        if self.legacy_template is not None and not self.legacy_template.is_file():
            raise ConfigError(f"no such legacy template file: {self.legacy_template}")
        if self.candidate_template is not None:
            if self.legacy_template is None or self.candidate_url or self.aa:
                raise ConfigError(
                    "a candidate template goes with a legacy template and a SQLite candidate"
                )
            if not self.candidate_template.is_file():
                raise ConfigError(f"no such candidate template file: {self.candidate_template}")
        if self.candidate_factory is not None:
            from shadow.cutover.contracts import load_object  # noqa: PLC0415 -- only when used

            factory = load_object(self.candidate_factory)
            if not callable(factory):
                raise ConfigError(f"--candidate-factory {self.candidate_factory!r} is not callable")
        # The runtime reads SHADOW_* variables too: a malformed one must fail here, first.
        from shadow.runtime import validate_settings_text  # noqa: PLC0415 -- pydantic when run

        validate_settings_text("", source="the environment")


_SYSTEM_TREES = (Path("/proc"), Path("/sys"), Path("/dev"))


def _check_port(port: int) -> None:
    if not 0 <= port <= 65535:
        raise ConfigError(f"--metrics-port {port} is not a port (0 for any free one, ..65535)")
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise ConfigError(f"--metrics-port {port}: {error.strerror}") from None


def _check_workdir(workdir: Path) -> None:
    """A directory we may create files in (it is created later, if missing)."""
    resolved = workdir.resolve()
    if any(resolved.is_relative_to(tree) for tree in _SYSTEM_TREES):
        raise ConfigError(f"--workdir {workdir} is in a system tree, not a place for files")
    existing = resolved
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"--workdir {workdir}: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"--workdir {workdir}: {existing} is not writable")
