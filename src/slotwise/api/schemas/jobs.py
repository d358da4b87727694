"""Jobs as the API shows them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from slotwise.api.schemas.common import Instant

JobStateName = Literal["todo", "doing", "succeeded", "failed", "cancelled"]


class JobErrorOut(BaseModel):
    attempt: int
    at: Instant
    error: str


class JobOut(BaseModel):
    id: str
    task: str
    state: JobStateName
    attempts: int
    scheduled_at: Instant | None
    args: dict[str, Any]
    last_error: str | None
    errors: list[JobErrorOut]


class JobPage(BaseModel):
    items: list[JobOut]
    next_cursor: str | None
