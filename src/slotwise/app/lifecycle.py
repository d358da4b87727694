"""A booking's way from `pending` to `confirmed` or `failed`.

A booking is pending while *gates* hold it back: an approval, a payment, a meeting link. Each
gate says whether a booking needs it and, in the booking's own transaction, starts the work
that will open it (a payment to take, a job to make the link). When the work is done the
gate's owner calls `Lifecycle.satisfy`; when the last gate opens the booking is confirmed.
A booking waiting for a payment or a link waits until `pending_until` at most; then it
fails closed: `failed`, its slot released, the customer and the team told why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol, cast, runtime_checkable

from slotwise.app.rules import needs_approval
from slotwise.domain import events
from slotwise.domain.booking import Booking, BookingStatus
from slotwise.domain.errors import InvalidTransition, NotFound
from slotwise.domain.model import Location, Resource, Service
from slotwise.domain.ports import Clock, UnitOfWork, UnitOfWorkFactory

APPROVAL = "approval"


class Gate(Protocol):
    name: str
    # Gates that wait on machines (payments, links) have a deadline; a person's approval not.
    deadline: timedelta | None

    def needed(self, service: Service, resources: Mapping[str, Resource],
               locations: Mapping[str, Location]) -> bool: ...

    def open(self, uow: UnitOfWork, service: Service, booking: Booking, now: datetime) -> None:
        """Start what will satisfy the gate, in the booking's transaction (defer a job,
        write a row). Called once per booking, right after it is written."""
        ...


@runtime_checkable
class RecordsUnneeded(Protocol):
    """A gate with something to write even for bookings it does not hold back (a payment due
    at the venue is recorded, and the booking confirmed at once)."""

    def record(self, uow: UnitOfWork, service: Service, booking: Booking,
               now: datetime) -> None: ...


class ApprovalGate:
    """Resources, locations or services that require a person's approval."""

    name = APPROVAL
    deadline: timedelta | None = None

    def needed(self, service: Service, resources: Mapping[str, Resource],
               locations: Mapping[str, Location]) -> bool:
        return needs_approval(service, resources.values(), locations)

    def open(self, uow: UnitOfWork, service: Service, booking: Booking, now: datetime) -> None:
        """Nothing to start: staff approve or decline (POST /v1/bookings/{id}/approve)."""


class Gates:
    """The gates of this deployment, in the order they are opened."""

    def __init__(self, gates: Sequence[Gate] = (ApprovalGate(),)) -> None:
        self.gates = tuple(gates)
        # Checked once here: a runtime protocol's isinstance walks its members on every call,
        # a few per cent of a booking's CPU when done per gate per booking.
        self._records_unneeded = tuple(isinstance(g, RecordsUnneeded) for g in self.gates)

    def pending(self, service: Service, resources: Mapping[str, Resource],
                locations: Mapping[str, Location], now: datetime
                ) -> tuple[tuple[str, ...], datetime | None]:
        """What a new booking waits for, and until when (None: no machine deadline)."""
        needed = [g for g in self.gates if g.needed(service, resources, locations)]
        deadlines = [g.deadline for g in needed if g.deadline is not None]
        return tuple(g.name for g in needed), (now + min(deadlines) if deadlines else None)

    def open(self, uow: UnitOfWork, service: Service, booking: Booking, now: datetime) -> None:
        for gate, records in zip(self.gates, self._records_unneeded, strict=True):
            if gate.name in booking.awaiting:
                gate.open(uow, service, booking, now)
            elif records:
                cast(RecordsUnneeded, gate).record(uow, service, booking, now)


def satisfy(uow: UnitOfWork, booking: Booking, gate: str, now: datetime) -> Booking:
    """Open one gate of a pending booking in this transaction; the last one confirms it.
    Idempotent: a gate already open, or a booking no longer pending, changes nothing."""
    after = booking.satisfied(gate, now)
    if after == booking:
        return booking
    if after.pending_until is not None and set(after.awaiting) <= {APPROVAL}:
        # Only a person's approval is left: the machines' deadline no longer applies.
        after = replace(after, pending_until=None)
    uow.bookings.update(after)
    if after.status is BookingStatus.CONFIRMED:
        uow.outbox.add(events.booking_event(events.BOOKING_CONFIRMED, after, now,
                                            confirmed_by=gate))
    return after


