"""A candidate factory for the demo with one planted divergence in a phase-1 method.

``--candidate-factory cutover_planted:build_candidate``: the reference SQLModel
services, except that ``app_settings.get`` returns every value with ``"-x"``
appended, so the gate of phase 1 must fail on it.
"""

from __future__ import annotations

from typing import Any

from imagegen.demo.wiring import build_candidate as build_reference_candidate


class PlantedAppSettings:
    """Delegates to the real candidate; ``get`` answers differently."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def get(self, key: str) -> str | None:
        value = self._inner.get(key)
        return None if value is None else value + "-x"

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def build_candidate(**options: Any) -> dict[str, Any]:
    services = build_reference_candidate(**options)
    services["app_settings"] = PlantedAppSettings(services["app_settings"])
    return services
