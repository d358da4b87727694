"""The booking and the hold: their states and the transitions between them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from slotwise.domain.errors import InvalidTransition
from slotwise.domain.meetings import Meeting
from slotwise.domain.model import Customer, HeldResource


class BookingStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    FAILED = "failed"

    @property
    def holds_resources(self) -> bool:
        """Only pending and confirmed bookings keep their allocations active."""
        return self in (BookingStatus.PENDING, BookingStatus.CONFIRMED)


_TRANSITIONS: dict[BookingStatus, frozenset[BookingStatus]] = {
    BookingStatus.PENDING: frozenset(
        {BookingStatus.CONFIRMED, BookingStatus.FAILED, BookingStatus.CANCELLED}
    ),
    BookingStatus.CONFIRMED: frozenset(
        {BookingStatus.COMPLETED, BookingStatus.NO_SHOW, BookingStatus.CANCELLED}
    ),
    BookingStatus.CANCELLED: frozenset(),
    # The settle rule marks bookings completed after their end; staff may still say no-show.
    BookingStatus.COMPLETED: frozenset({BookingStatus.NO_SHOW}),
    BookingStatus.NO_SHOW: frozenset(),
    BookingStatus.FAILED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class Booking:
    id: str
    org_id: str
    service_id: str
    customer: Customer
    status: BookingStatus
    start: datetime
    end: datetime
    resource_ids: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    series_id: str | None = None
    notes: str | None = None
    cancel_reason: str | None = None
    manage_token_hash: str | None = None
    # What a pending booking still waits for ("approval", "payment", "meeting"), and until
    # when it may wait for a payment or a meeting link before it fails closed.
    awaiting: tuple[str, ...] = ()
    pending_until: datetime | None = None
    meeting: Meeting | None = None
    sequence: int = 0  # iCalendar SEQUENCE: raised by every change the customer is told of
    failure_reason: str | None = None

    def transition(self, to: BookingStatus, at: datetime) -> Booking:
        if to not in _TRANSITIONS[self.status]:
            raise InvalidTransition(f"a {self.status.value} booking cannot become {to.value}")
        return replace(self, status=to, updated_at=at)

    def cancel(self, at: datetime, reason: str | None) -> Booking:
        return replace(self.transition(BookingStatus.CANCELLED, at), cancel_reason=reason,
                       sequence=self.sequence + 1)

    def satisfied(self, gate: str, at: datetime) -> Booking:
        """`gate` no longer holds the booking back; with nothing left it is confirmed."""
        if self.status is not BookingStatus.PENDING or gate not in self.awaiting:
            return self
        left = tuple(g for g in self.awaiting if g != gate)
        if left:
            return replace(self, awaiting=left, updated_at=at)
        return replace(self.transition(BookingStatus.CONFIRMED, at), awaiting=(),
                       pending_until=None)

    def fail(self, at: datetime, reason: str) -> Booking:
        """Fail closed: the slot is released and the reason kept for the customer and team."""
        return replace(self.transition(BookingStatus.FAILED, at), failure_reason=reason,
                       pending_until=None)

    def check_movable(self) -> None:
        if not self.status.holds_resources:
            raise InvalidTransition(f"a {self.status.value} booking cannot be rescheduled")

    def moved(self, start: datetime, end: datetime, resource_ids: tuple[str, ...],
              at: datetime) -> Booking:
        self.check_movable()
        return replace(self, start=start, end=end, resource_ids=resource_ids, updated_at=at,
                       sequence=self.sequence + 1)


class HoldStatus(StrEnum):
    ACTIVE = "active"
    CONVERTED = "converted"
    RELEASED = "released"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Hold:
    """A tentative claim on resources for one service and start, until `expires_at`."""

    id: str
    org_id: str
    service_id: str
    start: datetime
    end: datetime
    resources: tuple[HeldResource, ...]
    expires_at: datetime
    created_at: datetime
    status: HoldStatus = HoldStatus.ACTIVE
    booking_id: str | None = None

    @property
    def resource_ids(self) -> tuple[str, ...]:
        return tuple(r.resource_id for r in self.resources)

    def is_live(self, now: datetime) -> bool:
        return self.status is HoldStatus.ACTIVE and now < self.expires_at