def fail_closed(uow: UnitOfWork, booking: Booking, reason: str, now: datetime) -> Booking:
    """Pending → failed in this transaction: its allocations stop holding the slot.
    Idempotent: a booking no longer pending is left as it is."""
    if booking.status is not BookingStatus.PENDING:
        return booking
    failed = booking.fail(now, reason)
    uow.bookings.update(failed)
    uow.outbox.add(events.booking_event(events.BOOKING_FAILED, failed, now, reason=reason))
    return failed


NoShowHook = Callable[[UnitOfWork, Booking, datetime], None]


class Lifecycle:
    """The lifecycle's use cases that staff, gateways and jobs call. ``on_no_show`` runs in
    the transaction that marks a booking no-show (it records the no-show fee)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock,
                 on_no_show: NoShowHook | None = None) -> None:
        self._uow = uow
        self._clock = clock
        self._on_no_show = on_no_show

    def approve(self, org_id: str, booking_id: str) -> Booking:
        now = self._clock.now()
        with self._uow(write=True) as uow:
            booking = _find(uow, org_id, booking_id)
            if booking.status is not BookingStatus.PENDING or APPROVAL not in booking.awaiting:
                raise InvalidTransition(f"a {booking.status.value} booking that is not waiting "
                                        "for approval cannot be approved")
            uow.outbox.add(events.booking_event(events.BOOKING_APPROVED, booking, now))
            approved = satisfy(uow, booking, APPROVAL, now)
            uow.commit()
            return approved

    def decline(self, org_id: str, booking_id: str, reason: str | None) -> Booking:
        now = self._clock.now()
        with self._uow(write=True) as uow:
            booking = _find(uow, org_id, booking_id)
            if booking.status is not BookingStatus.PENDING or APPROVAL not in booking.awaiting:
                raise InvalidTransition(f"a {booking.status.value} booking that is not waiting "
                                        "for approval cannot be declined")
            declined = replace(booking.cancel(now, reason or "declined"), awaiting=(),
                               pending_until=None)
            uow.bookings.update(declined)
            uow.outbox.add(events.booking_event(events.BOOKING_DECLINED, declined, now,
                                                reason=reason))
            uow.commit()
            return declined

    def mark(self, org_id: str, booking_id: str, status: BookingStatus) -> Booking:
        """Staff say how it went: `completed` or `no_show`, once the booking has started.
        A no-show counts towards the customer's history (rules and fees read it)."""
        now = self._clock.now()
        with self._uow(write=True) as uow:
            booking = _find(uow, org_id, booking_id)
            if booking.status is status:
                return booking  # idempotent
            if now < booking.start:
                raise InvalidTransition("a booking can be marked only once it has started")
            marked = booking.transition(status, now)
            uow.bookings.update(marked)
            if status is BookingStatus.NO_SHOW:
                uow.customers.count_no_show(org_id, booking.customer.id)
                if self._on_no_show is not None:
                    self._on_no_show(uow, marked, now)
            kind = (events.BOOKING_NO_SHOW if status is BookingStatus.NO_SHOW
                    else events.BOOKING_COMPLETED)
            uow.outbox.add(events.booking_event(kind, marked, now))
            uow.commit()
            return marked

    def settle(self, after: timedelta, limit: int = 500) -> int:
        """The rule after the end: confirmed bookings that ended `after` ago are completed
        (periodic; idempotent: only confirmed ones are touched)."""
        now = self._clock.now()
        with self._uow(write=True) as uow:
            ended = uow.bookings.confirmed_ended_before(now - after, limit)
            for booking in ended:
                done = booking.transition(BookingStatus.COMPLETED, now)
                uow.bookings.update(done)
                uow.outbox.add(events.booking_event(events.BOOKING_COMPLETED, done, now,
                                                    by="rule"))
            uow.commit()
        return len(ended)



_WHAT = {"payment": "the payment", "meeting": "the meeting link",
         APPROVAL: "the approval"}


def overdue_reason(booking: Booking) -> str:
    """Why a pending booking failed at its deadline, in the customer's terms."""
    waited = [_WHAT.get(g, g) for g in booking.awaiting if g != APPROVAL] or ["confirmation"]
    return f"{' and '.join(waited)} did not arrive in time".capitalize()


def _find(uow: UnitOfWork, org_id: str, booking_id: str) -> Booking:
    booking = uow.bookings.get(org_id, booking_id)
    if booking is None:
        raise NotFound("no such booking")
    return booking
