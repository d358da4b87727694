"""Jitsi links, and the port's value objects (no server: a Jitsi room needs no API call)."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from slotwise.domain.meetings import Meeting, MeetingRejected, MeetingRequest
from slotwise.integrations.meetings import JitsiMeetings

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
ROOM = re.compile(r"^(?P<prefix>[a-z0-9]+(?:-[a-z0-9]+)*)-(?P<secret>[a-z2-7]{32})$")


def meeting_request(*, title: str = "Physio: first visit", start: datetime = T0,
                    minutes: int = 45, booking_id: str = "bk_1") -> MeetingRequest:
    return MeetingRequest(booking_id=booking_id, title=title, start=start,
                          end=start + timedelta(minutes=minutes), timezone="Europe/Berlin",
                          host_email="host@example.com", attendee_emails=("ann@example.com",))


def room_of(meeting: Meeting) -> re.Match[str]:
    match = ROOM.match(meeting.external_id)
    assert match, meeting.external_id
    return match


def test_join_url_is_the_base_url_and_a_room_with_a_readable_prefix() -> None:
    meeting = JitsiMeetings("https://meet.jit.si/").create(meeting_request())

    assert meeting.provider == "jitsi"
    assert meeting.join_url == f"https://meet.jit.si/{meeting.external_id}"
    assert room_of(meeting)["prefix"] == "physio-first-visit"
    assert meeting.host_url is None and meeting.passcode is None


@pytest.mark.parametrize(("title", "prefix"), [
    ("Erstgespräch — Ärztin Müller", "erstgesprach-arztin-muller"),
    ("  Yoga   (Level 2) ", "yoga-level-2"),
    ("🙂 ✓", "meeting"),
    ("", "meeting"),
    ("x" * 100, "x" * 40),
    ("a" * 39 + " b", "a" * 39),
])
def test_room_prefix_is_the_title_slugified_and_capped(title: str, prefix: str) -> None:
    meeting = JitsiMeetings("https://meet.example.org").create(meeting_request(title=title))

    assert room_of(meeting)["prefix"] == prefix


def test_room_names_are_distinct_and_case_insensitively_so() -> None:
    # Jitsi folds room names to lower case: uniqueness must hold after folding.
    jitsi = JitsiMeetings("https://meet.jit.si")
    rooms = [jitsi.create(meeting_request()).external_id for _ in range(1000)]

    assert len({room.lower() for room in rooms}) == 1000
    assert all(room == room.lower() for room in rooms)


def test_room_secret_carries_160_bits_spread_evenly_over_its_alphabet() -> None:
    jitsi = JitsiMeetings("https://meet.jit.si")
    secrets = [room_of(jitsi.create(meeting_request()))["secret"] for _ in range(1000)]

    # 32 base32 characters, 5 bits each; every symbol used about as often as every other
    # (expected 1000 each, standard deviation ~31: the bounds are ten deviations wide).
    assert all(len(secret) * 5 >= 160 for secret in secrets)
    counts = Counter("".join(secrets))
    assert set(counts) == set(BASE32)
    assert all(700 < n < 1300 for n in counts.values())
    # No position is stuck: each of the 32 positions takes many values.
    assert all(len({secret[i] for secret in secrets}) == 32 for i in range(32))


def test_update_keeps_the_room_and_delete_is_a_no_op() -> None:
    jitsi = JitsiMeetings("https://meet.jit.si")
    meeting = jitsi.create(meeting_request())

    moved = jitsi.update(meeting, meeting_request(start=T0 + timedelta(days=1), title="New"))
    jitsi.delete(meeting)
    jitsi.delete(meeting)

    assert moved == meeting


def test_update_of_another_providers_meeting_is_rejected() -> None:
    other = Meeting(provider="zoom", external_id="1", join_url="https://zoom.example/j/1")

    with pytest.raises(MeetingRejected):
        JitsiMeetings("https://meet.jit.si").update(other, meeting_request())


def test_base_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="http"):
        JitsiMeetings("meet.jit.si")


def test_meeting_survives_a_json_column() -> None:
    meeting = JitsiMeetings("https://meet.jit.si").create(meeting_request())

    stored = json.loads(json.dumps(meeting.to_json()))

    assert Meeting.from_json(stored) == meeting


@pytest.mark.parametrize("stored", [
    {},
    {"provider": "jitsi", "external_id": "r"},
    {"provider": "jitsi", "external_id": 7, "join_url": "https://x/r"},
    {"provider": "jitsi", "external_id": "r", "join_url": "https://x/r", "passcode": 1234},
    {"provider": "jitsi", "external_id": "r", "join_url": "https://x/r", "data": 3},
])
def test_a_stored_value_that_is_not_a_meeting_is_refused(stored: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="not a stored meeting"):
        Meeting.from_json(stored)


@pytest.mark.parametrize(("start", "end", "zone"), [
    (datetime(2027, 3, 1, 12, 0), datetime(2027, 3, 1, 13, 0), "UTC"),  # naive
    (datetime(2027, 3, 1, 13, 0, tzinfo=ZoneInfo("Europe/Berlin")), T0 + timedelta(hours=1),
     "Europe/Berlin"),  # aware but not UTC
    (T0, datetime(2027, 3, 1, 13, 0, tzinfo=timezone(timedelta(hours=1))), "UTC"),
    (T0, T0, "UTC"),  # empty
    (T0, T0 + timedelta(hours=1), "Mars/Olympus"),
])
def test_meeting_request_takes_only_a_utc_range_and_an_iana_zone(
        start: datetime, end: datetime, zone: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case fails on its own field
        MeetingRequest(booking_id="bk_1", title="t", start=start, end=end, timezone=zone,
                       host_email=None, attendee_emails=())


def test_duration_is_whole_minutes_rounded_up_and_key_names_booking_and_start() -> None:
    request = MeetingRequest(booking_id="bk_9", title="t", start=T0,
                             end=T0 + timedelta(minutes=30, seconds=1), timezone="UTC",
                             host_email=None, attendee_emails=())

    assert request.duration_min == 31
    assert request.idempotency_key == "bk_9@20270301T120000Z"
