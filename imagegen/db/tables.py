"""SQLModel table models for the 14 tables of the reference application.

The same schema the legacy migrator builds with raw SQL (``imagegen.db.legacy``),
declared once for SQLite, PostgreSQL and MariaDB. ``shadow db parity`` proves
the two agree. Conventions:

* Attribute names are column names, except ``images.metadata``, mapped as
  ``ImageTable.image_metadata`` (``metadata`` is SQLAlchemy's own attribute).
* Every table lives in :data:`metadata`, a dedicated ``MetaData`` whose naming
  convention gives indexes and constraints the names the legacy schema uses
  (``ix_boards_created_at``), so the two schemas compare by name.
* Timestamps are :class:`~imagegen.db.types.UtcDateTime`; database defaults
  (:class:`~imagegen.db.types.UtcNow`) and triggers (``imagegen.db.triggers``) set
  ``created_at``/``updated_at`` and the queue's ``started_at``/``completed_at``
  on every backend, as on SQLite.
* Generated JSON columns are ``Computed`` (virtual on SQLite and MariaDB,
  stored on PostgreSQL, which has no virtual generated columns before 18);
  never write them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlalchemy.schema import SchemaItem
from sqlalchemy.sql.compiler import DDLCompiler
from sqlalchemy.sql.ddl import BaseDDLElement
from sqlmodel import Field, SQLModel

from imagegen.db.types import (
    BoolLiteral,
    Generated,
    JsonField,
    KeyText,
    LongText,
    ShortText,
    UtcDateTime,
    UtcNow,
)

__all__ = [
    "AppSettingTable",
    "BoardImageTable",
    "BoardTable",
    "ClientStateTable",
    "ImageTable",
    "ModelRelationshipTable",
    "ModelTable",
    "SessionQueueTable",
    "SharedBoardTable",
    "StylePresetTable",
    "UserInvitationTable",
    "UserSessionTable",
    "UserTable",
    "WorkflowTable",
    "metadata",
]

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
"""The schema's own metadata (not ``SQLModel.metadata``): Alembic's target."""


class _Table(SQLModel, registry=registry(metadata=metadata)):
    """Base of the table models: binds them to :data:`metadata`."""


TEXT = sa.Text()

# Column factories: one line per column below, the docs/reference-app.md vocabulary.


def _col(column: sa.Column[Any]) -> Any:
    return Field(sa_column=column)


def _ts(name: str, *, precision: int = 3, index: bool = False) -> Any:
    """A ``TS`` column: NOT NULL, defaulting to the database's now."""
    return _col(
        sa.Column(
            name, UtcDateTime(), nullable=False, server_default=UtcNow(precision), index=index
        )
    )


def _opt_ts(name: str, *, index: bool = False) -> Any:
    return _col(sa.Column(name, UtcDateTime(), nullable=True, index=index))


def _bool(name: str, *, default: bool, nullable: bool = False, index: bool = False) -> Any:
    return _col(
        sa.Column(
            name,
            sa.Boolean(),
            nullable=nullable,
            server_default=BoolLiteral(default),
            index=index,
        )
    )


def _text(
    name: str,
    *,
    nullable: bool = True,
    type_: sa.types.TypeEngine[str] = TEXT,
    default: str | None = None,
    index: bool = False,
    unique: bool = False,
) -> Any:
    return _col(
        sa.Column(
            name,
            type_,
            nullable=nullable,
            server_default=sa.text(f"'{default}'") if default is not None else None,
            index=index,
            unique=unique,
        )
    )


def _fk(
    name: str, target: str, *, ondelete: str, primary_key: bool = False, index: bool = False
) -> Any:
    return _col(
        sa.Column(
            name,
            KeyText,
            sa.ForeignKey(target, ondelete=ondelete),
            primary_key=primary_key,
            nullable=False,
            index=index,
        )
    )


def _generated(
    name: str,
    source: str,
    path: str,
    *,
    nullable: bool,
    type_: sa.types.TypeEngine[Any] = TEXT,
    index: bool = False,
    unique: bool = False,
) -> Any:
    as_integer = isinstance(type_, sa.Integer)
    return _col(
        sa.Column(
            name,
            type_,
            Generated(JsonField(source, path, as_integer=as_integer)),
            nullable=nullable,
            index=index,
            unique=unique,
        )
    )


