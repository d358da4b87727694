"""find_slots against a deliberately naive oracle, on generated schedules around DST changes.

The oracle is written for obviousness, not speed: it looks at every minute of the query window
and every combination of resources, and checks the five rules of API.md "Availability"
directly. It shares no code with the engine beyond the input value types; it resolves local
wall times itself (zoneinfo, fold=0) and finds open time minute by minute. All generated hours
and zone offsets are whole minutes, so a minute grid sees every window edge exactly; busy
ranges may end on any second.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
from slotwise.engine.pools import RolePool
from slotwise.engine.schedule import (
    DateOverride,
    LocalHours,
    Schedule,
    WeeklyHours,
    open_windows,
)
from slotwise.testing.engine_builders import hypothesis_examples

MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)

ZONES = (
    "America/Phoenix",
    "America/Denver",
    "America/New_York",
    "Europe/London",
    "Europe/Dublin",
    "Australia/Lord_Howe",
    "Pacific/Apia",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "UTC",
)
IDS = ("r0", "r1", "r2")


@cache
def offset_change_days(zone_name: str) -> tuple[date, ...]:
    """UTC dates, 2011-2028, on which the zone's UTC offset changes (found day by day)."""
    tz = ZoneInfo(zone_name)
    days: list[date] = []
    day = datetime(2011, 1, 1, tzinfo=UTC)
    previous = day.astimezone(tz).utcoffset()
    while day.year < 2029:
        day += DAY
        offset = day.astimezone(tz).utcoffset()
        if offset != previous:
            days.append((day - DAY).date())
        previous = offset
    return tuple(days) or (date(2027, 3, 14), date(2027, 11, 7))


# ---------------------------------------------------------------- the oracle


class OpenMinutes:
    """One resource's open time as a minute array from `base`, and its local midnights."""

    def __init__(self, base, is_open, run_start, open_before, midnights):
        self.base = base
        self.is_open = is_open
        self.run_start = run_start  # for an open minute: the first minute of its open run
        self.open_before = open_before  # open_before[i] = open minutes in [0, i)
        self.midnights = midnights

    def index(self, t: datetime) -> int:
        return (t - self.base) // MINUTE


def wall(day: date, minute: int, tz: ZoneInfo) -> datetime:
    """A local wall time to UTC: a gap takes the offset before it, a fold the earlier instant."""
    naive = datetime.combine(day, time()) + minute * MINUTE
    return naive.replace(tzinfo=tz, fold=0).astimezone(UTC)


