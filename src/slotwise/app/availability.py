"""Search availability: load what the engine needs for one service, then ask it."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from slotwise.app.rules import (
    Exclude,
    RuleState,
    buffers,
    locations_of,
    lock_keys,
    own_buffers,
    rule_state,
)
from slotwise.app.scheduling import profile, requirements, schedule_zone, to_engine_schedule
from slotwise.domain.errors import NotFound, SlotRef
from slotwise.domain.model import BusyRange, Location, Resource, Service
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
from slotwise.engine.pools import RolePool, role_pools
from slotwise.engine.rules import Period, period_of

ALTERNATIVES = 5
ALTERNATIVES_RADII = (timedelta(days=1), timedelta(days=14))  # searched in turn
WIDE_FIRST_FOR_S = 10.0  # after a day came up short, search a service wide first this long
CHECK_FIRST_FOR_S = 10.0  # after a refusal, a service's writers check before they lock this long
MAX_HINTS_KEPT = 4096
# What a writer's check read around a start, and how far either side: a refusal's
# alternatives can come from it (`SearchAvailability.check_reach`).
CalendarRead = tuple[SlotRequest, timedelta]


def slot_request(uow: UnitOfWork, service: Service, now: datetime, span: TimeRange, *,
                 restrict_to: Collection[str] | None = None, must_include: str | None = None,
                 exclude: Exclude = Exclude(), week_of: datetime | None = None,
                 by_preference: bool = True) -> SlotRequest:
    """Everything the engine needs to decide starts in `span` for `service`: pools in
    preference order (by the load of the week of `week_of`, default the span's start), each
    pooled resource's hours (cut by its location's), busy time and the starts its rules
    forbid (see app.rules for how the levels combine). `by_preference` False: see
    `slot_request_with_rules`."""
    return slot_request_with_rules(uow, service, now, span, restrict_to=restrict_to,
                                   must_include=must_include, exclude=exclude,
                                   week_of=week_of, by_preference=by_preference)[0]


def slot_request_with_rules(
    uow: UnitOfWork, service: Service, now: datetime, span: TimeRange, *,
    restrict_to: Collection[str] | None = None, must_include: str | None = None,
    exclude: Exclude = Exclude(), org_zone: str | None = None,
    week_of: datetime | None = None, by_preference: bool = True,
) -> tuple[SlotRequest, RuleState]:
    """``slot_request`` and the rule state behind its excluded starts, for a writer that
    claims several starts in turn (a series). ``org_zone``, when the caller has already read
    the organisation, saves reading it again. Pools are ordered by the load of the week of
    ``week_of`` (default: the span's start).

    ``by_preference`` False leaves the pools in their requirements' order and reads no
    week's load, for a caller that asks only which starts are offered, not which resources
    each would take (a refusal's check without the lock): the order decides the choice
    among free resources, never whether a start is offered."""
    if org_zone is None:
        org = uow.organisations.get(service.org_id)
        org_zone = org.timezone if org else "UTC"
    plan = calendar_plan(uow, service, restrict_to=restrict_to)
    busy: dict[str, list[Busy]] = {rid: [] for rid in plan.pooled}
    for taken in uow.busy_time(service.org_id, plan.pooled, *plan.busy_span(span), now):
        if not _excluded(taken, exclude):
            busy[taken.resource_id].append(engine_busy(taken))
    rules = rule_state(uow, service, org_zone, plan.resources, plan.locations, span, now,
                       exclude)
    roles = plan.roles
    if by_preference:
        roles = preference_order(uow, service, roles, org_zone, week_of or span.start)
    return plan.request(busy, rules.excluded(), now, roles=roles,
                        must_include=must_include), rules


@dataclass(frozen=True, slots=True)
class CalendarPlan:
    """What a service's calendars take from the catalog alone: its pools, each pooled
    resource's hours (cut by its location's) and own buffers. The same at one catalog
    version, so a caller may keep it while the version holds (the rush lane, app/rush.py)."""

    service: Service
    roles: tuple[RolePool, ...]
    resources: Mapping[str, Resource]  # the pooled ones, by id
    locations: Mapping[str, Location]  # theirs, by id
    calendars: Mapping[str, ResourceCalendar]  # without busy time or excluded starts
    pooled: list[str]  # the resources' ids, sorted
    reach_before: timedelta  # the largest buffer before a start, of any level
    reach_after: timedelta

    def busy_span(self, span: TimeRange) -> tuple[datetime, datetime]:
        """The window whose busy time decides the starts in `span`."""
        duration = timedelta(minutes=self.service.duration_min)
        return span.start - self.reach_before, span.end + duration + self.reach_after

    def request(self, busy: Mapping[str, list[Busy]], excluded: Mapping[str, list[Busy]],
                now: datetime, *, roles: tuple[RolePool, ...] | None = None,
                must_include: str | None = None) -> SlotRequest:
        """The engine's request: these calendars with `busy` and `excluded` (by resource)."""
        service = self.service
        return SlotRequest(
            duration=timedelta(minutes=service.duration_min),
            step=timedelta(minutes=service.step_min),
            roles=self.roles if roles is None else roles,
            calendars={rid: replace(calendar, busy=tuple(busy.get(rid, ())),
                                    excluded=tuple(excluded.get(rid, ())))
                       for rid, calendar in self.calendars.items()},
            now=now,
            buffer_before=timedelta(minutes=service.buffer_before_min),
            buffer_after=timedelta(minutes=service.buffer_after_min),
            min_notice=timedelta(minutes=service.min_notice_min),
            max_advance=timedelta(days=service.max_advance_days), must_include=must_include,
        )


def calendar_plan(uow: UnitOfWork, service: Service, *,
                  restrict_to: Collection[str] | None = None) -> CalendarPlan:
    """The catalog's part of `slot_request` (see `CalendarPlan`)."""
    resources = uow.resources.list(service.org_id)
    roles = role_pools(requirements(service), [profile(r) for r in resources], restrict_to)
    pooled = sorted({rid for role in roles for rid in role.resource_ids})
    by_id = {r.id: r for r in resources if r.id in pooled}
    locations = locations_of(uow, service.org_id, by_id.values())
    location_hours = {
        lid: to_engine_schedule(hours, hours.timezone or locations[lid].timezone)
        for lid, hours in uow.locations.schedules(service.org_id, sorted(locations)).items()
    }
    own = {rid: own_buffers(r, locations.get(r.location_id or "")) for rid, r in by_id.items()}
    reach_before = max([timedelta(minutes=service.buffer_before_min),
                        *(b for b, _ in own.values())])
    reach_after = max([timedelta(minutes=service.buffer_after_min),
                       *(a for _, a in own.values())])
    schedules = uow.schedules.many(service.org_id, pooled)
    calendars = {}
    for rid, r in by_id.items():
        opening = location_hours.get(r.location_id or "")
        calendars[rid] = ResourceCalendar(
            resource_id=rid,
            schedule=(to_engine_schedule(schedules[rid], schedule_zone(schedules[rid], r))
                      if rid in schedules else None),
            buffer_before=own[rid][0],
            buffer_after=own[rid][1],
            within=(opening,) if opening is not None else (),
        )
    return CalendarPlan(service, roles, by_id, locations, calendars, pooled, reach_before,
                        reach_after)


# The engine's Busy of each BusyRange, once per object: the store hands out one BusyRange per
# distinct row it reads (store/repositories/busy.py), so a busy calendar's rows come back as
# the same objects read after read. Keyed by identity, holding the object (its id stays its
# own while it is held); cleared when full. Holds are not kept: they live for minutes, and
# those in Redis come as new objects on every read, so keeping them would only fill it.
_ENGINE_BUSY: dict[int, tuple[BusyRange, Busy]] = {}
MAX_ENGINE_BUSY = 32_768


def engine_busy(taken: BusyRange) -> Busy:
    known = _ENGINE_BUSY.get(id(taken))
    if known is not None and known[0] is taken:
        return known[1]
    busy = Busy(TimeRange(taken.start, taken.end), taken.kind, taken.source_id,
                TimeRange(taken.booked_start, taken.booked_end)
                if taken.booked_start is not None and taken.booked_end is not None else None)
    if taken.kind != "hold":
        if len(_ENGINE_BUSY) >= MAX_ENGINE_BUSY:
            _ENGINE_BUSY.clear()
        _ENGINE_BUSY[id(taken)] = (taken, busy)
    return busy


def _excluded(taken: BusyRange, exclude: Exclude) -> bool:
    """Whether the caller's own booking or hold makes this busy time (it may move in place)."""
    if taken.kind == "booking":
        return taken.source_id in exclude.booking_ids
    return taken.kind == "hold" and taken.source_id == exclude.hold_id


def preference_order(uow: UnitOfWork, service: Service, roles: tuple[RolePool, ...],
                     org_zone: str, week_of: datetime) -> tuple[RolePool, ...]:
    """Each pool sorted by its requirement's weights (higher first), then by the minutes
    already booked in the organisation's week of `week_of` (least first: round robin),
    then by id — deterministic."""
    if all(len(role.resource_ids) < 2 for role in roles):
        return roles
    week = period_of(week_of, Period.WEEK, org_zone)
    ids = sorted({rid for role in roles for rid in role.resource_ids})
    # Summed by the database: one row per resource, not one per booking of the week.
    load: dict[str, int] = dict.fromkeys(ids, 0)
    load.update(uow.bookings.booked_seconds(service.org_id, ids, week.start, week.end))
    ordered = []
    for role, requirement in zip(roles, service.requirements, strict=True):
        weights = dict(requirement.weights)
        ranked = sorted(role.resource_ids,
                        key=lambda rid: (-weights.get(rid, 0), load[rid], rid))
        ordered.append(replace(role, resource_ids=tuple(ranked)))
    return tuple(ordered)


def blocked_ranges(service: Service, resources: Mapping[str, Resource],
                   locations: Mapping[str, Location], slot: Slot
                   ) -> list[tuple[str, datetime, datetime]]:
    """Each chosen resource's blocked range: the booked range widened by the largest of the
    service's, the resource's and its location's buffers (`resources` and `locations` hold
    at least the slot's, by id)."""
    ranges = []
    for rid in slot.resource_ids:
        resource = resources[rid]
        before, after = buffers(service, resource, locations.get(resource.location_id or ""))
        ranges.append((rid, slot.start - before, slot.end + after))
    return ranges


class SearchAvailability:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._uow = uow
        self._clock = clock
        self._monotonic = monotonic
        # service id -> when a day's search around a refused start last came up short
        self._short_days: dict[str, float] = {}
        # service id -> when a start of it was last refused
        self._refused: dict[str, float] = {}
        self._last_refused = -CHECK_FIRST_FOR_S  # when any start was

    def __call__(self, org_id: str, service_id: str, start: datetime, end: datetime,
                 resource_id: str | None = None) -> list[Slot]:
        with self._uow() as uow:
            return self._search(uow, org_id, None, service_id, start, end, resource_id)

    def with_org_zone(self, org_id: str, service_id: str, start: datetime, end: datetime,
                      resource_id: str | None = None) -> tuple[list[Slot], str]:
        """The search and the organisation's zone, read in the same transaction (NotFound
        when the organisation is gone)."""
        with self._uow() as uow:
            org = uow.organisations.get(org_id)
            if org is None:
                raise NotFound("no such organisation")
            return (self._search(uow, org_id, org.timezone, service_id, start, end,
                                 resource_id), org.timezone)

    def _search(self, uow: UnitOfWork, org_id: str, org_zone: str | None, service_id: str,
                start: datetime, end: datetime, resource_id: str | None) -> list[Slot]:
        service = uow.services.get(org_id, service_id)
        if service is None:
            raise NotFound("no such service")
        if resource_id is not None and uow.resources.get(org_id, resource_id) is None:
            raise NotFound("no such resource")
        window = TimeRange(start, end)
        request = slot_request_with_rules(uow, service, self._clock.now(), window,
                                          must_include=resource_id,
                                          org_zone=org_zone)[0]
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
                     exclude: Exclude = Exclude(), *, uow: UnitOfWork | None = None,
                     read: CalendarRead | None = None) -> list[SlotRef]:
        """The offered starts nearest to `near`, for a 409 answer: from `read` when the
        writer's own check read far enough around `near`, else read in `uow` (when the caller
        has one open outside any write it made)."""
        self.note_refused(service.id)
        if read is not None:
            found = self.alternatives_in(read[0], service, near, read[1])
            if found is not None:
                return found
        if uow is None:
            with self._uow() as own:
                return self.alternatives(org_id, service, near, restrict_to, exclude, uow=own)
        now = self._clock.now()
        near = self._alternatives_near(service, near, now)
        for radius in self._radii(service):
            request = slot_request(uow, service, now, TimeRange(near - radius, near + radius),
                                   restrict_to=restrict_to, exclude=exclude)
            found = self.alternatives_in(request, service, near, radius)
            if found is not None:
                return found
        raise AssertionError("the last radius always answers")

    def refused_lately(self, service_id: str) -> bool:
        """Whether a start of the service was refused moments ago (in this process): a rush,
        where most writers will be refused too and should learn it from a plain read, without
        a transaction or a lock (see `BookSlot`, `PlaceHold`). A hint only: the writer that
        finds its start free still checks again under the lock."""
        return self._monotonic() - self._refused.get(service_id, -CHECK_FIRST_FOR_S) \
            < CHECK_FIRST_FOR_S

    def any_refused_lately(self) -> bool:
        """Whether any service is in a rush (`refused_lately`) in this process."""
        return self._monotonic() - self._last_refused < CHECK_FIRST_FOR_S

    @staticmethod
    def _alternatives_near(service: Service, near: datetime, now: datetime) -> datetime:
        """Where alternatives to a refused `near` are looked for: every offered start lies in
        [now, horizon], so the ones nearest a start outside it are the ones nearest its edge
        (and a start at the calendar's end cannot overflow)."""
        return min(max(near, now), now + timedelta(days=service.max_advance_days))

    def check_reach(self, service: Service, start: datetime, now: datetime
                    ) -> timedelta | None:
        """How far either side of `start` a writer's check should read so that, refused, it
        answers its alternatives from the same read (a 409 then reads the calendar once):
        the first radius the alternatives search would read. None for a start outside the
        bookable range (its alternatives lie around the range's edge)."""
        if self._alternatives_near(service, start, now) != start:
            return None
        return self._radii(service)[0]

    def offered_around(self, uow: UnitOfWork, service: Service, start: datetime,
                       now: datetime, *, restrict_to: Collection[str] | None = None,
                       by_preference: bool = True
                       ) -> tuple[Slot | None, CalendarRead | None]:
        """`offered_slot` read as `check_reach` says: the slot, and the read with its radius
        for `alternatives_in` (None when the start is outside the bookable range)."""
        reach = self.check_reach(service, start, now)
        if reach is None:
            return offered_slot(uow, service, start, now, restrict_to=restrict_to,
                                by_preference=by_preference), None
        request = slot_request(uow, service, now, TimeRange(start - reach, start + reach),
                               restrict_to=restrict_to, week_of=start,
                               by_preference=by_preference)
        return slot_at(request, start), (request, reach)

    def note_refused(self, service_id: str) -> None:
        """A start of the service was refused (by a caller that answers its own 409s: the
        rush lane): the hint `refused_lately` gives."""
        self._last_refused = self._monotonic()
        _remember(self._refused, service_id, self._last_refused)

    def _radii(self, service: Service) -> tuple[timedelta, ...]:
        return self.radii(service.id)

    def radii(self, service_id: str) -> tuple[timedelta, ...]:
        """How far around a refused start its alternatives are searched, in turn."""
        # A day either side first: when it holds enough starts they are the nearest (anything
        # outside is further away), and a busy calendar's 409s stay cheap. But when a day came
        # up short moments ago, this is a rush on a full stretch, where every refused attempt
        # would read the calendar twice: two weeks at once (the answer is the same).
        if self._monotonic() - self._short_days.get(service_id, -WIDE_FIRST_FOR_S) \
                < WIDE_FIRST_FOR_S:
            return ALTERNATIVES_RADII[-1:]
        return ALTERNATIVES_RADII

    def alternatives_in(self, request: SlotRequest, service: Service, near: datetime,
                        radius: timedelta) -> list[SlotRef] | None:
        """The alternatives from a request read over `near` ± `radius`; None when that read
        came up short and a wider one is due."""
        # A read two weeks wide is made only after a day came up short, so its rings of one,
        # two, four and eight days would come up short too: search the whole read at once.
        slots = nearest_slots(request, near, ALTERNATIVES, radius, first=radius)
        if len(slots) < ALTERNATIVES and radius < ALTERNATIVES_RADII[-1]:
            _remember(self._short_days, service.id, self._monotonic())
            return None
        return [SlotRef(s.start, s.end) for s in slots]


