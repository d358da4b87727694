"""Book a slot (once or as a recurring series), with or without a hold."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import NamedTuple

from slotwise.app.availability import (
    CalendarRead,
    Candidates,
    SearchAvailability,
    blocked_ranges,
    candidates,
    joinable_slot,
    lock_candidates,
    session_key,
    slot_request_with_rules,
)
from slotwise.app.holds import check_resources, new_hold
from slotwise.app.lifecycle import APPROVAL, Gates
from slotwise.app.rules import Exclude, RuleState
from slotwise.domain import events
from slotwise.domain.booking import Booking, BookingStatus, Hold, HoldStatus
from slotwise.domain.errors import (
    HoldNotUsable,
    InvalidInput,
    NotFound,
    OverlapRefused,
    SeriesUnavailable,
    SlotRef,
    SlotUnavailable,
)
from slotwise.domain.ids import derived_secret, digest, new_id
from slotwise.domain.model import Customer, Location, Resource, Series, Service
from slotwise.domain.payments import BookingPayment
from slotwise.domain.ports import Clock, UnitOfWork, UnitOfWorkFactory
from slotwise.engine.availability import Busy, Slot, SlotRequest, slot_at
from slotwise.engine.intervals import TimeRange
from slotwise.engine.recurrence import RecurrenceError, expand
from slotwise.engine.zones import zone

MAX_OCCURRENCES = 366
# An implicit hold lives only inside the booking's own transaction; its TTL just has to be
# longer than that transaction.
IMPLICIT_HOLD_TTL_S = 60


@dataclass(frozen=True, slots=True)
class CustomerDetails:
    name: str
    email: str
    phone: str | None = None
    timezone: str | None = None


@dataclass(frozen=True, slots=True)
class Recurrence:
    rrule: str
    timezone: str | None = None


@dataclass(frozen=True, slots=True)
class BookingRequest:
    service_id: str
    start: datetime
    customer: CustomerDetails
    hold_id: str | None = None
    resource_ids: tuple[str, ...] | None = None
    recurrence: Recurrence | None = None
    notes: str | None = None


@dataclass(frozen=True, slots=True)
class Booked:
    booking: Booking
    occurrences: tuple[Booking, ...]
    manage_token: str
    # What the new bookings pay, by booking id, read in their transaction (new bookings
    # have no fees yet), so the answer needs no second read.
    payments: Mapping[str, BookingPayment] = field(default_factory=dict)


class BookSlot:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock,
                 search: SearchAvailability, gates: Gates | None = None,
                 token_key: bytes | None = None) -> None:
        self._uow = uow
        self._clock = clock
        self._search = search
        self.gates = gates or Gates()
        # Manage tokens derive from this key, so a later e-mail can carry the link.
        self.token_key = token_key or secrets.token_bytes(32)

    def manage_token(self, booking: Booking) -> str:
        """The customer's bearer token for the booking (one per series)."""
        return derived_secret(self.token_key, "mt", booking.series_id or booking.id)

    def __call__(self, org_id: str, request: BookingRequest) -> Booked:
        now = self._clock.now()
        prechecked = (request.recurrence is None and request.hold_id is None
                      and self._search.refused_lately(request.service_id))
        if prechecked:
            self._refuse_if_taken(org_id, request, now)
        with self._uow(write=True) as uow:
            org = uow.organisations.get(org_id)
            service = uow.services.get(org_id, request.service_id)
            if org is None or service is None:
                raise NotFound("no such service")
            check_resources(uow, org_id, request.resource_ids)
            hold = self._usable_hold(uow, org_id, service, request, now)
            restrict_to = hold.resource_ids if hold else request.resource_ids
            starts = self._starts(request, org.timezone)
            # A start the plain read found free is most likely won: under the lock its check
            # reads the start alone, not the window a refusal's alternatives would need.
            plan = _Plan(service, org.timezone, request, starts, hold, restrict_to, now,
                         None if prechecked else self._reach(service, starts, now))
            checks: list[_Checked] = []  # the last is what decided

            def still_possible(found: Candidates) -> bool:
                checks.append(plan.check(uow, found, by_preference=False))
                return not checks[-1].conflicts

            locked = lock_candidates(uow, service, restrict_to, still_possible=still_possible)
            if locked is not None:
                resources, locations = locked
                checks.append(plan.check(uow, locked))
            checked = checks[-1]
            if not checked.conflicts:
                try:
                    booked = self._write(uow, service, request, checked.slots, resources,
                                         locations, hold, now)
                except OverlapRefused:
                    # Lost a race the lock did not cover; say so, from a fresh read.
                    checked = _Checked([], [starts[0]], None)
                else:
                    uow.commit()
                    return booked
            uow.rollback()  # free the locks, and a transaction a refused write aborted
            raise self._unavailable(uow, service, request, starts, checked, restrict_to, hold)

    def _refuse_if_taken(self, org_id: str, request: BookingRequest, now: datetime) -> None:
        """In a rush, most attempts are for a start already taken: check it with a plain read
        (no transaction, no lock) and refuse from that read. Returns when the start looks
        free, and when anything else is wrong: the write path checks again under the lock,
        and says what is wrong."""
        with self._uow() as uow:
            org = uow.organisations.get(org_id)
            service = uow.services.get(org_id, request.service_id)
            if org is None or service is None:
                return
            check_resources(uow, org_id, request.resource_ids)
            starts = [request.start]
            plan = _Plan(service, org.timezone, request, starts, None, request.resource_ids,
                         now, self._reach(service, starts, now))
            checked = plan.check(uow, candidates(uow, service, request.resource_ids),
                                 by_preference=False)
            if checked.conflicts:
                raise self._unavailable(uow, service, request, starts, checked,
                                        request.resource_ids, None)

    def _reach(self, service: Service, starts: Sequence[datetime],
               now: datetime) -> timedelta | None:
        """How far around a single start its check reads, so that a refusal's alternatives
        come from the same read (`SearchAvailability.check_reach`); None for a series."""
        if len(starts) != 1:
            return None
        return self._search.check_reach(service, starts[0], now)

    def _usable_hold(self, uow: UnitOfWork, org_id: str, service: Service,
                     request: BookingRequest, now: datetime) -> Hold | None:
        if request.hold_id is None:
            return None
        hold = uow.holds.get(org_id, request.hold_id)
        if hold is None:
            raise NotFound("no such hold")
        if hold.service_id != service.id or hold.start != request.start:
            raise HoldNotUsable("the hold is for another service or start")
        if not hold.is_live(now):
            raise HoldNotUsable(f"the hold is {_hold_state(hold, now)}")
        return hold

    def _starts(self, request: BookingRequest, org_zone: str) -> list[datetime]:
        if request.recurrence is None:
            return [request.start]
        tz_name = request.recurrence.timezone or org_zone
        tz = zone(tz_name)
        dtstart = request.start.astimezone(tz).replace(tzinfo=None)
        try:
            expansion = expand(request.recurrence.rrule, dtstart, tz_name,
                               limit=MAX_OCCURRENCES + 1, require_end=True)
        except RecurrenceError as error:
            raise InvalidInput(str(error), ("body", "recurrence", "rrule")) from error
        starts = [o.start for o in expansion.occurrences]
        if not starts:
            raise InvalidInput("the rule yields no occurrence", ("body", "recurrence", "rrule"))
        if len(starts) > MAX_OCCURRENCES:
            raise InvalidInput(f"a series may have at most {MAX_OCCURRENCES} occurrences",
                               ("body", "recurrence", "rrule"))
        return starts

    def _write(self, uow: UnitOfWork, service: Service, request: BookingRequest,
               slots: Sequence[Slot], resources: dict[str, Resource],
               locations: Mapping[str, Location], hold: Hold | None, now: datetime) -> Booked:
        customer = _upsert_customer(uow, service.org_id, request.customer)
        first_id = new_id("booking")
        series_id = None
        if request.recurrence is not None:
            series_id = new_id("series")
            tz_name = request.recurrence.timezone or _org_zone(uow, service.org_id)
            uow.series.add(Series(
                id=series_id, org_id=service.org_id, rrule=request.recurrence.rrule,
                timezone=tz_name, created_at=now,
                dtstart_local=request.start.astimezone(zone(tz_name)).replace(tzinfo=None),
            ))
        manage_token = derived_secret(self.token_key, "mt", series_id or first_id)
        written = []
        for i, slot in enumerate(slots):
            chosen = {rid: resources[rid] for rid in slot.resource_ids}
            claim = hold if (i == 0 and hold is not None) else None
            if claim is None:
                claim = new_hold(service, slot, chosen, locations, now, IMPLICIT_HOLD_TTL_S)
                uow.holds.acquire(claim, now)
            awaiting, pending_until = self.gates.pending(service, chosen, locations, now)
            if (service.approval_after_no_shows is not None and APPROVAL not in awaiting
                    and customer.no_shows >= service.approval_after_no_shows):
                awaiting = (APPROVAL, *awaiting)  # their history asks for a person's yes
            status = BookingStatus.PENDING if awaiting else BookingStatus.CONFIRMED
            booking = Booking(
                id=first_id if i == 0 else new_id("booking"), org_id=service.org_id,
                service_id=service.id,
                customer=customer, status=status, start=slot.start, end=slot.end,
                resource_ids=slot.resource_ids, created_at=now, updated_at=now,
                series_id=series_id, notes=request.notes, manage_token_hash=digest(manage_token),
                awaiting=awaiting, pending_until=pending_until,
            )
            uow.bookings.add(booking, blocked_ranges(service, chosen, locations, slot),
                             session_key(service, booking.id, slot.start))
            uow.holds.save(replace(claim, status=HoldStatus.CONVERTED, booking_id=booking.id))
            uow.outbox.add(events.booking_event(events.BOOKING_CREATED, booking, now))
            self.gates.open(uow, service, booking, now)
            written.append(booking)
        # Only a priced service writes a payment with its bookings (the payment gate).
        paid = (uow.payments.for_bookings(service.org_id, [b.id for b in written])
                if service.price is not None else {})
        return Booked(booking=written[0], occurrences=tuple(written), manage_token=manage_token,
                      payments=paid)

    def _unavailable(self, uow: UnitOfWork, service: Service, request: BookingRequest,
                     starts: Sequence[datetime], checked: _Checked,
                     restrict_to: Sequence[str] | None, hold: Hold | None) -> SlotUnavailable:
        conflicts = checked.conflicts
        alternatives = self._search.alternatives(
            service.org_id, service, conflicts[0], restrict_to,
            Exclude(hold_id=hold.id if hold else None), uow=uow, read=checked.read)
        duration = timedelta(minutes=service.duration_min)
        if request.recurrence is None:
            return SlotUnavailable("that start is not available", alternatives)
        return SeriesUnavailable(
            f"{len(conflicts)} of {len(starts)} occurrences are not available",
            [SlotRef(c, c + duration) for c in conflicts], alternatives,
        )


