"""iCalendar invitations (RFC 5545) sent as iTIP scheduling messages (RFC 5546, iMIP).

A calendar client files every message with the same UID as the same event and applies the one
with the highest SEQUENCE (then the latest DTSTAMP): a REQUEST with a higher SEQUENCE moves it,
a CANCEL removes it. So the UID must stay the same for the booking's whole life.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from icalendar import Calendar, Event, vCalAddress, vText

from slotwise.domain.notifications import BookingDetails

PRODID = "-//slotwise//slotwise booking//EN"
Method = Literal["REQUEST", "CANCEL"]


def invite_uid(booking_id: str) -> str:
    return f"{booking_id}@slotwise"


def build_invite(details: BookingDetails, method: Method, uid: str, sequence: int,
                 dtstamp: datetime, *, description: str | None = None) -> bytes:
    """One VEVENT in a VCALENDAR with METHOD, as bytes (CRLF, folded lines, UTF-8).

    Instants are written in UTC, so no VTIMEZONE is needed. `description` defaults to the
    meeting and manage links without labels (the message renderer passes localised text).
    """
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(f"unsupported iTIP method {method!r}")
    if sequence < 0:
        raise ValueError("sequence must not be negative")
    if dtstamp.utcoffset() is None:
        raise ValueError("dtstamp must be an aware datetime")

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)

    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", dtstamp.astimezone(UTC))
    event.add("dtstart", details.start.astimezone(UTC))
    event.add("dtend", details.end.astimezone(UTC))
    event.add("summary", f"{details.service_name} – {details.org_name}")
    location = details.location_name or details.meeting_url
    if location:
        event.add("location", location)
    if details.meeting_url:
        event.add("url", details.meeting_url)
    text = description if description is not None else "\n\n".join(
        link for link in (details.meeting_url, details.manage_url) if link)
    if text:
        event.add("description", text)
    event.add("organizer", _address(details.org_email, details.org_name))
    # RFC 5546 wants at least one ATTENDEE in REQUEST and CANCEL alike; the customer booked
    # the slot but their calendar still asks them to accept it (RSVP), as for any invitation.
    attendee = _address(details.customer_email, details.customer_name)
    attendee.params["cutype"] = "INDIVIDUAL"
    attendee.params["role"] = "REQ-PARTICIPANT"
    attendee.params["partstat"] = "NEEDS-ACTION"
    attendee.params["rsvp"] = "TRUE"
    event.add("attendee", attendee)
    event.add("status", "CONFIRMED" if method == "REQUEST" else "CANCELLED")
    event.add("transp", "OPAQUE")
    calendar.add_component(event)
    ical: bytes = calendar.to_ical()
    return ical


def _address(email: str, name: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    # A parameter value may not contain a DQUOTE (RFC 5545 3.1), nor a line break.
    cn = " ".join(name.replace('"', "'").split())
    if cn:
        address.params["cn"] = vText(cn)
    return address
