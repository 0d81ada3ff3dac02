"""The style_presets service: named prompt presets, user-made or shipped defaults.

Behaviour both implementations share (docs/reference-app.md, plus the choices
written here where it is silent):

* ``get`` and ``update`` raise :class:`~imagegen.services.errors.NotFoundError`
  for a missing id; ``delete`` is silent for one.
* ``create`` draws the id from the id source and returns the stored row;
  ``create_many`` creates each preset in the given order (ids drawn in that
  order) in one transaction and returns the stored rows in that order.
* ``update`` changes only the fields of :class:`StylePresetChanges` that are
  not ``None``; an update with no change still refreshes ``updated_at``.
* ``get_many``: an admin sees every preset; anyone else sees presets of type
  ``default``, public ones, and their own (``user_id``; with no ``user_id``
  only the first two). ``type`` narrows further. Order: ``LOWER(name)`` with
  ASCII-only case folding (what SQLite's ``lower()`` does); both
  implementations break ties by ``id``, but the contract only promises the
  name order.
* ``preset_data`` holds prompt text (personal data): declared sensitive.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime

from imagegen.services.contracts.edges import NAMES, USER_ID
from imagegen.services.contracts.pages import Record
from shadow._contract import Order, read, write
from shadow._inputs import Arg, explore_inputs

__all__ = [
    "PresetData",
    "PresetType",
    "StylePresetChanges",
    "StylePresetRecord",
    "StylePresetWithoutId",
    "StylePresetsService",
]

_TIMESTAMPS = {"created_at": 0.001, "updated_at": 0.001}  # millisecond columns
_SENSITIVE = {"preset_data", "positive_prompt", "negative_prompt"}


class PresetType(enum.StrEnum):
    """Who made a preset: a user, or the application (shipped defaults)."""

    USER = "user"
    DEFAULT = "default"


class PresetData(Record):
    """The prompts a preset applies (stored as JSON text)."""

    positive_prompt: str
    negative_prompt: str


class StylePresetWithoutId(Record):
    """A preset to create."""

    name: str
    preset_data: PresetData
    type: PresetType = PresetType.USER
    is_public: bool = False


class StylePresetChanges(Record):
    """Fields ``update`` may change; ``None`` leaves a field as it is."""

    name: str | None = None
    preset_data: PresetData | None = None
    type: PresetType | None = None
    is_public: bool | None = None


class StylePresetRecord(Record):
    """One stored preset."""

    id: str
    name: str
    preset_data: PresetData
    type: PresetType
    user_id: str
    is_public: bool
    created_at: datetime
    updated_at: datetime


@explore_inputs(
    style_preset_id=Arg(pool="style_preset_id", harvest=("id",), examples=("never-existed",)),
    user_id=USER_ID,
    name=Arg(examples=NAMES),
)
class StylePresetsService(ABC):
    """Style presets (see the module docstring for the rules)."""

    @read(timestamps=_TIMESTAMPS, sensitive=_SENSITIVE)
    @abstractmethod
    def get(self, style_preset_id: str) -> StylePresetRecord:
        """The preset with this id; ``NotFoundError`` when missing."""

    @write(timestamps=_TIMESTAMPS, sensitive=_SENSITIVE)
    @abstractmethod
    def create(self, preset: StylePresetWithoutId, user_id: str) -> StylePresetRecord:
        """Store a new preset owned by ``user_id`` and return it."""

    @write(timestamps=_TIMESTAMPS, sensitive=_SENSITIVE)
    @abstractmethod
    def create_many(
        self, presets: Sequence[StylePresetWithoutId], user_id: str
    ) -> list[StylePresetRecord]:
        """Store several presets owned by ``user_id``; return them in the given order."""

    @write(timestamps=_TIMESTAMPS, sensitive=_SENSITIVE)
    @abstractmethod
    def update(self, style_preset_id: str, changes: StylePresetChanges) -> StylePresetRecord:
        """Apply ``changes`` and return the row; ``NotFoundError`` for a missing id."""

    @write()
    @abstractmethod
    def delete(self, style_preset_id: str) -> None:
        """Delete the preset (silent when missing)."""

    @read(
        order=Order.TIES,
        key=("id",),
        sort_key=("name",),
        timestamps=_TIMESTAMPS,
        sensitive=_SENSITIVE,
    )
    @abstractmethod
    def get_many(
        self,
        type: PresetType | None = None,
        user_id: str | None = None,
        is_admin: bool = False,
    ) -> list[StylePresetRecord]:
        """The presets visible to the caller, by case-insensitive name."""
