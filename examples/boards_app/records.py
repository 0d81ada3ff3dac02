"""The application's records."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


def uuid_string() -> str:
    """A new random id, as the application draws them everywhere."""
    return str(uuid.uuid4())


class BoardRecord(BaseModel):
    """One board."""

    model_config = ConfigDict(frozen=True)

    board_id: str = Field(default_factory=uuid_string)
    board_name: str
    created_at: datetime
    updated_at: datetime


class BoardRecordNotFoundException(Exception):
    """No board with that id."""
