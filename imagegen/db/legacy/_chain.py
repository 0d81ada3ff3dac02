"""The legacy schema's migration chain: raw SQL, one function per version.

Each migration receives a cursor inside a transaction the migrator owns and
must not commit. The chain mirrors how such an app grows: a single-user
baseline, then multi-user support, then a few added columns. Its end state is
the 14-table schema of docs/reference-app.md, which ``imagegen.db.tables`` declares for the
SQLModel layer; ``shadow db parity`` checks the two agree.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable

__all__ = ["CHAIN", "Migration"]

Migration = Callable[[sqlite3.Cursor], None]

_NOW = "STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW')"
_TS = f"DATETIME NOT NULL DEFAULT ({_NOW})"


def _updated_at_trigger(table: str, *match: str, now: str = _NOW) -> str:
    where = " AND ".join(f"{column} = OLD.{column}" for column in match)
    return (
        f"CREATE TRIGGER tg_{table}_updated_at AFTER UPDATE ON {table} FOR EACH ROW\n"
        f"BEGIN\n"
        f"    UPDATE {table} SET updated_at = {now} WHERE {where};\n"
        f"END"
    )


def _migrate_1(cursor: sqlite3.Cursor) -> None:
    """Baseline: the single-user app's gallery, workflows, models, presets and queue."""
    statements = [
        f"""CREATE TABLE images (
            image_name TEXT NOT NULL,
            image_origin TEXT NOT NULL,
            image_category TEXT NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            session_id TEXT,
            node_id TEXT,
            metadata TEXT,
            is_intermediate BOOLEAN DEFAULT FALSE,
            created_at {_TS},
            updated_at {_TS},
            deleted_at DATETIME,
            starred BOOLEAN DEFAULT FALSE,
            has_workflow BOOLEAN DEFAULT FALSE,
            CONSTRAINT pk_images PRIMARY KEY (image_name)
        )""",
        "CREATE INDEX ix_images_image_origin ON images (image_origin)",
        "CREATE INDEX ix_images_image_category ON images (image_category)",
        "CREATE INDEX ix_images_created_at ON images (created_at)",
        "CREATE INDEX ix_images_starred ON images (starred)",
        _updated_at_trigger("images", "image_name"),
        f"""CREATE TABLE boards (
            board_id TEXT NOT NULL,
            board_name TEXT NOT NULL,
            cover_image_name TEXT,
            created_at {_TS},
            updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
            deleted_at DATETIME,
            archived BOOLEAN DEFAULT FALSE,
            CONSTRAINT pk_boards PRIMARY KEY (board_id),
            CONSTRAINT fk_boards_cover_image_name_images FOREIGN KEY (cover_image_name)
                REFERENCES images (image_name) ON DELETE SET NULL
        )""",
        "CREATE INDEX ix_boards_created_at ON boards (created_at)",
        _updated_at_trigger("boards", "board_id", now="CURRENT_TIMESTAMP"),
        f"""CREATE TABLE board_images (
            board_id TEXT NOT NULL,
            image_name TEXT NOT NULL,
            created_at {_TS},
            updated_at {_TS},
            deleted_at DATETIME,
            CONSTRAINT pk_board_images PRIMARY KEY (image_name),
            CONSTRAINT fk_board_images_board_id_boards FOREIGN KEY (board_id)
                REFERENCES boards (board_id) ON DELETE CASCADE,
            CONSTRAINT fk_board_images_image_name_images FOREIGN KEY (image_name)
                REFERENCES images (image_name) ON DELETE CASCADE
        )""",
        "CREATE INDEX ix_board_images_board_id ON board_images (board_id)",
        "CREATE INDEX ix_board_images_board_id_created_at ON board_images (board_id, created_at)",
        _updated_at_trigger("board_images", "board_id", "image_name"),
        f"""CREATE TABLE workflow_library (
            workflow_id TEXT NOT NULL,
            workflow TEXT NOT NULL,
            created_at {_TS},
            updated_at {_TS},
            opened_at DATETIME,
            category TEXT NOT NULL GENERATED ALWAYS AS
                (json_extract(workflow, '$.meta.category')) VIRTUAL,
            name TEXT NOT NULL GENERATED ALWAYS AS (json_extract(workflow, '$.name')) VIRTUAL,
            description TEXT NOT NULL GENERATED ALWAYS AS
                (json_extract(workflow, '$.description')) VIRTUAL,
            tags TEXT GENERATED ALWAYS AS (json_extract(workflow, '$.tags')) VIRTUAL,
            CONSTRAINT pk_workflow_library PRIMARY KEY (workflow_id)
        )""",
        "CREATE INDEX ix_workflow_library_created_at ON workflow_library (created_at)",
        "CREATE INDEX ix_workflow_library_updated_at ON workflow_library (updated_at)",
        "CREATE INDEX ix_workflow_library_opened_at ON workflow_library (opened_at)",
        "CREATE INDEX ix_workflow_library_category ON workflow_library (category)",
        "CREATE INDEX ix_workflow_library_name ON workflow_library (name)",
        "CREATE INDEX ix_workflow_library_description ON workflow_library (description)",
        _updated_at_trigger("workflow_library", "workflow_id"),
        f"""CREATE TABLE session_queue (
            item_id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
            batch_id TEXT NOT NULL,
            queue_id TEXT NOT NULL,
            session_id TEXT NOT NULL,
            field_values TEXT,
            session TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            priority INTEGER NOT NULL DEFAULT 0,
            error_traceback TEXT,
            created_at {_TS},
            updated_at {_TS},
            started_at DATETIME,
            completed_at DATETIME,
            workflow TEXT,
            error_type TEXT,
            error_message TEXT,
            origin TEXT,
            destination TEXT,
            retried_from_item_id INTEGER,
            CONSTRAINT uq_session_queue_session_id UNIQUE (session_id)
        )""",
        "CREATE INDEX ix_session_queue_batch_id ON session_queue (batch_id)",
        "CREATE INDEX ix_session_queue_priority ON session_queue (priority)",
        "CREATE INDEX ix_session_queue_status ON session_queue (status)",
        _updated_at_trigger("session_queue", "item_id"),
        f"""CREATE TRIGGER tg_session_queue_started_at AFTER UPDATE OF status ON session_queue
            FOR EACH ROW WHEN NEW.status IN ('in_progress')
        BEGIN
            UPDATE session_queue SET started_at = {_NOW} WHERE item_id = OLD.item_id;
        END""",
        f"""CREATE TRIGGER tg_session_queue_completed_at AFTER UPDATE OF status ON session_queue
            FOR EACH ROW WHEN NEW.status IN ('completed', 'failed', 'canceled')
        BEGIN
            UPDATE session_queue SET completed_at = {_NOW} WHERE item_id = OLD.item_id;
        END""",
        f"""CREATE TABLE models (
            id TEXT NOT NULL,
            config TEXT NOT NULL,
            created_at {_TS},
            updated_at {_TS},
            hash TEXT NOT NULL GENERATED ALWAYS AS (json_extract(config, '$.hash')) VIRTUAL,
            base TEXT NOT NULL GENERATED ALWAYS AS (json_extract(config, '$.base')) VIRTUAL,
            type TEXT NOT NULL GENERATED ALWAYS AS (json_extract(config, '$.type')) VIRTUAL,
            path TEXT NOT NULL GENERATED ALWAYS AS (json_extract(config, '$.path')) VIRTUAL,
            format TEXT NOT NULL GENERATED ALWAYS AS (json_extract(config, '$.format')) VIRTUAL,
            name TEXT NOT NULL GENERATED ALWAYS AS (json_extract(config, '$.name')) VIRTUAL,
            description TEXT GENERATED ALWAYS AS
                (json_extract(config, '$.description')) VIRTUAL,
            source TEXT NOT NULL GENERATED ALWAYS AS (json_extract(config, '$.source')) VIRTUAL,
            source_type TEXT NOT NULL GENERATED ALWAYS AS
                (json_extract(config, '$.source_type')) VIRTUAL,
            source_api_response TEXT GENERATED ALWAYS AS
                (json_extract(config, '$.source_api_response')) VIRTUAL,
            trigger_phrases TEXT GENERATED ALWAYS AS
                (json_extract(config, '$.trigger_phrases')) VIRTUAL,
            file_size BIGINT NOT NULL GENERATED ALWAYS AS
                (json_extract(config, '$.file_size')) VIRTUAL,
            CONSTRAINT pk_models PRIMARY KEY (id),
            CONSTRAINT uq_models_path UNIQUE (path)
        )""",
        "CREATE INDEX ix_models_base ON models (base)",
        "CREATE INDEX ix_models_type ON models (type)",
        "CREATE INDEX ix_models_name ON models (name)",
        _updated_at_trigger("models", "id"),
        f"""CREATE TABLE model_relationships (
            model_key_1 TEXT NOT NULL,
            model_key_2 TEXT NOT NULL,
            created_at {_TS},
            CONSTRAINT pk_model_relationships PRIMARY KEY (model_key_1, model_key_2),
            CONSTRAINT fk_model_relationships_model_key_1_models FOREIGN KEY (model_key_1)
                REFERENCES models (id) ON DELETE CASCADE,
            CONSTRAINT fk_model_relationships_model_key_2_models FOREIGN KEY (model_key_2)
                REFERENCES models (id) ON DELETE CASCADE
        )""",
        "CREATE INDEX ix_model_relationships_model_key_2 ON model_relationships (model_key_2)",
        f"""CREATE TABLE style_presets (
            id TEXT NOT NULL,
            name TEXT NOT NULL,
            preset_data TEXT NOT NULL,
            type TEXT NOT NULL DEFAULT 'user',
            created_at {_TS},
            updated_at {_TS},
            CONSTRAINT pk_style_presets PRIMARY KEY (id)
        )""",
        "CREATE INDEX ix_style_presets_name ON style_presets (name)",
        _updated_at_trigger("style_presets", "id"),
        f"""CREATE TABLE app_settings (
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            created_at {_TS},
            updated_at {_TS},
            CONSTRAINT pk_app_settings PRIMARY KEY (key)
        )""",
        _updated_at_trigger("app_settings", "key"),
    ]
    for statement in statements:
        cursor.execute(statement)


