"""A candidate write that returns a stale database timestamp is a divergence.

Through the real runtime (inline worker), the legacy style-presets service is
authoritative and the SQLModel one is mirrored. The planted candidate ports
``update`` the way a hurried port does: it reads the row, updates it, and
returns the row it read with the changes applied in Python, so its
``updated_at`` is the value from before the update. That value is a few tens
of milliseconds old -- well inside the old lag-plus-one-second tolerance,
which hid it -- but it predates the candidate's own call, so the window rule
reports it. The correct candidate returns a fresh value and matches.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from imagegen.db.legacy import LegacyDatabase
from imagegen.services.contracts.style_presets import (
    PresetData,
    PresetType,
    StylePresetChanges,
    StylePresetRecord,
    StylePresetsService,
    StylePresetWithoutId,
)
from imagegen.services.core.style_presets import CoreStylePresetsService
from imagegen.services.legacy.style_presets import LegacyStylePresetsService
from shadow._sources import Clock, IdSource
from shadow.runtime import Observation, Outcome
from shadow.testing import capture_comparisons, shadow_runtime

Pair = Callable[[], tuple[LegacyDatabase, sa.Engine]]


class _StaleUpdate(CoreStylePresetsService):
    """``update`` returns the row as read before the update, changes applied in Python."""

    def update(self, style_preset_id: str, changes: StylePresetChanges) -> StylePresetRecord:
        before = self.get(style_preset_id)
        super().update(style_preset_id, changes)
        return before.model_copy(update={"name": changes.name or before.name})


def _observe(make_pair: Pair, candidate_class: type[CoreStylePresetsService]) -> Observation:
    legacy_db, engine = make_pair()

    def legacy(*, ids: IdSource, clock: Clock) -> dict[str, Any]:
        return {"style_presets": LegacyStylePresetsService(legacy_db, ids=ids, clock=clock)}

    def candidate(*, ids: IdSource, clock: Clock) -> dict[str, Any]:
        return {"style_presets": candidate_class(engine, ids=ids, clock=clock)}

    runtime = shadow_runtime(legacy=legacy, candidate=candidate, strict=False)
    with runtime:
        presets = runtime.proxy(StylePresetsService, "style_presets")
        created = presets.create(
            StylePresetWithoutId(
                name="Noir",
                preset_data=PresetData(positive_prompt="rain", negative_prompt=""),
                type=PresetType.USER,
                is_public=False,
            ),
            "system",
        )
        time.sleep(0.05)  # the stale value is 50 ms old: far inside the old tolerance
        with capture_comparisons(runtime) as seen:
            presets.update(created.id, StylePresetChanges(name="Film noir"))
    (observation,) = seen
    return observation


def test_a_candidate_update_returning_the_previous_updated_at_is_a_divergence(
    make_pair: Pair,
) -> None:
    """The stale updated_at predates the candidate's call: reported on that path."""
    observation = _observe(make_pair, _StaleUpdate)
    assert observation.outcome is Outcome.DIVERGENCE
    assert observation.method == "update"
    assert observation.paths == ("root['updated_at']",)


def test_a_candidate_update_returning_a_fresh_updated_at_matches(make_pair: Pair) -> None:
    """The correct port stamps updated_at during its own call: no divergence."""
    observation = _observe(make_pair, CoreStylePresetsService)
    assert observation.outcome is Outcome.MATCH
