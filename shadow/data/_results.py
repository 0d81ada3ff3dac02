"""Verification results in the divergence store, and dirty services cleared by them.

Three tables beside the runtime's own, in the same store (created on first use):

``shadow_data_checks``  one row per table verification: table, source and
                        target (URLs without passwords), when, the counts,
                        whether equal, the declared column treatments (JSON)
``shadow_data_keys``    the keys it listed: check id, kind
                        (``missing_on_target``, ``missing_on_source``,
                        ``differing``), key (JSON) and differing columns (JSON)
``shadow_data_services`` per service, the last verification that covered all
                        its tables: when it started and ended, whether equal

:func:`record_verification` writes a report there and then clears every dirty
service all of whose tables (:attr:`~shadow.data.DataSchema.service_tables`)
this report verified equal, through
:meth:`~shadow.runtime.DivergenceStore.mark_verified`: the service is cleared
only if it did not become dirty after the verification started, and the
store records when (its ``reconciled_at``). :func:`last_checks` reads the most
recent verification of each table (the gate and the report show them).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.exc import SQLAlchemyError

from shadow._exceptions import StoreError
from shadow.data._verify import RowDifference, TableVerification, VerificationReport
from shadow.runtime import DivergenceStore

__all__ = [
    "ServiceVerification",
    "StoredCheck",
    "last_checks",
    "record_verification",
    "service_verifications",
    "stored_verification",
]

_metadata = sa.MetaData()
_TIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

checks = sa.Table(
    "shadow_data_checks",
    _metadata,
    sa.Column("check_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("table_name", sa.String(255), nullable=False, index=True),
    sa.Column("source", sa.String(1024), nullable=False),
    sa.Column("target", sa.String(1024), nullable=False),
    sa.Column("started_at", _TIME, nullable=False),
    sa.Column("finished_at", _TIME, nullable=False),
    sa.Column("source_rows", sa.Integer, nullable=False),
    sa.Column("target_rows", sa.Integer, nullable=False),
    sa.Column("missing_on_target", sa.Integer, nullable=False),
    sa.Column("missing_on_source", sa.Integer, nullable=False),
    sa.Column("differing", sa.Integer, nullable=False),
    sa.Column("equal", sa.Boolean, nullable=False),
    sa.Column("truncated", sa.Boolean, nullable=False),
    sa.Column("declared", sa.Text, nullable=False),
    sa.Column("key_columns", sa.Text, nullable=False),
)

keys = sa.Table(
    "shadow_data_keys",
    _metadata,
    sa.Column("check_id", sa.Integer, nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("row_key", sa.Text, nullable=False),
    sa.Column("columns", sa.Text, nullable=True),
)


verified_services = sa.Table(
    "shadow_data_services",
    _metadata,
    sa.Column("service", sa.String(255), primary_key=True),
    sa.Column("started_at", _TIME, nullable=False),
    sa.Column("verified_at", _TIME, nullable=False),
    sa.Column("equal", sa.Boolean, nullable=False),
)


@dataclass(frozen=True, slots=True)
class ServiceVerification:
    """The last verification that covered every table of a service."""

    service: str
    started_at: datetime
    verified_at: datetime
    equal: bool


@dataclass(frozen=True, slots=True)
class StoredCheck:
    """The most recent verification of one table, as the store keeps it."""

    table: str
    source: str
    target: str
    verified_at: datetime
    equal: bool
    compared: int
    missing_on_target: int
    missing_on_source: int
    differing: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data."""
        return {
            "table": self.table,
            "source": self.source,
            "target": self.target,
            "verified_at": self.verified_at.isoformat(),
            "equal": self.equal,
            "compared": self.compared,
            "missing_on_target": self.missing_on_target,
            "missing_on_source": self.missing_on_source,
            "differing": self.differing,
        }


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _key_json(key: Any) -> str:
    return json.dumps(list(key) if isinstance(key, tuple) else [key])


def _key_value(text: str) -> Any:
    values = json.loads(text)
    return values[0] if len(values) == 1 else tuple(values)


