"""``shadow db seed``: a reference data set, the same through both layers, at any size."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from imagegen.cli import main
from imagegen.db.engine import create_engine
from imagegen.db.legacy import LegacyDatabase
from imagegen.db.populate import Scale, seed
from imagegen.demo.wiring import DEMO_PASSWORD_COST, SERVICES
from imagegen.services.contracts.session_queue import QueueStatus
from imagegen.services.passwords import PasswordHasher
from shadow import ConfigError, SequentialIds, SystemClock

SMALL = Scale(users=3, boards=4, images=25, queue_items=21)


@contextmanager
def _services(store: Path | str) -> Iterator[dict[str, Any]]:
    """Every reference service over a legacy file (a Path) or a SQLModel store (a URL)."""
    connection: Any = LegacyDatabase(store) if isinstance(store, Path) else create_engine(store)
    available = {"passwords": PasswordHasher(DEMO_PASSWORD_COST), "max_queue_size": 10_000}
    try:
        yield {
            wiring.name: (wiring.legacy if isinstance(store, Path) else wiring.candidate)(
                connection,
                ids=SequentialIds(),
                clock=SystemClock(),
                **{name: available[name] for name in wiring.options},
            )
            for wiring in SERVICES
        }
    finally:
        if isinstance(store, Path):
            connection.close()
        else:
            connection.dispose()


def _reads(services: dict[str, Any]) -> dict[str, object]:
    """What a few reads of the services say about the seeded rows."""
    image = services["images"].get("seed-00000007.png")
    return {
        "image": (image.image_category, image.starred, image.is_intermediate, image.user_id),
        "board": services["boards"].get("seed-board-000001").board_name,
        "on board 0": sorted(
            services["board_images"].get_all_board_image_names_for_board("seed-board-000000")
        ),
        "queue": services["session_queue"].get_queue_status("default"),
        "user": services["users"].get("seed-user-000002").email,
    }


def test_seeded_rows_read_the_same_through_the_legacy_and_the_sqlmodel_services(
    tmp_path: Path,
) -> None:
    legacy_file, candidate_file = tmp_path / "legacy.sqlite3", tmp_path / "candidate.sqlite3"
    legacy = seed(f"sqlite:///{legacy_file}", SMALL, legacy=True)
    candidate = seed(f"sqlite:///{candidate_file}", SMALL)
    expected = {"users": 3, "boards": 4, "images": 25, "board_images": 13, "session_queue": 21}
    assert legacy.rows == candidate.rows == expected
    assert legacy.total == SMALL.rows
    with _services(legacy_file) as services:
        legacy_reads = _reads(services)
    with _services(f"sqlite:///{candidate_file}") as services:
        assert _reads(services) == legacy_reads
    # Image 7: category 7 % 5 = "control", starred (7 % 7), not an intermediate, user 7 % 3.
    assert legacy_reads["image"] == ("control", True, False, "seed-user-000001")
    assert legacy_reads["on board 0"] == [f"seed-{i:08d}.png" for i in (0, 8, 16, 24)]
    status = legacy_reads["queue"]
    assert isinstance(status, QueueStatus)
    assert (status.pending, status.completed, status.failed, status.canceled) == (0, 17, 2, 2)


def test_progress_is_told_after_every_batch_up_to_the_total(tmp_path: Path) -> None:
    told: list[tuple[int, int]] = []
    seed(f"sqlite:///{tmp_path / 'store.sqlite3'}", SMALL, progress=lambda *p: told.append(p))
    assert told[-1] == (SMALL.rows, SMALL.rows)
    assert [done for done, _ in told] == sorted({done for done, _ in told})


@pytest.mark.postgres
def test_seeding_a_postgresql_store(empty_database: Callable[[str], str]) -> None:
    url = empty_database("postgresql")
    result = seed(url, SMALL)
    assert result.total == SMALL.rows
    with _services(url) as services:
        names = services["board_images"].get_all_board_image_names_for_board("seed-board-000000")
    assert len(names) == 4


def test_a_store_seeded_once_is_refused_the_second_time(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    seed(url, Scale(users=1, boards=0, images=2, queue_items=0))
    with pytest.raises(ConfigError, match="already holds seeded rows"):
        seed(url, SMALL)


def test_rows_without_an_owner_are_bad_input() -> None:
    with pytest.raises(ConfigError, match="at least one user"):
        Scale(users=0, images=1)


def test_the_command_seeds_and_prints_the_rate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "legacy.sqlite3"
    arguments = ["--images", "10", "--boards", "2", "--queue-items", "5", "--users", "2"]
    monkeypatch.setattr("sys.argv", ["shadow", "db", "seed", f"sqlite:///{path}", *arguments])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code in (0, None)
    out = capsys.readouterr().out
    assert out.startswith("seeded 24 rows in ")
    assert "rows/s): 2 users, 2 boards, 10 images, 5 board_images, 5 session_queue" in out


def test_the_command_refuses_a_legacy_store_that_is_not_a_sqlite_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    monkeypatch.setattr("sys.argv", ["shadow", "db", "seed", url, "--legacy"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        "shadow: error: a legacy store is a SQLite file: give sqlite:///PATH\n"
    )
