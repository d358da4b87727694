"""The rules of a service, its resources and their locations, combined and made concrete.

One precedence, everywhere: every level's rule applies, so the strictest wins —
- buffers: the largest of the service's, the resource's and its location's;
- minimum notice: the longest; horizon: the nearest (a resource or location without a value
  of its own defers to the others);
- limits: each one counts on its own — a service's bookings per day/week in the organisation's
  zone, a resource's in its zone, a location's (bookings on any of its resources) in its zone;
  a group session counts once, live holds count like bookings;
- approval: the booking waits in ``pending`` when the service, any chosen resource or its
  location requires it;
- hours: a resource is open when its own hours and its location's opening hours both are;
- sequence rules, stored on one service, bind both services: "X may not follow Y within N"
  is also "Y may not precede X within N".

This module turns them into engine values: buffers per resource, and ranges of forbidden
starts (``Busy`` with reasons ``notice``, ``horizon``, ``limit``, ``rule``) per resource.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from slotwise.domain.model import Location, Resource, Service
from slotwise.domain.ports import UnitOfWork
from slotwise.engine.availability import Busy
from slotwise.engine.intervals import TimeRange
from slotwise.engine.rules import (
    Direction,
    Limit,
    Period,
    SequenceRule,
    limit_exclusions,
    notice_exclusions,
    sequence_exclusions,
)

# Limits count whole days and weeks around the span; this margin covers a week in any zone.
_PERIOD_MARGIN = timedelta(days=8)
# Booked ranges are at most a day long (a service lasts at most 24 h).
_LONGEST_BOOKING = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Exclude:
    """Claims that must not count against the caller (its hold, its own or its session's
    bookings)."""

    hold_id: str | None = None
    booking_ids: frozenset[str] = frozenset()


def buffers(service: Service, resource: Resource, location: Location | None
            ) -> tuple[timedelta, timedelta]:
    """The buffers (before, after) a booking of ``service`` keeps on ``resource``."""
    before = max(service.buffer_before_min, resource.buffer_before_min,
                 location.buffer_before_min if location else 0)
    after = max(service.buffer_after_min, resource.buffer_after_min,
                location.buffer_after_min if location else 0)
    return timedelta(minutes=before), timedelta(minutes=after)


def own_buffers(resource: Resource, location: Location | None) -> tuple[timedelta, timedelta]:
    """The resource's buffers as its location widens them (the service's are applied apart)."""
    before = max(resource.buffer_before_min, location.buffer_before_min if location else 0)
    after = max(resource.buffer_after_min, location.buffer_after_min if location else 0)
    return timedelta(minutes=before), timedelta(minutes=after)


def needs_approval(service: Service, chosen: Iterable[Resource],
                   locations: Mapping[str, Location]) -> bool:
    return service.requires_approval or any(
        r.requires_approval
        or (r.location_id is not None and r.location_id in locations
            and locations[r.location_id].requires_approval)
        for r in chosen
    )


def locations_of(uow: UnitOfWork, org_id: str, resources: Iterable[Resource]
                 ) -> dict[str, Location]:
    wanted = sorted({r.location_id for r in resources if r.location_id is not None})
    return uow.locations.many(org_id, wanted) if wanted else {}


def lock_keys(service: Service, locations: Mapping[str, Location]) -> list[str]:
    """Extra keys a writer locks so that limits counted across resources stay exact."""
    keys = [f"service:{service.id}"] if service.max_per_day or service.max_per_week else []
    keys += sorted({f"location:{lid}" for lid, location in locations.items()
                    if location.max_per_day or location.max_per_week})
    return keys


@dataclass(slots=True)
class _Count:
    """One limit, the starts it has counted, the resources whose bookings it counts (None:
    the service's own bookings) and the pooled resources it closes when full."""

    limit: Limit
    starts: list[datetime]
    counts: frozenset[str] | None
    closes: frozenset[str]


@dataclass(slots=True)
class RuleState:
    """The loaded rules for one search: forbidden starts per resource, recomputed as a series
    claims occurrences one by one (each counts towards limits and sequence gaps)."""

    fixed: dict[str, list[Busy]]
    counts: list[_Count]
    self_rules: list[SequenceRule]
    duration: timedelta

    def excluded(self) -> dict[str, list[Busy]]:
        out = {rid: list(found) for rid, found in self.fixed.items()}
        for count in self.counts:
            full = limit_exclusions(count.limit, count.starts)
            for rid in count.closes:
                out[rid] += full
        return out

    def claim(self, start: datetime, end: datetime, resource_ids: Sequence[str],
              ref: str = "series") -> None:
        """Count a booking about to be written with the others."""
        for count in self.counts:
            if count.counts is None or count.counts.intersection(resource_ids):
                count.starts.append(start)
        core = [Busy(TimeRange(start, end), "booking", ref)]
        for rule in self.self_rules:
            for rid in resource_ids:
                if rid in self.fixed:
                    self.fixed[rid] += sequence_exclusions(rule, core, self.duration)


def rule_state(uow: UnitOfWork, service: Service, org_zone: str,
               pooled: Mapping[str, Resource], locations: Mapping[str, Location],
               span: TimeRange, now: datetime, exclude: Exclude) -> RuleState:
    """Load what the rules of ``service`` need for starts in ``span``."""
    fixed: dict[str, list[Busy]] = {rid: [] for rid in pooled}
    for rid, resource in pooled.items():
        fixed[rid] += _window_rules(resource, locations.get(resource.location_id or ""), now,
                                    span)
    counts = _limit_counts(uow, service, org_zone, pooled, locations, span, now, exclude)
    self_rules = _add_sequence_rules(uow, service, pooled, span, exclude, fixed)
    return RuleState(fixed, counts, self_rules, timedelta(minutes=service.duration_min))


def rules_forbid_nothing(uow: UnitOfWork, service: Service, pooled: Mapping[str, Resource],
                         locations: Mapping[str, Location]) -> bool:
    """Whether `rule_state` for this service over these resources forbids no start, whatever
    is booked and whenever it is asked: no limit, no sequence rule, and no resource or
    location notice or horizon (the service's own are the engine's). A caller may then
    decide starts from the catalog and the busy time alone (the rush lane, app/rush.py)."""
    levels: list[Resource | Location] = [*pooled.values(), *locations.values()]
    return (not _limits(service.max_per_day, service.max_per_week, "UTC", "service")
            and not any(_limits(lv.max_per_day, lv.max_per_week, "UTC", "level")
                        for lv in levels)
            and all(lv.min_notice_min is None and lv.max_advance_days is None
                    for lv in levels)
            and not uow.services.rules_touching(service.org_id, service.id))


def _window_rules(resource: Resource, location: Location | None, now: datetime,
                  span: TimeRange) -> list[Busy]:
    levels: list[Resource | Location] = [resource] if location is None else [resource, location]
    notices = [lv.min_notice_min for lv in levels if lv.min_notice_min is not None]
    horizons = [lv.max_advance_days for lv in levels if lv.max_advance_days is not None]
    if not notices and not horizons:
        return []
    return notice_exclusions(
        now, timedelta(minutes=max(notices, default=0)),
        timedelta(days=min(horizons, default=100 * 366)), span)


def _limits(maximum_day: int | None, maximum_week: int | None, zone_name: str, scope: str
            ) -> list[Limit]:
    limits = []
    if maximum_day:
        limits.append(Limit(maximum_day, Period.DAY, zone_name, scope))
    if maximum_week:
        limits.append(Limit(maximum_week, Period.WEEK, zone_name, scope))
    return limits


def _limit_counts(uow: UnitOfWork, service: Service, org_zone: str,
                  pooled: Mapping[str, Resource], locations: Mapping[str, Location],
                  span: TimeRange, now: datetime, exclude: Exclude) -> list[_Count]:
    service_limits = _limits(service.max_per_day, service.max_per_week, org_zone, "service")
    resource_limits = {rid: _limits(r.max_per_day, r.max_per_week, r.timezone, "resource")
                       for rid, r in pooled.items()}
    location_limits = {lid: _limits(loc.max_per_day, loc.max_per_week, loc.timezone,
                                    "location")
                       for lid, loc in locations.items()}
    if not service_limits and not any(resource_limits.values()) and not any(
            location_limits.values()):
        return []
    lo, hi = span.start - _PERIOD_MARGIN, span.end + _PERIOD_MARGIN
    at_location: dict[str, list[str]] = defaultdict(list)
    if any(location_limits.values()):
        for resource in uow.resources.list(service.org_id):
            if resource.location_id in location_limits:
                at_location[resource.location_id].append(resource.id)
    counted_ids = sorted({*pooled, *(rid for ids in at_location.values() for rid in ids)})
    booked = [b for b in uow.bookings.booked(service.org_id, counted_ids, lo, hi)
              if b.booking_id not in exclude.booking_ids]
    holds = [h for h in uow.holds.live(service.org_id, counted_ids, lo - _LONGEST_BOOKING,
                                       hi + _LONGEST_BOOKING, now)
             if h.id != exclude.hold_id and lo <= h.start < hi]

    def starts_on(resource_ids: Iterable[str]) -> list[datetime]:
        wanted = set(resource_ids)
        sessions = {b.session_key: b.start for b in booked if b.resource_id in wanted}
        held = {h.id: h.start for h in holds if wanted.intersection(h.resource_ids)}
        return [*sessions.values(), *held.values()]

    counts: list[_Count] = []
    for rid, limits in resource_limits.items():
        counts += [_Count(limit, starts_on([rid]), frozenset([rid]), frozenset([rid]))
                   for limit in limits]
    for lid, limits in location_limits.items():
        there = frozenset(at_location[lid])
        closes = frozenset(rid for rid, r in pooled.items() if r.location_id == lid)
        counts += [_Count(limit, starts_on(there), there, closes) for limit in limits]
    if service_limits:
        # A group session is its seats at one start on the same resources.
        sessions = {(b.start, tuple(sorted(b.resource_ids)))
                    for b in uow.bookings.of_service(service.org_id, service.id, lo, hi)
                    if b.id not in exclude.booking_ids}
        starts = [start for start, _ in sessions]
        starts += [h.start for h in holds if h.service_id == service.id]
        counts += [_Count(limit, list(starts), None, frozenset(pooled))
                   for limit in service_limits]
    return counts


def _add_sequence_rules(uow: UnitOfWork, service: Service, pooled: Mapping[str, Resource],
                        span: TimeRange, exclude: Exclude, out: dict[str, list[Busy]]
                        ) -> list[SequenceRule]:
    """Add the starts that sequence rules forbid; return the rules of the service with
    itself (a series must keep them between its own occurrences)."""
    duration = timedelta(minutes=service.duration_min)
    self_rules: list[SequenceRule] = []
    for owner, stored in uow.services.rules_touching(service.org_id, service.id):
        direction = Direction(stored.direction)
        sides: list[tuple[str, Direction]] = []
        if owner == service.id:
            sides.append((stored.other_service_id, direction))
        if stored.other_service_id == service.id:
            sides.append((owner, direction.flipped()))
        gap = timedelta(minutes=stored.within_min)
        for other_id, side in sides:
            rule = SequenceRule(gap, side)
            if other_id == service.id:
                self_rules.append(rule)
            others = uow.bookings.of_service(service.org_id, other_id,
                                             span.start - gap - _LONGEST_BOOKING,
                                             span.end + gap + duration)
            for booking in others:
                if booking.id in exclude.booking_ids:
                    continue
                core = [Busy(TimeRange(booking.start, booking.end), "booking", booking.id)]
                for rid in set(booking.resource_ids).intersection(pooled):
                    out[rid] += sequence_exclusions(rule, core, duration)
    return self_rules
