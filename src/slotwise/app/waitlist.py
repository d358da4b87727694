"""The waitlist: join for a service and a time range; when a matching slot frees up, the first
entry gets an exclusive, time-boxed offer backed by a hold and a link; if it lapses, the next
entry gets it.

The offer link carries a token derived from the entry and its hold with the server's secret
(HMAC), so it is never stored and a new offer invalidates the old link.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from slotwise.app.availability import SearchAvailability
from slotwise.app.bookings import Booked, BookingRequest, BookSlot, CustomerDetails
from slotwise.app.holds import PlaceHold, ReleaseHold, check_resources
from slotwise.domain import events
from slotwise.domain.booking import HoldStatus
from slotwise.domain.errors import Conflict, InvalidInput, InvalidTransition, NotFound
from slotwise.domain.ids import new_id
from slotwise.domain.jobs import JobSpec
from slotwise.domain.model import Customer, Organisation, OutboxEvent, Service
from slotwise.domain.ports import Clock, UnitOfWork, UnitOfWorkFactory
from slotwise.domain.waitlist import EntryState, WaitlistEntry

MATCH_TASK = "waitlist.match"
WAITLIST_OFFERED = "waitlist.offered"
# Events after which a slot may have come free.
FREEING = frozenset({events.BOOKING_CANCELLED, events.BOOKING_FAILED, events.BOOKING_DECLINED,
                     events.BOOKING_RESCHEDULED})


@dataclass(frozen=True, slots=True)
class JoinRequest:
    service_id: str
    customer: CustomerDetails
    start: datetime
    end: datetime
    resource_ids: tuple[str, ...] | None = None


class OperateWaitlist:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, search: SearchAvailability,
                 place_hold: PlaceHold, release_hold: ReleaseHold, book: BookSlot,
                 secret: bytes, offer_ttl_s: int = 900) -> None:
        self._uow = uow
        self._clock = clock
        self._search = search
        self._place_hold = place_hold
        self._release_hold = release_hold
        self._book = book
        self._secret = secret
        self.offer_ttl_s = offer_ttl_s

    # Customers and staff

    def join(self, org_id: str, request: JoinRequest) -> WaitlistEntry:
        now = self._clock.now()
        if request.end <= request.start:
            raise InvalidInput("end must be after start", ("body", "end"))
        if request.end <= now:
            raise InvalidInput("the range is over already", ("body", "end"))
        with self._uow(write=True) as uow:
            if uow.services.get(org_id, request.service_id) is None:
                raise NotFound("no such service")
            check_resources(uow, org_id, request.resource_ids)
            details = request.customer
            customer = uow.customers.upsert(Customer(
                id=new_id("customer"), org_id=org_id, name=details.name,
                email=details.email.strip().lower(), phone=details.phone,
                timezone=details.timezone))
            entry = WaitlistEntry(
                id=new_id("waitlist"), org_id=org_id, service_id=request.service_id,
                customer=customer, range_start=request.start, range_end=request.end,
                state=EntryState.WAITING, created_at=now, updated_at=now,
                resource_ids=request.resource_ids)
            uow.waitlist.add(entry)
            # A slot may be free already: look at once rather than wait for a cancellation.
            uow.jobs.defer(_match_job(org_id, entry.service_id, entry.range_start,
                                      entry.range_end))
            uow.commit()
        return entry

    def get(self, org_id: str, entry_id: str) -> WaitlistEntry:
        with self._uow() as uow:
            entry = uow.waitlist.get(org_id, entry_id)
        if entry is None:
            raise NotFound("no such waitlist entry")
        return entry

    def list(self, org_id: str, service_id: str | None, state: EntryState | None,
             limit: int = 50) -> list[WaitlistEntry]:
        with self._uow() as uow:
            return uow.waitlist.list(org_id, service_id, state, limit)

    def leave(self, org_id: str, entry_id: str) -> WaitlistEntry:
        now = self._clock.now()
        with self._uow(write=True) as uow:
            entry = uow.waitlist.get(org_id, entry_id)
            if entry is None:
                raise NotFound("no such waitlist entry")
            if entry.state not in (EntryState.WAITING, EntryState.OFFERED):
                raise InvalidTransition(f"the entry is {entry.state.value} already")
            left = replace(entry, state=EntryState.CANCELLED, updated_at=now)
            uow.waitlist.update(left)
            if entry.state is EntryState.OFFERED:
                self._pass_on(uow, entry)
            uow.commit()
        return left

    def _pass_on(self, uow: UnitOfWork, entry: WaitlistEntry) -> None:
        """Free an offer's slot and look for the next in line, in one transaction (a
        matcher that ran before the release would find the slot still held)."""
        if entry.offer_hold_id is not None:
            hold = uow.holds.get(entry.org_id, entry.offer_hold_id)
            if hold is not None and hold.status is HoldStatus.ACTIVE:
                uow.holds.save(replace(hold, status=HoldStatus.RELEASED))
        if entry.offer_start is not None:
            uow.jobs.defer(_match_job(entry.org_id, entry.service_id, entry.offer_start,
                                      entry.offer_start + timedelta(minutes=1)))

    def offer_token(self, entry: WaitlistEntry) -> str:
        message = f"{entry.id}:{entry.offer_hold_id}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:40]

    def offered(self, entry_id: str, token: str) -> tuple[WaitlistEntry, Service, Organisation]:
        """A live offer by its link's token, with its service and organisation. A wrong
        token, an entry without an offer or a lapsed offer → NotFound (nothing leaks)."""
        now = self._clock.now()
        with self._uow() as uow:
            entry = uow.waitlist.by_id(entry_id)
            if (entry is None or entry.state is not EntryState.OFFERED
                    or not hmac.compare_digest(self.offer_token(entry), token)
                    or entry.offer_expires_at is None or now >= entry.offer_expires_at):
                raise NotFound("no such offer")
            service = uow.services.get(entry.org_id, entry.service_id)
            org = uow.organisations.get(entry.org_id)
            if service is None or org is None:
                raise NotFound("no such offer")
            return entry, service, org

    def accept(self, entry_id: str, token: str) -> Booked:
        """Book the offered slot with the offer's hold. A wrong token or an entry without a
        live offer → NotFound (a guessed link learns nothing)."""
        now = self._clock.now()
        with self._uow() as uow:
            entry = uow.waitlist.by_id(entry_id)
        if (entry is None or entry.state is not EntryState.OFFERED
                or not hmac.compare_digest(self.offer_token(entry), token)):
            raise NotFound("no such offer")
        if entry.offer_expires_at is None or now >= entry.offer_expires_at:
            raise InvalidTransition("the offer has lapsed")
        assert entry.offer_start is not None
        c = entry.customer
        booked = self._book(entry.org_id, BookingRequest(
            service_id=entry.service_id, start=entry.offer_start,
            customer=CustomerDetails(name=c.name, email=c.email, phone=c.phone,
                                     timezone=c.timezone),
            hold_id=entry.offer_hold_id))
        with self._uow(write=True) as uow:
            uow.waitlist.update(replace(entry, state=EntryState.BOOKED,
                                        booking_id=booked.booking.id, updated_at=now))
            uow.commit()
        return booked

    # Jobs

    def match(self, org_id: str, service_id: str, start: datetime, end: datetime) -> int:
        """Offer freed time in [start, end) to the waiting entries, first joined first: each
        gets the earliest offered start in its own range near that time, held for it.

        Only starts free when the pass begins are offered: a slot freed while the pass runs
        goes to the matcher its own event starts, which begins at the head of the line, so
        nobody is passed over. Idempotent: only `waiting` entries get offers, and a slot
        offered once is held, so a repeat finds nothing more to offer. Returns how many
        offers it made."""
        now = self._clock.now()
        with self._uow() as uow:
            waiting = uow.waitlist.waiting_for(org_id, service_id, start - _NEAR, end + _NEAR,
                                               limit=20)
        if not waiting:
            return 0
        window = (max(now, start - _NEAR), end + _NEAR)
        free = ({s.start for s in self._search(org_id, service_id, *window)}
                if window[0] < window[1] else set())
        offers = 0
        for entry in waiting:
            if entry.range_end <= now:
                self._set_state(entry, EntryState.EXPIRED, now)
                continue
            if free and self._offer(entry, max(entry.range_start, window[0]),
                                    min(entry.range_end, window[1]), free, now):
                offers += 1
        return offers

    def lapse_offers(self) -> int:
        """Offers past their time lapse (periodic) and their slot is offered to the next in
        line. The entry is done (`lapsed`: its customer may join again), so two customers
        never pass one slot back and forth. Idempotent: only still-offered entries change."""
        now = self._clock.now()
        with self._uow(write=True) as uow:
            lapsed = uow.waitlist.lapsed_offers(now, limit=200)
            for entry in lapsed:
                uow.waitlist.update(replace(entry, state=EntryState.LAPSED, updated_at=now))
                self._pass_on(uow, entry)
            uow.commit()
        return len(lapsed)

    def _offer(self, entry: WaitlistEntry, start: datetime, end: datetime,
               free: set[datetime], now: datetime) -> bool:
        if end <= start:
            return False
        resource_id = entry.resource_ids[0] if entry.resource_ids else None
        slots = self._search(entry.org_id, entry.service_id, start, end, resource_id)
        for slot in (s for s in slots if s.start in free):
            try:
                hold = self._place_hold(entry.org_id, entry.service_id, slot.start,
                                        entry.resource_ids, self.offer_ttl_s)
            except Conflict:
                continue  # taken meanwhile: try the next start
            with self._uow(write=True) as uow:
                current = uow.waitlist.get(entry.org_id, entry.id)
                if current is None or current.state is not EntryState.WAITING:
                    uow.rollback()
                    self._release_quietly(entry.org_id, hold.id)
                    return False
                offered = replace(current, state=EntryState.OFFERED, offer_start=slot.start,
                                  offer_hold_id=hold.id, offer_expires_at=hold.expires_at,
                                  updated_at=now)
                uow.waitlist.update(offered)
                uow.outbox.add(OutboxEvent(
                    id=new_id("event"), org_id=entry.org_id, type=WAITLIST_OFFERED,
                    aggregate_id=entry.id, created_at=now,
                    payload={"entry_id": entry.id, "service_id": entry.service_id,
                             "customer_id": entry.customer.id,
                             "start": events.iso(slot.start), "end": events.iso(slot.end),
                             "expires_at": events.iso(hold.expires_at)}))
                uow.commit()
            return True
        return False

    def _set_state(self, entry: WaitlistEntry, state: EntryState, now: datetime) -> None:
        with self._uow(write=True) as uow:
            uow.waitlist.update(replace(entry, state=state, updated_at=now))
            uow.commit()

    def _release_quietly(self, org_id: str, hold_id: str) -> None:
        with contextlib.suppress(NotFound, Conflict):  # expired or used: it holds nothing
            self._release_hold(org_id, hold_id)


# Freed time is offered with this much room around it: a cancelled 10:00 may suit someone
# waiting for 10:15 on another grid.
_NEAR = timedelta(hours=1)


def _match_job(org_id: str, service_id: str, start: datetime, end: datetime) -> JobSpec:
    args = {"org_id": org_id, "service_id": service_id, "start": events.iso(start),
            "end": events.iso(end)}
    return JobSpec(task=MATCH_TASK, args=args, org_id=org_id)


class WaitlistReactor:
    """A booking that frees time (cancelled, failed, declined, moved away) sends the waitlist
    looking for someone to offer it to."""

    def react(self, uow: UnitOfWork, event: OutboxEvent, now: datetime) -> None:
        if event.type not in FREEING:
            return
        freed = event.payload.get("previous") or event.payload["booking"]
        booking = event.payload["booking"]
        uow.jobs.defer(_match_job(event.org_id, booking["service_id"],
                                  datetime.fromisoformat(freed["start"]),
                                  datetime.fromisoformat(freed["end"])))
