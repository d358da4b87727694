"""The availability benchmark's scenarios, as plain data, and their engine requests.

A scenario is resources with weekly hours, one measured service, the existing bookings (placed
at random but reproducibly, never overlapping on a resource) and a query window. The same data
builds a `SlotRequest` directly for the engine timings and is seeded into a live server for
the HTTP timings (`bench/seed.py`), so both answer the same question.

The sizes are those of issue 3 ("Speed, measured"):

(a) ``single``: one resource, 30 days, 15-minute step, 500 existing bookings;
(b) ``team``: 50 practitioners x 20 rooms x 5 equipment, a service needing one of each by
    tags, 14 days, 5,000 bookings;
(c) ``any_of``: 1,000 resources, a service taking any one of them, 7 days;
(d) ``growth``: 10 resources "any of" with bookings at a constant density over 56 days,
    queried over windows that double (3.5 -> 56 days), so the bookings in the window double too.
"""

from __future__ import annotations

import random
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from slotwise.engine.availability import Busy, ResourceCalendar, SlotRequest
from slotwise.engine.intervals import TimeRange
from slotwise.engine.pools import Requirement, ResourceProfile, role_pools
from slotwise.engine.schedule import LocalHours, Schedule, WeeklyHours

ZONE = "America/New_York"
# A Monday; US daylight saving time starts on 2027-03-14, inside the longer windows.
WINDOW_START = datetime(2027, 3, 1, 5, 0, tzinfo=UTC)  # local midnight in New York
NOW = datetime(2027, 3, 1, 0, 0, tzinfo=UTC)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTE = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class ResourceSpec:
    key: str
    kind: str
    tags: tuple[str, ...]
    start: str  # local wall time of opening, every day in `days`
    end: str
    days: tuple[str, ...] = WEEKDAYS


@dataclass(frozen=True, slots=True)
class RequirementSpec:
    kind: str
    tags: tuple[str, ...] = ()
    count: int = 1


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    key: str
    duration_min: int
    step_min: int
    requirements: tuple[RequirementSpec, ...]


@dataclass(frozen=True, slots=True)
class BookingSpec:
    service: str  # a ServiceSpec key
    start: datetime
    end: datetime
    resources: tuple[str, ...]  # ResourceSpec keys


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    resources: tuple[ResourceSpec, ...]
    services: tuple[ServiceSpec, ...]  # the first one is measured
    bookings: tuple[BookingSpec, ...]
    days: float
    zone: str = ZONE
    now: datetime = NOW
    start: datetime = WINDOW_START
    target_ms: float | None = None
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def service(self) -> ServiceSpec:
        return self.services[0]

    def window(self, days: float | None = None) -> TimeRange:
        return TimeRange(self.start, self.start + timedelta(days=self.days if days is None
                                                             else days))


# ------------------------------------------------------------------ engine requests


def _minutes(text: str) -> int:
    hh, mm = text.split(":")
    return int(hh) * 60 + int(mm)


def engine_schedule(spec: ResourceSpec, zone: str) -> Schedule:
    days = frozenset(WEEKDAYS.index(d) for d in spec.days)
    hours = LocalHours(_minutes(spec.start), _minutes(spec.end))
    return Schedule(zone=zone, weekly=(WeeklyHours(days, hours),))


def engine_request(scenario: Scenario) -> SlotRequest:
    """The request the app would build for the measured service (no buffers, no notice)."""
    service = scenario.service
    requirements = [Requirement(kind=r.kind, count=r.count, tags=frozenset(r.tags))
                    for r in service.requirements]
    profiles = [ResourceProfile(id=r.key, kind=r.kind, tags=frozenset(r.tags))
                for r in scenario.resources]
    roles = role_pools(requirements, profiles)
    busy: dict[str, list[Busy]] = {r.key: [] for r in scenario.resources}
    for i, b in enumerate(scenario.bookings):
        for key in b.resources:
            busy[key].append(Busy(TimeRange(b.start, b.end), "booking", f"b{i}"))
    calendars = {
        r.key: ResourceCalendar(resource_id=r.key, schedule=engine_schedule(r, scenario.zone),
                                busy=tuple(busy[r.key]))
        for r in scenario.resources
    }
    return SlotRequest(duration=timedelta(minutes=service.duration_min),
                       step=timedelta(minutes=service.step_min), roles=roles,
                       calendars=calendars, now=scenario.now)


