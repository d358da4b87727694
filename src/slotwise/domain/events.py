"""Domain events, written to the outbox in the transaction that caused them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from slotwise.domain.booking import Booking, Hold
from slotwise.domain.ids import new_id
from slotwise.domain.model import OutboxEvent

BOOKING_CREATED = "booking.created"
BOOKING_CONFIRMED = "booking.confirmed"
BOOKING_CANCELLED = "booking.cancelled"
BOOKING_RESCHEDULED = "booking.rescheduled"
BOOKING_APPROVED = "booking.approved"
BOOKING_DECLINED = "booking.declined"
BOOKING_FAILED = "booking.failed"
BOOKING_COMPLETED = "booking.completed"
BOOKING_NO_SHOW = "booking.no_show"
WAITLIST_OFFERED = "waitlist.offered"
BOOKING_CONFLICTED = "booking.conflicted"  # something landed on it: see domain.conflicts
CALENDAR_FAILED = "calendar.connection_failed"
CALENDAR_RESTORED = "calendar.connection_restored"
# A hold took a slot's time (placed) or gave it back (released; expired: the fixer saw it
# lapse). Internal: they feed live updates. Holds are short-lived and frequent, and a hold
# is nobody's business outside the booking flow, so webhooks cannot subscribe to them and
# "*" does not include them.
HOLD_PLACED = "hold.placed"
HOLD_RELEASED = "hold.released"
HOLD_EXPIRED = "hold.expired"
HOLD_EVENTS = (HOLD_PLACED, HOLD_RELEASED, HOLD_EXPIRED)
# Every event type a webhook may subscribe to: add new ones here.
EVENT_TYPES = (BOOKING_CREATED, BOOKING_CONFIRMED, BOOKING_CANCELLED, BOOKING_RESCHEDULED,
               BOOKING_APPROVED, BOOKING_DECLINED, BOOKING_FAILED, BOOKING_COMPLETED,
               BOOKING_NO_SHOW, WAITLIST_OFFERED, BOOKING_CONFLICTED, CALENDAR_FAILED,
               CALENDAR_RESTORED)


def booking_snapshot(booking: Booking) -> dict[str, Any]:
    return {
        "id": booking.id,
        "service_id": booking.service_id,
        "status": booking.status.value,
        "start": iso(booking.start),
        "end": iso(booking.end),
        "resource_ids": list(booking.resource_ids),
        "customer_id": booking.customer.id,
        "series_id": booking.series_id,
        "awaiting": list(booking.awaiting),
        "sequence": booking.sequence,
    }


def booking_event(kind: str, booking: Booking, at: datetime, **extra: Any) -> OutboxEvent:
    payload = {"booking": booking_snapshot(booking), **extra}
    return OutboxEvent(
        id=new_id("event"), org_id=booking.org_id, type=kind, aggregate_id=booking.id,
        payload=payload, created_at=at,
    )


def hold_event(kind: str, hold: Hold, at: datetime) -> OutboxEvent:
    return OutboxEvent(
        id=new_id("event"), org_id=hold.org_id, type=kind, aggregate_id=hold.id,
        payload={"hold": {"id": hold.id, "service_id": hold.service_id,
                          "start": iso(hold.start), "end": iso(hold.end),
                          "resource_ids": list(hold.resource_ids),
                          "expires_at": iso(hold.expires_at)}},
        created_at=at,
    )


def iso(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")
