"""The cutover audit log as Prometheus metrics, for dashboard annotations of promotions.

Every promotion, rollback, acceptance, fix and reopening is one line of the
audit log (``shadow.cutover.modes.append_audit``). :class:`AuditLogMetrics`
exports it at scrape time as

* ``shadow_cutover_actions_total{action}``: entries per action (every known
  action exists at 0, so the first promotion is a step ``changes()`` sees), and
* ``shadow_cutover_last_action_timestamp_seconds{action}``: when the latest
  entry of that action was written (actions seen only).

The dashboard's "Promotions and rollbacks" annotation marks where the counter
moved. Register it next to ``GateReadiness`` on a registry that is scraped::

    registry.register(AuditLogMetrics(cutover_settings.audit_log))

The log only grows, so each scrape reads just the lines appended since the
last one (a file that shrank, e.g. rotated, is read again from the start).
A line that is not a JSON object with an ``action`` is skipped: the exporter
never fails a scrape.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["KNOWN_ACTIONS", "AuditLogMetrics"]

KNOWN_ACTIONS = ("accept", "fixed", "promote", "reopen", "rollback")
"""Actions the cutover commands write; their counters exist before the first entry."""


class AuditLogMetrics(Collector):
    """Exports the audit log at ``path`` (read incrementally at scrape time)."""

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        self._lock = threading.Lock()
        self._offset = 0
        self._counts: Counter[str] = Counter()
        self._last: dict[str, float] = {}

    def _refresh(self) -> None:
        try:
            size = self._path.stat().st_size
        except OSError:
            return  # no audit log yet: nothing happened
        if size < self._offset:
            self._offset, self._counts, self._last = 0, Counter(), {}
        if size == self._offset:
            return
        with self._path.open("rb") as stream:
            stream.seek(self._offset)
            chunk = stream.read(size - self._offset)
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a line being written waits for the next scrape
        self._offset += len(complete)
        for line in complete.splitlines():
            self._count(line)

    def _count(self, line: bytes) -> None:
        try:
            entry = json.loads(line)
            action = entry["action"]
        except (ValueError, TypeError, KeyError):
            return
        if not isinstance(action, str):
            return
        self._counts[action] += 1
        with contextlib.suppress(ValueError):  # a bad time still counts the entry
            self._last[action] = datetime.fromisoformat(str(entry.get("at"))).timestamp()

    def collect(self) -> Iterator[Metric]:
        """Yield the two families (called by the registry on every scrape)."""
        with self._lock:
            self._refresh()
            counts, last = dict(self._counts), dict(self._last)
        actions = CounterMetricFamily(
            "shadow_cutover_actions", "Cutover audit log entries by action.", labels=["action"]
        )
        for action in sorted(set(KNOWN_ACTIONS) | set(counts)):
            actions.add_metric([action], counts.get(action, 0))
        yield actions
        latest = GaugeMetricFamily(
            "shadow_cutover_last_action_timestamp_seconds",
            "Unix time of the latest audit log entry of each action.",
            labels=["action"],
        )
        for action, at in sorted(last.items()):
            latest.add_metric([action], at)
        yield latest

    def describe(self) -> Iterator[Metric]:
        """Describe the families without reading the log (registration stays cheap)."""
        yield CounterMetricFamily("shadow_cutover_actions", "", labels=["action"])
        yield GaugeMetricFamily(
            "shadow_cutover_last_action_timestamp_seconds", "", labels=["action"]
        )
