"""Group commit on the Core services, for real on SQLite, PostgreSQL and MariaDB.

The mirror worker (a process here) takes a batch of six writes of three
services as a group; the candidate refuses the fourth (a constraint planted
on its store only). On SQLite the group is optimistic, without a savepoint
per call: it is rolled back whole at the refusal, its four calls run again
alone, and the two after it group again. On PostgreSQL a failed statement
aborts the whole transaction unless rolled back to a savepoint, so there the
savepoint per call is proven. Either way the refused write is one candidate
error, the others match, in order, and every write that succeeded is stored
once: the queue's rows would be counted twice, or their ids shifted (a
server's sequence gives nothing back on rollback), were the rolled-back
attempt kept or run again where it should not be.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from imagegen.db.admin import init_legacy
from imagegen.db.tables import AppSettingTable, ClientStateTable, SessionQueueTable
from imagegen.demo.wiring import build_candidate
from imagegen.services.contracts.app_settings import AppSettingsService
from imagegen.services.contracts.client_state import ClientStateService
from imagegen.services.contracts.session_queue import Batch, SessionQueueService
from imagegen.services.core.group_commit import CoreServices
from shadow import Clock, FixedClock, IdSource, SequentialIds
from shadow.runtime import (
    Outcome,
    Runtime,
    Savepoints,
    ShadowSettings,
    SideFactory,
)
from shadow.testing import capture_comparisons

BACKENDS = [
    pytest.param("sqlite_engine", id="sqlite"),
    pytest.param("postgres_engine", id="postgresql", marks=pytest.mark.postgres),
    pytest.param("mariadb_engine", id="mariadb", marks=pytest.mark.mariadb),
]


class CountedServices(CoreServices):
    """The candidate's services, logging each group the worker opens to ``log``."""

    log = ""

    def group(self) -> AbstractContextManager[Savepoints | None]:
        with open(self.log, "a") as log:
            log.write(f"{self.engine.dialect.name}\n")
        return super().group()


def build_counted(*, ids: IdSource, clock: Clock, url: str, log: str) -> CountedServices:
    built = build_candidate(ids=ids, clock=clock, url=url)
    counted = CountedServices(built, built.engine)
    counted.log = log
    return counted


@pytest.fixture(params=BACKENDS)
def refusing_candidate(request: pytest.FixtureRequest) -> Iterator[sa.Engine]:
    """A candidate store that refuses the app setting ``refused`` (the legacy one takes it)."""
    engine: sa.Engine = request.getfixturevalue(request.param)
    key = engine.dialect.identifier_preparer.quote("key")
    if engine.dialect.name == "sqlite":
        plant = (
            "CREATE TRIGGER planted_refusal BEFORE INSERT ON app_settings"
            " WHEN NEW.key = 'refused' BEGIN SELECT RAISE(ABORT, 'planted refusal'); END"
        )
        remove = "DROP TRIGGER planted_refusal"
    else:
        plant = (
            f"ALTER TABLE app_settings ADD CONSTRAINT planted_refusal CHECK ({key} <> 'refused')"
        )
        remove = "ALTER TABLE app_settings DROP CONSTRAINT planted_refusal"
    with engine.begin() as connection:
        connection.exec_driver_sql(plant)
    try:
        yield engine
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(remove)


def _runtime(
    tmp_path: Path, build: str | Callable[..., CoreServices], url: str, **candidate: str
) -> Runtime:
    """Shadow mode, group commit on, a second's linger for each batch; a thread worker
    for a callable ``build``, a process worker for a ``module:callable`` one."""
    legacy = tmp_path / "legacy.db"
    init_legacy(legacy)
    return Runtime(
        ShadowSettings(
            worker="thread" if callable(build) else "process",
            default_mode="shadow",
            store_url=f"sqlite:///{tmp_path / 'store.db'}",
            group_commit=8,
            batch_size=16,
            batch_linger_seconds=1.0,
        ),
        legacy=SideFactory("imagegen.demo.wiring:build_legacy", {"path": str(legacy)}),
        candidate=SideFactory(build, {"url": url, **candidate}),
        registry=CollectorRegistry(),
        ids=SequentialIds("group"),
        clock=FixedClock(),
    )


