"""All the glue that puts shadow in front of the boards application (docs/adopting.md)."""

from datetime import datetime

import sqlalchemy as sa

from boards_app.orm_storage import OrmBoardRecordStorage
from boards_app.records import BoardRecordNotFoundException
from boards_app.sqlite_storage import SqliteBoardRecordStorage
from boards_app.storage import BoardRecordStorageBase
from shadow import Order, Runtime, ShadowSettings, SideFactory, declare
from shadow.data import DataSchema, reconciler

SIDE = "boards_app.shadowing:side"
STAMPS = {"timestamps": {"created_at": 0.001, "updated_at": 0.001}}  # set by the database
OLDEST_FIRST = {"order": Order.TIES, "key": "board_id", "sort_key": "created_at", **STAMPS}


def created_at_of(boards: BoardRecordStorageBase, board_id: str) -> datetime | None:
    try:  # what get_ids is ordered by, read from the authoritative store
        return boards.get(board_id).created_at
    except BoardRecordNotFoundException:
        return None  # deleted since: its place cannot be checked


declare(
    BoardRecordStorageBase,
    reads={"get", "get_all", "search", "get_ids", "last_changed"},
    writes={"save", "rename", "delete"},
    compare={
        **dict.fromkeys(("save", "get", "rename"), STAMPS),
        **dict.fromkeys(("get_all", "search"), OLDEST_FIRST),
        "get_ids": {"order": Order.TIES, "tie_key": created_at_of},
        "last_changed": {"timestamp_result": True, "timestamp_precision": 0.001},
    },
)


def side(*, ids: object, clock: object, path: str, orm: bool) -> dict[str, object]:
    store = OrmBoardRecordStorage(f"sqlite:///{path}") if orm else SqliteBoardRecordStorage(path)
    return {"boards": store}


def shadowed(workdir: str, candidate: str = SIDE, orm: bool = True) -> Runtime:
    engines = [sa.create_engine(f"sqlite:///{workdir}/{db}.db") for db in ("legacy", "candidate")]
    schema = DataSchema.reflected(engines[0], service_tables={"boards": ("boards",)})
    return Runtime(
        ShadowSettings(
            store_url=f"sqlite:///{workdir}/divergences.db",
            default_mode="shadow",
            capture_nondeterminism=True,  # the application draws its own uuid4 ids
        ),
        legacy=SideFactory(SIDE, {"path": engines[0].url.database, "orm": False}),
        candidate=SideFactory(candidate, {"path": engines[1].url.database, "orm": orm}),
        reconcile=reconciler(schema, legacy=engines[0], candidate=engines[1]),
    )
