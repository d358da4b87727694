"""RFC 5545 recurrence rules expanded on local wall times in an IANA zone.

The rule is expanded by python-dateutil on *naive wall times* in the zone, so a weekly 09:00
stays 09:00 local across DST. Then, as RFC 5545 requires:

- a generated wall time that does not exist (a spring-forward gap) is skipped and not counted
  towards COUNT (``Expansion.skipped`` lists it); a DTSTART in a gap is the exception: it moves
  forward like every wall time (``zones.wall_to_utc``) and counts;
- a wall time in a fold takes the earlier instant;
- DTSTART is the first instance only when the rule generates it (dateutil's reading);
- UNTIL must be a UTC date-time (DTSTART carries a zone) and bounds the instances' UTC instants,
  inclusively; COUNT together with UNTIL is an error;
- EXDATE removes instances after COUNT has been applied.
"""

from __future__ import annotations

import datetime as datetime_module
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import MAXYEAR, UTC, datetime
from types import FunctionType, ModuleType
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from slotwise.engine.intervals import TimeRange, as_utc
from slotwise.engine.zones import UnknownZone, local_exists, wall_to_utc, zone

__all__ = ["Expansion", "Occurrence", "RecurrenceError", "expand"]

# The Gregorian calendar repeats every 400 years: a rule that yields nothing in that long
# yields nothing ever. Scanning no further keeps an impossible rule (FREQ=DAILY with
# BYMONTH=2;BYMONTHDAY=30) cheap instead of running to the year 9999.
_SCAN_YEARS = 400
# Wall times looked at before the answer is complete; beyond it the request is refused rather
# than answered slowly (a minutely rule previewed years ahead).
_MAX_SCANNED = 200_000

_FREQS = ("SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY")
_WEEKDAY = r"(?:MO|TU|WE|TH|FR|SA|SU)"
_NUMBER_LISTS: dict[str, tuple[int, int, bool]] = {
    # part: (smallest, largest, negative values allowed)
    "BYSECOND": (0, 59, False),
    "BYMINUTE": (0, 59, False),
    "BYHOUR": (0, 23, False),
    "BYMONTHDAY": (1, 31, True),
    "BYYEARDAY": (1, 366, True),
    "BYWEEKNO": (1, 53, True),
    "BYMONTH": (1, 12, False),
    "BYSETPOS": (1, 366, True),
}
_PARTS = frozenset({"FREQ", "UNTIL", "COUNT", "INTERVAL", "BYDAY", "WKST", *_NUMBER_LISTS})
# RFC 5545 §3.3.10: where a part MUST NOT appear.
_NOT_WITH = {
    "BYMONTHDAY": ("WEEKLY",),
    "BYYEARDAY": ("DAILY", "WEEKLY", "MONTHLY"),
    "BYWEEKNO": ("SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY"),
}


class RecurrenceError(ValueError):
    """The rule, its DTSTART, zone or bounds cannot be expanded; the message says why."""


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One instance: its UTC instant and the naive wall time it shows in the rule's zone."""

    start: datetime
    local: datetime


@dataclass(frozen=True, slots=True)
class Expansion:
    """The instances (UTC ascending) and the generated wall times skipped for not existing."""

    occurrences: tuple[Occurrence, ...]
    skipped: tuple[datetime, ...]


@dataclass(frozen=True, slots=True)
class _Rule:
    body: str  # the rule without COUNT and UNTIL, for dateutil
    count: int | None
    until: datetime | None  # UTC


def expand(
    rrule: str,
    dtstart: datetime,
    zone: str,
    exdates: Sequence[datetime] = (),
    window: TimeRange | None = None,
    limit: int = 500,
    require_end: bool = False,
) -> Expansion:
    """Expand ``rrule`` ("FREQ=..." or "RRULE:FREQ=...") from ``dtstart`` in ``zone``.

    ``dtstart`` and ``exdates`` are wall times in ``zone`` (an aware value is first converted
    to its wall time there; an exdate that is aware keeps its exact instant). ``window`` keeps
    instances starting in ``[window.start, window.end)``; ``limit`` keeps the first ``limit``.
    ``require_end`` refuses a rule with neither COUNT nor UNTIL. Every problem with the input
    is a RecurrenceError, never another exception.
    """
    tz = _zone(zone)
    if limit < 1:
        raise RecurrenceError(f"limit must be at least 1, got {limit}")
    rule = _parse(rrule)
    if require_end and rule.count is None and rule.until is None:
        raise RecurrenceError("the rule must end: give it COUNT or UNTIL")
    if not isinstance(dtstart, datetime) or not all(isinstance(x, datetime) for x in exdates):
        raise RecurrenceError("dtstart and exdates must be date-times")
    try:
        first_wall = _wall(dtstart, tz).replace(microsecond=0)
        excluded = {_exdate_instant(x, tz) for x in exdates}
        return _collect(rule, first_wall, tz, excluded, window, limit)
    except OverflowError as exc:
        raise RecurrenceError("the series reaches beyond the representable dates") from exc


