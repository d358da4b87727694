"""Meeting links of online services: the gate that holds a booking until its link exists, and
the jobs that make, move and remove the link.

A booking of a service with a `meeting_provider` is written `pending`, awaiting "meeting",
its slot held, and a `meetings.create` job deferred in the same transaction. The job asks the
provider for a meeting, stores it and opens the gate (the last gate confirms). A provider that
cannot answer now is asked again with the job engine's backoff until the booking's
`pending_until`; past it, or at once when the provider refuses the request, the booking fails
closed (`booking.failed` with a reason meant for the customer and the team; the technical
detail goes to the log). The fixer (`app/fixer.py`) fails any booking still waiting at its
deadline, whatever the jobs are doing.

After that, outbox events drive the link (`MeetingReactor`): a reschedule moves the meeting
(`meetings.update`), a cancellation, decline or failure removes it (`meetings.delete`).

No database transaction is ever held over a call to a provider: each job reads in one unit
of work, calls the provider, then writes in another that re-reads the booking first, so a
change made meanwhile (a cancellation, a reschedule) is seen and wins.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from slotwise.app.lifecycle import fail_closed, satisfy
from slotwise.domain import events
from slotwise.domain.booking import Booking
from slotwise.domain.jobs import JobSpec
from slotwise.domain.meetings import (
    Meeting,
    MeetingError,
    MeetingGone,
    MeetingProvider,
    MeetingRejected,
    MeetingRequest,
    MeetingUnavailable,
)
from slotwise.domain.model import Location, OutboxEvent, Resource, Service
from slotwise.domain.ports import Clock, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger("slotwise.meetings")

MEETING = "meeting"
CREATE = "meetings.create"
UPDATE = "meetings.update"
DELETE = "meetings.delete"
# Job engines cap attempts here (Settings.job_max_attempts); so does `create_attempts`.
MAX_ATTEMPTS = 50

# The providers this deployment offers, by the name a service gives (`Service.meeting_provider`)
# and a stored `Meeting.provider` carries.
MeetingProviders = Mapping[str, MeetingProvider]


class MeetingGate:
    """Online services: the booking waits until its meeting exists, `deadline` at most."""

    name = MEETING

    def __init__(self, deadline: timedelta) -> None:
        self.deadline: timedelta | None = deadline

    def needed(self, service: Service, resources: Mapping[str, Resource],
               locations: Mapping[str, Location]) -> bool:
        return service.meeting_provider is not None

    def open(self, uow: UnitOfWork, service: Service, booking: Booking, now: datetime) -> None:
        uow.jobs.defer(_job(CREATE, booking))


class MeetingReactor:
    """Relay reactor: a rescheduled booking's meeting is moved, a cancelled, declined or failed
    booking's meeting deleted. Only bookings that have a meeting get a job: one whose link is
    still being made is handled by `create_link`, which re-reads the booking when it stores."""

    def react(self, uow: UnitOfWork, event: OutboxEvent, now: datetime) -> None:
        if event.type == events.BOOKING_RESCHEDULED:
            task = UPDATE
        elif event.type in (events.BOOKING_CANCELLED, events.BOOKING_DECLINED,
                            events.BOOKING_FAILED):
            task = DELETE
        else:
            return
        booking = uow.bookings.get(event.org_id, event.aggregate_id)
        if booking is not None and booking.meeting is not None:
            uow.jobs.defer(_job(task, booking))


class MeetingLinks:
    """The use cases the meeting jobs call. Each is idempotent (a job runs at least once) and
    says how; each raises `MeetingUnavailable` when the job should be retried later."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, providers: MeetingProviders,
                 deadline: timedelta) -> None:
        self._uow = uow
        self._clock = clock
        self.providers = providers
        self.deadline = deadline

    def create_link(self, org_id: str, booking_id: str) -> None:
        """Make the booking's meeting, store it and open the booking's "meeting" gate.

        Idempotent: a booking that has a meeting already, or no longer holds its slot, is left
        as it is, and the store re-checks both, deleting the meeting just made when another
        was stored meanwhile or the booking was cancelled or failed meanwhile.

        Raises `MeetingUnavailable` (retry later) while the booking's deadline has not passed;
        past it, and at once when the provider refuses, the booking fails closed.

        Remaining risk: Zoom ignores `Idempotency-Key`. When the provider made the meeting but
        its answer was lost (a timeout, a dropped connection) or this process died before the
        store committed, the retry makes a second meeting and the first stays at the provider,
        unused and unseen by the customer (it shows in the host's Zoom account). The window is
        one round trip plus one short write: the meeting is stored right after the answer,
        before anything else is done.
        """
        found = self._read(org_id, booking_id)
        if found is None:
            return
        booking, service, org_zone = found
        if booking.meeting is not None or not booking.status.holds_resources:
            return
        request = _request(booking, service, org_zone)
        if service.meeting_provider is None:
            # The service went in person meanwhile: there is no link to wait for.
            self._store(org_id, booking_id, None, request, None)
            return
        provider = self.providers.get(service.meeting_provider)
        if provider is None:
            self._fail(org_id, booking_id, f"meetings through {service.meeting_provider!r} "
                       "are not set up on this server")
            return
        try:
            meeting = provider.create(request)
        except MeetingUnavailable as error:
            if not self._overdue(booking):
                raise
            log.warning("booking %s: no meeting link by its deadline: %s", booking_id, error)
            self._fail(org_id, booking_id, "the meeting service could not be reached in time")
            return
        except MeetingRejected as error:
            log.error("booking %s: %s refused the meeting: %s", booking_id, provider.name, error)
            self._fail(org_id, booking_id, _refused(error))
            return
        self._store(org_id, booking_id, meeting, request, provider)

    def update_link(self, org_id: str, booking_id: str, sequence: int) -> None:
        """Move the booking's meeting to the booking's current times (after a reschedule).

        `sequence` is the booking's sequence at the change that deferred the job (for logs and
        the jobs API); the meeting is always moved to the times the booking has now, so a job
        run late or twice leaves the same meeting. When the provider no longer knows the
        meeting, a new one is made and stored. When the booking moves again while the call is
        under way, another update is deferred. Raises `MeetingUnavailable` to be retried.
        """
        found = self._read(org_id, booking_id)
        if found is None:
            return
        booking, service, org_zone = found
        meeting = booking.meeting
        if meeting is None or not booking.status.holds_resources:
            return  # no link yet (`create_link` moves it itself), or being deleted
        request = _request(booking, service, org_zone)
        provider = self.providers.get(meeting.provider)
        if provider is None:
            log.error("booking %s: its meeting's provider %r is not set up; not moved",
                      booking_id, meeting.provider)
            return
        try:
            try:
                moved = provider.update(meeting, request)
            except MeetingGone:
                log.warning("booking %s: meeting %s is gone at %s; making a new one",
                            booking_id, meeting.external_id, provider.name)
                moved = provider.create(request)
        except MeetingRejected as error:
            # The old link stays; the team sees the error in the log (the job succeeds).
            log.error("booking %s (sequence %d): %s refused to move the meeting: %s",
                      booking_id, sequence, provider.name, error)
            return
        self._store(org_id, booking_id, moved, request, provider, replacing=meeting)

    def delete_link(self, org_id: str, booking_id: str) -> None:
        """Delete the meeting of a booking that no longer holds its slot, and forget it.

        Idempotent: a booking without a meeting is left alone, and providers treat a meeting
        already gone as deleted. A live booking keeps its meeting. Raises
        `MeetingUnavailable` to be retried.
        """
        found = self._read(org_id, booking_id)
        if found is None:
            return
        booking = found[0]
        meeting = booking.meeting
        if meeting is None or booking.status.holds_resources:
            return
        provider = self.providers.get(meeting.provider)
        if provider is None:
            log.error("booking %s: its meeting's provider %r is not set up; not deleted",
                      booking_id, meeting.provider)
            return
        try:
            provider.delete(meeting)
        except MeetingRejected as error:
            log.error("booking %s: %s refused to delete meeting %s: %s", booking_id,
                      provider.name, meeting.external_id, error)
            return
        with self._uow(write=True) as uow:
            current = uow.bookings.get(org_id, booking_id)
            if current is not None and _same(current.meeting, meeting):
                uow.bookings.update(replace(current, meeting=None,
                                            updated_at=self._clock.now()))
                uow.commit()

    def _read(self, org_id: str, booking_id: str) -> tuple[Booking, Service, str] | None:
        """The booking, its service and the organisation's zone, read outside any transaction
        that a provider call could hold open."""
        with self._uow() as uow:
            booking = uow.bookings.get(org_id, booking_id)
            if booking is None:
                return None
            service = uow.services.get(org_id, booking.service_id)
            org = uow.organisations.get(org_id)
        if service is None or org is None:
            return None
        return booking, service, org.timezone

    def _store(self, org_id: str, booking_id: str, meeting: Meeting | None,
               request: MeetingRequest, provider: MeetingProvider | None, *,
               replacing: Meeting | None = None) -> None:
        """Keep `meeting` as the booking's (it replaces `replacing`, or is the first) and open
        the gate, in one write. A meeting nobody may keep is deleted afterwards."""
        orphan = meeting
        with self._uow(write=True) as uow:
            now = self._clock.now()
            current = uow.bookings.get(org_id, booking_id)
            if (current is not None and current.status.holds_resources
                    and _same(current.meeting, replacing)):
                orphan = None
                if meeting != current.meeting:
                    current = replace(current, meeting=meeting, updated_at=now)
                    uow.bookings.update(current)
                if replacing is None:
                    satisfy(uow, current, MEETING, now)
                if meeting is not None and (current.start, current.end) != (request.start,
                                                                            request.end):
                    uow.jobs.defer(_job(UPDATE, current))  # it moved while we called
                uow.commit()
            elif current is not None and _same(current.meeting, meeting):
                orphan = None  # a provider that honours idempotency keys gave it back
        if orphan is not None and not _same(orphan, replacing) and provider is not None:
            _delete_quietly(provider, orphan, booking_id)

    def _fail(self, org_id: str, booking_id: str, why: str) -> None:
        with self._uow(write=True) as uow:
            current = uow.bookings.get(org_id, booking_id)
            if current is not None:
                fail_closed(uow, current, f"the meeting link could not be created: {why}",
                            self._clock.now())
                uow.commit()

    def _overdue(self, booking: Booking) -> bool:
        return booking.pending_until is not None and self._clock.now() >= booking.pending_until


