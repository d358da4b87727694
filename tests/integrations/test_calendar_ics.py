"""The iCalendar reader and renderer on their own (no server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from slotwise.domain.calendars import CalendarRejected, OutgoingEvent, export_uid
from slotwise.integrations.calendars.ics import parse_events, render_events

# US daylight saving time starts on Sunday 2027-03-14.
WINDOW = (datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC))


def calendar(*lines: str, header: tuple[str, ...] = ()) -> str:
    return "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN", *header,
                        *lines, "END:VCALENDAR", ""])


def vevent(uid: str, *props: str) -> list[str]:
    return ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20270101T000000Z", *props, "END:VEVENT"]


def test_a_weekly_series_in_new_york_keeps_9am_local_across_the_dst_change() -> None:
    text = calendar(*vevent("w", "DTSTART;TZID=America/New_York:20270308T090000",
                            "DTEND;TZID=America/New_York:20270308T093000",
                            "RRULE:FREQ=WEEKLY;COUNT=3"))

    events = parse_events(text, *WINDOW)

    assert [(e.key, e.start) for e in events] == [
        ("w#20270308T140000Z", datetime(2027, 3, 8, 14, 0, tzinfo=UTC)),  # EST
        ("w#20270315T130000Z", datetime(2027, 3, 15, 13, 0, tzinfo=UTC)),  # EDT
        ("w#20270322T130000Z", datetime(2027, 3, 22, 13, 0, tzinfo=UTC)),
    ]
    assert all(e.end - e.start == timedelta(minutes=30) for e in events)


def test_all_day_and_floating_times_are_read_in_the_calendars_zone() -> None:
    lines = [*vevent("day", "DTSTART;VALUE=DATE:20270315"),  # no DTEND: one day
             *vevent("float", "DTSTART:20270316T090000", "DURATION:PT1H")]

    in_default = {e.key: e for e in parse_events(calendar(*lines), *WINDOW,
                                                 default_zone="America/New_York")}
    in_named = {e.key: e for e in parse_events(
        calendar(*lines, header=("X-WR-TIMEZONE:Europe/Berlin",)), *WINDOW,
        default_zone="America/New_York")}

    day = in_default["day"]
    assert day.all_day
    assert (day.start, day.end) == (datetime(2027, 3, 15, 4, tzinfo=UTC),
                                    datetime(2027, 3, 16, 4, tzinfo=UTC))
    assert in_default["float"].start == datetime(2027, 3, 16, 13, tzinfo=UTC)
    assert in_named["day"].start == datetime(2027, 3, 14, 23, tzinfo=UTC)
    assert in_named["float"].start == datetime(2027, 3, 16, 8, tzinfo=UTC)


def test_only_events_overlapping_the_window_are_kept() -> None:
    text = calendar(*vevent("before", "DTSTART:20270228T230000Z", "DTEND:20270301T000000Z"),
                    *vevent("across", "DTSTART:20270331T230000Z", "DTEND:20270401T010000Z"),
                    *vevent("empty", "DTSTART:20270310T090000Z"))
    assert [e.key for e in parse_events(text, *WINDOW)] == ["across"]


def test_a_booking_property_marks_an_event_as_ours() -> None:
    text = calendar(*vevent("copied-by-a-client", "DTSTART:20270310T090000Z",
                            "DTEND:20270310T100000Z", "X-SLOTWISE-BOOKING:bk_9"),
                    *vevent(export_uid("bk_8"), "DTSTART:20270311T090000Z",
                            "DTEND:20270311T100000Z"),
                    *vevent("theirs", "DTSTART:20270312T090000Z", "DTEND:20270312T100000Z"))
    assert [e.ours for e in parse_events(text, *WINDOW)] == ["bk_9", "bk_8", None]


@pytest.mark.parametrize("text", [
    b"", b"not a calendar", b"<html><body>Please sign in</body></html>",
    calendar(*vevent("bad", "DTSTART:tomorrow", "DTEND:20270310T100000Z")),
    calendar(*vevent("bad", "DTSTART:20270310T090000Z", "RRULE:FREQ=SOMETIMES")),
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ana\r\nEND:VCARD\r\n",
], ids=["empty", "text", "html", "bad-date", "bad-rrule", "vcard"])
def test_malformed_input_is_rejected(text: str | bytes) -> None:
    with pytest.raises(CalendarRejected):
        parse_events(text, *WINDOW)


def test_rendered_bookings_read_back_as_ours() -> None:
    start = datetime(2027, 3, 10, 9, tzinfo=UTC)
    bookings = [
        OutgoingEvent(booking_id="bk_1", uid=export_uid("bk_1"), title="Check-up · Ana",
                      start=start, end=start + timedelta(minutes=45), timezone="Europe/Berlin",
                      sequence=2, description="Room 3", location="Hauptstraße 1"),
        OutgoingEvent(booking_id="bk_2", uid=export_uid("bk_2"), title="Pending",
                      start=start + timedelta(days=1), end=start + timedelta(days=1, hours=1),
                      timezone="Europe/Berlin", tentative=True),
    ]

    text = render_events(bookings, name="Dr. Ng", dtstamp=datetime(2027, 3, 1, tzinfo=UTC))

    assert text.count(b"BEGIN:VEVENT") == 2
    assert b"X-WR-CALNAME:Dr. Ng" in text
    assert b"STATUS:CONFIRMED" in text
    assert b"STATUS:TENTATIVE" in text
    assert b"SEQUENCE:2" in text
    assert b"DTSTAMP:20270301T000000Z" in text
    events = parse_events(text, *WINDOW)
    assert [(e.uid, e.ours, e.start, e.end, e.title) for e in events] == [
        (b.uid, b.booking_id, b.start, b.end, b.title) for b in bookings]


def test_the_same_bookings_render_the_same_bytes() -> None:
    start = datetime(2027, 3, 10, 9, tzinfo=UTC)
    event = OutgoingEvent(booking_id="bk_1", uid=export_uid("bk_1"), title="x", start=start,
                          end=start + timedelta(hours=1), timezone="UTC")
    stamp = datetime(2027, 3, 1, tzinfo=UTC)
    assert render_events([event], name="n", dtstamp=stamp) == render_events(
        [event], name="n", dtstamp=stamp)
