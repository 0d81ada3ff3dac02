"""indexes for production scale: board covers, a board's images, the queue's counts and order

The same four indexes as the legacy chain's migration 4 (``imagegen.db.legacy``),
found on stores seeded with 1,000,000 images (docs/benchmarks.md, "At production
scale"): deleting an image sets the board covers that name it to NULL, which
scanned every board without an index on ``boards.cover_image_name`` (so
``delete_intermediates`` was quadratic); a board's image names and counts come
from ``board_images (board_id, image_name)`` instead of from every image of the
asked category (SQLite's planner, without table statistics, chose the category
index); the queue's counts by status come from ``(status, queue_id)`` and its
pages from ``(priority DESC, item_id)`` in list order, instead of reading or
sorting every item.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 14:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the two indexes."""
    op.create_index(op.f("ix_boards_cover_image_name"), "boards", ["cover_image_name"])
    op.create_index(
        op.f("ix_board_images_board_id_image_name"), "board_images", ["board_id", "image_name"]
    )
    op.create_index(
        op.f("ix_session_queue_status_queue_id"), "session_queue", ["status", "queue_id"]
    )
    op.create_index(
        "ix_session_queue_priority_desc_item_id",
        "session_queue",
        [sa.desc(sa.column("priority")), "item_id"],
    )


def downgrade() -> None:
    """Drop them again."""
    op.drop_index("ix_session_queue_priority_desc_item_id", table_name="session_queue")
    op.drop_index(op.f("ix_session_queue_status_queue_id"), table_name="session_queue")
    op.drop_index(op.f("ix_board_images_board_id_image_name"), table_name="board_images")
    if op.get_context().dialect.name not in ("mysql", "mariadb"):
        op.drop_index(op.f("ix_boards_cover_image_name"), table_name="boards")
        return
    # InnoDB dropped the foreign key's own index when ours could serve it, and refuses to
    # drop ours while the key needs it: drop the key, then the index, then add the key
    # back (which builds its own index again, as revision 0001 left it).
    foreign_key = op.f("fk_boards_cover_image_name_images")
    op.drop_constraint(foreign_key, "boards", type_="foreignkey")
    op.drop_index(op.f("ix_boards_cover_image_name"), table_name="boards")
    op.create_foreign_key(
        foreign_key, "boards", "images", ["cover_image_name"], ["image_name"], ondelete="SET NULL"
    )