def create_attempts(deadline: timedelta, backoff_s: int, at_least: int) -> int:
    """Attempts a `meetings.create` job needs for its retries (attempt n waits
    `backoff_s ** n`) to reach past `deadline`, so that it is not dead-lettered while the
    booking may still wait; at least `at_least`, at most `MAX_ATTEMPTS`."""
    attempts, waited = 1, 0
    while waited < deadline.total_seconds() and attempts < MAX_ATTEMPTS:
        waited += backoff_s ** attempts
        attempts += 1
    return min(MAX_ATTEMPTS, max(at_least, attempts))


def _request(booking: Booking, service: Service, org_zone: str) -> MeetingRequest:
    # The title shows in Jitsi room names and providers' logs: the service's name only, no
    # personal data.
    return MeetingRequest(
        booking_id=booking.id, title=service.name, start=booking.start, end=booking.end,
        timezone=booking.customer.timezone or org_zone, host_email=None,
        attendee_emails=(booking.customer.email,))


def _job(task: str, booking: Booking) -> JobSpec:
    # The handler gets only `args`, so the organisation travels there too.
    args: dict[str, Any] = {"org_id": booking.org_id, "booking_id": booking.id}
    if task == UPDATE:
        args["sequence"] = booking.sequence
    return JobSpec(task=task, args=args, org_id=booking.org_id)


def _same(a: Meeting | None, b: Meeting | None) -> bool:
    """The same meeting at the same provider (its link or passcode may have changed)."""
    if a is None or b is None:
        return a is b
    return (a.provider, a.external_id) == (b.provider, b.external_id)


def _refused(error: MeetingRejected) -> str:
    status = f" (status {error.status})" if error.status is not None else ""
    return f"the meeting service refused the request{status}"


def _delete_quietly(provider: MeetingProvider, meeting: Meeting, booking_id: str) -> None:
    try:
        provider.delete(meeting)
    except MeetingError as error:
        log.error("booking %s: meeting %s at %s is left behind: %s", booking_id,
                  meeting.external_id, provider.name, error)
