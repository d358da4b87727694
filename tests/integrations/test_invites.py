"""iTIP invitations: what a calendar client needs to file, move and remove the booking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Event

from slotwise.domain.notifications import MessageKind
from slotwise.integrations.invites import PRODID, build_invite, invite_uid
from slotwise.integrations.messages import render_email

DTSTAMP = datetime(2027, 2, 1, 9, 30, tzinfo=UTC)


def parse(ical: bytes) -> tuple[Calendar, Event]:
    calendar = Calendar.from_ical(ical)
    events = [c for c in calendar.walk() if c.name == "VEVENT"]
    assert len(events) == 1
    return calendar, events[0]


def test_a_request_carries_what_rfc_5546_requires(make_details):
    details = make_details(meeting_url="https://meet.example/abc")
    ical = build_invite(details, "REQUEST", invite_uid(details.booking_id), 0, DTSTAMP)
    calendar, event = parse(ical)

    assert calendar["METHOD"] == "REQUEST"
    assert calendar["VERSION"] == "2.0"
    assert calendar["PRODID"] == PRODID
    assert str(event["UID"]) == "bk_0123456789abcdef01234567@slotwise"
    assert event["SEQUENCE"] == 0
    assert event.decoded("DTSTAMP") == DTSTAMP
    assert event.decoded("DTSTART") == datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
    assert event.decoded("DTEND") == datetime(2027, 3, 1, 12, 45, tzinfo=UTC)
    assert str(event["SUMMARY"]) == "Check-up – Acme Dental"
    assert str(event["LOCATION"]) == "Hauptstraße 1, Berlin"
    assert str(event["URL"]) == "https://meet.example/abc"
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["ORGANIZER"]) == "mailto:hello@acme.example"
    assert event["ORGANIZER"].params["CN"] == "Acme Dental"
    attendee = event["ATTENDEE"]
    assert str(attendee) == "mailto:ana@example.com"
    assert attendee.params["CN"] == "Ana Müller"
    assert attendee.params["RSVP"] == "TRUE"
    assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"
    assert "https://book.example/m/tok" in str(event["DESCRIPTION"])


def test_instants_are_written_in_utc_without_a_vtimezone(make_details):
    berlin = ZoneInfo("Europe/Berlin")
    details = make_details(start=datetime(2027, 3, 1, 13, 0, tzinfo=berlin),
                           end=datetime(2027, 3, 1, 13, 45, tzinfo=berlin))
    ical = build_invite(details, "REQUEST", "u@slotwise", 0, DTSTAMP)

    assert b"\r\nDTSTART:20270301T120000Z\r\n" in ical
    assert b"\r\nDTEND:20270301T124500Z\r\n" in ical
    assert b"VTIMEZONE" not in ical


def test_lines_are_crlf_terminated_and_folded_at_75_octets(make_details):
    details = make_details(manage_url="https://book.example/m/" + "x" * 200)
    ical = build_invite(details, "REQUEST", "u@slotwise", 0, DTSTAMP)

    assert ical.endswith(b"\r\n")
    lines = ical.split(b"\r\n")[:-1]
    assert all(b"\n" not in line for line in lines)
    assert max(len(line) for line in lines) <= 75


def test_the_uid_stays_while_the_sequence_rises_from_request_to_cancel(make_details):
    booked = make_details(sequence=0)
    moved = make_details(sequence=1, start=booked.start + timedelta(days=1),
                         end=booked.end + timedelta(days=1))
    cancelled = make_details(sequence=2, start=moved.start, end=moved.end)
    uid = invite_uid(booked.booking_id)

    messages = [
        parse(build_invite(booked, "REQUEST", uid, booked.sequence, DTSTAMP)),
        parse(build_invite(moved, "REQUEST", uid, moved.sequence, DTSTAMP + timedelta(hours=1))),
        parse(build_invite(cancelled, "CANCEL", uid, cancelled.sequence,
                           DTSTAMP + timedelta(hours=2))),
    ]

    assert [str(event["UID"]) for _, event in messages] == [uid] * 3
    assert [event["SEQUENCE"] for _, event in messages] == [0, 1, 2]
    assert [str(calendar["METHOD"]) for calendar, _ in messages] == ["REQUEST", "REQUEST",
                                                                     "CANCEL"]
    assert messages[1][1].decoded("DTSTART") == datetime(2027, 3, 2, 12, 0, tzinfo=UTC)
    _, cancel = messages[2]
    assert str(cancel["STATUS"]) == "CANCELLED"
    # A CANCEL names the attendees it removes the event for (RFC 5546 3.2.5).
    assert str(cancel["ATTENDEE"]) == "mailto:ana@example.com"
    assert str(cancel["ORGANIZER"]) == "mailto:hello@acme.example"


def test_rendered_messages_carry_the_booking_sequence_under_one_uid(make_details):
    confirmation = render_email(MessageKind.CONFIRMATION, make_details(sequence=0), now=DTSTAMP)
    reschedule = render_email(MessageKind.RESCHEDULE, make_details(sequence=1), now=DTSTAMP)
    cancellation = render_email(MessageKind.CANCELLATION, make_details(sequence=2),
                                now=DTSTAMP)

    parsed = [parse(email.attachments[0].content) for email in
              (confirmation, reschedule, cancellation)]
    assert {str(event["UID"]) for _, event in parsed} == {"bk_0123456789abcdef01234567@slotwise"}
    assert [(str(c["METHOD"]), e["SEQUENCE"]) for c, e in parsed] == [
        ("REQUEST", 0), ("REQUEST", 1), ("CANCEL", 2)]


def test_names_with_quotes_and_line_breaks_still_parse(make_details):
    details = make_details(customer_name='Ana "Nana"\nMüller', org_name="Acme; Dental, GmbH")
    _, event = parse(build_invite(details, "REQUEST", "u@slotwise", 0, DTSTAMP))

    assert event["ATTENDEE"].params["CN"] == "Ana 'Nana' Müller"
    assert event["ORGANIZER"].params["CN"] == "Acme; Dental, GmbH"


def test_an_online_booking_without_a_place_is_located_at_its_link(make_details):
    details = make_details(location_name=None, meeting_url="https://meet.example/abc")
    _, event = parse(build_invite(details, "REQUEST", "u@slotwise", 0, DTSTAMP))

    assert str(event["LOCATION"]) == "https://meet.example/abc"


@pytest.mark.parametrize(("method", "sequence", "dtstamp", "error"), [
    ("PUBLISH", 0, DTSTAMP, "unsupported iTIP method"),
    ("REQUEST", -1, DTSTAMP, "sequence must not be negative"),
    ("REQUEST", 0, datetime(2027, 2, 1, 9, 30), "dtstamp must be an aware datetime"),
])
def test_bad_arguments_are_refused(make_details, method, sequence, dtstamp, error):
    with pytest.raises(ValueError, match=error):
        build_invite(make_details(), method, "u@slotwise", sequence, dtstamp)