def _migrate_2(cursor: sqlite3.Cursor) -> None:
    """Multi-user: accounts, sessions, invitations, sharing, per-user UI state, owners."""
    statements = [
        f"""CREATE TABLE users (
            user_id TEXT NOT NULL,
            email TEXT NOT NULL,
            display_name TEXT,
            password_hash TEXT NOT NULL,
            is_admin BOOLEAN NOT NULL DEFAULT FALSE,
            is_active BOOLEAN NOT NULL DEFAULT TRUE,
            created_at {_TS},
            updated_at {_TS},
            last_login_at DATETIME,
            CONSTRAINT pk_users PRIMARY KEY (user_id),
            CONSTRAINT uq_users_email UNIQUE (email)
        )""",
        "CREATE INDEX ix_users_email ON users (email)",
        "CREATE INDEX ix_users_is_admin ON users (is_admin)",
        "CREATE INDEX ix_users_is_active ON users (is_active)",
        _updated_at_trigger("users", "user_id"),
        f"""CREATE TABLE user_sessions (
            session_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            token_hash TEXT NOT NULL,
            expires_at DATETIME NOT NULL,
            created_at {_TS},
            last_activity_at DATETIME,
            CONSTRAINT pk_user_sessions PRIMARY KEY (session_id),
            CONSTRAINT fk_user_sessions_user_id_users FOREIGN KEY (user_id)
                REFERENCES users (user_id) ON DELETE CASCADE
        )""",
        "CREATE INDEX ix_user_sessions_user_id ON user_sessions (user_id)",
        "CREATE INDEX ix_user_sessions_token_hash ON user_sessions (token_hash)",
        "CREATE INDEX ix_user_sessions_expires_at ON user_sessions (expires_at)",
        f"""CREATE TABLE user_invitations (
            invitation_id TEXT NOT NULL,
            email TEXT NOT NULL,
            invited_by TEXT NOT NULL,
            invitation_code TEXT NOT NULL,
            is_admin BOOLEAN NOT NULL DEFAULT FALSE,
            expires_at DATETIME NOT NULL,
            used_at DATETIME,
            created_at {_TS},
            CONSTRAINT pk_user_invitations PRIMARY KEY (invitation_id),
            CONSTRAINT uq_user_invitations_invitation_code UNIQUE (invitation_code),
            CONSTRAINT fk_user_invitations_invited_by_users FOREIGN KEY (invited_by)
                REFERENCES users (user_id) ON DELETE CASCADE
        )""",
        "CREATE INDEX ix_user_invitations_email ON user_invitations (email)",
        "CREATE INDEX ix_user_invitations_expires_at ON user_invitations (expires_at)",
        f"""CREATE TABLE shared_boards (
            board_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            can_edit BOOLEAN NOT NULL DEFAULT FALSE,
            shared_at {_TS},
            CONSTRAINT pk_shared_boards PRIMARY KEY (board_id, user_id),
            CONSTRAINT fk_shared_boards_board_id_boards FOREIGN KEY (board_id)
                REFERENCES boards (board_id) ON DELETE CASCADE,
            CONSTRAINT fk_shared_boards_user_id_users FOREIGN KEY (user_id)
                REFERENCES users (user_id) ON DELETE CASCADE
        )""",
        """CREATE TABLE client_state (
            user_id TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
            CONSTRAINT pk_client_state PRIMARY KEY (user_id, key),
            CONSTRAINT fk_client_state_user_id_users FOREIGN KEY (user_id)
                REFERENCES users (user_id) ON DELETE CASCADE
        )""",
        "CREATE INDEX ix_client_state_user_id ON client_state (user_id)",
        _updated_at_trigger("client_state", "user_id", "key", now="CURRENT_TIMESTAMP"),
    ]
    for table in ("images", "boards", "workflow_library", "session_queue", "style_presets"):
        statements.append(f"ALTER TABLE {table} ADD COLUMN user_id TEXT DEFAULT 'system'")
        statements.append(f"CREATE INDEX ix_{table}_user_id ON {table} (user_id)")
    for table in ("boards", "workflow_library", "style_presets"):
        statements.append(
            f"ALTER TABLE {table} ADD COLUMN is_public BOOLEAN NOT NULL DEFAULT FALSE"
        )
        statements.append(f"CREATE INDEX ix_{table}_is_public ON {table} (is_public)")
    statements += [
        "ALTER TABLE boards ADD COLUMN board_visibility TEXT NOT NULL DEFAULT 'private'",
        "CREATE INDEX ix_boards_board_visibility ON boards (board_visibility)",
    ]
    for statement in statements:
        cursor.execute(statement)
    cursor.execute(
        "INSERT INTO users (user_id, email, display_name, password_hash, is_admin, is_active)"
        " VALUES ('system', 'system@system.invalid', 'System', '', FALSE, TRUE)"
    )
    cursor.execute(
        "INSERT INTO app_settings (key, value) VALUES ('jwt_secret', ?)", (secrets.token_hex(32),)
    )


