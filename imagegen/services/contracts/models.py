"""The models service: the registry of installed models and their configs.

A model is stored as one JSON config; the database derives the searchable
columns (hash, base, type, path, format, name, ...) from it, so only ``id``
(the config's ``key``) and ``config`` are ever written.

Behaviour both implementations share (docs/reference-app.md, plus the choices
written here where it is silent):

* A config has at least the fields of :class:`ModelConfig`; any further fields
  (a model type's own settings) are kept and returned as they were given.
* ``add_model`` raises :class:`~imagegen.services.errors.DuplicateError` with
  ``field="key"`` when the key is taken, else ``field="path"`` when another
  model has the path. ``replace_model`` and ``update_model`` raise it with
  ``field="path"`` when the new path belongs to another model.
* ``get_model``, ``get_model_by_hash``, ``del_model``, ``replace_model`` and
  ``update_model`` raise :class:`~imagegen.services.errors.NotFoundError` for an
  unknown key (or hash). ``replace_model`` refuses a config whose key differs
  from the addressed one, and ``update_model`` refuses to change the key
  (:class:`~imagegen.services.errors.RuleViolationError`, rule ``key_mismatch``)
  or to leave an invalid config, e.g. a required field set to ``None`` (rule
  ``invalid_config``).
* When several models share a hash, ``get_model_by_hash`` returns the one with
  the smallest key.
* Lists are totally ordered: by the requested ``order_by`` (``default`` is
  type, base, case-insensitive name, format), then by key, all in
  ``direction``. Text is ordered by code point and case-insensitivity is
  ASCII-only on every backend, so the order is the same everywhere.
  ``search_by_attr`` filters by exact values; ``list_models`` pages from 0 and
  ``per_page=None`` returns every model in one page.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from typing import Any

from pydantic import ConfigDict, ValidationError

from imagegen.services.contracts.edges import NAMES, PAGE, PER_PAGE
from imagegen.services.contracts.pages import Page, Record
from imagegen.services.errors import RuleViolationError
from shadow._contract import read, write
from shadow._inputs import Arg, explore_inputs

__all__ = [
    "ModelChanges",
    "ModelConfig",
    "ModelOrderBy",
    "ModelsService",
    "OrderDirection",
    "apply_model_changes",
]


class ModelOrderBy(enum.StrEnum):
    """What model lists are ordered by (the key always breaks ties)."""

    DEFAULT = "default"
    TYPE = "type"
    BASE = "base"
    NAME = "name"
    FORMAT = "format"
    SIZE = "size"
    PATH = "path"


class OrderDirection(enum.StrEnum):
    """Direction of a model list's ordering."""

    ASC = "asc"
    DESC = "desc"


class ModelConfig(Record):
    """A model's config; further fields beyond these are kept as given."""

    model_config = ConfigDict(frozen=True, extra="allow")

    key: str
    hash: str
    base: str
    type: str
    path: str
    format: str
    name: str
    source: str
    source_type: str
    description: str | None = None
    source_api_response: str | None = None
    trigger_phrases: list[str] | None = None
    file_size: int


class ModelChanges(Record):
    """Fields ``update_model`` changes: those set (even to ``None``) replace the old ones.

    Extra fields are allowed and merged into the config like the named ones.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    hash: str | None = None
    base: str | None = None
    type: str | None = None
    path: str | None = None
    format: str | None = None
    name: str | None = None
    source: str | None = None
    source_type: str | None = None
    description: str | None = None
    source_api_response: str | None = None
    trigger_phrases: list[str] | None = None
    file_size: int | None = None


def apply_model_changes(config: ModelConfig, changes: ModelChanges) -> ModelConfig:
    """Return ``config`` with the set fields of ``changes`` applied (validated again).

    Refuses a change of ``key`` (it would move the row) and a result that is
    not a valid config (a required field cleared), both as
    :class:`~imagegen.services.errors.RuleViolationError`.
    """
    updates: dict[str, Any] = changes.model_dump(exclude_unset=True)
    if "key" in updates and updates["key"] != config.key:
        raise RuleViolationError("key_mismatch", "a model's key cannot be changed")
    try:
        return ModelConfig.model_validate({**config.model_dump(), **updates})
    except ValidationError as error:
        fields = sorted({".".join(map(str, item["loc"])) for item in error.errors()})
        raise RuleViolationError(
            "invalid_config", f"the changes leave an invalid config: {', '.join(fields)}"
        ) from None


@explore_inputs(
    key=Arg(pool="model_key", harvest=("key",), examples=("never-existed-model", "")),
    hash=Arg(pool="model_hash", harvest=("hash",), examples=("never-existed-hash", "")),
    path=Arg(pool="model_path", harvest=("path",), examples=("/models/none", "")),
    name=Arg(examples=NAMES),
    model_name=Arg(examples=(None, "Model 1", "model 1", "%", "_", "")),
    base=Arg(examples=(None, "sd-1", "sdxl", "SDXL", "flux")),
    type=Arg(examples=(None, "main", "lora", "LORA", "vae")),
    format=Arg(examples=(None, "checkpoint", "diffusers", "")),
    file_size=Arg(examples=(0, 1, -1, 2**31, 2**53)),
    page=PAGE,
    per_page=PER_PAGE,
)
class ModelsService(ABC):
    """The model registry (see the module docstring for the rules)."""

    @write()
    @abstractmethod
    def add_model(self, config: ModelConfig) -> ModelConfig:
        """Register a model; DuplicateError naming ``key`` or ``path`` when taken."""

    @write()
    @abstractmethod
    def del_model(self, key: str) -> None:
        """Remove a model (cascading its relationships); NotFoundError when unknown."""

    @write()
    @abstractmethod
    def replace_model(self, key: str, config: ModelConfig) -> ModelConfig:
        """Replace a model's whole config; NotFoundError when unknown."""

    @write()
    @abstractmethod
    def update_model(self, key: str, changes: ModelChanges) -> ModelConfig:
        """Merge ``changes`` into a model's config; NotFoundError when unknown."""

    @read()
    @abstractmethod
    def get_model(self, key: str) -> ModelConfig:
        """Return a model's config; NotFoundError when unknown."""

    @read()
    @abstractmethod
    def get_model_by_hash(self, hash: str) -> ModelConfig:
        """Return the model with this hash (smallest key if several); NotFoundError if none."""

    @read()
    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether a model with this key is registered."""

    @read(key=("key",))
    @abstractmethod
    def search_by_attr(
        self,
        model_name: str | None = None,
        base: str | None = None,
        type: str | None = None,
        format: str | None = None,
        *,
        order_by: ModelOrderBy = ModelOrderBy.DEFAULT,
        direction: OrderDirection = OrderDirection.ASC,
    ) -> list[ModelConfig]:
        """Models whose given attributes equal the given values, in the requested order."""

    @read(key=("key",))
    @abstractmethod
    def search_by_path(self, path: str) -> list[ModelConfig]:
        """The model at this path, as a list of zero or one."""

    @read(key=("key",))
    @abstractmethod
    def search_by_hash(self, hash: str) -> list[ModelConfig]:
        """Every model with this hash, in default order."""

    @read(key=("key",))
    @abstractmethod
    def all_models(self) -> list[ModelConfig]:
        """Every model, in default order."""

    @read(rows="items", key=("key",))
    @abstractmethod
    def list_models(
        self,
        page: int = 0,
        per_page: int | None = 10,
        order_by: ModelOrderBy = ModelOrderBy.DEFAULT,
        direction: OrderDirection = OrderDirection.ASC,
    ) -> Page[ModelConfig]:
        """Page ``page`` (from 0) of every model in the requested order."""
