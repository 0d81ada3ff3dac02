"""How each side's implementations are built, in whichever process needs them.

Connections cannot cross processes, so the mirror side is built *in* the
worker from a :class:`SideFactory`: a ``"module:callable"`` string plus
picklable keyword arguments. The callable is invoked as
``callable(ids=..., clock=..., **kwargs)`` and returns a mapping from service
name to implementation; one call builds every service of one side, so they can
share a connection (the legacy layer shares one behind one lock).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shadow._exceptions import ConfigError
from shadow._sources import Clock, IdSource

__all__ = ["SideFactory"]

Builder = Callable[..., Mapping[str, Any]]


@dataclass(frozen=True)
class SideFactory:
    """Builds the implementations of one side, given the id source and clock to use.

    ``target`` is ``"module:callable"`` (required for the process worker) or,
    for in-process workers and tests, the callable itself.
    """

    target: str | Builder
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def portable(self) -> bool:
        """True when the factory can be sent to a worker process."""
        return isinstance(self.target, str)

    def resolve(self) -> Builder:
        """The callable named by ``target``; ConfigError when it cannot be imported."""
        if not isinstance(self.target, str):
            return self.target
        module_name, _, attribute = self.target.partition(":")
        if not module_name or not attribute:
            raise ConfigError(
                f"factory {self.target!r} is not of the form 'module:callable'",
                factory=self.target,
            )
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise ConfigError(
                f"factory {self.target!r}: cannot import {module_name!r} ({error})",
                factory=self.target,
            ) from None
        builder = getattr(module, attribute, None)
        if not callable(builder):
            raise ConfigError(
                f"factory {self.target!r}: {module_name} has no callable {attribute!r}",
                factory=self.target,
            )
        built: Builder = builder
        return built

    def build(self, *, ids: IdSource, clock: Clock) -> Mapping[str, Any]:
        """Build this side's implementations, by service name."""
        built = self.resolve()(ids=ids, clock=clock, **dict(self.kwargs))
        if not isinstance(built, Mapping):
            raise ConfigError(
                f"factory {self.target!r} must return a mapping of service name to "
                f"implementation, not {type(built).__name__}"
            )
        return built
