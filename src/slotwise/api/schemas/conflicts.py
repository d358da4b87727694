"""Conflicts and their suggestions as the API shows them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from slotwise.api.schemas.bookings import BookingOut
from slotwise.api.schemas.common import Body, Instant

ConflictStatusName = Literal["open", "resolved", "dismissed", "cleared"]


class SuggestedResourceOut(BaseModel):
    role: int | None = Field(description="index into the service's requirements")
    resource_id: str


class ReplacesOut(BaseModel):
    from_: str = Field(alias="from", serialization_alias="from")
    to: str


class SuggestionOut(BaseModel):
    id: str = Field(description="names the suggestion in a resolve call; a hash of its "
                                "content, so it stays the same while the suggestion applies")
    kind: Literal["reschedule", "substitute", "reschedule_and_promote"]
    rank: int = Field(description="1 is the best")
    start: Instant
    end: Instant
    resources: list[SuggestedResourceOut]
    replaces: ReplacesOut | None = None
    waitlist_entry_id: str | None = None
    summary: str


class ConflictOut(BaseModel):
    id: str
    status: ConflictStatusName
    cause: Literal["calendar", "block", "override"]
    cause_ref: str = Field(description="the block's id (calendar, block) or the local date "
                                       "the new hours close (override)")
    booking_id: str
    resource_id: str
    start: Instant = Field(description="where the cause covers the booking's own range")
    end: Instant
    created_at: Instant
    updated_at: Instant
    closed_at: Instant | None
    resolution: dict[str, Any] | None
    suggestions: list[SuggestionOut] | None = Field(
        description="ranked; null when the conflict is closed or suggestions=false")


class ConflictPage(BaseModel):
    items: list[ConflictOut]
    next_cursor: str | None


class ResolveIn(Body):
    suggestion_id: str = Field(min_length=1, max_length=100)


class DismissIn(Body):
    note: str | None = Field(default=None, max_length=2000)


class ResolvedOut(BaseModel):
    conflict: ConflictOut
    booking: BookingOut
    waitlist_offers: int = Field(description="offers made to waiting customers for the "
                                             "freed time (reschedule_and_promote)")
