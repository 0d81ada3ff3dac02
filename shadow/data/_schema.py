"""What an application tells the data tools: its tables, column rules and services.

A :class:`DataSchema` is the one object :func:`~shadow.data.verify`,
:func:`~shadow.data.repair` and :func:`~shadow.data.backfill` need from an
application: a SQLAlchemy ``MetaData`` (the tables, their keys and foreign
keys), per-column rules where a type alone does not say how to compare
(:mod:`shadow.data._rules`), and which tables make up each service's state (so
a clean verification can clear a dirty service). The generic tools know
nothing else of the application.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import sqlalchemy as sa

from shadow._exceptions import ConfigError
from shadow.data._rules import ColumnRule, TableRules, Tolerance

__all__ = ["DataSchema"]


@dataclass(frozen=True)
class DataSchema:
    """An application's tables, their comparison rules and its service -> tables map."""

    metadata: sa.MetaData
    rules: Mapping[str, Mapping[str, ColumnRule]] = field(default_factory=dict)
    """Per table, per column: rules replacing the type's default."""
    service_tables: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Per service, the tables whose rows make up its state."""
    exclude_tables: frozenset[str] = frozenset()
    """Tables the tools never touch (bookkeeping the two sides keep differently)."""

    def __post_init__(self) -> None:
        known = set(self.metadata.tables)
        unknown = (set(self.rules) | {t for ts in self.service_tables.values() for t in ts}) - known
        if unknown:
            raise ValueError(f"rules or services name unknown tables: {sorted(unknown)}")
        object.__setattr__(self, "rules", MappingProxyType(dict(self.rules)))
        object.__setattr__(self, "service_tables", MappingProxyType(dict(self.service_tables)))

    @classmethod
    def reflected(
        cls, engine: sa.Engine, *, service_tables: Mapping[str, tuple[str, ...]]
    ) -> DataSchema:
        """The schema of the tables ``engine``'s database has now, with the default rules.

        For two stores that share their tables (both sides' migrations create the
        same schema): nothing to declare but which tables make up each service.
        """
        metadata = sa.MetaData()
        metadata.reflect(engine)
        return cls(metadata, service_tables=service_tables)

    def tables(self, names: Iterable[str] | None = None) -> list[TableRules]:
        """The rules of ``names`` (default: every table), parents before children.

        An unknown name is bad input (:class:`~shadow.ConfigError`).
        """
        ordered = [t for t in self.metadata.sorted_tables if t.name not in self.exclude_tables]
        if names is not None:
            wanted = set(names)
            unknown = wanted - {t.name for t in ordered}
            if unknown:
                known = ", ".join(t.name for t in ordered)
                raise ConfigError(f"unknown table(s) {sorted(unknown)} (known: {known})")
            ordered = [t for t in ordered if t.name in wanted]
        return [TableRules(t, self.rules.get(t.name, {})) for t in ordered]

    def with_tolerance(self, seconds: float) -> DataSchema:
        """This schema with every :class:`~shadow.data.Tolerance` rule set to ``seconds``."""
        if seconds < 0:
            raise ConfigError("a tolerance must not be negative")
        rules = {
            table: {
                column: dataclasses.replace(rule, seconds=seconds)
                if isinstance(rule, Tolerance)
                else rule
                for column, rule in columns.items()
            }
            for table, columns in self.rules.items()
        }
        return dataclasses.replace(self, rules=rules)

    def services_covered(self, tables: Iterable[str]) -> list[str]:
        """The services all of whose tables are among ``tables``."""
        present = set(tables)
        return [
            service
            for service, owned in self.service_tables.items()
            if owned and set(owned) <= present
        ]
