"""The audit log as metrics: counts per action and the latest entry's time, read incrementally."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from shadow.cutover import AuditLogMetrics
from shadow.cutover.modes import append_audit

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _registry(path: Path) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(AuditLogMetrics(path))
    return registry


def _count(registry: CollectorRegistry, action: str) -> float | None:
    return registry.get_sample_value("shadow_cutover_actions_total", {"action": action})


def test_without_a_log_every_known_action_is_zero(tmp_path: Path) -> None:
    registry = _registry(tmp_path / "audit.jsonl")
    for action in ("promote", "rollback", "accept", "fixed", "reopen"):
        assert _count(registry, action) == 0
    assert "shadow_cutover_last_action_timestamp_seconds{" not in generate_latest(registry).decode()


def test_entries_are_counted_per_action_with_the_latest_time(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    registry = _registry(log)
    append_audit(log, at=AT, actor="ana", action="promote", reason="r")
    assert _count(registry, "promote") == 1
    later = AT.replace(hour=13)
    append_audit(log, at=later, actor="ana", action="promote", reason="r")
    append_audit(log, at=AT, actor="bo", action="rollback", reason="r")
    assert _count(registry, "promote") == 2 and _count(registry, "rollback") == 1
    stamp = registry.get_sample_value(
        "shadow_cutover_last_action_timestamp_seconds", {"action": "promote"}
    )
    assert stamp == later.timestamp()


def test_a_half_written_or_broken_line_never_fails_a_scrape(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    log.write_text('not json\n{"action": 3}\n{"action": "promote", "at": "yesterday"}\n{"act')
    registry = _registry(log)
    assert _count(registry, "promote") == 1  # the bad time still counts the entry
    with log.open("a") as stream:
        stream.write('ion": "rollback", "at": "2026-03-01T12:00:00+00:00"}\n')
    assert _count(registry, "rollback") == 1  # the completed line is read once it ends


def test_a_log_that_shrank_is_read_again_from_the_start(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    registry = _registry(log)
    for _ in range(3):
        append_audit(log, at=AT, actor="ana", action="accept", fingerprint="f")
    assert _count(registry, "accept") == 3
    log.write_text("")
    append_audit(log, at=AT, actor="ana", action="fixed", fingerprint="f")
    assert _count(registry, "accept") == 0 and _count(registry, "fixed") == 1