def _engine(url: str) -> sa.Engine:
    engine = sa.create_engine(
        url, **({"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {})
    )
    try:
        _metadata.create_all(engine)
    except SQLAlchemyError as error:
        engine.dispose()
        raise StoreError(f"cannot open the divergence store: {error.__class__.__name__}") from None
    return engine


def record_verification(
    store_url: str,
    report: VerificationReport,
    *,
    service_tables: Mapping[str, Iterable[str]] | None = None,
    at: datetime | None = None,
) -> list[str]:
    """Write ``report`` into the store; clear the services it proves equal.

    Returns the services whose dirty flag this verification cleared.
    """
    engine = _engine(store_url)
    try:
        with engine.begin() as connection:
            for result in report.tables:
                check_id = connection.execute(
                    sa.insert(checks).values(
                        table_name=result.table,
                        source=report.source,
                        target=report.target,
                        started_at=_naive(result.started_at),
                        finished_at=_naive(result.finished_at),
                        source_rows=result.source_rows,
                        target_rows=result.target_rows,
                        missing_on_target=result.missing_on_target_count,
                        missing_on_source=result.missing_on_source_count,
                        differing=result.differing_count,
                        equal=result.equal,
                        truncated=result.truncated,
                        declared=json.dumps(dict(result.declared), sort_keys=True),
                        key_columns=json.dumps(list(result.key_columns)),
                    )
                ).inserted_primary_key
                check_id = check_id[0] if check_id is not None else None
                listed = [
                    {"check_id": check_id, "kind": "missing_on_target", "row_key": _key_json(k)}
                    for k in result.missing_on_target
                ]
                listed += [
                    {"check_id": check_id, "kind": "missing_on_source", "row_key": _key_json(k)}
                    for k in result.missing_on_source
                ]
                for row in listed:
                    row["columns"] = None
                listed += [
                    {
                        "check_id": check_id,
                        "kind": "differing",
                        "row_key": _key_json(d.key),
                        "columns": json.dumps(list(d.columns)),
                    }
                    for d in result.differing
                ]
                if listed:
                    connection.execute(sa.insert(keys), listed)
    except SQLAlchemyError as error:
        raise StoreError(f"cannot record the verification: {error.__class__.__name__}") from None
    finally:
        engine.dispose()
    return _clear_services(store_url, report, service_tables or {}, at)


def _clear_services(
    store_url: str,
    report: VerificationReport,
    service_tables: Mapping[str, Iterable[str]],
    at: datetime | None,
) -> list[str]:
    by_table = {result.table: result for result in report.tables}
    covered: list[ServiceVerification] = []
    for service, owned in service_tables.items():
        names = list(owned)
        if not names or not all(name in by_table for name in names):
            continue
        results = [by_table[name] for name in names]
        covered.append(
            ServiceVerification(
                service,
                min(result.started_at for result in results),
                at or max(result.finished_at for result in results),
                all(result.equal for result in results),
            )
        )
    if not covered:
        return []
    _record_services(store_url, covered)
    cleared: list[str] = []
    store = DivergenceStore(store_url)
    try:
        for item in covered:
            if item.equal and store.mark_verified(
                item.service, started=item.started_at, at=item.verified_at
            ):
                cleared.append(item.service)
    finally:
        store.close()
    return cleared


def _record_services(store_url: str, covered: list[ServiceVerification]) -> None:
    engine = _engine(store_url)
    try:
        with engine.begin() as connection:
            for item in covered:
                connection.execute(
                    sa.delete(verified_services).where(verified_services.c.service == item.service)
                )
                connection.execute(
                    sa.insert(verified_services).values(
                        service=item.service,
                        started_at=_naive(item.started_at),
                        verified_at=_naive(item.verified_at),
                        equal=item.equal,
                    )
                )
    except SQLAlchemyError as error:
        raise StoreError(f"cannot record the verification: {error.__class__.__name__}") from None
    finally:
        engine.dispose()


def service_verifications(store_url: str) -> list[ServiceVerification]:
    """The last verification of each service that covered all its tables."""
    engine = _engine(store_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.select(verified_services).order_by(verified_services.c.service)
            ).all()
    finally:
        engine.dispose()
    return [
        ServiceVerification(
            row.service, _aware(row.started_at), _aware(row.verified_at), bool(row.equal)
        )
        for row in rows
    ]


def last_checks(store_url: str) -> list[StoredCheck]:
    """The most recent verification of each table (none when the store has none)."""
    engine = _engine(store_url)
    try:
        with engine.connect() as connection:
            latest = (
                sa.select(sa.func.max(checks.c.check_id))
                .group_by(checks.c.table_name)
                .scalar_subquery()
            )
            rows = connection.execute(
                sa.select(checks).where(checks.c.check_id.in_(latest)).order_by(checks.c.table_name)
            ).all()
    finally:
        engine.dispose()
    return [
        StoredCheck(
            table=row.table_name,
            source=row.source,
            target=row.target,
            verified_at=_aware(row.finished_at),
            equal=bool(row.equal),
            compared=row.source_rows + row.missing_on_source,
            missing_on_target=row.missing_on_target,
            missing_on_source=row.missing_on_source,
            differing=row.differing,
        )
        for row in rows
    ]


def stored_verification(
    store_url: str, source: str, target: str, tables: Iterable[str]
) -> VerificationReport:
    """The latest stored verification of each of ``tables`` between these two stores.

    Tables never verified between them are left out (nothing to repair there).
    """
    wanted = list(tables)
    engine = _engine(store_url)
    results = []
    try:
        with engine.connect() as connection:
            for table in wanted:
                row = connection.execute(
                    sa.select(checks)
                    .where(
                        checks.c.table_name == table,
                        checks.c.source == source,
                        checks.c.target == target,
                    )
                    .order_by(checks.c.check_id.desc())
                    .limit(1)
                ).first()
                if row is None:
                    continue
                listed = connection.execute(
                    sa.select(keys).where(keys.c.check_id == row.check_id)
                ).all()
                results.append(_stored_result(row, listed))
    finally:
        engine.dispose()
    return VerificationReport(source, target, tuple(results))


def _stored_result(row: sa.Row[Any], listed: Sequence[sa.Row[Any]]) -> TableVerification:
    by_kind: dict[str, list[sa.Row[Any]]] = {}
    for item in listed:
        by_kind.setdefault(item.kind, []).append(item)
    return TableVerification(
        table=row.table_name,
        key_columns=tuple(json.loads(row.key_columns)),
        source_rows=row.source_rows,
        target_rows=row.target_rows,
        missing_on_target=tuple(
            _key_value(i.row_key) for i in by_kind.get("missing_on_target", [])
        ),
        missing_on_source=tuple(
            _key_value(i.row_key) for i in by_kind.get("missing_on_source", [])
        ),
        differing=tuple(
            RowDifference(_key_value(i.row_key), tuple(json.loads(i.columns)))
            for i in by_kind.get("differing", [])
        ),
        missing_on_target_count=row.missing_on_target,
        missing_on_source_count=row.missing_on_source,
        differing_count=row.differing,
        declared=json.loads(row.declared),
        started_at=_aware(row.started_at),
        finished_at=_aware(row.finished_at),
        truncated=bool(row.truncated),
    )
