"""Calendar export: each booking as an event in its resources' connected calendars.

A booking event in the outbox defers one export job per connection concerned (the resources'
connections that export, and any connection still holding an event of the booking: a booking
moved to another resource leaves the old calendar). The job converges the calendar on the
booking as it is when the job runs, so repeats and reorderings are harmless: an active booking
is created or updated (nothing is written when the event already matches), anything else is
deleted. Events carry the booking's stable UID, so a reconnect finds them instead of
duplicating them.
"""

from __future__ import annotations

import logging
from datetime import datetime

from slotwise.app.calendar_sync import CalendarSync
from slotwise.domain import events
from slotwise.domain.booking import Booking, BookingStatus
from slotwise.domain.calendars import (
    CalendarAuthError,
    CalendarConnection,
    CalendarExport,
    CalendarProvider,
    CalendarRejected,
    CalendarUnavailable,
    EventGone,
    OutgoingEvent,
    export_uid,
)
from slotwise.domain.jobs import JobSpec
from slotwise.domain.model import OutboxEvent
from slotwise.domain.ports import Clock, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger("slotwise.calendars")

EXPORT_TASK = "calendars.export"
_ACTIVE = (BookingStatus.PENDING, BookingStatus.CONFIRMED)
_REACTS_TO = {events.BOOKING_CREATED, events.BOOKING_CONFIRMED, events.BOOKING_RESCHEDULED,
              events.BOOKING_CANCELLED, events.BOOKING_DECLINED, events.BOOKING_FAILED,
              events.BOOKING_APPROVED}


class CalendarExportReactor:
    def react(self, uow: UnitOfWork, event: OutboxEvent, now: datetime) -> None:
        if event.type not in _REACTS_TO:
            return
        booking = uow.bookings.get(event.org_id, event.aggregate_id)
        if booking is None:
            return
        targets = {x.connection_id for x in uow.calendars.exports_of_booking(
            booking.org_id, booking.id)}
        for resource_id in booking.resource_ids:
            targets.update(c.id for c in uow.calendars.list(booking.org_id, resource_id)
                           if c.export_bookings)
        for connection_id in sorted(targets):
            uow.jobs.defer(JobSpec(task=EXPORT_TASK, org_id=booking.org_id, args={
                "org_id": booking.org_id, "connection_id": connection_id,
                "booking_id": booking.id}))


class CalendarExporter:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, sync: CalendarSync) -> None:
        self._uow = uow
        self._clock = clock
        self._sync = sync

    def export(self, org_id: str, connection_id: str, booking_id: str) -> None:
        """Converge one connection's event for one booking. Raises CalendarUnavailable (the
        job retries); permanent failures are recorded on the connection instead."""
        with self._uow() as uow:
            connection = uow.calendars.get(org_id, connection_id)
            booking = uow.bookings.get(org_id, booking_id)
            held = uow.calendars.export_of(org_id, connection_id, booking_id)
            wanted = None if connection is None or booking is None else _wanted(
                uow, connection, booking)
        if connection is None or booking is None:
            return
        fingerprint = _fingerprint(booking) if wanted is not None else ""
        if held is not None and wanted is not None and held.fingerprint == fingerprint:
            return
        if held is None and wanted is None:
            return
        try:
            provider = self._sync.provider(connection)
            self._converge(provider, connection, booking, held, wanted, fingerprint)
        except CalendarUnavailable:
            raise
        except (CalendarRejected, CalendarAuthError) as error:
            log.warning("calendar %s: booking %s not exported: %s", connection_id, booking_id,
                        error)

    def _converge(self, provider: CalendarProvider, connection: CalendarConnection,
                  booking: Booking, held: CalendarExport | None,
                  wanted: OutgoingEvent | None, fingerprint: str) -> None:
        now = self._clock.now()
        calendar = connection.calendar_id
        if wanted is None:
            assert held is not None
            provider.delete_event(calendar, held.ref)
            with self._uow(write=True) as uow:
                uow.calendars.drop_export(connection.org_id, connection.id, booking.id)
                uow.commit()
            return
        if held is None:
            ref = provider.create_event(calendar, wanted)
        else:
            try:
                ref = provider.update_event(calendar, held.ref, wanted)
            except EventGone:
                ref = provider.create_event(calendar, wanted)  # deleted there: put it back
        with self._uow(write=True) as uow:
            if uow.calendars.get(connection.org_id, connection.id) is not None:
                uow.calendars.put_export(CalendarExport(
                    org_id=connection.org_id, connection_id=connection.id,
                    booking_id=booking.id, ref=ref, sequence=booking.sequence,
                    updated_at=now, fingerprint=fingerprint))
                uow.commit()


def _wanted(uow: UnitOfWork, connection: CalendarConnection, booking: Booking
            ) -> OutgoingEvent | None:
    """The event the calendar should hold for the booking, or None for no event."""
    if (not connection.export_bookings or booking.status not in _ACTIVE
            or connection.resource_id not in booking.resource_ids):
        return None
    service = uow.services.get(booking.org_id, booking.service_id)
    resource = uow.resources.get(booking.org_id, connection.resource_id)
    title = f"{service.name if service else 'Booking'}: {booking.customer.name}"
    lines = [f"Customer: {booking.customer.name} <{booking.customer.email}>"]
    if booking.meeting is not None:
        lines.append(f"Meeting: {booking.meeting.join_url}")
    if booking.notes:
        lines.append(f"Notes: {booking.notes}")
    lines.append(f"Booking: {booking.id}")
    return OutgoingEvent(
        booking_id=booking.id, uid=export_uid(booking.id), title=title, start=booking.start,
        end=booking.end, timezone=resource.timezone if resource else "UTC",
        sequence=booking.sequence, description="\n".join(lines),
        location=booking.meeting.join_url if booking.meeting else None,
        tentative=booking.status is BookingStatus.PENDING)


def _fingerprint(booking: Booking) -> str:
    return "|".join((events.iso(booking.start), events.iso(booking.end), booking.status.value,
                     str(booking.sequence),
                     booking.meeting.join_url if booking.meeting else ""))

