"""Weekly opening hours with per-date overrides, expanded to UTC open windows.

A schedule is read in its own IANA zone, one local date at a time: that date's override (when
there is one) or else the weekly hours of its weekday, minus that weekday's breaks (breaks apply
on override dates too). Each ``LocalHours`` becomes the UTC range from its start wall time to its
end wall time on that date, both resolved with ``zones.local_to_utc`` (gap: forward; fold:
earlier instant). The ranges of all dates are then merged where they overlap or touch, also
across midnight, giving the open windows; a break splits a window in two, so the grid restarts
after it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from slotwise.engine.intervals import TimeRange, merge, subtract
from slotwise.engine.zones import (
    MINUTES_PER_DAY,
    UnknownZone,
    is_zone,
    local_date,
    local_to_utc,
    zone,
)

__all__ = [
    "DateOverride",
    "LocalHours",
    "OpenWindow",
    "Schedule",
    "WeeklyHours",
    "open_windows",
]

_DAY = timedelta(days=1)

_WEEK = timedelta(days=7)
# A run of windows that touch across midnights (a 24/7 resource) has no natural end. It is
# followed, a week at a time, this many weeks beyond the dates that can reach the span and then
# cut at a local midnight. A cut there changes no anchor (a midnight is one already) and no
# containment of a range inside the span.
_MAX_CHAIN_WEEKS = 5


@dataclass(frozen=True, slots=True)
class LocalHours:
    """Wall-clock hours ``[start_min, end_min)`` in minutes after local midnight;
    ``0 <= start_min < end_min <= 1440`` (1440 is "24:00", the next midnight)."""

    start_min: int
    end_min: int

    def __post_init__(self) -> None:
        if not 0 <= self.start_min < self.end_min <= MINUTES_PER_DAY:
            raise ValueError(
                f"hours must satisfy 0 <= start < end <= 1440 minutes, "
                f"got {self.start_min}..{self.end_min}"
            )


@dataclass(frozen=True, slots=True)
class WeeklyHours:
    """``hours`` on each weekday in ``days`` (0 = Monday .. 6 = Sunday)."""

    days: frozenset[int]
    hours: LocalHours

    def __post_init__(self) -> None:
        bad = sorted(d for d in self.days if not (isinstance(d, int) and 0 <= d <= 6))
        if bad:
            raise ValueError(f"weekdays must be 0 (Monday) .. 6 (Sunday), got {bad}")


@dataclass(frozen=True, slots=True)
class DateOverride:
    """The hours of one local date, replacing its weekly hours; ``hours=()`` closes it."""

    day: date
    hours: tuple[LocalHours, ...]

    def __post_init__(self) -> None:
        if isinstance(self.day, datetime):
            raise ValueError("an override's day is a date, not a datetime")


@dataclass(frozen=True, slots=True)
class Schedule:
    """Opening hours read in the IANA zone ``zone``. Several overrides for one date combine
    their hours; ``breaks`` close part of every date of their weekdays."""

    zone: str
    weekly: tuple[WeeklyHours, ...] = ()
    overrides: tuple[DateOverride, ...] = ()
    breaks: tuple[WeeklyHours, ...] = ()

    def __post_init__(self) -> None:
        if not is_zone(self.zone):
            raise UnknownZone(f"unknown time zone {self.zone!r}")


@dataclass(frozen=True, slots=True)
class OpenWindow:
    """One merged open window (UTC, half-open) and its grid anchors, ascending: the window's
    start, then every local midnight of the schedule's zone strictly inside the window."""

    range: TimeRange
    anchors: tuple[datetime, ...]


def open_windows(schedule: Schedule, span: TimeRange) -> list[OpenWindow]:
    """Every open window of ``schedule`` that overlaps ``span``, ascending.

    Windows are whole, not clipped to ``span``: a window that starts before the span or ends
    after it is returned with its real start and end (a run touching across more than
    ``_MAX_CHAIN_WEEKS`` further weeks is cut at a local midnight). Empty or inverted
    hours — both ends inside one spring-forward gap, or a start moved past the end by a gap —
    open nothing.
    """
    try:
        return list(_remembered_windows(schedule, span))
    except TypeError:  # built with lists instead of tuples, so not hashable: not remembered
        return _expand_windows(schedule, span)


