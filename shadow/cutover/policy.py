"""Gate policy as code: the thresholds the evidence must meet, per phase.

A policy file is TOML. ``[defaults]`` applies to every phase and ``[phase.N]``
overrides single values for phase N; every key is optional::

    [defaults]
    min_comparisons = 200          # per declared method of every service in the phase
    confidence = 0.95              # of the upper bound on the divergence rate
    max_divergence_rate = 0.01     # that upper bound must stay at or below this
    max_candidate_error_rate = 0.001
    max_p95_ratio = 2.0            # candidate p95 / legacy p95, per method (beyond noise)
    min_p95_excess = "5ms"         # a slower p95 by at most this is never a failure
    min_latency_samples = 20       # fewer samples on a side: that method's ratio is not judged
    min_soak = "24h"               # since the first comparison; s, m, h or d
    min_coverage = 0.8             # optional: share of each service's candidate code run
    require_data_verified = false  # each service's tables verified equal at rest
                                   # (`shadow data verify`) since its last unclean write

    [phase.3]
    max_p95_ratio = 1.5

Unknown keys, wrong types and out-of-range values are refused with one
:class:`~shadow.ConfigError` naming the file and the key, because a typo in a
gate policy silently loosening the gate is the failure that matters most.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType

from shadow._exceptions import ConfigError
from shadow.cutover.plan import read_toml

__all__ = [
    "POLICY_FILE_NAME",
    "GatePolicy",
    "PolicySet",
    "load_policies",
    "parse_duration",
    "relaxed_values",
]

POLICY_FILE_NAME = "gate-policy.toml"
"""A policy file with this name next to the runtime settings file is used by default."""

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|[smhd])\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """``"5ms"``, ``"90s"``, ``"15m"``, ``"24h"`` or ``"7d"`` as a timedelta.

    :class:`ConfigError` otherwise.
    """
    match = _DURATION.match(text)
    if match is None:
        raise ConfigError(f"bad duration {text!r} (expected a number and ms, s, m, h or d: '24h')")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def format_duration(value: timedelta) -> str:
    """A timedelta the way policy files write it (largest whole unit)."""
    seconds = value.total_seconds()
    for unit in ("d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    if 0 < seconds < 1:
        return f"{seconds * 1000:g}ms"
    return f"{seconds:g}s"


@dataclass(frozen=True, slots=True)
class GatePolicy:
    """The thresholds of one phase's gate. The defaults are meant for production traffic.

    A p95 from a handful of calls is noise (one cold call is the p95), so a
    method with fewer than ``min_latency_samples`` calls on either side is
    listed as not judged by the latency criterion; ``min_comparisons`` is what
    makes sure every method has enough calls.
    """

    min_comparisons: int = 200
    confidence: float = 0.95
    max_divergence_rate: float = 0.01
    max_candidate_error_rate: float = 0.001
    max_p95_ratio: float = 2.0
    min_latency_samples: int = 20
    min_soak: timedelta = field(default=timedelta(hours=24))
    min_p95_excess: timedelta = field(default=timedelta(milliseconds=5))
    """A candidate p95 slower than legacy's by at most this never fails the latency
    criterion, whatever the ratio: sub-millisecond calls on a loaded machine differ
    by 10x from scheduling alone (seen in the demo), which is not a regression."""
    min_coverage: float | None = None
    """Least share (0-1) of each service's candidate lines and branches that compared
    calls must have run (``runtime.coverage`` on); None: not a criterion."""
    require_data_verified: bool = False
    """Off by default: a store verification is an operator's step, not a runtime one."""

    def __post_init__(self) -> None:
        if self.min_comparisons < 1:
            raise ConfigError("min_comparisons must be at least 1")
        if self.min_latency_samples < 1:
            raise ConfigError("min_latency_samples must be at least 1")
        if not 0.5 <= self.confidence < 1:
            raise ConfigError("confidence must be in [0.5, 1)")
        for name in ("max_divergence_rate", "max_candidate_error_rate"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"{name} must be a rate in [0, 1]")
        if self.max_p95_ratio <= 0:
            raise ConfigError("max_p95_ratio must be positive")
        if self.min_soak < timedelta(0):
            raise ConfigError("min_soak must not be negative")
        if self.min_p95_excess < timedelta(0):
            raise ConfigError("min_p95_excess must not be negative")
        if self.min_coverage is not None and not 0 <= self.min_coverage <= 1:
            raise ConfigError("min_coverage must be a share in [0, 1]")

    def to_dict(self) -> dict[str, object]:
        """The policy as plain data (durations written as in policy files)."""
        data = dataclasses.asdict(self)
        data["min_soak"] = format_duration(self.min_soak)
        data["min_p95_excess"] = format_duration(self.min_p95_excess)
        return data


