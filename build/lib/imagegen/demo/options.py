"""The options of ``shadow demo``, apart from the run so the command line loads them cheaply."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shadow._exceptions import ConfigError
from shadow._vocabulary import Mode, WorkerKind

__all__ = ["DemoOptions"]


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
    """API requests per second over all threads (None: as fast as they go)."""

    def validate(self) -> None:
        """Raise ConfigError for options that cannot work together."""
        if self.ops < 0 or self.threads < 1 or self.queue_workers < 1:
            raise ConfigError("--ops must be >= 0, --threads and --queue-workers >= 1")
        if self.aa and (self.candidate_url or self.candidate_factory):
            raise ConfigError("--aa runs legacy on both sides: it takes no candidate options")
        if self.rate is not None and self.rate <= 0:
            raise ConfigError("the request rate must be positive")
        if self.candidate_url is not None:
            from imagegen.db.engine import parse_url  # noqa: PLC0415 -- SQLAlchemy only when used

            parse_url(self.candidate_url)
