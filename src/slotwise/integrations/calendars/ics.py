"""iCalendar (RFC 5545) text to `ExternalEvent`s, and bookings to iCalendar text.

Reading (`parse_events`, or `load` then `events_in`): every VEVENT instance overlapping the
window [start, end), recurring series expanded by recurring-ical-events (RRULE, RDATE, EXDATE,
RECURRENCE-ID overrides). Times are turned into UTC instants:

- DATE values (all-day) span their dates in the calendar's zone: `X-WR-TIMEZONE`, else the
  `default_zone` given, else UTC; floating times are read in that zone too.
- An event of a series (it has RRULE/RDATE, or some VEVENT of its UID has RECURRENCE-ID) is
  keyed `UID#<recurrence-id>` (`20270301T080000Z` for a time, `20270301` for a date); a
  single event by its UID (see `slotwise.domain.calendars`).
- Not busy: `TRANSP:TRANSPARENT`, `STATUS:CANCELLED`, and events where the ATTENDEE with the
  account's own e-mail has `PARTSTAT=DECLINED`.
- `ours`: the booking id of our exported UID (`booking_of_uid`) or of `X-SLOTWISE-BOOKING`.

Events without a length (a DTSTART time and no DTEND or DURATION) occupy no time and are left
out. Text that is not a calendar raises `CalendarRejected`.

Writing (`render_events`): one VEVENT per booking, instants in UTC (no VTIMEZONE needed), for a
CalDAV object (one event) and for a resource's private feed (all of them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import recurring_ical_events
from icalendar import Calendar, Component, Event

from slotwise.domain.calendars import (
    CalendarRejected,
    ExternalEvent,
    OutgoingEvent,
    booking_of_uid,
)
from slotwise.integrations.invites import PRODID

BOOKING_PROPERTY = "X-SLOTWISE-BOOKING"
# Floating and all-day times may sit up to ~14 h either side of UTC: the library's window is
# widened by a day, and what it returns is cut to the exact window once in UTC.
ZONE_SLACK = timedelta(days=1)


def load(data: str | bytes) -> Calendar:
    """The VCALENDAR in `data`; `CalendarRejected` when it is not one."""
    try:
        calendar = Calendar.from_ical(data)
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise CalendarRejected(f"not an iCalendar text: {exc}") from exc
    if not isinstance(calendar, Calendar) or calendar.name != "VCALENDAR":
        raise CalendarRejected("not a VCALENDAR")
    return calendar


def uids_of(calendar: Calendar) -> set[str]:
    """The UIDs of the calendar's VEVENTs, whether or not they fall in any window."""
    return {str(event["UID"]) for event in calendar.walk("VEVENT") if event.get("UID")}


def calendar_zone(calendar: Calendar, default_zone: str | None = None) -> tzinfo:
    """The zone of all-day and floating times: `X-WR-TIMEZONE`, `default_zone`, or UTC."""
    for name in (calendar.get("X-WR-TIMEZONE"), default_zone):
        if name:
            try:
                return ZoneInfo(str(name))
            except (ZoneInfoNotFoundError, ValueError):
                continue  # an unknown zone name: the next candidate, as clients do
    return UTC


def parse_events(data: str | bytes, start: datetime, end: datetime, *,
                 default_zone: str | None = None, own_email: str | None = None
                 ) -> list[ExternalEvent]:
    """`events_in(load(data), ...)`."""
    return events_in(load(data), start, end, default_zone=default_zone, own_email=own_email)


def events_in(calendar: Calendar, start: datetime, end: datetime, *,
              default_zone: str | None = None, own_email: str | None = None
              ) -> list[ExternalEvent]:
    """Every event instance overlapping [start, end) (UTC in, UTC out), sorted by start."""
    zone = calendar_zone(calendar, default_zone)
    series = _series_uids(calendar.walk("VEVENT"))
    try:
        occurrences = list(recurring_ical_events.of(calendar, components=["VEVENT"]).between(
            start - ZONE_SLACK, end + ZONE_SLACK))
        events = [_event(o, zone, series, own_email) for o in occurrences]
    except CalendarRejected:
        raise
    except Exception as exc:  # the library's errors have no common base: all are bad input
        raise CalendarRejected(f"unreadable calendar: {exc!r}") from exc
    kept = [e for e in events if e is not None and e.start < end and start < e.end]
    return sorted(kept, key=lambda e: (e.start, e.key))


def _series_uids(events: Iterable[Component]) -> set[str]:
    return {str(e["UID"]) for e in events
            if e.get("UID") and ("RRULE" in e or "RDATE" in e or "RECURRENCE-ID" in e)}