class _Checked(NamedTuple):
    """A check's answer: the slot of every start, or the starts that clash; and, when it read
    around a single start, that read and its radius (for the alternatives of a refusal)."""

    slots: list[Slot]
    conflicts: list[datetime]
    read: CalendarRead | None


@dataclass(frozen=True, slots=True)
class _Plan:
    """One booking request's check: the slot of every start, or the starts that clash."""

    service: Service
    org_zone: str
    request: BookingRequest
    starts: Sequence[datetime]
    hold: Hold | None
    restrict_to: Sequence[str] | None
    now: datetime
    reach: timedelta | None  # see BookSlot._reach

    def check(self, uow: UnitOfWork, candidates: Candidates, *,
              by_preference: bool = True) -> _Checked:
        """`by_preference` False for a check that only decides whether to go on (without the
        lock): its slots are some free resources, not the ones to write."""
        service, starts, hold_id = self.service, self.starts, self.hold.id if self.hold else None
        span = TimeRange(starts[0], starts[-1] + timedelta(minutes=service.duration_min))
        if self.reach is not None:
            span = TimeRange(starts[0] - self.reach, starts[0] + self.reach)
        slot_req, rules = slot_request_with_rules(
            uow, service, self.now, span, restrict_to=self.restrict_to,
            exclude=Exclude(hold_id=hold_id), org_zone=self.org_zone, week_of=starts[0],
            by_preference=by_preference)
        if self.request.recurrence is None:
            seat = joinable_slot(uow, service, starts[0], self.now,
                                 restrict_to=self.restrict_to, hold_id=hold_id)
            if seat is not None:
                return _Checked([seat], [], None)
        slots, conflicts = _choose_slots(slot_req, rules, service, *candidates, starts)
        read = (slot_req, self.reach) if self.reach is not None else None
        return _Checked(slots, conflicts, read)


