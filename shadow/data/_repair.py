"""Targeted repair: mend exactly the rows a verification listed, then check them again.

:func:`repair` takes a :class:`~shadow.data.VerificationReport` and, per table,
plans three lists: keys to *insert* (missing on the target), to *update*
(differing) and to *delete* (missing on the authoritative source). A dry run
(the default) returns that plan and changes nothing. Applied:

1. children before parents, the keys to delete are deleted from the target
   (one transaction per chunk), with the target's cascades on: a child of an
   extra parent cannot exist on the source either;
2. parents before children, the rows of the keys to insert or update are read
   from the source *now* (the authoritative value at repair time, not at
   verification time) and written over the target's in one transaction per
   chunk, with triggers and foreign-key actions off (:func:`shadow.data._write.rewrite`),
   so the copy is exact: no trigger refreshes ``updated_at``, no cascade
   removes a child. A key the source no longer has is deleted on the target;
3. every listed key is verified again (:func:`~shadow.data.verify_keys`),
   and the result says whether the repaired rows are now equal.

Rows not listed are never touched. Keys only, never values, are reported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from shadow.data._read import Key, key_filter, rows_for_keys
from shadow.data._rules import TableRules
from shadow.data._verify import (
    DEFAULT_CHUNK,
    RowDifference,
    TableVerification,
    VerificationReport,
    _json_key,
    verify_keys,
)
from shadow.data._write import rewrite, rewriting

__all__ = ["RepairReport", "TableRepair", "repair"]


@dataclass(frozen=True)
class TableRepair:
    """What a repair of one table does (or, in a dry run, would do)."""

    table: str
    insert: tuple[Key, ...]
    update: tuple[RowDifference, ...]
    delete: tuple[Key, ...]
    applied: bool = False
    after: TableVerification | None = None
    """The re-verification of the listed keys (applied repairs only)."""

    @property
    def keys(self) -> list[Key]:
        """Every key this repair touches."""
        return [*self.insert, *(d.key for d in self.update), *self.delete]

    @property
    def fixed(self) -> bool | None:
        """True when the re-verification found the listed rows equal (None: not applied)."""
        return None if self.after is None else self.after.equal

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (keys, columns, counts: never values)."""
        return {
            "table": self.table,
            "applied": self.applied,
            "fixed": self.fixed,
            "insert": [_json_key(k) for k in self.insert],
            "update": [{"key": _json_key(d.key), "columns": list(d.columns)} for d in self.update],
            "delete": [_json_key(k) for k in self.delete],
            "after": self.after.to_dict() if self.after is not None else None,
        }


@dataclass(frozen=True)
class RepairReport:
    """A repair of several tables."""

    source: str
    target: str
    applied: bool
    tables: tuple[TableRepair, ...] = field(default=())

    @property
    def fixed(self) -> bool | None:
        """True when every repaired table re-verified equal (None: a dry run)."""
        if not self.applied:
            return None
        return all(table.fixed for table in self.tables)

    def table(self, name: str) -> TableRepair:
        """The repair of table ``name``."""
        for table in self.tables:
            if table.table == name:
                return table
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data."""
        return {
            "source": self.source,
            "target": self.target,
            "applied": self.applied,
            "fixed": self.fixed,
            "tables": [table.to_dict() for table in self.tables],
        }


def _chunks(keys: Sequence[Key], size: int) -> list[Sequence[Key]]:
    return [keys[start : start + size] for start in range(0, len(keys), size)]


def _plan(result: TableVerification) -> TableRepair:
    return TableRepair(
        table=result.table,
        insert=result.missing_on_target,
        update=result.differing,
        delete=result.missing_on_source,
    )


def _delete_extras(
    source: sa.Engine, target: sa.Engine, rules: TableRules, keys: Sequence[Key], size: int
) -> None:
    for chunk in _chunks(keys, size):
        with source.connect() as reader:
            back = rows_for_keys(reader, rules, rules.key, chunk)
        gone = [key for key in chunk if key not in back]  # the source may have them by now
        if not gone:
            continue
        with target.begin() as writer:
            writer.execute(
                sa.delete(rules.table).where(key_filter(rules.key, gone, writer.dialect.name))
            )


def _copy_rows(
    source: sa.Engine, target: sa.Engine, rules: TableRules, keys: Sequence[Key], size: int
) -> None:
    columns = rules.writable
    for chunk in _chunks(keys, size):
        with source.connect() as reader:
            found = rows_for_keys(reader, rules, columns, chunk, typed=True)
        rows: list[Mapping[str, Any]] = [dict(row._mapping) for row in found.values()]  # type: ignore[attr-defined]
        with rewriting(target) as writer:
            rewrite(writer, rules.table, list(chunk), rows)


def repair(
    source: sa.Engine,
    target: sa.Engine,
    tables: Sequence[TableRules],
    verification: VerificationReport,
    *,
    apply: bool = False,
    chunk_size: int = DEFAULT_CHUNK,
) -> RepairReport:
    """Repair the keys ``verification`` listed for ``tables`` (dry run unless ``apply``).

    Tables of the verification that are not in ``tables`` are left alone; a
    table in ``tables`` the verification did not cover has nothing to repair.
    """
    by_name = {rules.name: rules for rules in tables}
    plans = {
        result.table: _plan(result)
        for result in verification.tables
        if result.table in by_name and not result.equal
    }
    ordered = [rules for rules in tables if rules.name in plans]
    if not apply:
        return RepairReport(
            verification.source,
            verification.target,
            False,
            tuple(plans[rules.name] for rules in ordered),
        )
    for rules in reversed(ordered):
        _delete_extras(source, target, rules, plans[rules.name].delete, chunk_size)
    for rules in ordered:
        plan = plans[rules.name]
        _copy_rows(source, target, rules, [*plan.insert, *(d.key for d in plan.update)], chunk_size)
    done = []
    for rules in ordered:
        plan = plans[rules.name]
        after = verify_keys(source, target, rules, plan.keys, chunk_size=chunk_size)
        done.append(
            TableRepair(
                plan.table, plan.insert, plan.update, plan.delete, applied=True, after=after
            )
        )
    return RepairReport(verification.source, verification.target, True, tuple(done))
