"""IANA zones and the conversion of local wall times to UTC instants.

Wall times that do not exist (a spring-forward gap) or exist twice (a fall-back fold) resolve
like RFC 5545 §3.3.5 and JavaScript Temporal's ``compatible`` disambiguation: a time in a gap
takes the UTC offset from before the gap (so it moves forward by the gap's length, 02:30 -> 03:30
on a US spring-forward day) and a time in a fold takes the earlier of its two instants. That is
exactly what ``zoneinfo`` does for ``fold=0``, which is why every conversion here sets it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

__all__ = [
    "UnknownZone",
    "is_zone",
    "local_date",
    "local_exists",
    "local_midnight",
    "local_to_utc",
    "wall_to_utc",
    "zone",
]

MINUTES_PER_DAY = 1440
_ONE_DAY = timedelta(days=1)

# Areas of the tz database that are not places: fixed offsets (Etc/GMT+5), the compiled
# variants some systems ship (posix/, right/) and System V leftovers.
_NOT_PLACES = frozenset({"Etc", "posix", "right", "SystemV"})
_UTC_NAMES = frozenset({"UTC", "Etc/UTC"})


class UnknownZone(ValueError):
    """The name is not an IANA zone name this engine accepts."""


@cache
def _zone_names() -> frozenset[str]:
    # Only Area/Location names (and UTC): the POSIX-style legacy names ("EST5EDT", "MST"),
    # country aliases without an area ("Japan", "GB") and fixed offsets are refused, because
    # a schedule must follow a place's rules, never a fixed offset.
    names = {
        name
        for name in available_timezones()
        if "/" in name and name.split("/", 1)[0] not in _NOT_PLACES
    }
    return frozenset(names | _UTC_NAMES)


def accepted_zones() -> list[str]:
    """Every name `is_zone` accepts, sorted (what a zone picker offers)."""
    return sorted(_zone_names())


def is_zone(name: str) -> bool:
    """True when ``name`` is an accepted IANA zone name (Area/Location, or ``UTC``)."""
    return isinstance(name, str) and name in _zone_names()


def zone(name: str) -> ZoneInfo:
    """The ZoneInfo for an IANA Area/Location name or ``UTC``; UnknownZone for anything else
    (fixed offsets such as ``+05:00``, POSIX names such as ``EST5EDT``, the empty string)."""
    if not is_zone(name):
        raise UnknownZone(f"unknown time zone {name!r}: use an IANA name such as 'Europe/Paris'")
    return ZoneInfo(name)


def wall_to_utc(naive: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of the naive wall time ``naive`` in ``tz`` (gap: offset from before the
    gap; fold: the earlier instant)."""
    if naive.tzinfo is not None:
        raise ValueError(f"expected a naive wall time, got {naive.isoformat()}")
    return naive.replace(tzinfo=tz, fold=0).astimezone(UTC)


def local_to_utc(day: date, minute_of_day: int, tz: ZoneInfo) -> datetime:
    """The UTC instant of ``minute_of_day`` (0..1440, 1440 = the next day's midnight) on the
    local date ``day`` in ``tz``, resolved as ``wall_to_utc`` does."""
    if not 0 <= minute_of_day <= MINUTES_PER_DAY:
        raise ValueError(f"minute_of_day must be in 0..1440, got {minute_of_day}")
    if minute_of_day == MINUTES_PER_DAY:
        day, minute_of_day = day + _ONE_DAY, 0
    hour, minute = divmod(minute_of_day, 60)
    # wall_to_utc of that wall time, built in one step: schedule expansion calls this per
    # open and close of every day.
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz).astimezone(UTC)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant at which the local date ``day`` begins in ``tz`` (a midnight inside a
    gap resolves forward, as every wall time does)."""
    return local_to_utc(day, 0, tz)


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    """The local calendar date in ``tz`` of the aware instant ``instant``."""
    if instant.tzinfo is None:
        raise ValueError(f"expected an aware instant, got {instant.isoformat()}")
    return instant.astimezone(tz).date()


def local_exists(naive: datetime, tz: ZoneInfo) -> bool:
    """False when the naive wall time lies in a gap of ``tz`` (it never shows on a clock);
    True otherwise, folds included."""
    if naive.tzinfo is not None:
        raise ValueError(f"expected a naive wall time, got {naive.isoformat()}")
    wall = naive.replace(fold=0)
    back = wall_to_utc(wall, tz).astimezone(tz).replace(tzinfo=None)
    return back == wall