def _is_mariadb(
    ddl: BaseDDLElement,
    target: SchemaItem | str,
    bind: sa.Connection | None,
    tables: list[sa.Table] | None = None,
    state: Any | None = None,
    *,
    dialect: sa.Dialect,
    compiler: DDLCompiler | None = None,
    checkfirst: bool = False,
) -> bool:
    return dialect.name in ("mysql", "mariadb")


def _mariadb_not_null(*columns: str) -> tuple[sa.CheckConstraint, ...]:
    """CHECKs standing in for NOT NULL on generated columns, which MariaDB refuses."""
    return tuple(
        sa.CheckConstraint(f"{column} IS NOT NULL", name=f"{column}_not_null").ddl_if(
            callable_=_is_mariadb
        )
        for column in columns
    )


def _owner() -> Any:
    """``user_id TEXT DEFAULT 'system'`` without a foreign key: content outlives users."""
    return _text("user_id", type_=KeyText, default="system", index=True)


class AppSettingTable(_Table, table=True):
    """``app_settings``: key/value settings, seeded with the secret ``jwt_secret``."""

    __tablename__ = "app_settings"

    key: str = _col(sa.Column("key", KeyText, primary_key=True))
    value: str = _text("value", nullable=False)
    created_at: datetime | None = _ts("created_at")
    updated_at: datetime | None = _ts("updated_at")


class UserTable(_Table, table=True):
    """``users``: accounts, seeded with the ``system`` user."""

    __tablename__ = "users"
    __table_args__ = (sa.Index(None, "email"),)

    user_id: str = _col(sa.Column("user_id", KeyText, primary_key=True))
    email: str = _text("email", nullable=False, type_=ShortText, unique=True)
    display_name: str | None = _text("display_name")
    password_hash: str = _text("password_hash", nullable=False)
    is_admin: bool = _bool("is_admin", default=False, index=True)
    is_active: bool = _bool("is_active", default=True, index=True)
    created_at: datetime | None = _ts("created_at")
    updated_at: datetime | None = _ts("updated_at")
    last_login_at: datetime | None = _opt_ts("last_login_at")


class ClientStateTable(_Table, table=True):
    """``client_state``: per-user key/value state of the web UI."""

    __tablename__ = "client_state"

    user_id: str = _fk("user_id", "users.user_id", ondelete="CASCADE", primary_key=True, index=True)
    key: str = _col(sa.Column("key", KeyText, primary_key=True))
    value: str = _text("value", nullable=False, type_=LongText)
    updated_at: datetime | None = _ts("updated_at", precision=0)


class StylePresetTable(_Table, table=True):
    """``style_presets``: named prompt presets, user-made or shipped defaults."""

    __tablename__ = "style_presets"

    id: str = _col(sa.Column("id", KeyText, primary_key=True))
    name: str = _text("name", nullable=False, type_=ShortText, index=True)
    preset_data: str = _text("preset_data", nullable=False, type_=LongText)
    type: str = _text("type", nullable=False, type_=KeyText, default="user")
    created_at: datetime | None = _ts("created_at")
    updated_at: datetime | None = _ts("updated_at")
    user_id: str | None = _owner()
    is_public: bool = _bool("is_public", default=False, index=True)


class WorkflowTable(_Table, table=True):
    """``workflow_library``: saved workflows; name, category... generated from the JSON."""

    __tablename__ = "workflow_library"
    __table_args__ = _mariadb_not_null("category", "name", "description")

    workflow_id: str = _col(sa.Column("workflow_id", KeyText, primary_key=True))
    workflow: str = _text("workflow", nullable=False, type_=LongText)
    created_at: datetime | None = _ts("created_at", index=True)
    updated_at: datetime | None = _ts("updated_at", index=True)
    opened_at: datetime | None = _opt_ts("opened_at", index=True)
    category: str | None = _generated(
        "category", "workflow", "$.meta.category", nullable=False, type_=KeyText, index=True
    )
    name: str | None = _generated(
        "name", "workflow", "$.name", nullable=False, type_=ShortText, index=True
    )
    description: str | None = _generated(
        "description", "workflow", "$.description", nullable=False, type_=ShortText, index=True
    )
    tags: str | None = _generated("tags", "workflow", "$.tags", nullable=True, type_=LongText)
    user_id: str | None = _owner()
    is_public: bool = _bool("is_public", default=False, index=True)