def busy_in(scenario: Scenario, window: TimeRange) -> int:
    """Busy ranges (one per booked resource) that a query over `window` has to look at."""
    end = window.end + timedelta(minutes=scenario.service.duration_min)
    return sum(len(b.resources) for b in scenario.bookings
               if b.start < end and b.end > window.start)


# ------------------------------------------------------------------ booking placement


class _Placer:
    """Random non-overlapping bookings on a 15-minute grid inside each resource's hours."""

    def __init__(self, scenario_resources: Sequence[ResourceSpec], zone: str, first: date,
                 days: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.tz = ZoneInfo(zone)
        self.first = first
        self.days = days
        self.spec = {r.key: r for r in scenario_resources}
        self.taken: dict[str, list[tuple[datetime, datetime]]] = {
            r.key: [] for r in scenario_resources}

    def _local(self, day: date, minute: int) -> datetime:
        naive = datetime(day.year, day.month, day.day) + minute * MINUTE
        return naive.replace(tzinfo=self.tz).astimezone(UTC)

    def free(self, key: str, start: datetime, end: datetime) -> bool:
        spans = self.taken[key]
        i = bisect_left(spans, (start, start))
        if i > 0 and spans[i - 1][1] > start:
            return False
        return not (i < len(spans) and spans[i][0] < end)

    def place(self, keys_by_pool: Sequence[Sequence[str]], duration_min: int,
              tries: int = 200) -> tuple[datetime, datetime, tuple[str, ...]] | None:
        """One booking taking one resource of each pool, or None when none was found."""
        for _ in range(tries):
            day = self.first + timedelta(days=self.rng.randrange(self.days))
            chosen = tuple(self.rng.choice(pool) for pool in keys_by_pool)
            specs = [self.spec[k] for k in chosen]
            if any(WEEKDAYS[day.weekday()] not in s.days for s in specs):
                continue
            lo = max(_minutes(s.start) for s in specs)
            hi = min(_minutes(s.end) for s in specs) - duration_min
            if hi < lo:
                continue
            minute = lo + 15 * self.rng.randrange((hi - lo) // 15 + 1)
            start = self._local(day, minute)
            end = start + duration_min * MINUTE
            if all(self.free(k, start, end) for k in chosen):
                for k in chosen:
                    spans = self.taken[k]
                    spans.insert(bisect_left(spans, (start, end)), (start, end))
                return start, end, chosen
        return None


def _bookings(placer: _Placer, service: ServiceSpec, pools: Sequence[Sequence[str]],
              count: int) -> list[BookingSpec]:
    out = []
    while len(out) < count:
        found = placer.place(pools, service.duration_min)
        if found is None:
            raise RuntimeError(f"could not place booking {len(out) + 1} of {count}")
        out.append(BookingSpec(service.key, found[0], found[1], found[2]))
    return out


def _local_day(scenario_start: datetime, zone: str) -> date:
    return scenario_start.astimezone(ZoneInfo(zone)).date()


# ------------------------------------------------------------------ the scenarios


def single(bookings: int = 500, days: int = 30, seed: int = 1) -> Scenario:
    """(a) one practitioner open 08:00-20:00 every day; 30-minute service, 15-minute step."""
    resources = (ResourceSpec("p0", "practitioner", ("physio",), "08:00", "20:00"),)
    service = ServiceSpec("consult", 30, 15, (RequirementSpec("practitioner", ("physio",)),))
    placer = _Placer(resources, ZONE, _local_day(WINDOW_START, ZONE), days, seed)
    booked = _bookings(placer, service, [["p0"]], bookings)
    return Scenario("single", "(a) 1 resource, 30 d, 15-min step, 500 bookings", resources,
                    (service,), tuple(booked), days, target_ms=1.0)


_SHIFTS = (("07:00", "15:00"), ("08:00", "18:00"), ("10:00", "20:00"), ("12:00", "21:00"))


def team(practitioners: int = 50, rooms: int = 20, equipment: int = 5, bookings: int = 5000,
         days: int = 14, seed: int = 2) -> Scenario:
    """(b) practitioners in four shifts (weekdays, a quarter also at weekends), rooms and
    equipment open 07:00-21:00 every day. The measured service needs a physio, a treatment
    room and an ultrasound unit, chosen by tags; the existing bookings are of three services:
    60 % practitioner only, 30 % practitioner and room, 10 % all three."""
    res: list[ResourceSpec] = []
    for i in range(practitioners):
        start, end = _SHIFTS[i % len(_SHIFTS)]
        days_on = WEEKDAYS if i % 4 == 0 else WEEKDAYS[:5]
        tags = ("physio", "senior") if i % 3 == 0 else ("physio",)
        res.append(ResourceSpec(f"p{i:02}", "practitioner", tags, start, end, days_on))
    for i in range(rooms):
        res.append(ResourceSpec(f"r{i:02}", "room", ("treatment",), "07:00", "21:00"))
    for i in range(equipment):
        res.append(ResourceSpec(f"e{i}", "equipment", ("ultrasound",), "07:00", "21:00"))
    full = ServiceSpec("full", 30, 15, (RequirementSpec("practitioner", ("physio",)),
                                        RequirementSpec("room", ("treatment",)),
                                        RequirementSpec("equipment", ("ultrasound",))))
    consult = ServiceSpec("consult", 30, 15, (RequirementSpec("practitioner", ("physio",)),))
    session = ServiceSpec("session", 30, 15, (RequirementSpec("practitioner", ("physio",)),
                                              RequirementSpec("room", ("treatment",))))
    p = [r.key for r in res if r.kind == "practitioner"]
    r_ = [r.key for r in res if r.kind == "room"]
    e = [r.key for r in res if r.kind == "equipment"]
    placer = _Placer(res, ZONE, _local_day(WINDOW_START, ZONE), days, seed)
    booked = [
        *_bookings(placer, full, [p, r_, e], bookings // 10),
        *_bookings(placer, session, [p, r_], bookings * 3 // 10),
    ]
    booked += _bookings(placer, consult, [p], bookings - len(booked))
    booked.sort(key=lambda b: b.start)
    return Scenario("team", "(b) 50 practitioners x 20 rooms x 5 equipment, 14 d, 5,000 bookings",
                    tuple(res), (full, consult, session), tuple(booked), days, target_ms=30.0)


def any_of(resources: int = 1000, bookings: int = 2000, days: int = 7, seed: int = 3
           ) -> Scenario:
    """(c) `resources` rooms in four opening-hour patterns, a 60-minute service on a 30-minute
    step that any one of them can host, and `bookings` existing bookings among them."""
    res = tuple(ResourceSpec(f"r{i:04}", "room", ("hall",), *_SHIFTS[i % len(_SHIFTS)])
                for i in range(resources))
    service = ServiceSpec("hall", 60, 30, (RequirementSpec("room", ("hall",)),))
    placer = _Placer(res, ZONE, _local_day(WINDOW_START, ZONE), days, seed)
    booked = _bookings(placer, service, [[r.key for r in res]], bookings)
    booked.sort(key=lambda b: b.start)
    return Scenario("any_of", f"(c) {resources:,} resources any-of, {days} d, "
                    f"{bookings:,} bookings", res, (service,), tuple(booked), days,
                    target_ms=100.0)


GROWTH_DAYS = (3.5, 7.0, 14.0, 28.0, 56.0)


def growth(resources: int = 10, bookings: int = 4000, days: int = 56, seed: int = 4
           ) -> Scenario:
    """(d) `bookings` spread evenly over `days` on `resources` rooms open 08:00-20:00 every
    day, any one of which hosts a 30-minute service on a 15-minute step; it is queried over
    the windows of GROWTH_DAYS."""
    res = tuple(ResourceSpec(f"g{i:02}", "room", ("studio",), "08:00", "20:00")
                for i in range(resources))
    service = ServiceSpec("studio", 30, 15, (RequirementSpec("room", ("studio",)),))
    placer = _Placer(res, ZONE, _local_day(WINDOW_START, ZONE), days, seed)
    booked = _bookings(placer, service, [[r.key for r in res]], bookings)
    booked.sort(key=lambda b: b.start)
    return Scenario("growth", f"(d) growth: {resources} resources, {bookings:,} bookings over "
                    f"{days} d", res, (service,), tuple(booked), days)


def all_scenarios() -> list[Scenario]:
    return [single(), team(), any_of(), growth()]