def _remember(hints: dict[str, float], service_id: str, at: float) -> None:
    if len(hints) >= MAX_HINTS_KEPT:
        hints.clear()  # hints, not state: forgetting one costs a read
    hints[service_id] = at


def candidates(uow: UnitOfWork, service: Service,
               restrict_to: Collection[str] | None = None
               ) -> tuple[dict[str, Resource], dict[str, Location]]:
    """Every resource the service could take (within `restrict_to`) and their locations, by
    id (read from the catalog: no lock)."""
    resources = uow.resources.list(service.org_id)
    roles = role_pools(requirements(service), [profile(r) for r in resources], restrict_to)
    pooled = {rid for role in roles for rid in role.resource_ids}
    found = {r.id: r for r in resources if r.id in pooled}
    return found, locations_of(uow, service.org_id, found.values())


Candidates = tuple[dict[str, Resource], dict[str, Location]]


def lock_candidates(uow: UnitOfWork, service: Service,
                    restrict_to: Collection[str] | None = None, *,
                    still_possible: Callable[[Candidates], bool] | None = None
                    ) -> Candidates | None:
    """Lock what a writer must hold before it checks and writes: every resource the service
    could take, plus the service and locations whose limits count across resources.
    Returns those resources and their locations, by id.

    When another writer holds one of the locks, `still_possible` is asked first, without
    waiting: in a rush most attempts are for a slot already taken, and they should learn it
    without queueing behind the winner. None when it says no (nothing waited for)."""
    found, locations = candidates(uow, service, restrict_to)
    keys = [*sorted(found), *lock_keys(service, locations)]
    if not uow.try_lock_resources(service.org_id, keys):
        if still_possible is not None and not still_possible((found, locations)):
            return None
        uow.lock_resources(service.org_id, keys)
    return found, locations


def offered_slot(uow: UnitOfWork, service: Service, start: datetime, now: datetime, *,
                 restrict_to: Collection[str] | None = None, exclude: Exclude = Exclude(),
                 by_preference: bool = True) -> Slot | None:
    """The slot at `start` with the resources it would take, if availability offers it now
    (`by_preference` False: some free resources, see `slot_request_with_rules`)."""
    span = TimeRange(start, start + timedelta(minutes=service.duration_min))
    request = slot_request(uow, service, now, span, restrict_to=restrict_to, exclude=exclude,
                           by_preference=by_preference)
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