class ImageTable(_Table, table=True):
    """``images``: generated and uploaded images (metadata mapped as ``image_metadata``)."""

    __tablename__ = "images"

    image_name: str = _col(sa.Column("image_name", KeyText, primary_key=True))
    image_origin: str = _text("image_origin", nullable=False, type_=KeyText, index=True)
    image_category: str = _text("image_category", nullable=False, type_=KeyText, index=True)
    width: int = _col(sa.Column("width", sa.Integer(), nullable=False))
    height: int = _col(sa.Column("height", sa.Integer(), nullable=False))
    session_id: str | None = _text("session_id")
    node_id: str | None = _text("node_id")
    image_metadata: str | None = _text("metadata", type_=LongText)
    is_intermediate: bool | None = _bool("is_intermediate", default=False, nullable=True)
    created_at: datetime | None = _ts("created_at", index=True)
    updated_at: datetime | None = _ts("updated_at")
    deleted_at: datetime | None = _opt_ts("deleted_at")
    starred: bool | None = _bool("starred", default=False, nullable=True, index=True)
    has_workflow: bool | None = _bool("has_workflow", default=False, nullable=True)
    user_id: str | None = _owner()
    image_subfolder: str = _text("image_subfolder", nullable=False, default="")


class BoardTable(_Table, table=True):
    """``boards``: image boards, private, shared or public."""

    __tablename__ = "boards"

    board_id: str = _col(sa.Column("board_id", KeyText, primary_key=True))
    board_name: str = _text("board_name", nullable=False)
    cover_image_name: str | None = _col(
        sa.Column(
            "cover_image_name",
            KeyText,
            sa.ForeignKey("images.image_name", ondelete="SET NULL"),
            nullable=True,
            # Deleting an image looks up the boards it covers (migration 0002).
            index=True,
        )
    )
    created_at: datetime | None = _ts("created_at", index=True)
    updated_at: datetime | None = _ts("updated_at", precision=0)
    deleted_at: datetime | None = _opt_ts("deleted_at")
    archived: bool | None = _bool("archived", default=False, nullable=True)
    user_id: str | None = _owner()
    is_public: bool = _bool("is_public", default=False, index=True)
    board_visibility: str = _text(
        "board_visibility", nullable=False, type_=KeyText, default="private", index=True
    )


class SharedBoardTable(_Table, table=True):
    """``shared_boards``: which users a board is shared with, and whether they may edit."""

    __tablename__ = "shared_boards"

    board_id: str = _fk("board_id", "boards.board_id", ondelete="CASCADE", primary_key=True)
    user_id: str = _fk("user_id", "users.user_id", ondelete="CASCADE", primary_key=True)
    can_edit: bool = _bool("can_edit", default=False)
    shared_at: datetime | None = _ts("shared_at")


class BoardImageTable(_Table, table=True):
    """``board_images``: the board an image is on (at most one)."""

    __tablename__ = "board_images"
    # (board_id, image_name): a board's names from the index alone (migration 0002).
    __table_args__ = (
        sa.Index(None, "board_id", "created_at"),
        sa.Index(None, "board_id", "image_name"),
    )

    board_id: str = _fk("board_id", "boards.board_id", ondelete="CASCADE", index=True)
    image_name: str = _fk("image_name", "images.image_name", ondelete="CASCADE", primary_key=True)
    created_at: datetime | None = _ts("created_at")
    updated_at: datetime | None = _ts("updated_at")
    deleted_at: datetime | None = _opt_ts("deleted_at")


class ModelTable(_Table, table=True):
    """``models``: the model registry; only ``id`` and ``config`` are ever written."""

    __tablename__ = "models"
    __table_args__ = _mariadb_not_null(
        "hash", "base", "type", "path", "format", "name", "source", "source_type", "file_size"
    )

    id: str = _col(sa.Column("id", KeyText, primary_key=True))
    config: str = _text("config", nullable=False, type_=LongText)
    created_at: datetime | None = _ts("created_at")
    updated_at: datetime | None = _ts("updated_at")
    hash: str | None = _generated("hash", "config", "$.hash", nullable=False)
    base: str | None = _generated(
        "base", "config", "$.base", nullable=False, type_=KeyText, index=True
    )
    type: str | None = _generated(
        "type", "config", "$.type", nullable=False, type_=KeyText, index=True
    )
    path: str | None = _generated(
        "path", "config", "$.path", nullable=False, type_=ShortText, unique=True
    )
    format: str | None = _generated("format", "config", "$.format", nullable=False)
    name: str | None = _generated(
        "name", "config", "$.name", nullable=False, type_=ShortText, index=True
    )
    description: str | None = _generated("description", "config", "$.description", nullable=True)
    source: str | None = _generated("source", "config", "$.source", nullable=False)
    source_type: str | None = _generated("source_type", "config", "$.source_type", nullable=False)
    source_api_response: str | None = _generated(
        "source_api_response", "config", "$.source_api_response", nullable=True
    )
    trigger_phrases: str | None = _generated(
        "trigger_phrases", "config", "$.trigger_phrases", nullable=True
    )
    file_size: int | None = _generated(
        "file_size", "config", "$.file_size", nullable=False, type_=sa.BigInteger()
    )