def _choose_slots(request: SlotRequest, rules: RuleState, service: Service,
                  resources: dict[str, Resource], locations: Mapping[str, Location],
                  starts: Sequence[datetime]) -> tuple[list[Slot], list[datetime]]:
    """The slot of every occurrence, each counting the ones chosen before it as busy and
    towards limits and sequence rules."""
    slots: list[Slot] = []
    conflicts: list[datetime] = []
    for start in starts:
        slot = slot_at(request, start)
        if slot is None:
            conflicts.append(start)
            continue
        slots.append(slot)
        if len(starts) > 1:
            blocked = blocked_ranges(service, resources, locations, slot)
            calendars = dict(request.calendars)
            for rid, s, e in blocked:
                cal = calendars[rid]
                calendars[rid] = replace(cal, busy=(*cal.busy, Busy(TimeRange(s, e), "series")))
            if rules.counts or rules.self_rules:
                rules.claim(slot.start, slot.end, slot.resource_ids)
                excluded = rules.excluded()
                calendars = {rid: replace(cal, excluded=tuple(excluded.get(rid, ())))
                             for rid, cal in calendars.items()}
            request = replace(request, calendars=calendars)
    return slots, conflicts


def _upsert_customer(uow: UnitOfWork, org_id: str, details: CustomerDetails) -> Customer:
    return uow.customers.upsert(Customer(
        id=new_id("customer"), org_id=org_id, name=details.name,
        email=details.email.strip().lower(), phone=details.phone, timezone=details.timezone))


def _org_zone(uow: UnitOfWork, org_id: str) -> str:
    org = uow.organisations.get(org_id)
    if org is None:
        raise NotFound("no such organisation")
    return org.timezone


def _hold_state(hold: Hold, now: datetime) -> str:
    if hold.status is HoldStatus.ACTIVE and now >= hold.expires_at:
        return "expired"
    return hold.status.value
