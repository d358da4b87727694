"""Search availability: load what the engine needs for one service, then ask it."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from slotwise.app.scheduling import profile, requirements, schedule_zone, to_engine_schedule
from slotwise.domain.errors import NotFound, SlotRef
from slotwise.domain.model import Resource, Service
from slotwise.domain.ports import Clock, UnitOfWork, UnitOfWorkFactory
from slotwise.engine.availability import (
    Busy,
    ResourceCalendar,
    Slot,
    SlotRequest,
    find_slots,
    nearest_slots,
    slot_at,
)
from slotwise.engine.intervals import TimeRange
from slotwise.engine.pools import role_pools

ALTERNATIVES = 5


@dataclass(frozen=True, slots=True)
class Exclude:
    """Claims that must not count against the caller (its hold, its own or its session's
    bookings)."""

    hold_id: str | None = None
    booking_ids: frozenset[str] = frozenset()


def slot_request(uow: UnitOfWork, service: Service, now: datetime, span: TimeRange, *,
                 restrict_to: Collection[str] | None = None, must_include: str | None = None,
                 exclude: Exclude = Exclude()) -> SlotRequest:
    """Everything the engine needs to decide starts in `span` for `service`."""
    resources = uow.resources.list(service.org_id)
    roles = role_pools(requirements(service), [profile(r) for r in resources], restrict_to)
    pooled = sorted({rid for role in roles for rid in role.resource_ids})
    by_id = {r.id: r for r in resources if r.id in pooled}
    duration = timedelta(minutes=service.duration_min)
    reach_before = timedelta(minutes=max([service.buffer_before_min,
                                          *(r.buffer_before_min for r in by_id.values())]))
    reach_after = timedelta(minutes=max([service.buffer_after_min,
                                         *(r.buffer_after_min for r in by_id.values())]))
    lo, hi = span.start - reach_before, span.end + duration + reach_after
    busy: dict[str, list[Busy]] = {rid: [] for rid in pooled}
    for allocation in uow.bookings.busy(service.org_id, pooled, lo, hi):
        if allocation.booking_id not in exclude.booking_ids:
            busy[allocation.resource_id].append(Busy(
                TimeRange(allocation.blocked_start, allocation.blocked_end), "booking",
                allocation.booking_id))
    for block in uow.blocks.overlapping(service.org_id, pooled, lo, hi):
        busy[block.resource_id].append(Busy(TimeRange(block.start, block.end), "block", block.id))
    for hold in uow.holds.live(service.org_id, pooled, lo, hi, now):
        if hold.id == exclude.hold_id:
            continue
        for held in hold.resources:
            if held.resource_id in busy:
                busy[held.resource_id].append(Busy(
                    TimeRange(held.blocked_start, held.blocked_end), "hold", hold.id))
    schedules = uow.schedules.many(service.org_id, pooled)
    calendars = {
        rid: ResourceCalendar(
            resource_id=rid,
            schedule=(to_engine_schedule(schedules[rid], schedule_zone(schedules[rid], r))
                      if rid in schedules else None),
            busy=tuple(busy[rid]),
            buffer_before=timedelta(minutes=r.buffer_before_min),
            buffer_after=timedelta(minutes=r.buffer_after_min),
        )
        for rid, r in by_id.items()
    }
    return SlotRequest(
        duration=duration, step=timedelta(minutes=service.step_min), roles=roles,
        calendars=calendars, now=now,
        buffer_before=timedelta(minutes=service.buffer_before_min),
        buffer_after=timedelta(minutes=service.buffer_after_min),
        min_notice=timedelta(minutes=service.min_notice_min),
        max_advance=timedelta(days=service.max_advance_days), must_include=must_include,
    )


def blocked_ranges(service: Service, resources: dict[str, Resource], slot: Slot
                   ) -> list[tuple[str, datetime, datetime]]:
    """Each chosen resource's blocked range: the booked range widened by the larger buffers."""
    ranges = []
    for rid in slot.resource_ids:
        resource = resources[rid]
        before = max(service.buffer_before_min, resource.buffer_before_min)
        after = max(service.buffer_after_min, resource.buffer_after_min)
        ranges.append((rid, slot.start - timedelta(minutes=before),
                       slot.end + timedelta(minutes=after)))
    return ranges


