"""Runtime settings: modes per service, sampling, the mirror worker, the store.

Settings come from three places, highest priority first: keyword arguments
given in code, environment variables (``SHADOW_...``, nested with ``__``, for
example ``SHADOW_SERVICES__USERS__MODE=shadow``), and an optional TOML file
(``SHADOW_CONFIG_FILE`` or the ``config_file`` argument of
:func:`load_settings`). Environment variables win over the file because they
are fixed per deployment; the file is what operators edit at run time, and
:class:`LiveSettings` picks a change up without a restart.

Every invalid value raises :class:`shadow.ConfigError` with one message naming
the setting and the reason; nothing here prints a traceback at the user.
"""

from __future__ import annotations

import os
import threading
import time
import tomllib
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from shadow._exceptions import ConfigError
from shadow._vocabulary import Mode, WorkerKind
from shadow.runtime._logging import runtime_logger

__all__ = [
    "LiveSettings",
    "ServiceSettings",
    "ShadowSettings",
    "load_settings",
    "validate_settings_text",
]

_log = runtime_logger


class ServiceSettings(BaseModel):
    """Settings of one service, under ``services.<name>``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Mode = Mode.LEGACY
    read_sample_rate: float = Field(default=1.0, ge=0.0, le=1.0)


_file_values: ContextVar[dict[str, Any] | None] = ContextVar("shadow_file_values", default=None)


class _TomlFileSource(PydanticBaseSettingsSource):
    """The values of the TOML file being loaded (read by :func:`load_settings`)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        # Unused: __call__ returns the whole mapping at once.
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_file_values.get() or {})


