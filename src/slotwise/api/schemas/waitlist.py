"""Waitlist entries as the API takes and shows them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from slotwise.api.schemas.bookings import CustomerIn, CustomerOut
from slotwise.api.schemas.common import Body, Instant

EntryStateName = Literal["waiting", "offered", "booked", "lapsed", "expired", "cancelled"]


class PublicWaitlistIn(Body):
    customer: CustomerIn
    start: Instant = Field(description="the earliest start the customer would take")
    end: Instant = Field(description="the latest end the customer would take")


class WaitlistIn(PublicWaitlistIn):
    service_id: str
    resource_ids: list[str] | None = Field(default=None, max_length=20)


class OfferOut(BaseModel):
    start: Instant
    expires_at: Instant


class WaitlistOut(BaseModel):
    id: str
    service_id: str
    customer: CustomerOut
    start: Instant
    end: Instant
    resource_ids: list[str] | None
    state: EntryStateName
    offer: OfferOut | None
    booking_id: str | None
    created_at: Instant


class WaitlistPage(BaseModel):
    items: list[WaitlistOut]
    next_cursor: str | None = None
