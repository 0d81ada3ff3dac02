"""What exploration runs against: a :class:`Target` hands out fresh pairs of sides.

Every example (one generated call sequence) starts from the same state on
both sides, so a target's :meth:`Target.sides` builds a new legacy and a new
candidate side over copies of one template state, each time. A target also
names its contracts and the values known to exist in the template (the
starting pools), and says how to rebuild itself (:meth:`Target.describe`) so
an exported reproduction can run in a plain pytest process.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from shadow._exceptions import ConfigError
from shadow.runtime import SideFactory

__all__ = ["Target", "load_target"]


class Target(ABC):
    """A system under exploration: its contracts and fresh sides with one starting state."""

    @property
    @abstractmethod
    def contracts(self) -> Mapping[str, type]:
        """The contract class of each service, by service name."""

    @abstractmethod
    def sides(self) -> AbstractContextManager[tuple[SideFactory, SideFactory]]:
        """A context giving ``(legacy, candidate)`` factories over fresh copies of the state.

        The copies may be discarded when the context exits.
        """

    def initial_pools(self) -> Mapping[str, Sequence[Any]]:
        """Values that exist in the starting state, by pool name (ids, emails, ...)."""
        return {}

    def describe(self) -> Mapping[str, Any]:
        """``{"factory": "module:callable", "kwargs": {...}}`` rebuilding this target.

        The default says the target cannot be rebuilt; exported reproductions
        then need editing before they run.
        """
        return {"factory": None, "kwargs": {}}

    def close(self) -> None:  # noqa: B027 - optional hook, most targets hold nothing
        """Release what the target holds (template stores)."""

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def load_target(description: Mapping[str, Any]) -> Target:
    """Rebuild a target from what :meth:`Target.describe` returned."""
    path = description.get("factory")
    if not isinstance(path, str) or ":" not in path:
        raise ConfigError(f"the reproduction names no target factory (got {path!r})")
    module_name, _, attribute = path.partition(":")
    try:
        found: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as error:
        raise ConfigError(f"cannot load target factory {path!r}: {error}") from None
    target = found(**dict(description.get("kwargs") or {}))
    if not isinstance(target, Target):
        raise ConfigError(f"{path!r} did not return a shadow.explore.Target")
    return target
