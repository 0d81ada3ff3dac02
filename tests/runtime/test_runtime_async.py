"""Async contracts: ``async def`` methods are proxied as coroutines, mirrored in the worker's loop.

Legacy is raw SQL over aiosqlite, the candidate SQLAlchemy's asyncio extension
(aiosqlite driver); the contract mixes async methods with one sync method
(``tests.runtime.runtime_notes``). Each behaviour is checked on the thread
worker and on the process worker.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from shadow import Clock, ContractError, FixedClock, IdSource, SequentialIds, read
from shadow.runtime import Outcome, Reason, Runtime, ServiceSettings, ShadowSettings, SideFactory
from shadow.testing import capture_comparisons
from tests.runtime.runtime_notes import (
    AiosqliteNotes,
    Note,
    NoteMissingError,
    Notes,
    rows,
)
from tests.runtime.runtime_notes import build as build_notes

_BUILD = "tests.runtime.runtime_notes:build"

MakeNotes = Callable[..., Runtime]

WORKERS = pytest.mark.parametrize("worker", ["thread", "process"])


@pytest.fixture
def make_notes(tmp_path: Path) -> Iterator[MakeNotes]:
    """A runtime for the ``notes`` service in shadow mode; closed at the end of the test."""
    created: list[Runtime] = []

    def make(
        worker: str, *, candidate: Mapping[str, Any] | None = None, **settings: Any
    ) -> Runtime:
        runtime = Runtime(
            ShadowSettings(
                worker=worker,
                services={"notes": ServiceSettings(mode="shadow")},
                store_url=f"sqlite:///{tmp_path / 'store.db'}",
                **settings,
            ),
            legacy=SideFactory(_BUILD, {"path": str(tmp_path / "legacy.db"), "kind": "legacy"}),
            candidate=SideFactory(
                _BUILD,
                {"path": str(tmp_path / "candidate.db"), "kind": "candidate", **(candidate or {})},
            ),
            registry=CollectorRegistry(),
            ids=SequentialIds("note"),
            clock=FixedClock(),
        )
        created.append(runtime)
        return runtime

    yield make
    for runtime in created:
        runtime.close()


@WORKERS
@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_async_methods_are_awaited_mirrored_and_compared_with_the_sync_one(
    make_notes: MakeNotes,
    empty_database: Callable[[str], str],
    tmp_path: Path,
    worker: str,
    backend: str,
) -> None:
    """Every call of the mixed contract matches; both stores hold the same ids (the tape).

    The candidate runs on SQLite (aiosqlite) or on the real PostgreSQL (asyncpg).
    """
    url = empty_database(backend)
    runtime = make_notes(worker, candidate={"url": url})
    notes = runtime.proxy(Notes, "notes")
    assert inspect.iscoroutinefunction(notes.add) and not inspect.iscoroutinefunction(notes.count)

    async def traffic() -> None:
        first = await notes.add("groceries")
        second = await notes.add("errands")
        assert (first.id, second.id) == ("note-000001", "note-000002")
        renamed = await notes.rename(first.id, "shopping")
        assert renamed.title == "shopping"
        assert (await notes.get(second.id)).title == "errands"
        assert {note.title for note in await notes.list_all()} == {"shopping", "errands"}
        with pytest.raises(NoteMissingError):  # the caller gets the authoritative exception
            await notes.rename("nope", "x")
        assert notes.count() == 2

    with capture_comparisons(runtime) as seen:
        asyncio.run(traffic())
        assert runtime.flush(60)
    assert [(item.method, item.outcome) for item in seen] == [
        ("add", Outcome.MATCH),
        ("add", Outcome.MATCH),
        ("rename", Outcome.MATCH),
        ("get", Outcome.MATCH),
        ("list_all", Outcome.MATCH),
        ("rename", Outcome.MATCH),  # both sides raised NoteMissingError
        ("count", Outcome.MATCH),
    ]
    assert rows(f"sqlite:///{tmp_path / 'legacy.db'}") == rows(url)
    assert len(rows(url)) == 2


@WORKERS
def test_a_planted_bug_in_an_async_candidate_is_a_divergence_and_the_caller_never_sees_it(
    make_notes: MakeNotes, worker: str
) -> None:
    runtime = make_notes(worker, candidate={"fault": "shout"})
    notes = runtime.proxy(Notes, "notes")

    async def traffic() -> str:
        note = await notes.add("groceries")
        return (await notes.rename(note.id, "shopping")).title

    with capture_comparisons(runtime) as seen:
        assert asyncio.run(traffic()) == "shopping"  # legacy's answer, whatever the candidate did
        assert runtime.flush(60)
    outcomes = {item.method: item for item in seen}
    assert outcomes["add"].outcome is Outcome.MATCH
    assert outcomes["rename"].outcome is Outcome.DIVERGENCE
    assert outcomes["rename"].paths == ("root['title']",)


@WORKERS
def test_concurrent_async_writes_reach_the_mirror_in_their_commit_order(
    make_notes: MakeNotes, tmp_path: Path, worker: str
) -> None:
    """Renames of one note raced by many tasks leave both stores with the same last title."""
    runtime = make_notes(worker)
    notes = runtime.proxy(Notes, "notes")

    async def traffic() -> None:
        note = await notes.add("start")
        renames = [notes.rename(note.id, f"title {index}") for index in range(20)]
        reads = [notes.get(note.id) for _ in range(10)]
        await asyncio.gather(*renames, *reads)

    with capture_comparisons(runtime) as seen:
        asyncio.run(traffic())
        assert runtime.flush(60)
    writes = [item for item in seen if item.method in ("add", "rename")]
    assert len(writes) == 21 and all(item.outcome is Outcome.MATCH for item in writes)
    # Reads racing the renames are matches or raced (re-checked), never divergences.
    assert {item.outcome for item in seen} <= {Outcome.MATCH, Outcome.RACED}
    assert rows(f"sqlite:///{tmp_path / 'legacy.db'}") == rows(
        f"sqlite:///{tmp_path / 'candidate.db'}"
    )


@WORKERS
def test_an_async_mirror_past_its_deadline_is_dropped_and_the_caller_is_not_held(
    make_notes: MakeNotes, worker: str
) -> None:
    runtime = make_notes(worker, candidate={"fault": "hang"}, deadline_seconds=0.5)
    notes = runtime.proxy(Notes, "notes")
    with capture_comparisons(runtime) as seen:
        note = asyncio.run(notes.add("groceries"))
        assert note.id == "note-000001"
        assert runtime.flush(60)
    assert [(item.outcome, item.reason) for item in seen] == [(Outcome.DROPPED, Reason.DEADLINE)]
    assert runtime.recorder.evidence.is_dirty("notes")  # a dropped write


class _AsyncCount(AiosqliteNotes):
    """An implementation whose ``count`` is async where the contract's is sync."""

    async def count(self) -> int:  # type: ignore[override]
        return 0


