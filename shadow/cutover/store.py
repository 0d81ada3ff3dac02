"""Read the runtime's divergence store into :class:`~shadow.cutover.evidence.Evidence`.

The gate counts only *evidence* comparisons (made while the service had no
unreconciled dropped write); reports also show the totals. A latency quantile
the store cannot compute (no samples) becomes "no summary". Opening a store
that does not exist is bad input, not an empty store: for a SQLite URL the
file must exist, so a typo in ``--store`` never passes a gate on no evidence
(it fails with one clear line and exit status 2).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import ArgumentError

from shadow._exceptions import ConfigError
from shadow._sources import Clock
from shadow._vocabulary import LatencySummary, ReviewStatus
from shadow.cutover.evidence import (
    CoverageEvidence,
    DataCheck,
    DataVerified,
    DivergenceGroup,
    Evidence,
    MethodEvidence,
    ModeEvidence,
)
from shadow.runtime import (
    ComparisonCount,
    DivergenceStore,
    MethodLatency,
    ModeComparisonCount,
    StoredGroup,
)
from shadow.runtime._provenance import group_origins, origin_counts

__all__ = ["StoreNotFound", "load_evidence", "open_store", "to_group"]


class StoreNotFound(ConfigError):
    """The divergence store does not exist (yet): no proxy has recorded anything there."""


def _check_exists(url: str) -> None:
    try:
        parsed = sa.engine.make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a non-numeric port
        raise ConfigError(f"divergence store URL {url!r} is not a valid SQLAlchemy URL") from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or not Path(database).is_file():
            raise StoreNotFound(f"divergence store not found: {url} (run the workload first?)")


@contextmanager
def open_store(url: str) -> Iterator[DivergenceStore]:
    """Open an existing divergence store; ConfigError when it does not exist."""
    _check_exists(url)
    store = DivergenceStore(url)
    try:
        yield store
    finally:
        store.close()


def _summary(summary: LatencySummary) -> LatencySummary | None:
    """The summary, or None when it has no samples (the gate does not judge it)."""
    values = (summary.p50, summary.p95, summary.p99)
    if summary.count <= 0 or any(math.isnan(value) for value in values):
        return None
    return summary


def _methods(
    counts: list[ComparisonCount] | list[ModeComparisonCount], latency: list[MethodLatency]
) -> tuple[MethodEvidence, ...]:
    evidence_counts: dict[tuple[str, str], dict[str, int]] = {}
    totals: dict[tuple[str, str], dict[str, int]] = {}
    for row in counts:
        key = (row.service, row.method)
        evidence_counts.setdefault(key, {})[row.outcome] = row.evidence
        totals.setdefault(key, {})[row.outcome] = row.total
    sides: dict[tuple[str, str], dict[str, LatencySummary | None]] = {}
    for item in latency:
        sides.setdefault((item.service, item.method), {})[item.side] = _summary(item.summary)
    return tuple(
        MethodEvidence(
            service,
            method,
            evidence_counts.get((service, method), {}),
            legacy=sides.get((service, method), {}).get("legacy"),
            candidate=sides.get((service, method), {}).get("candidate"),
            totals=totals.get((service, method), {}),
        )
        for service, method in sorted(set(evidence_counts) | set(sides))
    )


def _by_mode(store: DivergenceStore) -> dict[str, ModeEvidence]:
    counts = store.mode_comparison_counts()
    latency = store.mode_latency()
    firsts = store.mode_first_comparisons()
    modes = {row.mode for row in counts} | {item.mode or "" for item in latency}
    modes |= {mode for _, mode in firsts}
    return {
        mode: ModeEvidence(
            methods=_methods(
                [row for row in counts if row.mode == mode],
                [item for item in latency if item.mode == mode],
            ),
            first_comparisons={s: at for (s, m), at in firsts.items() if m == mode},
        )
        for mode in sorted(modes)
    }


def to_group(stored: StoredGroup) -> DivergenceGroup:
    """A stored group as the cutover package's value."""
    return DivergenceGroup(
        fingerprint=stored.fingerprint,
        service=stored.service,
        method=stored.method,
        paths=stored.paths,
        error_types=stored.error_types,
        count=stored.count,
        first_seen=stored.first_seen,
        last_seen=stored.last_seen,
        status=ReviewStatus(stored.status),
        note=stored.note,
        expires_at=stored.expires_at,
        examples=stored.examples,
        outcome=stored.outcome,
        root=stored.root,
    )


def load_evidence(url: str, *, clock: Clock) -> Evidence:
    """The evidence in the store at ``url``, as of ``clock.now()``."""
    with open_store(url) as store:
        methods = _methods(store.comparison_counts(), store.latency())
        groups = []
        for listed in store.groups():
            full = store.group(listed.fingerprint)
            groups.append(to_group(full if full is not None else listed))
        states = store.services()
        dropped: dict[str, int] = {}
        for drop in store.drops():
            if drop.kind == "write":
                dropped[drop.service] = dropped.get(drop.service, 0) + drop.count
        return Evidence(
            collected_at=clock.now(),
            first_comparison_at=store.first_comparison_at(),
            first_comparisons={
                s.service: s.first_comparison_at for s in states if s.first_comparison_at
            },
            methods=methods,
            groups=tuple(groups),
            dirty=frozenset(s.service for s in states if s.dirty),
            drops=dropped,
            unavailable_mirrors={item.side: item.error for item in store.unavailable_mirrors()},
            by_mode=_by_mode(store),
            coverage={
                item.service: CoverageEvidence(
                    item.service,
                    item.lines,
                    item.lines_hit,
                    item.branches,
                    item.branches_hit,
                    item.missing,
                )
                for item in store.coverage()
            },
            origin_counts=origin_counts(store),
            group_origins=group_origins(store),
            reconciled={s.service: s.reconciled_at for s in states if s.reconciled_at},
            **_data_evidence(url),
        )


def _data_evidence(url: str) -> dict[str, Any]:
    """The verifications at rest (``shadow data verify``) the store holds."""
    from shadow.data import last_checks, service_verifications  # noqa: PLC0415 -- on use

    checks = tuple(
        DataCheck(
            c.table,
            c.verified_at,
            c.equal,
            c.compared,
            c.missing_on_target,
            c.missing_on_source,
            c.differing,
        )
        for c in last_checks(url)
    )
    verified = {
        v.service: DataVerified(v.service, v.verified_at, v.equal)
        for v in service_verifications(url)
    }
    return {"data_checks": checks, "data_verified": verified}