# Expanding hours is the costly part of availability for many resources, and resources share
# schedules (equal values, hence equal keys): remember the answers. Entries are immutable.
@lru_cache(maxsize=512)
def _remembered_windows(schedule: Schedule, span: TimeRange) -> tuple[OpenWindow, ...]:
    return tuple(_expand_windows(schedule, span))


def _expand_windows(schedule: Schedule, span: TimeRange) -> list[OpenWindow]:
    tz = zone(schedule.zone)
    by_date = _override_hours(schedule)
    weekly = tuple((w.days, w.hours) for w in schedule.weekly)
    breaks = tuple((b.days, b.hours) for b in schedule.breaks)
    # One expansion resolves the same local times several times (a day's 24:00 is the next
    # day's midnight, and the anchors ask for midnights again): resolve each once.
    resolved: dict[tuple[date, int], datetime] = {}

    def at(day: date, minute_of_day: int) -> datetime:
        # The same naive wall time, hence the same instant, under one key.
        key = (day + _DAY, 0) if minute_of_day == MINUTES_PER_DAY else (day, minute_of_day)
        found = resolved.get(key)
        if found is None:
            found = resolved[key] = local_to_utc(day, minute_of_day, tz)
        return found

    def local_ranges(day: date, hours: Iterable[LocalHours]) -> list[TimeRange]:
        ranges = []
        for h in hours:
            start = at(day, h.start_min)
            end = at(day, h.end_min)
            if start < end:
                ranges.append(TimeRange(start, end))
        return ranges

    def ranges_of(day: date) -> Iterator[TimeRange]:
        hours = by_date.get(day)
        if hours is None:
            hours = [h for days, h in weekly if day.weekday() in days]
        opened = local_ranges(day, hours)
        closed = [h for days, h in breaks if day.weekday() in days]
        if closed and opened:
            opened = subtract(merge(opened), merge(local_ranges(day, closed)))
        yield from opened

    def ranges_between(first: date, last: date) -> list[TimeRange]:
        return [r for d in _dates(first, last) for r in ranges_of(d)]

    # One local date of margin on each side: a date's hours reach at most its 24:00, and the
    # margin also absorbs ranges that a gap pushes past a midnight.
    first = local_date(span.start, tz) - _DAY
    last = local_date(span.end, tz) + _DAY
    windows = merge(ranges_between(first, last))

    for _ in range(_MAX_CHAIN_WEEKS):
        head = windows[0] if windows else None
        if head is None or not head.overlaps(span) or head.start > at(first, 0):
            break
        first -= _WEEK
        windows = merge([*ranges_between(first, first + _WEEK - _DAY), *windows])
    for _ in range(_MAX_CHAIN_WEEKS):
        tail = windows[-1] if windows else None
        if tail is None or not tail.overlaps(span) or tail.end < at(last + _DAY, 0):
            break
        windows = merge([*windows, *ranges_between(last + _DAY, last + _WEEK)])
        last += _WEEK

    return [OpenWindow(range=w, anchors=_anchors(w, tz, at)) for w in windows if w.overlaps(span)]


def _override_hours(schedule: Schedule) -> dict[date, list[LocalHours]]:
    by_date: defaultdict[date, list[LocalHours]] = defaultdict(list)
    for o in schedule.overrides:
        by_date[o.day].extend(o.hours)
    return dict(by_date)


def _dates(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += _DAY


def _anchors(window: TimeRange, tz: ZoneInfo, at: Callable[[date, int], datetime]
             ) -> tuple[datetime, ...]:
    """The window's start and the local midnights strictly inside it (``at`` resolves a
    local date and minute of day, as ``local_to_utc`` does)."""
    anchors = {window.start}
    for day in _dates(local_date(window.start, tz), local_date(window.end, tz) + _DAY):
        midnight = at(day, 0)
        if window.start < midnight < window.end:
            anchors.add(midnight)
    return tuple(sorted(anchors))
