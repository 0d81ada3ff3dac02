"""baseline: the 14-table schema

The schema of docs/reference-app.md as the legacy migrator ends it, for SQLite,
PostgreSQL and MariaDB: tables, indexes, generated columns, per-dialect
server defaults, the timestamp triggers (``imagegen.db.triggers``) and the seed
rows (the ``system`` user and a fresh ``jwt_secret``).

Triggers and seed values come from ``imagegen.db.triggers`` and
``imagegen.db.seed``: a later change to either ships as a new revision that
drops and recreates what changed, never as an edit here.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 02:27:27.095578
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

import imagegen.db.types as shadow_types
from imagegen.db import seed, triggers

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_GENERATED_NOT_NULL = {
    "models": (
        "hash",
        "base",
        "type",
        "path",
        "format",
        "name",
        "source",
        "source_type",
        "file_size",
    ),
    "workflow_library": ("category", "name", "description"),
}
"""Generated columns that are NOT NULL: MariaDB refuses the clause and gets CHECKs."""


def _is_mariadb() -> bool:
    return op.get_context().dialect.name in ("mysql", "mariadb")


def upgrade() -> None:  # noqa: PLR0915  (a baseline builds the whole schema in one place)
    """Create the 14 tables, their indexes, triggers and seed rows."""
    if _is_mariadb():
        # SQLite compares text by code point. MariaDB's default collation ignores
        # case, accents and trailing spaces, so keys SQLite keeps apart would
        # collide; every table created below inherits this binary, no-pad one.
        op.execute("ALTER DATABASE CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin")
    op.create_table(
        "app_settings",
        sa.Column("key", shadow_types.KeyText, nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            shadow_types.UtcDateTime(),
            server_default=shadow_types.UtcNow(3),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            shadow_types.UtcDateTime(),
            server_default=shadow_types.UtcNow(3),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_app_settings")),
    )
    op.create_table(
        "images",
        sa.Column("image_name", shadow_types.KeyText, nullable=False),
        sa.Column("image_origin", shadow_types.KeyText, nullable=False),
        sa.Column("image_category", shadow_types.KeyText, nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Text(), nullable=True),
        sa.Column("node_id", sa.Text(), nullable=True),
        sa.Column("metadata", shadow_types.LongText, nullable=True),
        sa.Column(
            "is_intermediate",
            sa.Boolean(),
            server_default=shadow_types.BoolLiteral(False),
            nullable=True,
        ),
        sa.Column(
            "created_at",
            shadow_types.UtcDateTime(),
            server_default=shadow_types.UtcNow(3),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            shadow_types.UtcDateTime(),
            server_default=shadow_types.UtcNow(3),
            nullable=False,
        ),
        sa.Column("deleted_at", shadow_types.UtcDateTime(), nullable=True),
        sa.Column(
            "starred", sa.Boolean(), server_default=shadow_types.BoolLiteral(False), nullable=True
        ),
        sa.Column(
            "has_workflow",
            sa.Boolean(),
            server_default=shadow_types.BoolLiteral(False),
            nullable=True,
        ),
        sa.Column(
            "user_id", shadow_types.KeyText, server_default=sa.text("'system'"), nullable=True
        ),
        sa.Column("image_subfolder", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.PrimaryKeyConstraint("image_name", name=op.f("pk_images")),
    )
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_images_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_images_image_category"), ["image_category"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_images_image_origin"), ["image_origin"], unique=False)
        batch_op.create_index(batch_op.f("ix_images_starred"), ["starred"], unique=False)
        batch_op.create_index(batch_op.f("ix_images_user_id"), ["user_id"], unique=False)

    op.create_table(
        "models",
        sa.Column("id", shadow_types.KeyText, nullable=False),
        sa.Column("config", shadow_types.LongText, nullable=False),
        sa.Column(
            "created_at",
            shadow_types.UtcDateTime(),
            server_default=shadow_types.UtcNow(3),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            shadow_types.UtcDateTime(),
            server_default=shadow_types.UtcNow(3),
            nullable=False,
        ),
        sa.Column(
            "hash",
            sa.Text(),
            shadow_types.Generated(shadow_types.JsonField("config", "$.hash")),
            nullable=False,
        ),
        sa.Column(
            "base",
            shadow_types.KeyText,
            shadow_types.Generated(shadow_types.JsonField("config", "$.base")),
            nullable=False,
        ),
        sa.Column(
            "type",
            shadow_types.KeyText,
            shadow_types.Generated(shadow_types.JsonField("config", "$.type")),
            nullable=False,
        ),
        sa.Column(
            "path",
            shadow_types.ShortText,
            shadow_types.Generated(shadow_types.JsonField("config", "$.path")),
            nullable=False,
        ),
        sa.Column(
            "format",
            sa.Text(),
            shadow_types.Generated(shadow_types.JsonField("config", "$.format")),
            nullable=False,
        ),
        sa.Column(
            "name",
            shadow_types.ShortText,
            shadow_types.Generated(shadow_types.JsonField("config", "$.name")),
            nullable=False,
        ),
        sa.Column(
            "description",
            sa.Text(),
            shadow_types.Generated(shadow_types.JsonField("config", "$.description")),
            nullable=True,
        ),
        sa.Column(
            "source",
            sa.Text(),
            shadow_types.Generated(shadow_types.JsonField("config", "$.source")),
            nullable=False,
        ),
        sa.Column(
            "source_type",
            sa.Text(),
            shadow_types.Generated(shadow_types.JsonField("config", "$.source_type")),
            nullable=False,
        ),
        sa.Column(
            "source_api_response",
            sa.Text(),
            shadow_types.Generated(shadow_types.JsonField("config", "$.source_api_response")),
            nullable=True,
        ),
        sa.Column(
            "trigger_phrases",
            sa.Text(),
            shadow_types.Generated(shadow_types.JsonField("config", "$.trigger_phrases")),
            nullable=True,
        ),
        sa.Column(
            "file_size",
            sa.BigInteger(),
            shadow_types.Generated(
                shadow_types.JsonField("config", "$.file_size", as_integer=True)
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_models")),
        sa.UniqueConstraint("path", name=op.f("uq_models_path")),
    )
    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_models_base"), ["base"], unique=False)
        batch_op.create_index(batch_op.f("ix_models_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_models_type"), ["type"], unique=False)

    op.create_table(
        "session_queue",
        sa.Column("item_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("batch_id", shadow_types.KeyText, nullable=False),
        sa.Column("queue_id", shadow_types.KeyText, nullable=False),
        sa.Column("session_id", shadow_types.KeyText, nullable=False),
        sa.Column("field_values", shadow_types.LongText, nullable=True),
        sa.Column("session", shadow_types.LongText, nullable=False),
        sa.Column(
            "status", shadow_types.KeyText, server_default=sa.text("'pending'"), nullable=False
        ),
        sa.Column("priority", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("error_traceback", shadow_types.LongText, nullable=True),
        sa.Column(
            "created_at",
            shadow_types.UtcDateTime(),
            server_default=shadow_types.UtcNow(3),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            shadow_types.UtcDateTime(),
            server_default=shadow_types.UtcNow(3),
            nullable=False,
        ),
        sa.Column("started_at", shadow_types.UtcDateTime(), nullable=True),
        sa.Column("completed_at", shadow_types.UtcDateTime(), nullable=True),
        sa.Column("workflow", shadow_types.LongText, nullable=True),
        sa.Column("error_type", sa.Text(), nullable=True),
        sa.Column("error_message", shadow_types.LongText, nullable=True),
        sa.Column("origin", sa.Text(), nullable=True),
        sa.Column("destination", sa.Text(), nullable=True),
        sa.Column("retried_from_item_id", sa.Integer(), nullable=True),
        sa.Column(
            "user_id", shadow_types.KeyText, server_default=sa.text("'system'"), nullable=True
        ),
        sa.Column("status_sequence", sa.Integer(), server_default=sa.text("0"), nullable=True),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_session_queue")),
        sa.UniqueConstraint("session_id", name=op.f("uq_session_queue_session_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("session_queue", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_session_queue_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_session_queue_priority"), ["priority"], unique=False)
        batch_op.create_index(batch_op.f("ix_session_queue_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_session_queue_user_id"), ["user_id"], unique=False)

    op.create_table(
        "style_presets",
        sa.Column("id", shadow_types.KeyText, nullable=False),
        sa.Column("name", shadow_types.ShortText, nullable=False),
        sa.Column("preset_data", shadow_types.LongText, nullable=False),
        sa.Column("type", shadow_types.KeyText, server_default=sa.text("'user'"), nullable=False),
        sa.Column(
            "created_at",
            shadow_types.UtcDateTime(),
            server_default=shadow_types.UtcNow(3),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            shadow_types.UtcDateTime(),
            server_default=shadow_types.UtcNow(3),
            nullable=False,
        ),
        sa.Column(
            "user_id", shadow_types.KeyText, server_default=sa.text("'system'"), nullable=True
        ),
        sa.Column(
            "is_public",
            sa.Boolean(),
            server_default=shadow_types.BoolLiteral(False),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_style_presets")),
    )
    with op.batch_alter_table("style_presets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_style_presets_is_public"), ["is_public"], unique=False)
        batch_op.create_index(batch_op.f("ix_style_presets_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_style_presets_user_id"), ["user_id"], unique=False)

    op.create_table(
        "users",
        sa.Column("user_id", shadow_types.KeyText, nullable=False),
        sa.Column("email", shadow_types.ShortText, nullable=False),
        sa.Column("display_name", sa.Text(), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column(
            "is_admin", sa.Boolean(), server_default=shadow_types.BoolLiteral(False), nullable=False
        ),
        sa.Column(
            "is_active", sa.Boolean(), server_default=shadow_types.BoolLiteral(True), nullable=False
        ),
        sa.Column(
            "created_at",
            shadow_types.UtcDateTime(),
            server_default=shadow_types.UtcNow(3),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            shadow_types.UtcDateTime(),
            server_default=shadow_types.UtcNow(3),
            nullable=False,
        ),
        sa.Column("last_login_at", shadow_types.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_email"), ["email"], unique=False)
        batch_op.create_index(batch_op.f("ix_users_is_active"), ["is_active"], unique=False)
        batch_op.create_index(batch_op.f("ix_users_is_admin"), ["is_admin"], unique=False)

    op.create_table(
        "workflow_library",
        sa.Column("workflow_id", shadow_types.KeyText, nullable=False),
        sa.Column("workflow", shadow_types.LongText, nullable=False),
        sa.Column(
            "created_at",
            shadow_types.UtcDateTime(),
            server_default=shadow_types.UtcNow(3),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            shadow_types.UtcDateTime(),
            server_default=shadow_types.UtcNow(3),
            nullable=False,
        ),
        sa.Column("opened_at", shadow_types.UtcDateTime(), nullable=True),
        sa.Column(
            "category",
            shadow_types.KeyText,
            shadow_types.Generated(shadow_types.JsonField("workflow", "$.meta.category")),
            nullable=False,
        ),
        sa.Column(
            "name",
            shadow_types.ShortText,
            shadow_types.Generated(shadow_types.JsonField("workflow", "$.name")),
            nullable=False,
        ),
        sa.Column(
            "description",
            shadow_types.ShortText,
            shadow_types.Generated(shadow_types.JsonField("workflow", "$.description")),
            nullable=False,
        ),
        sa.Column(
            "tags",
            shadow_types.LongText,
            shadow_types.Generated(shadow_types.JsonField("workflow", "$.tags")),
            nullable=True,
        ),
        sa.Column(
            "user_id", shadow_types.KeyText, server_default=sa.text("'system'"), nullable=True
        ),
        sa.Column(
            "is_public",
            sa.Boolean(),
            server_default=shadow_types.BoolLiteral(False),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("workflow_id", name=op.f("pk_workflow_library")),
    )
    with op.batch_alter_table("workflow_library", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_workflow_library_category"), ["category"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_workflow_library_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_workflow_library_description"), ["description"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_workflow_library_is_public"), ["is_public"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_workflow_library_name"), ["name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_workflow_library_opened_at"), ["opened_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_workflow_library_updated_at"), ["updated_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_workflow_library_user_id"), ["user_id"], unique=False)

    op.create_table(
        "boards",
        sa.Column("board_id", shadow_types.KeyText, nullable=False),
        sa.Column("board_name", sa.Text(), nullable=False),
        sa.Column("cover_image_name", shadow_types.KeyText, nullable=True),
        sa.Column(
            "created_at",
            shadow_types.UtcDateTime(),
            server_default=shadow_types.UtcNow(3),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            shadow_types.UtcDateTime(),
            server_default=shadow_types.UtcNow(0),
            nullable=False,
        ),
        sa.Column("deleted_at", shadow_types.UtcDateTime(), nullable=True),
        sa.Column(
            "archived", sa.Boolean(), server_default=shadow_types.BoolLiteral(False), nullable=True
        ),
        sa.Column(
            "user_id", shadow_types.KeyText, server_default=sa.text("'system'"), nullable=True
        ),
        sa.Column(
            "is_public",
            sa.Boolean(),
            server_default=shadow_types.BoolLiteral(False),
            nullable=False,
        ),
        sa.Column(
            "board_visibility",
            shadow_types.KeyText,
            server_default=sa.text("'private'"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["cover_image_name"],
            ["images.image_name"],
            name=op.f("fk_boards_cover_image_name_images"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("board_id", name=op.f("pk_boards")),
    )
    with op.batch_alter_table("boards", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_boards_board_visibility"), ["board_visibility"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_boards_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_boards_is_public"), ["is_public"], unique=False)
        batch_op.create_index(batch_op.f("ix_boards_user_id"), ["user_id"], unique=False)

    op.create_table(
        "client_state",
        sa.Column("user_id", shadow_types.KeyText, nullable=False),
        sa.Column("key", shadow_types.KeyText, nullable=False),
        sa.Column("value", shadow_types.LongText, nullable=False),
        sa.Column(
            "updated_at",
            shadow_types.UtcDateTime(),
            server_default=shadow_types.UtcNow(0),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.user_id"],
            name=op.f("fk_client_state_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_client_state")),
    )
    with op.batch_alter_table("client_state", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_client_state_user_id"), ["user_id"], unique=False)

    op.create_table(
        "model_relationships",
        sa.Column("model_key_1", shadow_types.KeyText, nullable=False),
        sa.Column("model_key_2", shadow_types.KeyText, nullable=False),
        sa.Column(
            "created_at",
            shadow_types.UtcDateTime(),
            server_default=shadow_types.UtcNow(3),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["model_key_1"],
            ["models.id"],
            name=op.f("fk_model_relationships_model_key_1_models"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["model_key_2"],
            ["models.id"],
            name=op.f("fk_model_relationships_model_key_2_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("model_key_1", "model_key_2", name=op.f("pk_model_relationships")),
    )
    with op.batch_alter_table("model_relationships", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_model_relationships_model_key_2"), ["model_key_2"], unique=False
        )

    op.create_table(
        "user_invitations",
        sa.Column("invitation_id", shadow_types.KeyText, nullable=False),
        sa.Column("email", shadow_types.ShortText, nullable=False),
        sa.Column("invited_by", shadow_types.KeyText, nullable=False),
        sa.Column("invitation_code", shadow_types.KeyText, nullable=False),
        sa.Column(
            "is_admin", sa.Boolean(), server_default=shadow_types.BoolLiteral(False), nullable=False
        ),
        sa.Column("expires_at", shadow_types.UtcDateTime(), nullable=False),
        sa.Column("used_at", shadow_types.UtcDateTime(), nullable=True),
        sa.Column(
            "created_at",
            shadow_types.UtcDateTime(),
            server_default=shadow_types.UtcNow(3),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["invited_by"],
            ["users.user_id"],
            name=op.f("fk_user_invitations_invited_by_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("invitation_id", name=op.f("pk_user_invitations")),
        sa.UniqueConstraint("invitation_code", name=op.f("uq_user_invitations_invitation_code")),
    )
    with op.batch_alter_table("user_invitations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_invitations_email"), ["email"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_user_invitations_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "user_sessions",
        sa.Column("session_id", shadow_types.KeyText, nullable=False),
        sa.Column("user_id", shadow_types.KeyText, nullable=False),
        sa.Column("token_hash", shadow_types.KeyText, nullable=False),
        sa.Column("expires_at", shadow_types.UtcDateTime(), nullable=False),
        sa.Column(
            "created_at",
            shadow_types.UtcDateTime(),
            server_default=shadow_types.UtcNow(3),
            nullable=False,
        ),
        sa.Column("last_activity_at", shadow_types.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.user_id"],
            name=op.f("fk_user_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_user_sessions")),
    )
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_user_sessions_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_user_sessions_token_hash"), ["token_hash"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_user_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "board_images",
        sa.Column("board_id", shadow_types.KeyText, nullable=False),
        sa.Column("image_name", shadow_types.KeyText, nullable=False),
        sa.Column(
            "created_at",
            shadow_types.UtcDateTime(),
            server_default=shadow_types.UtcNow(3),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            shadow_types.UtcDateTime(),
            server_default=shadow_types.UtcNow(3),
            nullable=False,
        ),
        sa.Column("deleted_at", shadow_types.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["board_id"],
            ["boards.board_id"],
            name=op.f("fk_board_images_board_id_boards"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["image_name"],
            ["images.image_name"],
            name=op.f("fk_board_images_image_name_images"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("image_name", name=op.f("pk_board_images")),
    )
    with op.batch_alter_table("board_images", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_board_images_board_id"), ["board_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_board_images_board_id_created_at"),
            ["board_id", "created_at"],
            unique=False,
        )

    op.create_table(
        "shared_boards",
        sa.Column("board_id", shadow_types.KeyText, nullable=False),
        sa.Column("user_id", shadow_types.KeyText, nullable=False),
        sa.Column(
            "can_edit", sa.Boolean(), server_default=shadow_types.BoolLiteral(False), nullable=False
        ),
        sa.Column(
            "shared_at",
            shadow_types.UtcDateTime(),
            server_default=shadow_types.UtcNow(3),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["board_id"],
            ["boards.board_id"],
            name=op.f("fk_shared_boards_board_id_boards"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.user_id"],
            name=op.f("fk_shared_boards_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("board_id", "user_id", name=op.f("pk_shared_boards")),
    )

    if _is_mariadb():
        for table, columns in _GENERATED_NOT_NULL.items():
            for column in columns:
                op.create_check_constraint(
                    op.f(f"ck_{table}_{column}_not_null"), table, f"{column} IS NOT NULL"
                )

    for statement in triggers.create_statements(op.get_context().dialect.name):
        op.execute(statement)

    op.bulk_insert(
        sa.table(
            "users",
            sa.column("user_id", sa.Text()),
            sa.column("email", sa.Text()),
            sa.column("display_name", sa.Text()),
            sa.column("password_hash", sa.Text()),
            sa.column("is_admin", sa.Boolean()),
            sa.column("is_active", sa.Boolean()),
        ),
        [seed.SYSTEM_USER],
    )
    if context.is_offline_mode():
        # Offline SQL is printed and stored: a secret must never be in it.
        op.execute(
            "-- app_settings.jwt_secret is not seeded in offline SQL: insert one "
            "(64 random hex characters) before the application starts"
        )
    else:
        op.bulk_insert(
            sa.table("app_settings", sa.column("key", sa.Text()), sa.column("value", sa.Text())),
            [{"key": seed.JWT_SECRET_KEY, "value": seed.jwt_secret()}],
        )


_TABLES_CHILDREN_FIRST = (
    "shared_boards",
    "board_images",
    "user_sessions",
    "user_invitations",
    "model_relationships",
    "client_state",
    "boards",
    "workflow_library",
    "users",
    "style_presets",
    "session_queue",
    "models",
    "images",
    "app_settings",
)


def downgrade() -> None:
    """Drop every trigger and table: nothing of the schema is left behind."""
    for statement in triggers.drop_statements(op.get_context().dialect.name):
        op.execute(statement)
    for table in _TABLES_CHILDREN_FIRST:
        op.drop_table(table)
