"""The phase plan: which services move together, and the steps each one takes.

Every service goes ``legacy -> shadow -> reverse -> sqlmodel``, one step at a
time, and a phase may take a step only after the phase before it has taken it
(phase 3, the session queue, moves last). The plan maps service *names* to
phases; it never imports the services themselves, so it works for any
application. An application's plan is built in Python (the reference app's is
``imagegen.cutover.REFERENCE_PLAN``) or read from a TOML file::

    [phases]
    1 = ["app_settings", "client_state"]
    2 = ["users"]
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from shadow._exceptions import ConfigError
from shadow._vocabulary import Mode

__all__ = ["Mode", "PhasePlan", "load_plan"]


@dataclass(frozen=True)
class PhasePlan:
    """Phases numbered 1..N, each a tuple of service names; a service is in one phase."""

    phases: Mapping[int, tuple[str, ...]]

    def __post_init__(self) -> None:
        numbers = sorted(self.phases)
        if not numbers:
            raise ConfigError("the phase plan has no phases")
        if numbers != list(range(1, len(numbers) + 1)):
            raise ConfigError(f"phases must be numbered 1..N without gaps, got {numbers}")
        seen: dict[str, int] = {}
        for number in numbers:
            services = self.phases[number]
            if not services:
                raise ConfigError(f"phase {number} has no services")
            for service in services:
                if service in seen:
                    raise ConfigError(
                        f"service {service!r} is in phase {seen[service]} and phase {number}"
                    )
                seen[service] = number
        object.__setattr__(self, "phases", MappingProxyType(dict(self.phases)))

    @property
    def numbers(self) -> tuple[int, ...]:
        """The phase numbers, in order."""
        return tuple(sorted(self.phases))

    @property
    def services(self) -> tuple[str, ...]:
        """Every service, phase by phase."""
        return tuple(service for number in self.numbers for service in self.phases[number])

    def services_of(self, phase: int) -> tuple[str, ...]:
        """The services of ``phase``; :class:`ConfigError` for an unknown phase."""
        if phase not in self.phases:
            raise ConfigError(f"unknown phase {phase} (the plan has phases {self.numbers})")
        return self.phases[phase]

    def phase_of(self, service: str) -> int:
        """The phase ``service`` belongs to; :class:`ConfigError` for an unknown service."""
        for number, services in self.phases.items():
            if service in services:
                return number
        raise ConfigError(f"unknown service {service!r} (not in the phase plan)")


def _services(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{where}: expected a list of service names")
    return tuple(value)


def plan_from_mapping(data: Mapping[str, object], where: str) -> PhasePlan:
    """Build a plan from the parsed ``[phases]`` table of a TOML document."""
    phases = data.get("phases")
    if not isinstance(phases, dict):
        raise ConfigError(f"{where}: missing [phases] table")
    parsed: dict[int, tuple[str, ...]] = {}
    for key, value in phases.items():
        if not key.isdigit():
            raise ConfigError(f"{where}: phase key {key!r} is not a number")
        parsed[int(key)] = _services(value, f"{where}: phase {key}")
    return PhasePlan(parsed)


def load_plan(path: Path) -> PhasePlan:
    """Read a plan from a TOML file."""
    return plan_from_mapping(read_toml(path, "phase plan"), str(path))


def read_toml(path: Path, what: str) -> dict[str, object]:
    """Parse a TOML file, turning a missing or malformed file into one ConfigError."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{what} file not found: {path}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{what} file {path} is not valid TOML: {error}") from None
    except OSError as error:
        raise ConfigError(f"cannot read {what} file {path}: {error.strerror}") from None