_LOOSER_WHEN_HIGHER = {
    "min_comparisons": False,
    "confidence": False,
    "max_divergence_rate": True,
    "max_candidate_error_rate": True,
    "max_p95_ratio": True,
    "min_latency_samples": True,  # more methods left unjudged
    "min_soak": False,
    "min_p95_excess": True,
}
"""Per threshold, which way loosens it (``min_coverage`` and ``require_data_verified``
only tighten the built-in defaults, which leave them off)."""


def relaxed_values(policy: GatePolicy) -> list[dict[str, object]]:
    """The thresholds of ``policy`` looser than the built-in (production) defaults.

    Each as ``{"name", "value", "default"}`` written as in policy files: a
    report flags a relaxed policy (the demo's is one) so its verdict is not
    read as production evidence.
    """
    defaults = GatePolicy()
    ours, theirs = policy.to_dict(), defaults.to_dict()
    looser = []
    for name, higher in _LOOSER_WHEN_HIGHER.items():
        value, default = getattr(policy, name), getattr(defaults, name)
        if (value > default) if higher else (value < default):
            looser.append({"name": name, "value": ours[name], "default": theirs[name]})
    return looser


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "min_comparisons": (int,),
    "confidence": (int, float),
    "max_divergence_rate": (int, float),
    "max_candidate_error_rate": (int, float),
    "max_p95_ratio": (int, float),
    "min_latency_samples": (int,),
    "min_soak": (str,),
    "min_p95_excess": (str,),
    "min_coverage": (int, float),
    "require_data_verified": (bool,),
}


def _overrides(table: object, where: str) -> dict[str, object]:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table of policy values")
    values: dict[str, object] = {}
    for key, value in table.items():
        types = _FIELD_TYPES.get(key)
        if types is None:
            known = ", ".join(sorted(_FIELD_TYPES))
            raise ConfigError(f"{where}: unknown key {key!r} (known: {known})")
        # bool is an int in Python; a gate threshold of `true` is a typo, not a number
        # (only the switches take booleans).
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            raise ConfigError(f"{where}: {key} has the wrong type ({type(value).__name__})")
        values[key] = parse_duration(value) if isinstance(value, str) else value
    return values


@dataclass(frozen=True)
class PolicySet:
    """Defaults plus per-phase overrides; :meth:`for_phase` resolves one phase."""

    defaults: GatePolicy = field(default_factory=GatePolicy)
    phases: Mapping[int, GatePolicy] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "phases", MappingProxyType(dict(self.phases)))

    source: str = "gate policy"
    """Where the policy came from (its file), for messages."""

    def check_phases(self, numbers: tuple[int, ...]) -> None:
        """Refuse overrides of phases the plan does not have (a typo would go unused)."""
        unknown = sorted(set(self.phases) - set(numbers))
        if unknown:
            raise ConfigError(
                f"{self.source}: [phase.{unknown[0]}] names a phase the plan does not have "
                f"(the plan has phases {', '.join(map(str, numbers))})"
            )

    def for_phase(self, phase: int) -> GatePolicy:
        """The policy of ``phase`` (its overrides on top of the defaults)."""
        return self.phases.get(phase, self.defaults)


def policies_from_mapping(data: Mapping[str, object], where: str) -> PolicySet:
    """Build a :class:`PolicySet` from a parsed policy document."""
    unknown = set(data) - {"defaults", "phase"}
    if unknown:
        raise ConfigError(f"{where}: unknown table(s) {sorted(unknown)} (expected defaults, phase)")
    try:
        base = _overrides(data.get("defaults", {}), f"{where} [defaults]")
        defaults = GatePolicy(**base)  # type: ignore[arg-type]
        phase_tables = data.get("phase", {})
        if not isinstance(phase_tables, dict):
            raise ConfigError(f"{where}: [phase] must hold tables like [phase.1]")
        phases: dict[int, GatePolicy] = {}
        for key, table in phase_tables.items():
            if not key.isdigit():
                raise ConfigError(f"{where}: phase key {key!r} is not a number")
            values = {**base, **_overrides(table, f"{where} [phase.{key}]")}
            phases[int(key)] = GatePolicy(**values)  # type: ignore[arg-type]
    except ConfigError as error:
        if error.message.startswith(where):
            raise
        raise ConfigError(f"{where}: {error.message}") from None
    return PolicySet(defaults, phases, source=where)


def load_policies(path: Path | None, *, settings_file: Path | None = None) -> PolicySet:
    """Read a policy file.

    Without ``path``, a :data:`POLICY_FILE_NAME` next to ``settings_file`` is
    used when there is one, else the built-in defaults.
    """
    if path is None and settings_file is not None:
        beside = settings_file.parent / POLICY_FILE_NAME
        path = beside if beside.is_file() else None
    if path is None:
        return PolicySet()
    return policies_from_mapping(read_toml(path, "gate policy"), str(path))
