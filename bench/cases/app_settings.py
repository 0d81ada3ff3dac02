"""app_settings cases for the service benchmark: reads of settings and the jwt secret.

Data: the seeded jwt secret plus 50 settings, identical on both arms. Hot
methods: ``get`` of one key, ``get_jwt_secret`` (every token check needs it)
and ``set`` (an upsert replacing an existing value).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

from bench.harness import Case, open_pair
from imagegen.services.contracts.app_settings import AppSettingsService
from imagegen.services.core.app_settings import CoreAppSettingsService
from imagegen.services.legacy.app_settings import LegacyAppSettingsService

__all__ = ["cases"]

SETTINGS = 50


def _setter(service: AppSettingsService) -> Callable[[], object]:
    values = itertools.cycle(["dark", "light"])
    return lambda: service.set("setting-25", next(values))


def cases(workdir: Path) -> list[Case]:
    """The app_settings hot methods on identical settings per arm."""
    pair = open_pair(workdir, "app_settings")
    legacy_ids, legacy_clock = pair.sources()
    orm_ids, orm_clock = pair.sources()
    legacy = LegacyAppSettingsService(pair.legacy_db, ids=legacy_ids, clock=legacy_clock)
    orm = CoreAppSettingsService(pair.engine, ids=orm_ids, clock=orm_clock)
    for service in (legacy, orm):
        for n in range(SETTINGS):
            service.set(f"setting-{n:02d}", f"value {n}")
    assert legacy.get_jwt_secret() == orm.get_jwt_secret()
    return [
        Case(
            "one key",
            "app_settings",
            "get",
            lambda: legacy.get("setting-25"),
            lambda: orm.get("setting-25"),
        ),
        Case(
            "seeded secret",
            "app_settings",
            "get_jwt_secret",
            legacy.get_jwt_secret,
            orm.get_jwt_secret,
        ),
        Case("upsert existing", "app_settings", "set", _setter(legacy), _setter(orm)),
    ]