class ShadowSettings(BaseSettings):
    """Every runtime setting; see docs/configuration.md for the full reference."""

    model_config = SettingsConfigDict(
        env_prefix="SHADOW_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    kill_switch: bool = False
    """Force legacy-only for every service not yet in ``sqlmodel`` mode."""
    default_mode: Mode = Mode.LEGACY
    """Mode of a service that ``services`` does not name."""
    default_read_sample_rate: float = Field(default=1.0, ge=0.0, le=1.0)
    """Read sampling rate of a service that ``services`` does not name."""
    services: dict[str, ServiceSettings] = Field(default_factory=dict)
    """Per-service settings, by service name."""
    worker: WorkerKind = WorkerKind.PROCESS
    """Where mirrored calls run."""
    queue_size: int = Field(default=10_000, ge=1)
    """Most mirrored calls waiting for the worker; more are dropped (reads first)."""
    queue_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    """Most bytes (arguments and results, estimated) the queue may hold; more are dropped."""
    read_high_water: float = Field(default=0.5, gt=0.0, lt=0.9)
    """Queue fill above which reads are sampled down (to none at 90 % full, kept for writes)."""
    mirror_workers: int = Field(default=1, ge=1)
    """Mirror workers (processes, or threads), one per conflict domain the application declares
    (``Runtime(domains=...)``), at most this many; each applies its domains' calls in order.
    1: one worker applies every call. Read when the runtime starts."""
    group_commit: int = Field(default=1, ge=1)
    """Most consecutive mirrored writes applied in one transaction of the mirror store, a
    savepoint each, when the mirror side offers it (``shadow.runtime.GroupCommit``); 1: each
    call commits on its own. Read when the runtime starts."""
    mirror_nice: int = Field(default=10, ge=0, le=19)
    """Niceness each mirror worker process adds to its own scheduling priority at start
    (``os.nice``), so that when the application's threads and the mirror both want a core
    the application's get it first; the mirror still has every idle cycle. 10 by default
    (measured on 2 cores: paced caller p50 and p99 down by a fifth to a third, saturated
    throughput up, no write dropped; docs/benchmarks.md, "The mirror's priority"); 0
    leaves the priority as it is. The thread worker shares the application's process and
    ignores it. Read when the runtime starts."""
    batch_size: int = Field(default=64, ge=1)
    """Most calls handed to the worker in one message."""
    batch_linger_seconds: float = Field(default=0.002, ge=0.0, le=1.0)
    """How long the dispatcher waits for more calls before sending a partial batch."""
    deadline_seconds: float = Field(default=5.0, gt=0.0)
    """How long one mirrored call may run before it is abandoned (and counted dropped)."""
    breaker_failures: int = Field(default=20, ge=1)
    """Consecutive mirror failures that open a service's circuit breaker."""
    breaker_reset_seconds: float = Field(default=30.0, gt=0.0)
    """How long an open breaker stops mirroring before it lets one call try again."""
    lag_window_seconds: float = Field(default=3600.0, gt=0.0)
    """How far back the largest write lag is remembered for timestamp tolerances."""
    store_url: str = "sqlite:///shadow-store.db"
    """SQLAlchemy URL of the divergence store."""
    store_flush_seconds: float = Field(default=1.0, gt=0.0)
    """How often aggregated observations are written to the store."""
    store_process: bool = False
    """With the process worker, write the store from a process of its own, so its
    SQLAlchemy work never holds the application's GIL (a store the runtime opens from
    ``store_url``, on disk or a server; read when the runtime starts). Off by default
    until a quiet run shows the gain (docs/benchmarks.md)."""
    examples_per_group: int = Field(default=3, ge=0)
    """Redacted examples kept per divergence group."""
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    """Port of the ``/metrics`` endpoint; ``None`` serves none."""
    metrics_addr: str = "127.0.0.1"
    """Address the ``/metrics`` endpoint binds to (loopback unless told otherwise)."""
    reload_check_seconds: float = Field(default=1.0, ge=0.0)
    """How often the config file's mtime is checked for a live reload."""
    capture_nondeterminism: bool = False
    """Record what authoritative calls draw from ``uuid``, ``time``, ``datetime``,
    ``os.urandom`` and ``random`` and replay it into the mirror (for code that does
    not take an injected id source and clock; see ``shadow.runtime._capture``)."""
    coverage: bool = False
    """Measure which lines and branches of the candidate compared calls run (coverage.py,
    in the mirror worker; read when the runtime starts). Off by default: it costs
    worker CPU (docs/benchmarks.md, "Coverage as evidence")."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _TomlFileSource(settings_cls)

    def service(self, name: str) -> ServiceSettings:
        """The settings of service ``name`` (the defaults when it is not named)."""
        found = self.services.get(name)
        if found is not None:
            return found
        return ServiceSettings(
            mode=self.default_mode, read_sample_rate=self.default_read_sample_rate
        )

    def effective_mode(self, name: str) -> Mode:
        """The mode service ``name`` runs in, after the kill switch."""
        mode = self.service(name).mode
        if self.kill_switch and mode is not Mode.SQLMODEL:
            return Mode.LEGACY
        return mode


def _unwrap(values: dict[str, Any]) -> dict[str, Any]:
    # A [shadow] table is accepted so the settings can live in a shared file.
    shadow_table = values.get("shadow")
    if isinstance(shadow_table, dict) and len(values) == 1:
        return shadow_table
    return values


def validate_settings_text(text: str, *, source: str) -> ShadowSettings:
    """The settings a runtime would load from a file holding ``text``.

    Exactly what :func:`load_settings` does with a file (the environment
    applies as it would in the runtime's process), so a tool writing the file
    (``shadow promote``) can refuse a file the runtime would reject; raises
    :class:`ConfigError` naming ``source`` otherwise.
    """
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{source} is not valid TOML: {error}", path=source) from None
    token = _file_values.set(_unwrap(values))
    try:
        return ShadowSettings()
    except ValidationError as error:
        raise ConfigError(f"{source}: {_describe(error)}", path=source) from None
    except SettingsError as error:
        raise ConfigError(f"invalid shadow settings: {error}") from None
    finally:
        _file_values.reset(token)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            values = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist", path=str(path)) from None
    except OSError as error:
        raise ConfigError(
            f"config file {path} cannot be read: {error.strerror}", path=str(path)
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(
            f"config file {path} is not valid TOML: {error}", path=str(path)
        ) from None
    return _unwrap(values)


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "settings"
        problems.append(f"{where}: {item['msg']}")
    return "invalid shadow settings: " + "; ".join(problems)


def load_settings(
    config_file: str | os.PathLike[str] | None = None, **overrides: Any
) -> ShadowSettings:
    """Build the settings from ``overrides``, the environment and the TOML file.

    ``config_file`` defaults to the ``SHADOW_CONFIG_FILE`` environment variable;
    with neither, only the environment and the overrides count. Raises
    :class:`ConfigError` for a missing or malformed file or an invalid value.
    """
    path = _config_path(config_file)
    token = _file_values.set(_read_toml(path) if path is not None else None)
    try:
        return ShadowSettings(**overrides)
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None
    except SettingsError as error:
        # A malformed environment variable (SHADOW_SERVICES=notjson) fails before validation.
        raise ConfigError(f"invalid shadow settings: {error}") from None
    finally:
        _file_values.reset(token)


def _config_path(config_file: str | os.PathLike[str] | None) -> Path | None:
    if config_file is not None:
        return Path(config_file)
    from_env = os.environ.get("SHADOW_CONFIG_FILE")
    return Path(from_env) if from_env else None


class LiveSettings:
    """Settings that follow their TOML file: a changed file is re-read, no restart.

    :meth:`current` is called on every proxied call, so it is cheap: it looks at
    the file's mtime at most once per ``reload_check_seconds`` and re-parses
    only when the mtime (or size) changed. A file that turns invalid is logged
    once and the last good settings stay in force, so a typo never takes the
    application down.
    """

    def __init__(
        self,
        config_file: str | os.PathLike[str] | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        **overrides: Any,
    ) -> None:
        self._path = _config_path(config_file)
        self._overrides = overrides
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._stamp = self._file_stamp()
        self._settings = load_settings(self._path, **overrides)
        self._next_check = monotonic() + self._settings.reload_check_seconds

    @property
    def path(self) -> Path | None:
        """The TOML file followed, if any."""
        return self._path

    def current(self) -> ShadowSettings:
        """The settings in force now (re-read if the file changed since the last check)."""
        if self._path is None or self._monotonic() < self._next_check:
            return self._settings
        with self._lock:
            self._next_check = self._monotonic() + self._settings.reload_check_seconds
            stamp = self._file_stamp()
            if stamp != self._stamp:
                self._stamp = stamp
                self._reload()
        return self._settings

    def _file_stamp(self) -> tuple[int, int] | None:
        if self._path is None:
            return None
        try:
            status = self._path.stat()
        except OSError:
            return None
        return status.st_mtime_ns, status.st_size

    def _reload(self) -> None:
        try:
            self._settings = load_settings(self._path, **self._overrides)
        except ConfigError as error:
            _log.error("settings_reload_failed", path=str(self._path), error=str(error))
        else:
            _log.info("settings_reloaded", path=str(self._path))
