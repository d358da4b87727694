"""Change a booking after it is made: cancel, reschedule; and read bookings. (Approval,
no-shows and the rest of the way to confirmed or failed: `app.lifecycle`.)"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from slotwise.app.availability import (
    SearchAvailability,
    blocked_ranges,
    joinable_slot,
    lock_candidates,
    offered_slot,
    session_key,
    slot_request,
)
from slotwise.app.holds import chosen_resources
from slotwise.app.rules import Exclude
from slotwise.domain import events
from slotwise.domain.booking import Booking, BookingStatus
from slotwise.domain.calendars import OutgoingEvent, export_uid
from slotwise.domain.errors import NotFound, OverlapRefused, SlotUnavailable
from slotwise.domain.ids import digest
from slotwise.domain.model import BookingFilter, Organisation, OutboxEvent, Resource, Service
from slotwise.domain.ports import Clock, UnitOfWork, UnitOfWorkFactory
from slotwise.engine.availability import Slot, find_slots
from slotwise.engine.intervals import TimeRange


def find_booking(uow: UnitOfWork, org_id: str | None, booking_id: str,
                 manage_token: str | None = None) -> Booking:
    """By tenant (staff) or by the customer's manage token (public); unknown → NotFound."""
    if manage_token is not None:
        booking = uow.bookings.by_manage_token(booking_id, digest(manage_token))
    elif org_id is not None:
        booking = uow.bookings.get(org_id, booking_id)
    else:
        booking = None
    if booking is None:
        raise NotFound("no such booking")
    return booking


class CancelTerms(Protocol):
    def apply(self, uow: UnitOfWork, booking: Booking, now: datetime) -> object:
        """Apply what cancelling costs or gives back, in the cancelling transaction
        (``booking`` as it was before): `app.cancellation.CancellationTerms`."""
        ...


class CancelBooking:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock,
                 terms: CancelTerms | None = None) -> None:
        self._uow = uow
        self._clock = clock
        self._terms = terms

    def __call__(self, org_id: str | None, booking_id: str, reason: str | None = None, *,
                 manage_token: str | None = None) -> Booking:
        now = self._clock.now()
        with self._uow(write=True) as uow:
            booking = find_booking(uow, org_id, booking_id, manage_token)
            cancelled = booking.cancel(now, reason)
            if self._terms is not None:
                self._terms.apply(uow, booking, now)
            uow.bookings.update(cancelled)
            uow.outbox.add(events.booking_event(events.BOOKING_CANCELLED, cancelled, now,
                                                reason=reason))
            uow.commit()
            return cancelled