class _CoroutineFromSync(AiosqliteNotes):
    """A sync ``count`` that returns a coroutine: nothing inspect can see at build."""

    def count(self) -> int:
        async def later() -> int:
            return 0

        return later()  # type: ignore[return-value]


def build_variant(*, ids: IdSource, clock: Clock, path: str, variant: str) -> Mapping[str, Any]:
    """A ``notes`` side built from one of this module's implementations (importable, so the
    process worker can build it too)."""
    built = dict(build_notes(ids=ids, clock=clock, path=path, kind="legacy"))
    built["notes"] = _VARIANTS[variant](path, ids=ids, clock=clock)
    return built


def _variant_runtime(tmp_path: Path, legacy: str, worker: str) -> Runtime:
    """Legacy is the ``legacy`` variant, the candidate the plain aiosqlite implementation."""
    factory = f"{__name__}:build_variant"
    return Runtime(
        ShadowSettings(
            worker=worker,
            services={"notes": ServiceSettings(mode="shadow")},
            store_url=f"sqlite:///{tmp_path / 'store.db'}",
        ),
        legacy=SideFactory(factory, {"path": str(tmp_path / "legacy.db"), "variant": legacy}),
        candidate=SideFactory(
            factory, {"path": str(tmp_path / "candidate.db"), "variant": "plain"}
        ),
        registry=CollectorRegistry(),
    )


ALL_WORKERS = pytest.mark.parametrize("worker", ["inline", "thread", "process"])


@ALL_WORKERS
def test_an_implementation_async_where_the_contract_is_sync_is_refused_at_proxy_build(
    tmp_path: Path, worker: str
) -> None:
    with (
        _variant_runtime(tmp_path, "async_count", worker) as runtime,
        pytest.raises(ContractError, match=r"sync/async: count \(declared def \(sync\)\)"),
    ):
        runtime.proxy(Notes, "notes")


@ALL_WORKERS
def test_a_coroutine_returned_by_a_sync_method_is_refused_at_the_call_never_counted_a_drop(
    tmp_path: Path, worker: str
) -> None:
    with _variant_runtime(tmp_path, "coroutine_from_sync", worker) as runtime:
        notes = runtime.proxy(Notes, "notes")
        with capture_comparisons(runtime) as seen:
            with pytest.raises(ContractError, match="count is declared sync but the legacy"):
                notes.count()
            assert asyncio.run(notes.add("still fine")).id  # the rest of the contract works
            assert runtime.flush(60)
        assert [(item.method, item.outcome) for item in seen] == [("add", Outcome.MATCH)]