def _collect(
    rule: _Rule,
    first_wall: datetime,
    tz: ZoneInfo,
    excluded: set[datetime],
    window: TimeRange | None,
    limit: int,
) -> Expansion:
    occurrences: list[Occurrence] = []
    skipped: list[datetime] = []
    seen: set[datetime] = set()
    counted = 0
    for scanned, wall in enumerate(_walls(rule.body, first_wall), start=1):
        if scanned > _MAX_SCANNED:
            raise RecurrenceError(
                f"the rule generates more than {_MAX_SCANNED} instances before the answer is "
                "complete; narrow the window or lower the frequency"
            )
        instant = wall_to_utc(wall, tz)
        is_first = wall == first_wall
        if not is_first and not local_exists(wall, tz):
            if (rule.until is None or instant <= rule.until) and _inside(instant, window):
                skipped.append(wall)
            continue
        # Wall times ascend and so do their instants, except that a DTSTART moved forward out
        # of a gap may pass later instances of the same hour: it never ends the scan.
        if rule.until is not None and instant > rule.until:
            if is_first:
                continue
            break
        if window is not None and instant >= window.end and not is_first:
            break
        if instant in seen:
            continue
        seen.add(instant)
        counted += 1
        if instant not in excluded and _inside(instant, window):
            local = instant.astimezone(tz).replace(tzinfo=None)
            occurrences.append(Occurrence(start=instant, local=local))
            if len(occurrences) >= limit:
                break
        if rule.count is not None and counted >= rule.count:
            break
    occurrences.sort(key=lambda o: o.start)
    return Expansion(occurrences=tuple(occurrences), skipped=tuple(skipped))


def _zone(name: str) -> ZoneInfo:
    try:
        return zone(name)
    except UnknownZone as exc:
        raise RecurrenceError(str(exc)) from exc


def _inside(instant: datetime, window: TimeRange | None) -> bool:
    return window is None or window.start <= instant < window.end


def _wall(value: datetime, tz: ZoneInfo) -> datetime:
    if value.tzinfo is None:
        return value
    return value.astimezone(tz).replace(tzinfo=None)


def _exdate_instant(value: datetime, tz: ZoneInfo) -> datetime:
    if value.tzinfo is None:
        return wall_to_utc(value.replace(microsecond=0), tz)
    return as_utc(value)


def _parse(text: str) -> _Rule:
    if not isinstance(text, str):
        raise RecurrenceError("the rule must be a string such as 'FREQ=WEEKLY;COUNT=5'")
    body = text.strip()
    if body[:6].upper() == "RRULE:":
        body = body[6:]
    if any(c in body for c in "\r\n:"):
        raise RecurrenceError("give one RRULE value such as 'FREQ=WEEKLY;COUNT=5'")
    parts: dict[str, str] = {}
    for item in body.split(";"):
        if not item.strip():
            continue  # a stray or trailing ';' is harmless
        name, sep, value = (s.strip().upper() for s in item.partition("="))
        if not sep or not name or not value:
            raise RecurrenceError(f"malformed rule part {item!r}: expected NAME=VALUE")
        if name not in _PARTS:
            raise RecurrenceError(f"unknown rule part {name!r}")
        if name in parts:
            raise RecurrenceError(f"rule part {name} appears twice")
        parts[name] = value
    freq = parts.get("FREQ")
    if freq is None:
        raise RecurrenceError("the rule needs FREQ")
    if freq not in _FREQS:
        raise RecurrenceError(f"FREQ must be one of {', '.join(_FREQS)}, got {freq!r}")
    if "COUNT" in parts and "UNTIL" in parts:
        raise RecurrenceError("COUNT and UNTIL cannot both be given (RFC 5545 §3.3.10)")
    _check_parts(parts, freq)
    count = _positive(parts.pop("COUNT"), "COUNT") if "COUNT" in parts else None
    until = _until(parts.pop("UNTIL")) if "UNTIL" in parts else None
    return _Rule(";".join(f"{k}={v}" for k, v in parts.items()), count, until)


