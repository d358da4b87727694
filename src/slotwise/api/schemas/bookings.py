from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, EmailStr, Field

from slotwise.api.schemas.common import Body, Instant, Name, Zone
from slotwise.api.schemas.payments import FeeOut, PaymentOut

Status = Literal["pending", "confirmed", "cancelled", "completed", "no_show", "failed"]


class SlotOut(BaseModel):
    start: Instant
    end: Instant


class AvailabilityOut(BaseModel):
    service_id: str
    timezone: str
    slots: list[SlotOut]


class HoldIn(Body):
    service_id: str
    start: Instant
    resource_ids: list[str] | None = Field(default=None, min_length=1, max_length=50)
    ttl_s: int | None = Field(default=None, ge=1, le=1800)


class HoldExtendIn(Body):
    ttl_s: int = Field(ge=1, le=1800)


class HoldOut(BaseModel):
    id: str
    service_id: str
    start: Instant
    end: Instant
    resource_ids: list[str]
    expires_at: Instant


class HoldPage(BaseModel):
    items: list[HoldOut]
    next_cursor: str | None


class CustomerIn(Body):
    name: Name
    email: EmailStr
    phone: str | None = Field(default=None, max_length=40, pattern=r"^\+?[0-9 ()./-]{3,40}$")
    timezone: Zone | None = None


class RecurrenceIn(Body):
    rrule: str = Field(min_length=1, max_length=1000)
    timezone: Zone | None = None


class PublicBookingIn(Body):
    start: Instant
    customer: CustomerIn
    hold_id: str | None = None
    recurrence: RecurrenceIn | None = None
    notes: str | None = Field(default=None, max_length=5000)


class BookingIn(PublicBookingIn):
    service_id: str
    resource_ids: list[str] | None = Field(default=None, min_length=1, max_length=50)


class CustomerOut(BaseModel):
    name: str
    email: str
    phone: str | None
    timezone: str | None


class MeetingOut(BaseModel):
    provider: str
    join_url: str
    passcode: str | None = None


class BookingOut(BaseModel):
    id: str
    service_id: str
    status: Status
    start: Instant
    end: Instant
    resource_ids: list[str]
    customer: CustomerOut
    series_id: str | None
    notes: str | None
    cancel_reason: str | None
    created_at: Instant
    updated_at: Instant
    awaiting: list[Literal["approval", "payment", "meeting"]] = Field(
        default_factory=list, description="what a pending booking still waits for")
    pending_until: Instant | None = Field(
        default=None, description="when a booking waiting for a payment or a meeting link "
        "fails closed if they have not arrived")
    meeting: MeetingOut | None = None
    failure_reason: str | None = None
    payment: PaymentOut | None = Field(
        default=None, description="what the booking pays through a gateway; null: nothing")
    fees: list[FeeOut] = Field(default_factory=list,
                               description="late-cancellation and no-show fees recorded")


class BookedOut(BookingOut):
    occurrences: list[BookingOut] | None = None


class PublicBookedOut(BookedOut):
    manage_token: str


class CancelIn(Body):
    reason: str | None = Field(default=None, max_length=2000)


class RescheduleIn(Body):
    start: Instant


class BookingPage(BaseModel):
    items: list[BookingOut]
    next_cursor: str | None
