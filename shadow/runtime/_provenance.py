"""Where evidence came from (traffic or exploration), and shrunk reproductions.

Extra tables in the divergence store, kept apart from the counters of
:mod:`shadow.runtime._store` (which stay the totals every reader uses):

``shadow_origin_counts``  (service, method, outcome, origin) -> ``total``
    The part of ``shadow_comparisons`` made by a non-traffic origin
    (``exploration``). Traffic's share is the total minus these.
``shadow_group_origins``  (fingerprint, origin) -> ``count``
    How many of a group's divergences each non-traffic origin saw.
``shadow_reproductions``  fingerprint -> service, method, ``recorded_at``,
    ``steps`` (JSON), ``target`` (JSON: how to rebuild the sides), ``seed``,
    ``reproduces_redacted``
    The shortest call sequence exploration found that shows the group's
    divergence (hypothesis shrinking), redacted like every example: sensitive
    values are replaced by placeholders that keep only which of them were
    equal. ``reproduces_redacted`` says whether the sequence, replayed with
    stand-ins for those placeholders, still shows the divergence.

The tables are created on first use, so a store written before they existed
keeps working.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from shadow.runtime._store import DivergenceStore, StoreBatch

__all__ = [
    "EXPLORATION",
    "TRAFFIC",
    "StoredReproduction",
    "group_origins",
    "load_reproduction",
    "origin_counts",
    "record_origin",
    "save_reproduction",
]

TRAFFIC = "traffic"
EXPLORATION = "exploration"

_NAME = 120
metadata = sa.MetaData()

origin_counts_table = sa.Table(
    "shadow_origin_counts",
    metadata,
    sa.Column("service", sa.String(_NAME), primary_key=True),
    sa.Column("method", sa.String(_NAME), primary_key=True),
    sa.Column("outcome", sa.String(32), primary_key=True),
    sa.Column("origin", sa.String(32), primary_key=True),
    sa.Column("total", sa.BigInteger, nullable=False),
)
group_origins_table = sa.Table(
    "shadow_group_origins",
    metadata,
    sa.Column("fingerprint", sa.String(64), primary_key=True),
    sa.Column("origin", sa.String(32), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
)
reproductions_table = sa.Table(
    "shadow_reproductions",
    metadata,
    sa.Column("fingerprint", sa.String(64), primary_key=True),
    sa.Column("service", sa.String(_NAME), nullable=False),
    sa.Column("method", sa.String(_NAME), nullable=False),
    sa.Column("recorded_at", sa.DateTime, nullable=False),
    sa.Column("steps", sa.Text, nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("seed", sa.BigInteger),
    sa.Column("reproduces_redacted", sa.Boolean, nullable=False),
)


@dataclass(frozen=True, slots=True)
class StoredReproduction:
    """A shrunk call sequence showing one group's divergence (redacted)."""

    fingerprint: str
    service: str
    method: str
    recorded_at: datetime
    steps: tuple[Mapping[str, Any], ...]
    target: Mapping[str, Any]
    seed: int | None
    reproduces_redacted: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready)."""
        return {
            "fingerprint": self.fingerprint,
            "service": self.service,
            "method": self.method,
            "recorded_at": self.recorded_at.isoformat(),
            "steps": [dict(step) for step in self.steps],
            "target": dict(self.target),
            "seed": self.seed,
            "reproduces_redacted": self.reproduces_redacted,
        }


_READY: weakref.WeakSet[sa.Engine] = weakref.WeakSet()


def _engine(store: DivergenceStore) -> sa.Engine:
    engine = store.engine
    if engine not in _READY:  # once per engine: exploration writes after every example
        metadata.create_all(engine)
        _READY.add(engine)
    return engine


def _add(
    connection: sa.Connection, table: sa.Table, keys: dict[str, Any], column: str, n: int
) -> None:
    where = sa.and_(*(table.c[name] == value for name, value in keys.items()))
    updated = connection.execute(
        sa.update(table).where(where).values({column: table.c[column] + n})
    )
    if not updated.rowcount:
        connection.execute(sa.insert(table).values(**keys, **{column: n}))


def record_origin(store: DivergenceStore, batch: StoreBatch, origin: str) -> None:
    """Count ``batch`` (already recorded in ``store``) as made by ``origin``."""
    if origin == TRAFFIC or not (batch.counts or batch.groups):
        return
    with _engine(store).begin() as connection:
        for (service, method, outcome), (total, _evidence) in batch.counts.items():
            keys = {"service": service, "method": method, "outcome": outcome, "origin": origin}
            _add(connection, origin_counts_table, keys, "total", total)
        for fingerprint, delta in batch.groups.items():
            keys = {"fingerprint": fingerprint, "origin": origin}
            _add(connection, group_origins_table, keys, "count", delta.count)


def origin_counts(store: DivergenceStore) -> dict[tuple[str, str, str, str], int]:
    """``(service, method, outcome, origin) -> calls`` for every non-traffic origin."""
    with _engine(store).connect() as connection:
        rows = connection.execute(sa.select(origin_counts_table))
        return {(r.service, r.method, r.outcome, r.origin): r.total for r in rows}


def group_origins(store: DivergenceStore) -> dict[str, dict[str, int]]:
    """``fingerprint -> {origin: divergences}`` for every non-traffic origin."""
    found: dict[str, dict[str, int]] = {}
    with _engine(store).connect() as connection:
        for row in connection.execute(sa.select(group_origins_table)):
            found.setdefault(row.fingerprint, {})[row.origin] = row._mapping["count"]
    return found


def save_reproduction(
    store: DivergenceStore,
    *,
    fingerprint: str,
    service: str,
    method: str,
    steps: Sequence[Mapping[str, Any]],
    target: Mapping[str, Any],
    seed: int | None,
    reproduces_redacted: bool,
) -> None:
    """Store (or replace, when shorter) the reproduction of group ``fingerprint``."""
    encoded = json.dumps(list(steps), sort_keys=True, default=str)
    with _engine(store).begin() as connection:
        existing = connection.execute(
            sa.select(reproductions_table.c.steps).where(
                reproductions_table.c.fingerprint == fingerprint
            )
        ).first()
        if existing is not None and len(json.loads(existing.steps)) <= len(steps):
            return
        if existing is not None:
            connection.execute(
                sa.delete(reproductions_table).where(
                    reproductions_table.c.fingerprint == fingerprint
                )
            )
        connection.execute(
            sa.insert(reproductions_table).values(
                fingerprint=fingerprint,
                service=service,
                method=method,
                recorded_at=datetime.now(UTC).replace(tzinfo=None),
                steps=encoded,
                target=json.dumps(dict(target), sort_keys=True),
                seed=seed,
                reproduces_redacted=reproduces_redacted,
            )
        )


def load_reproduction(store: DivergenceStore, fingerprint: str) -> StoredReproduction | None:
    """The stored reproduction of group ``fingerprint``, or None."""
    with _engine(store).connect() as connection:
        row = connection.execute(
            sa.select(reproductions_table).where(reproductions_table.c.fingerprint == fingerprint)
        ).first()
    if row is None:
        return None
    return StoredReproduction(
        fingerprint=row.fingerprint,
        service=row.service,
        method=row.method,
        recorded_at=row.recorded_at.replace(tzinfo=UTC),
        steps=tuple(json.loads(row.steps)),
        target=json.loads(row.target),
        seed=row.seed,
        reproduces_redacted=bool(row.reproduces_redacted),
    )