def _check_parts(parts: dict[str, str], freq: str) -> None:
    if "INTERVAL" in parts:
        _positive(parts["INTERVAL"], "INTERVAL")
    for name, forbidden in _NOT_WITH.items():
        if name in parts and freq in forbidden:
            raise RecurrenceError(f"{name} cannot be used with FREQ={freq}")
    for name, (low, high, negative) in _NUMBER_LISTS.items():
        if name in parts:
            for item in parts[name].split(","):
                if not re.fullmatch(r"[+-]?[0-9]{1,3}", item):
                    raise RecurrenceError(f"{name} takes numbers, got {item!r}")
                number = int(item)
                if not (low <= number <= high or (negative and -high <= number <= -max(low, 1))):
                    raise RecurrenceError(f"{name} value {item} is out of range")
    if "BYDAY" in parts:
        for item in parts["BYDAY"].split(","):
            found = re.fullmatch(rf"([+-]?)([0-9]{{1,2}})?({_WEEKDAY})", item)
            if found is None:
                raise RecurrenceError(f"BYDAY takes weekdays such as MO or 1MO, got {item!r}")
            if found.group(2) is not None:
                if freq not in ("MONTHLY", "YEARLY") or "BYWEEKNO" in parts:
                    raise RecurrenceError(
                        f"BYDAY {item} has an ordinal, allowed only with FREQ=MONTHLY or "
                        "FREQ=YEARLY without BYWEEKNO"
                    )
                limit = 5 if freq == "MONTHLY" or "BYMONTH" in parts else 53
                if not 1 <= int(found.group(2)) <= limit:
                    raise RecurrenceError(f"BYDAY {item}: the ordinal is out of range")
    if "WKST" in parts and not re.fullmatch(_WEEKDAY, parts["WKST"]):
        raise RecurrenceError(f"WKST must be a weekday such as MO, got {parts['WKST']!r}")


def _positive(value: str, name: str) -> int:
    if not re.fullmatch(r"[0-9]{1,9}", value) or int(value) < 1:
        raise RecurrenceError(f"{name} must be a positive whole number, got {value!r}")
    return int(value)


def _until(value: str) -> datetime:
    if not re.fullmatch(r"[0-9]{8}T[0-9]{6}Z", value):
        if re.fullmatch(r"[0-9]{8}(T[0-9]{6})?", value):
            raise RecurrenceError(
                f"UNTIL {value} must be a UTC date-time such as 20270401T000000Z: "
                "DTSTART has a time zone (RFC 5545 §3.3.10)"
            )
        raise RecurrenceError(f"UNTIL must look like 20270401T000000Z, got {value!r}")
    try:
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise RecurrenceError(f"UNTIL {value} is not a valid date-time") from exc


def _walls(body: str, first: datetime) -> Iterator[datetime]:
    """The naive wall times dateutil generates, up to _SCAN_YEARS after ``first``."""
    try:
        rule = rrulestr(body, dtstart=first)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        raise RecurrenceError(f"malformed rule: {exc}") from exc
    if not isinstance(rule, rrule):
        raise RecurrenceError("give exactly one RRULE")
    last_year = min(first.year + _SCAN_YEARS, MAXYEAR)
    walls = _bounded(rule, last_year)
    while True:
        try:
            wall = next(walls)
        except StopIteration:
            return
        except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
            raise RecurrenceError(f"malformed rule: {exc}") from exc
        if wall.year > last_year:
            return
        yield wall


class _DatetimeWithMaxYear:
    """Stands in for the ``datetime`` module inside dateutil's rule iterator, with a lower
    ``MAXYEAR``."""

    def __init__(self, maxyear: int) -> None:
        self.MAXYEAR = maxyear

    def __getattr__(self, name: str) -> Any:
        return getattr(datetime_module, name)


def _bounded(rule: rrule, last_year: int) -> Iterator[datetime]:
    # dateutil scans period after period until a candidate passes its filters; for a rule
    # whose filters nothing passes it only stops at datetime.MAXYEAR, which takes seconds.
    # Its iterator reads that bound from the module global `datetime`, so run the same code
    # with that one name pointing at a bounded stand-in. Should dateutil's internals change
    # shape, fall back to the plain iterator (correct, only slower on such rules).
    method = getattr(type(rule), "_iter", None)
    code = getattr(method, "__code__", None)
    scope = getattr(method, "__globals__", None)
    if (
        code is None
        or code.co_freevars
        or not isinstance(scope, dict)
        or not isinstance(scope.get("datetime"), ModuleType)
    ):
        return iter(rule)
    bounded_scope = {**scope, "datetime": _DatetimeWithMaxYear(last_year)}
    bounded = FunctionType(code, bounded_scope, "_iter")
    result: Iterator[datetime] = bounded(rule)
    return result