class ModelRelationshipTable(_Table, table=True):
    """``model_relationships``: an unordered pair of related models, stored sorted."""

    __tablename__ = "model_relationships"

    model_key_1: str = _fk("model_key_1", "models.id", ondelete="CASCADE", primary_key=True)
    model_key_2: str = _fk(
        "model_key_2", "models.id", ondelete="CASCADE", primary_key=True, index=True
    )
    created_at: datetime | None = _ts("created_at")


class UserSessionTable(_Table, table=True):
    """``user_sessions``: login sessions; only a hash of the token is stored."""

    __tablename__ = "user_sessions"

    session_id: str = _col(sa.Column("session_id", KeyText, primary_key=True))
    user_id: str = _fk("user_id", "users.user_id", ondelete="CASCADE", index=True)
    token_hash: str = _text("token_hash", nullable=False, type_=KeyText, index=True)
    expires_at: datetime = _col(sa.Column("expires_at", UtcDateTime(), nullable=False, index=True))
    created_at: datetime | None = _ts("created_at")
    last_activity_at: datetime | None = _opt_ts("last_activity_at")


class UserInvitationTable(_Table, table=True):
    """``user_invitations``: pending invitations; the code is a secret."""

    __tablename__ = "user_invitations"

    invitation_id: str = _col(sa.Column("invitation_id", KeyText, primary_key=True))
    email: str = _text("email", nullable=False, type_=ShortText, index=True)
    invited_by: str = _fk("invited_by", "users.user_id", ondelete="CASCADE")
    invitation_code: str = _text("invitation_code", nullable=False, type_=KeyText, unique=True)
    is_admin: bool = _bool("is_admin", default=False)
    expires_at: datetime = _col(sa.Column("expires_at", UtcDateTime(), nullable=False, index=True))
    used_at: datetime | None = _opt_ts("used_at")
    created_at: datetime | None = _ts("created_at")


class SessionQueueTable(_Table, table=True):
    """``session_queue``: the generation queue (phase 3, the hot path)."""

    __tablename__ = "session_queue"
    # (status, queue_id): a queue's counts by status from the index alone; (priority DESC,
    # item_id): the list order, so a page reads its rows in order and stops (migration 0002).
    __table_args__ = (
        sa.Index(None, "status", "queue_id"),
        sa.Index("ix_session_queue_priority_desc_item_id", sa.desc("priority"), "item_id"),
        {"sqlite_autoincrement": True},
    )

    item_id: int | None = _col(
        sa.Column("item_id", sa.Integer(), primary_key=True, autoincrement=True)
    )
    batch_id: str = _text("batch_id", nullable=False, type_=KeyText, index=True)
    queue_id: str = _text("queue_id", nullable=False, type_=KeyText)
    session_id: str = _text("session_id", nullable=False, type_=KeyText, unique=True)
    field_values: str | None = _text("field_values", type_=LongText)
    session: str = _text("session", nullable=False, type_=LongText)
    status: str = _text("status", nullable=False, type_=KeyText, default="pending", index=True)
    priority: int = _col(
        sa.Column("priority", sa.Integer(), nullable=False, server_default=sa.text("0"), index=True)
    )
    error_traceback: str | None = _text("error_traceback", type_=LongText)
    created_at: datetime | None = _ts("created_at")
    updated_at: datetime | None = _ts("updated_at")
    started_at: datetime | None = _opt_ts("started_at")
    completed_at: datetime | None = _opt_ts("completed_at")
    workflow: str | None = _text("workflow", type_=LongText)
    error_type: str | None = _text("error_type")
    error_message: str | None = _text("error_message", type_=LongText)
    origin: str | None = _text("origin")
    destination: str | None = _text("destination")
    retried_from_item_id: int | None = _col(
        sa.Column("retried_from_item_id", sa.Integer(), nullable=True)
    )
    user_id: str | None = _owner()
    status_sequence: int | None = _col(
        sa.Column("status_sequence", sa.Integer(), nullable=True, server_default=sa.text("0"))
    )