def _event(component: Component, zone: tzinfo, series: set[str], own_email: str | None
           ) -> ExternalEvent | None:
    uid = component.get("UID")
    if not uid or "DTSTART" not in component:
        raise CalendarRejected("a VEVENT without UID or DTSTART")
    uid = str(uid)
    raw_start = _when(component, "DTSTART")
    raw_end = _when(component, "DTEND")
    if raw_start is None:
        raise CalendarRejected(f"event {uid!r} has a DTSTART that is not a date or time")
    start_utc = _instant(raw_start, zone)
    end_utc = _instant(raw_end, zone) if raw_end is not None else None
    all_day = not isinstance(raw_start, datetime)
    if end_utc is None:
        end_utc = _instant(raw_start + timedelta(days=1), zone) if all_day else start_utc
    if end_utc <= start_utc:
        return None
    key = uid
    if uid in series:
        recurrence_id = _when(component, "RECURRENCE-ID")
        key = f"{uid}#{_recurrence_id(recurrence_id, zone)}" if recurrence_id else uid
    booking = booking_of_uid(uid) or (str(component[BOOKING_PROPERTY]).strip()
                                      if BOOKING_PROPERTY in component else None)
    summary = component.get("SUMMARY")
    return ExternalEvent(key=key, uid=uid, start=start_utc, end=end_utc,
                         title=str(summary) if summary is not None else None,
                         busy=_is_busy(component, own_email), all_day=all_day,
                         ours=booking or None)


def _when(component: Component, name: str) -> date | datetime | None:
    """A DATE or DATE-TIME property's value (None when absent or of another type)."""
    if name not in component:
        return None
    value = component.decoded(name)
    return value if isinstance(value, date) else None


def _instant(value: date | datetime, zone: tzinfo) -> datetime:
    if not isinstance(value, datetime):
        return datetime.combine(value, time(), zone).astimezone(UTC)
    if value.tzinfo is None:
        return value.replace(tzinfo=zone).astimezone(UTC)
    return value.astimezone(UTC)


def _recurrence_id(value: date | datetime, zone: tzinfo) -> str:
    if not isinstance(value, datetime):
        return value.strftime("%Y%m%d")
    return _instant(value, zone).strftime("%Y%m%dT%H%M%SZ")


def _is_busy(component: Component, own_email: str | None) -> bool:
    if str(component.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
        return False
    if str(component.get("STATUS", "")).upper() == "CANCELLED":
        return False
    return not (own_email and _declined_by(component, own_email))


def _declined_by(component: Component, email: str) -> bool:
    attendees = component.get("ATTENDEE", [])
    if not isinstance(attendees, list):
        attendees = [attendees]
    for attendee in attendees:
        address = str(attendee).removeprefix("mailto:").removeprefix("MAILTO:")
        partstat = str(getattr(attendee, "params", {}).get("PARTSTAT", ""))
        if address.strip().lower() == email.strip().lower() and partstat.upper() == "DECLINED":
            return True
    return False


def render_events(events: Sequence[OutgoingEvent], *, name: str, dtstamp: datetime,
                  prodid: str = PRODID) -> bytes:
    """A VCALENDAR (CRLF, folded, UTF-8) with one VEVENT per booking, named `name`.

    `dtstamp` is when the data was last revised (RFC 5545 3.8.7.2); passing the latest change
    rather than now keeps the bytes, and so a feed's ETag, stable while nothing changes.
    """
    if dtstamp.utcoffset() is None:
        raise ValueError("dtstamp must be an aware datetime")
    calendar = Calendar()
    calendar.add("prodid", prodid)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    for outgoing in events:
        calendar.add_component(_vevent(outgoing, dtstamp.astimezone(UTC)))
    ical: bytes = calendar.to_ical()
    return ical


def _vevent(outgoing: OutgoingEvent, dtstamp: datetime) -> Event:
    event = Event()
    event.add("uid", outgoing.uid)
    event.add("dtstamp", dtstamp)
    event.add("sequence", outgoing.sequence)
    event.add("dtstart", outgoing.start)
    event.add("dtend", outgoing.end)
    event.add("summary", outgoing.title)
    if outgoing.description:
        event.add("description", outgoing.description)
    if outgoing.location:
        event.add("location", outgoing.location)
    event.add("status", "TENTATIVE" if outgoing.tentative else "CONFIRMED")
    event.add("transp", "OPAQUE")
    event.add(BOOKING_PROPERTY.lower(), outgoing.booking_id)
    return event
