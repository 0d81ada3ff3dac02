"""The reference app's conflict domains: no service's code touches a table outside its domain.

Several mirror workers are safe only if no two domains share a table: a call
of one domain may then run before an earlier call of another without seeing or
changing anything it wrote. Checked against the source of both implementations
of every service (a table named anywhere in its modules counts as touched).
"""

from __future__ import annotations

import re
from pathlib import Path

from imagegen.cutover import SERVICE_TABLES, conflict_domains
from imagegen.db.tables import metadata

SERVICES = Path(__file__).resolve().parents[2] / "imagegen" / "services"
TABLES = frozenset(metadata.tables)


def _touched(service: str) -> set[str]:
    text = "".join(
        path.read_text()
        for layer in ("legacy", "core")
        for path in (SERVICES / layer).glob(f"{service}*.py")
    )
    assert text, f"no module of {service}"
    return {table for table in TABLES if re.search(rf"\b{table}\b", text)}


def test_every_service_is_in_exactly_one_domain() -> None:
    declared = [service for domain in conflict_domains() for service in domain]
    assert sorted(declared) == sorted(SERVICE_TABLES)


def test_no_service_touches_a_table_of_another_domain() -> None:
    for domain in conflict_domains():
        tables = {table for service in domain for table in SERVICE_TABLES[service]}
        for service in domain:
            assert _touched(service) <= tables, (service, _touched(service) - tables)
    owners: dict[str, tuple[str, ...]] = {}
    for domain in conflict_domains():
        for service in domain:
            for table in _touched(service):
                assert owners.setdefault(table, domain) == domain, table


def test_the_session_queue_the_busiest_comes_first() -> None:
    assert conflict_domains()[0] == ("session_queue",)
    assert len(conflict_domains()) == 6
