"""Stores seeded at scale for the benchmarks: made once, kept, reused (issue 14 point 5).

:func:`seeded` gives a legacy SQLite file and a SQLModel SQLite file seeded with
the same rows by :func:`imagegen.db.populate.seed` (IMAGES images, a hundredth as
many boards, a tenth as many finished queue items, a thousandth as many users;
``1000000`` is issue 14's production scale). The rows are deterministic, so the
two files hold the same data. They are kept in a directory and reused when a
later run names it (seeding takes minutes at production scale); a benchmark
never writes them, it works on copies (:func:`copy_store`).

A file seeded by an older schema is still reused: an upgraded copy is made
beside it once (``legacy-IMAGES.v4.sqlite3``, ``sqlmodel-IMAGES.0002.sqlite3``,
named by the schema version) and reused in turn, so runs do not migrate a
million-row copy each (the legacy migrator backs a file up before migrating it).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from imagegen.db.populate import Scale, seed

__all__ = ["Seeded", "add_arguments", "check_arguments", "copy_store", "scale_for", "seeded"]


@dataclass(frozen=True)
class Seeded:
    """The seeded stores every run starts from: a legacy file and a SQLModel SQLite file."""

    scale: Scale
    legacy: Path
    sqlmodel: Path

    def describe(self) -> str:
        """The sizes, for the line above a table."""
        scale = self.scale
        return (
            f"stores seeded with {scale.images:,} images, {scale.boards:,} boards, "
            f"{scale.queue_items:,} queue items, {scale.users:,} users"
        )


def scale_for(images: int) -> Scale:
    """Issue 14's proportions for ``images`` images."""
    return Scale(
        users=max(1, images // 1000), boards=images // 100, images=images, queue_items=images // 10
    )


def seeded(images: int, directory: Path) -> Seeded:
    """Seed both stores into ``directory`` once (files already there are reused).

    The stores returned are at the current schema (see :func:`_at_head`).
    """
    scale = scale_for(images)
    stores = Seeded(
        scale, directory / f"legacy-{images}.sqlite3", directory / f"sqlmodel-{images}.sqlite3"
    )
    directory.mkdir(parents=True, exist_ok=True)
    for path, legacy in ((stores.legacy, True), (stores.sqlmodel, False)):
        if path.is_file():
            print(f"reusing {path}", flush=True)
            continue
        # Seeded under another name and renamed when complete: a run stopped half-way
        # leaves no file a later run would take for a finished one.
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        result = seed(f"sqlite:///{partial}", scale, legacy=legacy)
        _drop_backups(partial)
        partial.rename(path)
        print(
            f"seeded {result.total:,} rows in {result.seconds:.1f} s "
            f"({result.rows_per_second:,.0f} rows/s, load {os.getloadavg()[0]:.1f}): {path.name}",
            flush=True,
        )
    current = Seeded(scale, _at_head(stores.legacy, legacy=True), _at_head(stores.sqlmodel))
    print(flush=True)
    return current


def _at_head(path: Path, *, legacy: bool = False) -> Path:
    """``path``, or when its schema is behind, an upgraded copy beside it (made once)."""
    from imagegen.db.engine import connectable, create_schema  # noqa: PLC0415
    from imagegen.db.legacy import LATEST_VERSION, open_legacy  # noqa: PLC0415
    from imagegen.db.migrate import head_revision  # noqa: PLC0415

    head = f"v{LATEST_VERSION}" if legacy else head_revision()
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        if legacy:
            found = f"v{connection.execute('SELECT MAX(version) FROM migrations').fetchone()[0]}"
        else:
            found = connection.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    if found == head:
        return path
    upgraded = path.with_name(f"{path.stem}.{head}.sqlite3")
    if upgraded.is_file():
        print(f"reusing {upgraded} (upgraded from {found})", flush=True)
        return upgraded
    partial = upgraded.with_suffix(".partial")
    copy_store(path, partial)
    if legacy:
        open_legacy(partial).close()
        _drop_backups(partial)
    else:
        with connectable(f"sqlite:///{partial}") as engine:
            create_schema(engine)
    partial.rename(upgraded)
    print(f"upgraded a copy of {path.name} from {found} to {head}: {upgraded.name}", flush=True)
    return upgraded


def copy_store(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite file (WAL included) with the backup API."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def _images(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of images: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 image: {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--seeded IMAGES`` and ``--seeded-dir DIR``, the same on every benchmark that takes them."""
    parser.add_argument(
        "--seeded",
        type=_images,
        default=None,
        metavar="IMAGES",
        help="run on stores seeded at this scale (1000000: issue 14's production scale)",
    )
    parser.add_argument(
        "--seeded-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="where the seeded stores are kept and reused (default: a temporary directory)",
    )


def check_arguments(parser: argparse.ArgumentParser, arguments: argparse.Namespace) -> None:
    """Refuse ``--seeded-dir`` without ``--seeded``, and a directory that is a file."""
    directory = arguments.seeded_dir
    if directory is None:
        return
    if arguments.seeded is None:
        parser.error("--seeded-dir needs --seeded IMAGES")
    if directory.exists() and not directory.is_dir():
        parser.error(f"--seeded-dir {directory} is not a directory")


def _drop_backups(partial: Path) -> None:
    """The legacy migrator's copies of ``partial`` before it migrated it: of an empty file
    (seeding) or of a copy whose original is kept (upgrading); neither is worth keeping."""
    for backup in partial.parent.glob(f"{partial.name}.backup-*"):
        backup.unlink()
