"""The public pages' calendar arithmetic: which zone a visitor sees, the month grid and the
local-day windows the searches use. Pure functions; the router does the reading."""

from __future__ import annotations

import calendar
import functools
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

from babel.dates import format_date, get_day_names

from slotwise.engine.availability import Slot
from slotwise.web import i18n

# Offered in the zone select besides the visitor's own and the organisation's zone.
COMMON_ZONES = (
    "Pacific/Honolulu", "America/Anchorage", "America/Los_Angeles", "America/Denver",
    "America/Phoenix", "America/Chicago", "America/New_York", "America/Halifax",
    "America/Sao_Paulo", "America/Mexico_City", "America/Toronto", "UTC", "Europe/London",
    "Europe/Dublin", "Europe/Lisbon", "Europe/Paris", "Europe/Berlin", "Europe/Zurich",
    "Europe/Madrid", "Europe/Rome", "Europe/Amsterdam", "Europe/Stockholm", "Europe/Warsaw",
    "Europe/Athens", "Europe/Helsinki", "Europe/Istanbul", "Europe/Moscow", "Africa/Cairo",
    "Africa/Johannesburg", "Africa/Lagos", "Asia/Dubai", "Asia/Kolkata", "Asia/Bangkok",
    "Asia/Singapore", "Asia/Shanghai", "Asia/Tokyo", "Asia/Seoul", "Australia/Perth",
    "Australia/Sydney", "Pacific/Auckland",
)


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def valid_zone(wanted: str | None, fallback: str) -> str:
    """`wanted` when it is an IANA zone, else `fallback`."""
    return wanted if wanted and wanted in _zones() else fallback


def zone_choices(*also: str) -> list[str]:
    return sorted({*COMMON_ZONES, *also})


def parse_day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def parse_month(text: str | None) -> date | None:
    """The first of the month `YYYY-MM`, or None."""
    try:
        return datetime.strptime(text, "%Y-%m").date() if text else None
    except ValueError:
        return None


def add_months(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def local_midnight(day: date, zone: str) -> datetime:
    """The instant the local date begins (a zone whose midnight is skipped begins it later:
    wall times are resolved forward, as zoneinfo does with fold=0)."""
    return datetime.combine(day, time(), ZoneInfo(zone))


def day_window(day: date, zone: str) -> tuple[datetime, datetime]:
    """[start of `day`, start of the next day) in `zone`: 23, 24 or 25 hours."""
    return local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone)


def by_local_day(slots: list[Slot], zone: str) -> dict[date, list[Slot]]:
    days: dict[date, list[Slot]] = {}
    for slot in slots:
        days.setdefault(slot.start.astimezone(ZoneInfo(zone)).date(), []).append(slot)
    return days


@dataclass(frozen=True)
class MonthView:
    first: date
    label: str
    weekdays: list[tuple[str, str]]  # (abbreviation, full name), in the locale's order
    weeks: list[list[date | None]]  # None pads the first and last weeks

    @property
    def prev(self) -> date:
        return add_months(self.first, -1)

    @property
    def next(self) -> date:
        return add_months(self.first, 1)


def month_view(first: date, locale: str) -> MonthView:
    where = i18n.babel_locale(locale)
    start_day = where.first_week_day  # 0 = Monday
    grid = calendar.Calendar(firstweekday=start_day).monthdayscalendar(first.year, first.month)
    order = [(start_day + i) % 7 for i in range(7)]
    short = get_day_names("abbreviated", locale=where)
    full = get_day_names("wide", locale=where)
    return MonthView(
        first=first, label=format_date(first, "LLLL y", locale=where),
        weekdays=[(short[d], full[d]) for d in order],
        weeks=[[date(first.year, first.month, n) if n else None for n in week]
               for week in grid])