def open_minutes(schedule: Schedule, base: datetime, end: datetime) -> OpenMinutes:
    tz = ZoneInfo(schedule.zone)
    size = (end - base) // MINUTE
    is_open = [False] * size
    first = base.astimezone(tz).date() - 2 * DAY
    last = end.astimezone(tz).date() + 2 * DAY
    day = first
    midnights = []
    while day <= last:
        midnights.append(wall(day, 0, tz))
        replaced = [h for o in schedule.overrides if o.day == day for h in o.hours]
        has_override = any(o.day == day for o in schedule.overrides)
        todays = (
            replaced
            if has_override
            else [w.hours for w in schedule.weekly if day.weekday() in w.days]
        )
        for h in todays:
            start, stop = wall(day, h.start_min, tz), wall(day, h.end_min, tz)
            for i in range((start - base) // MINUTE, (stop - base) // MINUTE):
                if 0 <= i < size:
                    is_open[i] = True
        day += DAY
    run_start = [0] * size
    open_before = [0] * (size + 1)
    for i in range(size):
        run_start[i] = run_start[i - 1] if i > 0 and is_open[i - 1] else i
        open_before[i + 1] = open_before[i] + is_open[i]
    return OpenMinutes(base, is_open, run_start, open_before, sorted(midnights))


def oracle_offered(
    request: SlotRequest, window: TimeRange
) -> dict[datetime, list[tuple[str, ...]]]:
    """Every offered start in the window, with every valid choice of resources at it."""
    d = request.duration
    base = window.start - 3 * DAY
    end = window.end + d + 3 * DAY
    opened = {
        rid: open_minutes(cal.schedule, base, end)
        for rid, cal in request.calendars.items()
        if cal.schedule is not None
    }

    def fits(rid: str, t: datetime) -> bool:  # rule 1
        om = opened.get(rid)
        if om is None:
            return False
        i = om.index(t)
        n = d // MINUTE
        return om.open_before[i + n] - om.open_before[i] == n

    def anchor(rid: str, t: datetime) -> datetime:  # a_r(t), for a resource open at t
        om = opened[rid]
        a = om.base + om.run_start[om.index(t)] * MINUTE
        for m in om.midnights:
            if a < m <= t:
                a = m
        return a

    def free(rid: str, t: datetime) -> bool:  # rule 3
        cal = request.calendars[rid]
        lo = t - max(request.buffer_before, cal.buffer_before)
        hi = t + d + max(request.buffer_after, cal.buffer_after)
        return not any(max(lo, b.range.start) < min(hi, b.range.end) for b in cal.busy)

    offered: dict[datetime, list[tuple[str, ...]]] = {}
    t = window.start
    while t < window.end:
        if request.now + request.min_notice <= t <= request.now + request.max_advance:
            for choice in choices(request.roles):
                if request.must_include is not None and request.must_include not in choice:
                    continue
                if not all(fits(r, t) and free(r, t) for r in choice):
                    continue
                grid_anchor = max(anchor(r, t) for r in choice)
                if (t - grid_anchor) % request.step == timedelta(0):
                    offered.setdefault(t, []).append(choice)
        t += MINUTE
    return offered


def choices(roles: tuple[RolePool, ...]) -> list[tuple[str, ...]]:
    """Every way to fill each role with `count` distinct resources, no resource twice."""
    per_role = [itertools.combinations(dict.fromkeys(p.resource_ids), p.count) for p in roles]
    out = []
    for combo in itertools.product(*per_role):
        flat = tuple(r for group in combo for r in group)
        if len(set(flat)) == len(flat):
            out.append(flat)
    return out


# ---------------------------------------------------------------- scenarios


@st.composite
def local_hours(draw) -> LocalHours:
    # Quarter hours, often from or to midnight, usually long enough to hold a few slots.
    start = draw(st.sampled_from([0, 0, *range(88)])) * 15
    end = draw(st.sampled_from([96, *range(start // 15 + 1, 97)])) * 15
    return LocalHours(start, end)


@st.composite
def schedules(draw, zone_name: str, near: date) -> Schedule | None:
    kind = draw(st.sampled_from(["weekly"] * 6 + ["round-the-clock"] * 2 + ["never"]))
    if kind == "never":
        return None
    if kind == "round-the-clock":
        weekly = (WeeklyHours(frozenset(range(7)), LocalHours(0, 1440)),)
    else:
        every_day = frozenset(range(7))
        weekly = tuple(
            WeeklyHours(
                draw(st.just(every_day) | st.frozensets(st.integers(0, 6), min_size=1)),
                draw(local_hours()),
            )
            for _ in range(draw(st.integers(1, 3)))
        )
    overrides = tuple(
        DateOverride(
            near + draw(st.integers(-2, 2)) * DAY,
            tuple(draw(st.lists(local_hours(), max_size=2))),
        )
        for _ in range(draw(st.integers(0, 2)))
    )
    return Schedule(zone=zone_name, weekly=weekly, overrides=overrides)


@st.composite
def scenarios(draw, min_resources: int = 1, min_roles: int = 1) -> tuple[SlotRequest, TimeRange]:
    n = draw(st.integers(min_resources, 3))
    ids = IDS[:n]
    first_zone = draw(st.sampled_from(ZONES))
    zones = [first_zone] + [draw(st.sampled_from([first_zone, *ZONES])) for _ in range(n - 1)]
    change = draw(st.sampled_from(offset_change_days(first_zone)))
    start = datetime.combine(change, time(), UTC) + draw(st.integers(-36 * 60, 24 * 60)) * MINUTE
    window = TimeRange(
        start, start + draw(st.sampled_from([30, *range(12 * 60, 36 * 60)])) * MINUTE
    )

    calendars = {}
    for rid, zone_name in zip(ids, zones, strict=True):
        busy = tuple(
            Busy(
                TimeRange(b_start, b_start + draw(st.integers(0, 90 * 60)) * timedelta(seconds=1)),
                "block",
            )
            for b_start in [
                start
                + draw(st.integers(-300, 36 * 60)) * MINUTE
                + draw(st.sampled_from([0, 0, 0, 1, 17, 59])) * timedelta(seconds=1)
                for _ in range(draw(st.sampled_from([0, 0, 1, 2])))
            ]
        )
        calendars[rid] = ResourceCalendar(
            rid,
            draw(schedules(zone_name, change)),
            busy,
            buffer_before=draw(st.sampled_from([0, 0, 10, 30])) * MINUTE,
            buffer_after=draw(st.sampled_from([0, 0, 15, 45])) * MINUTE,
        )

    roles = []
    for _ in range(draw(st.integers(min_roles, 2))):
        count = draw(st.sampled_from([1, 1, 1, 2]))
        pool = draw(st.permutations(ids))[: draw(st.integers(min(count, n), n))]
        roles.append(RolePool(count=count, resource_ids=tuple(pool)))
    request = SlotRequest(
        duration=draw(st.sampled_from([15, 30, 45, 60, 90, 120])) * MINUTE,
        step=draw(st.sampled_from([5, 10, 15, 20, 25, 30, 45, 60, 90])) * MINUTE,
        roles=tuple(roles),
        calendars=calendars,
        now=start + draw(st.sampled_from([-48 * 60, 0, *range(-48 * 60, 12 * 60, 15)])) * MINUTE,
        buffer_before=draw(st.sampled_from([0, 0, 5, 20])) * MINUTE,
        buffer_after=draw(st.sampled_from([0, 0, 10, 30])) * MINUTE,
        min_notice=draw(st.sampled_from([0, 0, 30, 240])) * MINUTE,
        max_advance=draw(st.sampled_from([525600] * 3 + [90, 360, 720, 1080, 2160])) * MINUTE,
        must_include=draw(st.sampled_from([None] * 6 + [*ids, "nobody"])),
    )
    return request, window


# ---------------------------------------------------------------- properties


def check_against_oracle(request: SlotRequest, window: TimeRange, data: st.DataObject) -> None:
    slots = find_slots(request, window)
    expected = oracle_offered(request, window)

    assert [s.start for s in slots] == sorted(expected)
    for s in slots:
        assert s.end == s.start + request.duration
        assert s.resource_ids in expected[s.start], "the slot's resources are not a valid choice"

    # slot_at answers by the same rule, with the same resource choice.
    if slots:
        for s in data.draw(st.lists(st.sampled_from(slots), max_size=4)):
            assert slot_at(request, s.start) == s
    minutes = (window.end - window.start) // MINUTE
    for k in data.draw(st.lists(st.integers(0, max(0, minutes - 1)), max_size=4)):
        t = window.start + k * MINUTE
        t += data.draw(st.sampled_from([timedelta(0), timedelta(0), timedelta(seconds=30)]))
        assert (slot_at(request, t) is not None) == (t in expected)


SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large]


@settings(max_examples=hypothesis_examples(700), deadline=None, suppress_health_check=SLOW_OK)
@given(scenario=scenarios(), data=st.data())
def test_find_slots_offers_exactly_the_starts_the_oracle_offers(scenario, data):
    check_against_oracle(*scenario, data)


@settings(max_examples=hypothesis_examples(300), deadline=None, suppress_health_check=SLOW_OK)
@given(scenario=scenarios(min_resources=2, min_roles=2), data=st.data())
def test_two_role_services_offer_exactly_the_starts_the_oracle_offers(scenario, data):
    check_against_oracle(*scenario, data)


@settings(max_examples=hypothesis_examples(200), deadline=None, suppress_health_check=SLOW_OK)
@given(scenario=scenarios())
def test_open_windows_are_the_oracles_open_minutes_with_midnight_anchors(scenario):
    request, span = scenario
    for cal in request.calendars.values():
        if cal.schedule is None:
            continue
        windows = open_windows(cal.schedule, span)
        om = open_minutes(cal.schedule, span.start - 3 * DAY, span.end + 3 * DAY)
        for w in windows:
            assert w.range.overlaps(span)
            assert w.anchors[0] == w.range.start
            # (compared where the oracle knows the midnights: a window may run on for weeks)
            near = TimeRange(span.start - 2 * DAY, span.end + 2 * DAY)
            inside = {m for m in om.midnights if w.range.start < m < w.range.end}
            assert [a for a in w.anchors[1:] if near.start <= a < near.end] == sorted(
                m for m in inside if near.start <= m < near.end
            )
        assert all(a.range.end < b.range.start for a, b in itertools.pairwise(windows))
        t = span.start
        while t < span.end:
            assert om.is_open[om.index(t)] == any(w.range.start <= t < w.range.end for w in windows)
            t += MINUTE
        if windows:  # whole windows: the minute before each start and at each end is closed
            for w in windows:
                for edge in (w.range.start - MINUTE, w.range.end):
                    if om.base <= edge < om.base + len(om.is_open) * MINUTE:
                        assert not om.is_open[om.index(edge)]


def brute_nearest(slots: list[Slot], start: datetime, count: int) -> list[Slot]:
    nearest = sorted(slots, key=lambda s: (abs(s.start - start), s.start))[:count]
    return sorted(nearest, key=lambda s: s.start)


@settings(max_examples=hypothesis_examples(150), deadline=None, suppress_health_check=SLOW_OK)
@given(scenario=scenarios(), count=st.integers(1, 6), offset_min=st.integers(0, 36 * 60))
def test_nearest_slots_are_the_nearest_of_all_slots_in_the_search_span(scenario, count, offset_min):
    request, window = scenario
    start = window.start + offset_min * MINUTE
    search = 2 * DAY
    everything = find_slots(request, TimeRange(start - search, start + search))
    assert nearest_slots(request, start, count, search) == brute_nearest(everything, start, count)