class SearchAvailability:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def __call__(self, org_id: str, service_id: str, start: datetime, end: datetime,
                 resource_id: str | None = None) -> list[Slot]:
        with self._uow() as uow:
            service = uow.services.get(org_id, service_id)
            if service is None:
                raise NotFound("no such service")
            if resource_id is not None and uow.resources.get(org_id, resource_id) is None:
                raise NotFound("no such resource")
            window = TimeRange(start, end)
            request = slot_request(uow, service, self._clock.now(), window,
                                   must_include=resource_id)
            slots = find_slots(request, window)
            if service.capacity > 1:
                slots = self._with_open_seats(uow, service, window, slots, resource_id)
        return slots

    def _with_open_seats(self, uow: UnitOfWork, service: Service, window: TimeRange,
                         slots: list[Slot], resource_id: str | None) -> list[Slot]:
        """Add the starts of group sessions that still have a seat."""
        offered = {s.start for s in slots}
        now = self._clock.now()
        for start in sorted({b.start for b in uow.bookings.of_service(
                service.org_id, service.id, window.start, window.end)} - offered):
            seat = joinable_slot(uow, service, start, now)
            if seat is not None and (resource_id is None or resource_id in seat.resource_ids):
                slots.append(seat)
        return sorted(slots, key=lambda s: s.start)

    def alternatives(self, org_id: str, service: Service, near: datetime,
                     restrict_to: Collection[str] | None = None,
                     exclude: Exclude = Exclude()) -> list[SlotRef]:
        """The offered starts nearest to `near`, for a 409 answer."""
        search = timedelta(days=14)
        with self._uow() as uow:
            request = slot_request(uow, service, self._clock.now(),
                                   TimeRange(near - search, near + search),
                                   restrict_to=restrict_to, exclude=exclude)
        slots = nearest_slots(request, near, ALTERNATIVES, search)
        return [SlotRef(s.start, s.end) for s in slots]


def candidate_resources(uow: UnitOfWork, service: Service,
                        restrict_to: Collection[str] | None = None) -> list[str]:
    """Every resource the service could take: the set a writer locks before it checks."""
    resources = uow.resources.list(service.org_id)
    roles = role_pools(requirements(service), [profile(r) for r in resources], restrict_to)
    return sorted({rid for role in roles for rid in role.resource_ids})


def offered_slot(uow: UnitOfWork, service: Service, start: datetime, now: datetime, *,
                 restrict_to: Collection[str] | None = None, exclude: Exclude = Exclude()
                 ) -> Slot | None:
    """The slot at `start` with the resources it would take, if availability offers it now."""
    span = TimeRange(start, start + timedelta(minutes=service.duration_min))
    request = slot_request(uow, service, now, span, restrict_to=restrict_to, exclude=exclude)
    return slot_at(request, start)


def session_key(service: Service, booking_id: str, start: datetime) -> str:
    """Seats of a group service at one start share a session; anything else is its own."""
    if service.capacity > 1:
        return f"{service.id}@{int(start.timestamp())}"
    return booking_id


def joinable_slot(uow: UnitOfWork, service: Service, start: datetime, now: datetime, *,
                  restrict_to: Collection[str] | None = None, hold_id: str | None = None
                  ) -> Slot | None:
    """A free seat in an existing session of a group service at `start`, on the session's
    own resources, if nothing but the session itself stands in the way."""
    if service.capacity <= 1:
        return None
    sessions: dict[tuple[str, ...], list[str]] = {}
    for booking in uow.bookings.of_service(service.org_id, service.id, start,
                                           start + timedelta(seconds=1)):
        sessions.setdefault(tuple(sorted(booking.resource_ids)), []).append(booking.id)
    for resource_ids, members in sessions.items():
        if len(members) >= service.capacity:
            continue
        if restrict_to is not None and not set(resource_ids) <= set(restrict_to):
            continue
        slot = offered_slot(uow, service, start, now, restrict_to=resource_ids,
                            exclude=Exclude(hold_id=hold_id, booking_ids=frozenset(members)))
        if slot is not None and sorted(slot.resource_ids) == list(resource_ids):
            return slot
    return None
