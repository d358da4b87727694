"""Small keyword-only builders for engine values, shared by tests (ours and users').

Times are written the way people read them: ``"09:00"`` wall times, ``"mon-fri"`` weekdays,
minutes for durations.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta

from slotwise.engine.availability import Busy, ResourceCalendar, SlotRequest
from slotwise.engine.intervals import TimeRange
from slotwise.engine.pools import RolePool
from slotwise.engine.schedule import DateOverride, LocalHours, Schedule, WeeklyHours

__all__ = [
    "at_utc",
    "busy",
    "calendar",
    "closed",
    "hours",
    "hypothesis_examples",
    "minute_of_day",
    "override",
    "role",
    "schedule",
    "slot_request",
    "utc_range",
    "weekdays",
    "weekly",
]

_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def hypothesis_examples(base: int) -> int:
    """``base`` scaled by the environment variable SLOTWISE_HYPOTHESIS_SCALE (default 1), so a
    longer property run is ``SLOTWISE_HYPOTHESIS_SCALE=20 pytest tests/engine``."""
    scale = float(os.environ.get("SLOTWISE_HYPOTHESIS_SCALE", "1"))
    return max(1, round(base * scale))


def at_utc(text: str) -> datetime:
    """``"2027-03-15 13:00"`` (or with seconds) read as a UTC instant."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def utc_range(start: str, end: str) -> TimeRange:
    return TimeRange(at_utc(start), at_utc(end))


def minute_of_day(text: str) -> int:
    """``"09:30"`` -> 570; ``"24:00"`` -> 1440."""
    hh, mm = text.split(":")
    return int(hh) * 60 + int(mm)


def hours(start: str, end: str) -> LocalHours:
    return LocalHours(minute_of_day(start), minute_of_day(end))


def weekdays(spec: str) -> frozenset[int]:
    """``"mon-fri"``, ``"sat,sun"``, ``"daily"`` -> weekday numbers (0 = Monday)."""
    if spec == "daily":
        return frozenset(range(7))
    days: set[int] = set()
    for part in spec.split(","):
        first, _, last = part.strip().partition("-")
        lo = _DAY_NAMES.index(first)
        hi = _DAY_NAMES.index(last) if last else lo
        days.update(range(lo, hi + 1))
    return frozenset(days)


def weekly(*, days: str, start: str, end: str) -> WeeklyHours:
    return WeeklyHours(weekdays(days), hours(start, end))


def override(*, day: date, spans: Sequence[tuple[str, str]]) -> DateOverride:
    return DateOverride(day, tuple(hours(s, e) for s, e in spans))


def closed(*, day: date) -> DateOverride:
    return DateOverride(day, ())


def schedule(
    *,
    zone: str,
    weekly: Iterable[WeeklyHours] = (),
    overrides: Iterable[DateOverride] = (),
    breaks: Iterable[WeeklyHours] = (),
) -> Schedule:
    return Schedule(zone=zone, weekly=tuple(weekly), overrides=tuple(overrides),
                    breaks=tuple(breaks))


def busy(*, start: str, end: str, reason: str = "block", ref: str | None = None) -> Busy:
    """A busy range between two UTC instants written as in ``at_utc``."""
    return Busy(utc_range(start, end), reason, ref)


def calendar(
    *,
    resource_id: str,
    schedule: Schedule | None,
    busy: Iterable[Busy] = (),
    buffer_before_min: int = 0,
    buffer_after_min: int = 0,
    within: Iterable[Schedule] = (),
    excluded: Iterable[Busy] = (),
) -> ResourceCalendar:
    return ResourceCalendar(
        resource_id=resource_id,
        schedule=schedule,
        busy=tuple(busy),
        buffer_before=timedelta(minutes=buffer_before_min),
        buffer_after=timedelta(minutes=buffer_after_min),
        within=tuple(within),
        excluded=tuple(excluded),
    )


def role(*resource_ids: str, count: int = 1, optional: bool = False) -> RolePool:
    return RolePool(count=count, resource_ids=resource_ids, optional=optional)


def slot_request(
    *,
    calendars: Iterable[ResourceCalendar],
    roles: Iterable[RolePool],
    now: datetime,
    duration_min: int,
    step_min: int | None = None,
    buffer_before_min: int = 0,
    buffer_after_min: int = 0,
    min_notice_min: int = 0,
    max_advance_days: int = 365,
    must_include: str | None = None,
) -> SlotRequest:
    """A request; ``step_min`` defaults to ``duration_min`` as a service's does."""
    return SlotRequest(
        duration=timedelta(minutes=duration_min),
        step=timedelta(minutes=step_min if step_min is not None else duration_min),
        roles=tuple(roles),
        calendars={c.resource_id: c for c in calendars},
        now=now,
        buffer_before=timedelta(minutes=buffer_before_min),
        buffer_after=timedelta(minutes=buffer_after_min),
        min_notice=timedelta(minutes=min_notice_min),
        max_advance=timedelta(days=max_advance_days),
        must_include=must_include,
    )