def test_a_refused_write_mid_group_is_one_candidate_error_the_rest_commit_in_order(
    refusing_candidate: sa.Engine, tmp_path: Path
) -> None:
    # A process worker: the mirror's engine (its pooled server connections) ends with it.
    url = refusing_candidate.url.render_as_string(hide_password=False)
    log = tmp_path / "groups.log"
    runtime = _runtime(tmp_path, f"{__name__}:build_counted", url, log=str(log))
    try:
        settings = runtime.proxy(AppSettingsService, "app_settings")
        state = runtime.proxy(ClientStateService, "client_state")
        queue = runtime.proxy(SessionQueueService, "session_queue")
        with capture_comparisons(runtime) as seen:
            queue.enqueue_batch("default", Batch(graph={"nodes": {}}, runs=3))
            settings.set("group.k", "1")
            state.set_by_key("system", "group.state", "s1")
            settings.set("refused", "x")
            settings.set("group.k", "2")
            state.set_by_key("system", "group.state", "s2")
            assert runtime.flush(60)
    finally:
        runtime.close()
    # SQLite's optimistic group rolled back at the refusal and a second holds
    # the last two; a server's group went on past it, from its savepoint.
    dialect = refusing_candidate.dialect.name
    assert log.read_text().split() == [dialect] * (2 if dialect == "sqlite" else 1)
    assert [(item.service, item.outcome, item.mirror_failed) for item in seen] == [
        ("session_queue", Outcome.MATCH, False),
        ("app_settings", Outcome.MATCH, False),
        ("client_state", Outcome.MATCH, False),
        ("app_settings", Outcome.CANDIDATE_ERROR, True),
        ("app_settings", Outcome.MATCH, False),
        ("client_state", Outcome.MATCH, False),
    ]
    assert [item.seq for item in seen] == sorted(item.seq for item in seen)
    settings_table, state_table = AppSettingTable.__table__, ClientStateTable.__table__  # type: ignore[attr-defined]
    queue_table = SessionQueueTable.__table__  # type: ignore[attr-defined]
    with refusing_candidate.connect() as connection:
        stored: dict[str, str] = dict(
            connection.execute(
                sa.select(settings_table.c.key, settings_table.c.value).where(
                    settings_table.c.key.in_(["group.k", "refused"])
                )
            ).all()
        )
        states = (
            connection.execute(
                sa.select(state_table.c.value).where(state_table.c.key == "group.state")
            )
            .scalars()
            .all()
        )
        queued = connection.execute(sa.select(sa.func.count()).select_from(queue_table)).scalar()
    assert stored == {"group.k": "2"}
    assert states == ["s2"]
    assert queued == 3


class SlowCommit(CoreServices):
    """The candidate's services, each group taking 0.3 s more before its COMMIT."""

    def group(self) -> AbstractContextManager[Savepoints | None]:
        return self._slow()

    @contextmanager
    def _slow(self) -> Iterator[Savepoints | None]:
        with super().group() as savepoints:
            yield savepoints
            time.sleep(0.3)


def build_slow(*, ids: IdSource, clock: Clock, url: str) -> SlowCommit:
    built = build_candidate(ids=ids, clock=clock, url=url)
    return SlowCommit(built, built.engine)


def test_a_groups_commit_time_never_widens_a_calls_timestamp_window(
    sqlite_engine: sa.Engine, tmp_path: Path
) -> None:
    # set_queue_item_session returns the started_at its item's dequeue stamped a
    # moment before, on each side (20 ms before on the authoritative one). Were
    # the commit's share (0.1 s each) in the call's window, the mirror's window
    # would reach back past that stamp: one side's value would look produced by
    # the call itself, the other's older, a divergence (seen in the demo).
    runtime = _runtime(tmp_path, build_slow, sqlite_engine.url.render_as_string())
    try:
        queue = runtime.proxy(SessionQueueService, "session_queue")
        with capture_comparisons(runtime) as seen:
            queue.enqueue_batch("default", Batch(graph={"nodes": {}}, runs=1))
            assert runtime.flush(60)
            item = queue.dequeue()
            assert item is not None
            time.sleep(0.02)
            queue.set_queue_item_session(item.item_id, {"id": "session", "graph": {}})
            queue.complete_queue_item(item.item_id)
            assert runtime.flush(60)
    finally:
        runtime.close()
    assert [(item.method, item.outcome) for item in seen] == [
        ("enqueue_batch", Outcome.MATCH),
        ("dequeue", Outcome.MATCH),
        ("set_queue_item_session", Outcome.MATCH),
        ("complete_queue_item", Outcome.MATCH),
    ]
    # The group's slow COMMIT is counted in its writes' latencies, shared out among
    # them (however the three writes were batched: one group, or two).
    assert sum(item.mirror_seconds or 0 for item in seen[1:]) >= 0.3


def test_outside_a_group_the_services_commit_as_before(sqlite_engine: sa.Engine) -> None:
    url = sqlite_engine.url.render_as_string(hide_password=False)
    built = build_candidate(ids=SequentialIds("x"), clock=FixedClock(), url=url)
    built["app_settings"].set("alone", "1")
    with built.group():
        built["app_settings"].set("grouped", "2")
        with sqlite_engine.connect() as other:  # not committed yet: others see none of it
            grouped = sa.text("SELECT key FROM app_settings WHERE key = 'grouped'")
            assert other.execute(grouped).all() == []
        assert built["app_settings"].get("grouped") == "2"  # the group's reads see its writes
    with sqlite_engine.connect() as other:
        keys = (
            other.execute(
                sa.text(
                    "SELECT key FROM app_settings WHERE key IN ('alone', 'grouped') ORDER BY key"
                )
            )
            .scalars()
            .all()
        )
    assert keys == ["alone", "grouped"]
    built.engine.dispose()