class _SyncOnly:
    """A contract whose one method is sync, mirrored to an async candidate."""

    @read()
    def value(self) -> int:
        raise NotImplementedError


class _AsyncValue:
    async def value(self) -> int:
        return 1


class _SyncValue:
    def value(self) -> int:
        return 1


@pytest.mark.parametrize("worker", ["thread", "process"])
def test_a_mirror_async_where_the_contract_is_sync_is_a_candidate_error_not_a_drop(
    tmp_path: Path, worker: str
) -> None:
    """The mirror side is built in the worker: its mismatch is its error, named clearly."""
    runtime = Runtime(
        ShadowSettings(
            worker=worker,
            services={"value": ServiceSettings(mode="shadow")},
            store_url=f"sqlite:///{tmp_path / 'store.db'}",
        ),
        legacy=SideFactory("tests.runtime.test_runtime_async:build_sync_value"),
        candidate=SideFactory("tests.runtime.test_runtime_async:build_async_value"),
        registry=CollectorRegistry(),
    )
    with runtime, capture_comparisons(runtime) as seen:
        assert runtime.proxy(_SyncOnly, "value").value() == 1
        assert runtime.flush(60)
        [observation] = seen
    assert observation.outcome is Outcome.CANDIDATE_ERROR
    assert observation.error_types == ("none", "shadow._exceptions.ContractError")


def build_sync_value(**_sources: Any) -> Mapping[str, Any]:
    """Legacy side of the ``value`` service (sync, as declared)."""
    return {"value": _SyncValue()}


def build_async_value(**_sources: Any) -> Mapping[str, Any]:
    """Candidate side of the ``value`` service (async, unlike the contract)."""
    return {"value": _AsyncValue()}


class _Gated(AiosqliteNotes):
    """Legacy whose ``add`` waits, mid-call, until the test opens its gate."""

    gate: asyncio.Event | None = None

    async def add(self, title: str) -> Note:
        assert self.gate is not None
        await self.gate.wait()
        return await super().add(title)


@ALL_WORKERS
def test_an_async_write_holds_the_sequencer_across_its_await(tmp_path: Path, worker: str) -> None:
    """While an async write awaits, no other thread can sequence a call (commit order)."""
    with _variant_runtime(tmp_path, "gated", worker) as runtime:
        sequencer = runtime.switchboard.sequencer
        notes = runtime.proxy(Notes, "notes")
        free: list[bool] = []

        def lock_is_free() -> bool:
            taken = sequencer.lock.acquire(blocking=False)
            if taken:
                sequencer.lock.release()
            return taken

        async def traffic() -> None:
            _Gated.gate = asyncio.Event()
            adding = asyncio.ensure_future(notes.add("first"))
            for _ in range(5):
                await asyncio.sleep(0)  # the write is now waiting at its gate
            free.append(await asyncio.to_thread(lock_is_free))
            _Gated.gate.set()
            await adding
            free.append(await asyncio.to_thread(lock_is_free))

        with capture_comparisons(runtime) as seen:
            asyncio.run(traffic())
            assert runtime.flush(60)
        assert free == [False, True]
        assert [(item.method, item.outcome) for item in seen] == [("add", Outcome.MATCH)]


_VARIANTS: dict[str, type[AiosqliteNotes]] = {
    "plain": AiosqliteNotes,
    "async_count": _AsyncCount,
    "coroutine_from_sync": _CoroutineFromSync,
    "gated": _Gated,
}


@WORKERS
def test_the_worker_closes_a_pooled_async_candidate_on_its_own_loop_once(
    make_notes: MakeNotes, tmp_path: Path, worker: str
) -> None:
    """Its pool's connections were opened on the worker's loop: ``aclose`` runs there, once."""
    closed_log = tmp_path / "closed.log"
    runtime = make_notes(worker, candidate={"pooled": True, "closed_log": str(closed_log)})
    notes = runtime.proxy(Notes, "notes")

    async def traffic() -> None:
        note = await notes.add("first")
        await notes.rename(note.id, "second")

    with capture_comparisons(runtime) as seen:
        asyncio.run(traffic())
        assert runtime.flush(30)
    assert [(item.method, item.outcome) for item in seen] == [
        ("add", Outcome.MATCH),
        ("rename", Outcome.MATCH),
    ]
    assert not closed_log.exists()  # not before the runtime closes
    runtime.close()
    assert closed_log.read_text() == "closed\n"
