"""The model_relationships service: undirected links between two models.

Behaviour both implementations share (docs/reference-app.md, plus the choices
written here where it is silent):

* A relationship is stored once, as the pair sorted by code point, so
  ``(a, b)`` and ``(b, a)`` are the same relationship and lookups work from
  either end. Relating a model to itself (or removing such a relationship) is a
  :class:`~imagegen.services.errors.RuleViolationError` (rule ``self_relationship``);
  adding an existing relationship changes nothing.
* Both keys must name registered models: otherwise
  :class:`~imagegen.services.errors.NotFoundError` naming the first missing key
  (in argument order). Removing a relationship that does not exist is silent.
  Deleting a model removes its relationships (foreign-key cascade).
* ``get_related_model_keys`` and ``get_related_model_keys_batch`` return
  deduplicated keys sorted by code point (docs/reference-app.md leaves the order open; a
  sorted list is the same on every backend). The batch variant returns every key
  related to any of the given keys, and may include given keys that are related
  to each other.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from imagegen.services.errors import RuleViolationError
from shadow._contract import read, write
from shadow._inputs import Arg, explore_inputs

__all__ = ["ModelRelationshipsService", "sorted_pair"]


def sorted_pair(model_key_1: str, model_key_2: str) -> tuple[str, str]:
    """The stored form of a relationship; refuses a model related to itself."""
    if model_key_1 == model_key_2:
        raise RuleViolationError("self_relationship", "a model cannot be related to itself")
    return (model_key_1, model_key_2) if model_key_1 < model_key_2 else (model_key_2, model_key_1)


@explore_inputs(
    model_key=Arg(pool="model_key", harvest=("key",), examples=("never-existed-model", "")),
    model_key_1=Arg(pool="model_key", harvest=("key",), examples=("never-existed-model",)),
    model_key_2=Arg(pool="model_key", harvest=("key",), examples=("never-existed-model",)),
    model_keys=Arg(pool="model_key", harvest=("key",), examples=("never-existed-model",)),
)
class ModelRelationshipsService(ABC):
    """Links between models (see the module docstring for the rules)."""

    @write()
    @abstractmethod
    def add_model_relationship(self, model_key_1: str, model_key_2: str) -> None:
        """Relate two models (idempotent); refuses equal keys and unknown models."""

    @write()
    @abstractmethod
    def remove_model_relationship(self, model_key_1: str, model_key_2: str) -> None:
        """Remove the relationship between two models; silent when there is none."""

    @read()
    @abstractmethod
    def get_related_model_keys(self, model_key: str) -> list[str]:
        """Keys of the models related to ``model_key``, sorted."""

    @read()
    @abstractmethod
    def get_related_model_keys_batch(self, model_keys: Sequence[str]) -> list[str]:
        """Keys of the models related to any of ``model_keys``, deduplicated and sorted."""