class RescheduleBooking:
    """Move a booking atomically: the new range is taken and the old released together."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock,
                 search: SearchAvailability) -> None:
        self._uow = uow
        self._clock = clock
        self._search = search

    def __call__(self, org_id: str | None, booking_id: str, start: datetime, *,
                 manage_token: str | None = None) -> Booking:
        now = self._clock.now()
        with self._uow(write=True) as uow:
            booking = find_booking(uow, org_id, booking_id, manage_token)
            service = uow.services.get(booking.org_id, booking.service_id)
            if service is None:
                raise NotFound("the booking's service is gone")
            booking.check_movable()
            own = Exclude(booking_ids=frozenset({booking.id}))
            slot = None
            if lock_candidates(uow, service, still_possible=lambda _: _new_slot(
                    uow, service, booking, start, now) is not None):
                slot = _new_slot(uow, service, booking, start, now)
            if slot is not None:
                try:
                    moved = move_booking(uow, service, booking, slot, now)
                except OverlapRefused:
                    pass
                else:
                    uow.commit()
                    return moved
            uow.rollback()  # free the locks, and a transaction a refused write aborted
            raise SlotUnavailable("that start is not available", self._search.alternatives(
                booking.org_id, service, start, exclude=own, uow=uow))


    def options(self, booking_id: str, start: datetime, end: datetime, *,
                manage_token: str) -> list[Slot]:
        """The starts in [start, end) the booking could move to: the service's availability
        with the booking's own allocations not counted as busy (its neighbours stay
        bookable), and its current start left out (moving there changes nothing)."""
        now = self._clock.now()
        with self._uow() as uow:
            booking = find_booking(uow, None, booking_id, manage_token)
            service = uow.services.get(booking.org_id, booking.service_id)
            if service is None:
                raise NotFound("the booking's service is gone")
            window = TimeRange(start, end)
            request = slot_request(uow, service, now, window,
                                   exclude=Exclude(booking_ids=frozenset({booking.id})))
            return [s for s in find_slots(request, window) if s.start != booking.start]


def move_booking(uow: UnitOfWork, service: Service, booking: Booking, slot: Slot,
                 now: datetime) -> Booking:
    """Write the booking at `slot` (its times and resources) with its allocations, and the
    reschedule event, in the caller's transaction; the caller holds the resources' locks and
    has checked the slot. Raises `OverlapRefused` when the guard refuses (roll back then)."""
    moved = booking.moved(slot.start, slot.end, slot.resource_ids, now)
    resources, locations = chosen_resources(uow, booking.org_id, slot)
    uow.bookings.move(moved, blocked_ranges(service, resources, locations, slot),
                      session_key(service, booking.id, slot.start))
    uow.outbox.add(rescheduled_event(booking, moved, now))
    return moved


def rescheduled_event(before: Booking, after: Booking, now: datetime) -> OutboxEvent:
    return events.booking_event(
        events.BOOKING_RESCHEDULED, after, now,
        previous={"start": events.iso(before.start), "end": events.iso(before.end),
                  "resource_ids": list(before.resource_ids)})


def _new_slot(uow: UnitOfWork, service: Service, booking: Booking, start: datetime,
              now: datetime) -> Slot | None:
    """Least disruption first: the same resources at the new time, then any that fit, then a
    free seat in a group session already running at that time."""
    own = Exclude(booking_ids=frozenset({booking.id}))
    return (offered_slot(uow, service, start, now, restrict_to=booking.resource_ids,
                         exclude=own)
            or offered_slot(uow, service, start, now, exclude=own)
            or joinable_slot(uow, service, start, now))


IcsRenderer = Callable[[list[OutgoingEvent], str, datetime], bytes]
@dataclass(frozen=True, slots=True)
class BookingDetails:
    """What the customer's manage page shows: the booking with its service, resources and
    organisation (`service` None when it was deleted since)."""

    booking: Booking
    service: Service | None
    resources: tuple[Resource, ...]
    organisation: Organisation


class ReadBookings:
    def __init__(self, uow: UnitOfWorkFactory, ics_renderer: IcsRenderer | None = None) -> None:
        self._uow = uow
        self._render = ics_renderer

    def details(self, booking_id: str, manage_token: str) -> BookingDetails:
        """By the customer's manage token (a wrong one → NotFound), read together."""
        with self._uow() as uow:
            booking = find_booking(uow, None, booking_id, manage_token)
            org = uow.organisations.get(booking.org_id)
            if org is None:
                raise NotFound("no such booking")
            found = (uow.resources.get(booking.org_id, rid) for rid in booking.resource_ids)
            return BookingDetails(booking, uow.services.get(booking.org_id, booking.service_id),
                                  tuple(r for r in found if r is not None), org)

    def get(self, org_id: str | None, booking_id: str, manage_token: str | None = None
            ) -> Booking:
        with self._uow() as uow:
            return find_booking(uow, org_id, booking_id, manage_token)

    def list(self, org_id: str, query: BookingFilter) -> list[Booking]:
        with self._uow() as uow:
            if query.resource_id is not None and uow.resources.get(org_id, query.resource_id
                                                                   ) is None:
                raise NotFound("no such resource")
            return uow.bookings.list(org_id, query)

    def ics(self, booking_id: str, manage_token: str) -> bytes:
        """The customer's booking as an iCalendar file (one VEVENT, instants in UTC, the
        booking's stable UID, so importing it again updates the event), stamped with the
        booking's last change. NotFound for a wrong token or when no renderer is wired."""
        if self._render is None:
            raise NotFound("calendar files are not available")
        with self._uow() as uow:
            booking = find_booking(uow, None, booking_id, manage_token)
            service = uow.services.get(booking.org_id, booking.service_id)
            resources = uow.resources.many(booking.org_id, booking.resource_ids)
            org = uow.organisations.get(booking.org_id)
        title = service.name if service else "Booking"
        names = [resources[rid].name for rid in booking.resource_ids if rid in resources]
        lines = [f"With: {', '.join(names)}"] if names else []
        if booking.meeting is not None:
            lines.append(f"Meeting: {booking.meeting.join_url}")
        lines.append(f"Booking: {booking.id}")
        event = OutgoingEvent(
            booking_id=booking.id, uid=export_uid(booking.id), title=title,
            start=booking.start, end=booking.end, timezone=org.timezone if org else "UTC",
            sequence=booking.sequence, description="\n".join(lines),
            location=booking.meeting.join_url if booking.meeting else None,
            tentative=booking.status is BookingStatus.PENDING)
        return self._render([event], org.name if org else title, booking.updated_at)
