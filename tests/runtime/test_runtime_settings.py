"""Settings: environment, TOML file, precedence, live reload, clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shadow import ConfigError
from shadow.runtime import LiveSettings, Mode, WorkerKind, load_settings


def test_defaults_are_safe(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.effective_mode("users") is Mode.LEGACY
    assert settings.worker is WorkerKind.PROCESS
    assert settings.metrics_addr == "127.0.0.1"


def test_environment_sets_nested_service_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHADOW_SERVICES__USERS__MODE", "shadow")
    monkeypatch.setenv("SHADOW_SERVICES__USERS__READ_SAMPLE_RATE", "0.25")
    monkeypatch.setenv("SHADOW_QUEUE_SIZE", "50")
    settings = load_settings()
    assert settings.service("users").mode is Mode.SHADOW
    assert settings.service("users").read_sample_rate == 0.25
    assert settings.queue_size == 50


def test_toml_file_is_read_and_environment_wins_over_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "shadow.toml"
    config.write_text(
        'kill_switch = false\n[services.users]\nmode = "reverse"\nread_sample_rate = 0.5\n'
        '[services.boards]\nmode = "shadow"\n'
    )
    monkeypatch.setenv("SHADOW_SERVICES__BOARDS__MODE", "legacy")
    settings = load_settings(config)
    assert settings.service("users").mode is Mode.REVERSE
    assert settings.service("users").read_sample_rate == 0.5
    assert settings.service("boards").mode is Mode.LEGACY


def test_the_config_file_can_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "shadow.toml"
    config.write_text("[shadow]\ndefault_mode = 'shadow'\n")
    monkeypatch.setenv("SHADOW_CONFIG_FILE", str(config))
    assert load_settings().effective_mode("anything") is Mode.SHADOW


def test_the_kill_switch_forces_legacy_except_for_finished_services() -> None:
    settings = load_settings(
        kill_switch=True,
        services={"a": {"mode": "shadow"}, "b": {"mode": "reverse"}, "c": {"mode": "sqlmodel"}},
    )
    assert [settings.effective_mode(name) for name in "abc"] == [
        Mode.LEGACY,
        Mode.LEGACY,
        Mode.SQLMODEL,
    ]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("SHADOW_SERVICES__USERS__MODE", "sideways", "services.users.mode"),
        ("SHADOW_SERVICES__USERS__READ_SAMPLE_RATE", "2", "read_sample_rate"),
        ("SHADOW_QUEUE_SIZE", "many", "queue_size"),
        ("SHADOW_WORKER", "fork", "worker"),
    ],
)
def test_an_invalid_value_is_one_config_error_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=message) as raised:
        load_settings()
    assert "\n" not in str(raised.value)


def test_a_missing_or_malformed_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "absent.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[services\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(broken)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("colour = 'blue'\n")
    with pytest.raises(ConfigError, match="colour"):
        load_settings(unknown)


def test_live_settings_pick_up_a_changed_file_without_a_restart(tmp_path: Path) -> None:
    config = tmp_path / "shadow.toml"
    config.write_text('[services.users]\nmode = "shadow"\n')
    now = [0.0]
    live = LiveSettings(config, monotonic=lambda: now[0], reload_check_seconds=5)
    first = live.current()
    assert first.effective_mode("users") is Mode.SHADOW
    config.write_text('[services.users]\nmode = "reverse"\n')
    os.utime(config, ns=(1, 10**18))  # a distinct mtime even on a coarse clock
    assert live.current() is first  # not re-checked before the interval passes
    now[0] = 6.0
    assert live.current().effective_mode("users") is Mode.REVERSE


def test_a_file_that_turns_invalid_keeps_the_last_good_settings(tmp_path: Path) -> None:
    config = tmp_path / "shadow.toml"
    config.write_text('[services.users]\nmode = "shadow"\n')
    now = [0.0]
    live = LiveSettings(config, monotonic=lambda: now[0], reload_check_seconds=0)
    config.write_text('[services.users]\nmode = "nonsense"\n')
    os.utime(config, ns=(1, 10**18))
    now[0] = 1.0
    assert live.current().effective_mode("users") is Mode.SHADOW