def _migrate_3(cursor: sqlite3.Cursor) -> None:
    """Image subfolders and the queue's status sequence number."""
    cursor.execute("ALTER TABLE images ADD COLUMN image_subfolder TEXT NOT NULL DEFAULT ''")
    cursor.execute("ALTER TABLE session_queue ADD COLUMN status_sequence INTEGER DEFAULT 0")


def _migrate_4(cursor: sqlite3.Cursor) -> None:
    """Indexes a store of a million images needs (docs/benchmarks.md, "At production scale").

    ``boards.cover_image_name``: deleting an image sets the covers that name it
    to NULL (``ON DELETE SET NULL``); without an index every deleted image scans
    every board, so ``delete_intermediates`` was quadratic (minutes for 100,000
    intermediates and 10,000 boards). ``board_images (board_id, image_name)``: a
    board's image names straight from the index; without it, and without table
    statistics, SQLite's planner drove the per-board counts and name lists from
    ``ix_images_image_category`` when one category was asked for, reading every
    image of that category (a fifth of the table). ``session_queue (status,
    queue_id)``: a queue's counts by status from the index, not from every row's
    page; ``session_queue (priority DESC, item_id)``: the list order itself, so
    a page of the queue reads 21 rows instead of sorting all of them (0.75 s and
    2 s with 100,000 finished items).
    """
    statements = (
        "CREATE INDEX ix_boards_cover_image_name ON boards (cover_image_name)",
        "CREATE INDEX ix_board_images_board_id_image_name ON board_images (board_id, image_name)",
        "CREATE INDEX ix_session_queue_status_queue_id ON session_queue (status, queue_id)",
        "CREATE INDEX ix_session_queue_priority_desc_item_id"
        " ON session_queue (priority DESC, item_id)",
    )
    for statement in statements:
        cursor.execute(statement)


CHAIN: dict[int, Migration] = {1: _migrate_1, 2: _migrate_2, 3: _migrate_3, 4: _migrate_4}
"""Version -> migration. Version 0 is the migrator's own bookkeeping table."""
