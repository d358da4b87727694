"""Business rules turned into ranges of forbidden starts (``Busy`` with a reason).

Every rule here answers one question — "may a booking start at t?" — as a set of start ranges
that it forbids, so the slot search only subtracts them and ``explain`` can name them:

- ``notice`` / ``horizon``: starts before ``now + min_notice`` or after ``now + max_advance``;
- ``limit``: every start in a local day (or Monday-based week) that already has its maximum of
  bookings;
- ``rule``: starts that would put the service too close to a booking of a service it may not
  follow or precede (a sequence rule).

All of them are pure: the caller loads the bookings they count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from slotwise.engine.availability import Busy
from slotwise.engine.intervals import TimeRange, as_utc
from slotwise.engine.zones import local_date, local_midnight, zone

__all__ = [
    "Direction",
    "Limit",
    "Period",
    "SequenceRule",
    "limit_exclusions",
    "notice_exclusions",
    "period_of",
    "sequence_exclusions",
]

_TICK = timedelta.resolution
_DAY = timedelta(days=1)


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"


class Direction(StrEnum):
    """Where the other service's booking may not be: ``after`` — this service cannot follow
    it; ``before`` — this service cannot precede it; ``either`` — neither."""

    AFTER = "after"
    BEFORE = "before"
    EITHER = "either"

    def flipped(self) -> Direction:
        return {Direction.AFTER: Direction.BEFORE, Direction.BEFORE: Direction.AFTER}.get(
            self, Direction.EITHER
        )


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``maximum`` bookings starting in one ``period`` of the zone ``zone_name``;
    ``scope`` says whose limit it is (shown by ``explain``)."""

    maximum: int
    period: Period
    zone_name: str
    scope: str = ""

    def __post_init__(self) -> None:
        if self.maximum < 1:
            raise ValueError("a limit must allow at least one booking")
        zone(self.zone_name)


@dataclass(frozen=True, slots=True)
class SequenceRule:
    """The service being booked may not come within ``gap`` of a booking of another service,
    on a resource they share, in ``direction``."""

    gap: timedelta
    direction: Direction = Direction.EITHER

    def __post_init__(self) -> None:
        if self.gap <= timedelta(0):
            raise ValueError("a sequence rule needs a positive gap")


def period_of(instant: datetime, period: Period, zone_name: str) -> TimeRange:
    """The local day or Monday-based week of ``zone_name`` that holds ``instant`` (UTC)."""
    tz = zone(zone_name)
    first = local_date(as_utc(instant), tz)
    if period is Period.WEEK:
        first -= timedelta(days=first.weekday())
    last = first + (_DAY if period is Period.DAY else timedelta(days=7))
    return TimeRange(local_midnight(first, tz), local_midnight(last, tz))


def limit_exclusions(limit: Limit, counted: Iterable[datetime]) -> list[Busy]:
    """The periods that already hold ``limit.maximum`` of the ``counted`` starts, as forbidden
    start ranges. The caller counts every booking and live hold in each period it asks about
    (each group session once)."""
    tz = zone(limit.zone_name)
    firsts: Counter[date] = Counter()
    for instant in counted:
        first = local_date(as_utc(instant), tz)
        if limit.period is Period.WEEK:
            first -= timedelta(days=first.weekday())
        firsts[first] += 1
    label = f"{limit.scope} {limit.period.value} limit {limit.maximum}".strip()
    full = sorted(first for first, n in firsts.items() if n >= limit.maximum)
    length = _DAY if limit.period is Period.DAY else timedelta(days=7)
    return [
        Busy(TimeRange(local_midnight(first, tz), local_midnight(first + length, tz)), "limit",
             label)
        for first in full
    ]


def sequence_exclusions(
    rule: SequenceRule, others: Iterable[Busy], duration: timedelta
) -> list[Busy]:
    """Starts ``t`` of a booking lasting ``duration`` that would come within ``rule.gap`` of
    one of ``others`` (the other service's booked ranges, unwidened): following it when
    ``t - other.end < gap``, preceding it when ``other.start - (t + duration) < gap``. The
    overlap between the two is forbidden as well (it is busy time anyway)."""
    out: list[Busy] = []
    for other in others:
        start, end = other.range.start, other.range.end
        lo = start - duration + _TICK  # the first start that overlaps it
        hi = end  # the first start after it
        if rule.direction in (Direction.BEFORE, Direction.EITHER):
            lo = start - rule.gap - duration + _TICK
        if rule.direction in (Direction.AFTER, Direction.EITHER):
            hi = end + rule.gap
        out.append(Busy(TimeRange(lo, hi), "rule", other.ref))
    return out


def notice_exclusions(
    now: datetime, min_notice: timedelta, max_advance: timedelta, span: TimeRange
) -> list[Busy]:
    """Starts in ``span`` earlier than ``now + min_notice`` (``notice``) or later than
    ``now + max_advance`` (``horizon``; that instant itself is still allowed). Each range
    reaches its bound even beyond ``span`` — a notice range ends at the earliest allowed
    start, a horizon range begins just after the latest — so ``explain`` can tell it."""
    out: list[Busy] = []
    earliest = now + min_notice
    latest = now + max_advance + _TICK
    if span.start < earliest:
        out.append(Busy(TimeRange(span.start, earliest), "notice"))
    if span.end > latest:
        out.append(Busy(TimeRange(latest, span.end), "horizon"))
    return out
