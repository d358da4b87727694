"""`HttpMeetings` against `FakeZoomServer`, a real HTTP server on a local port.

The behaviour every provider promises (idempotent create, reschedule, idempotent delete) runs
against the adapter and against the in-memory `FakeMeetings` alike, so the fast fake stays
true to the adapter.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from slotwise.domain.meetings import (
    Meeting,
    MeetingGone,
    MeetingProvider,
    MeetingRejected,
    MeetingRequest,
    MeetingUnavailable,
)
from slotwise.integrations.meetings import HttpMeetings
from slotwise.integrations.meetings.http import retry_after_s
from slotwise.testing.fakes.meetings import FakeMeetings, FakeZoomServer

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
TOKEN = "zoom-test-token"


def meeting_request(*, booking_id: str = "bk_1", start: datetime = T0, minutes: int = 45,
                    title: str = "Physio: first visit", description: str | None = None
                    ) -> MeetingRequest:
    return MeetingRequest(booking_id=booking_id, title=title, start=start,
                          end=start + timedelta(minutes=minutes), timezone="Europe/Berlin",
                          host_email="host@example.com", attendee_emails=("ann@example.com",),
                          description=description)


@pytest.fixture
def zoom() -> Iterator[FakeZoomServer]:
    with FakeZoomServer(token=TOKEN) as server:
        yield server


@pytest.fixture
def meetings(zoom: FakeZoomServer) -> Iterator[HttpMeetings]:
    with HttpMeetings(zoom.base_url, TOKEN, timeout_s=2.0, name="zoom") as adapter:
        yield adapter


@pytest.fixture(params=["http", "in-memory"])
def provider(request: pytest.FixtureRequest) -> Iterator[MeetingProvider]:
    if request.param == "in-memory":
        yield FakeMeetings()
        return
    with FakeZoomServer(token=TOKEN) as server, HttpMeetings(server.base_url, TOKEN) as adapter:
        yield adapter


class TestEveryProvider:
    def test_create_then_update_keeps_the_link_and_moves_the_time(
            self, provider: MeetingProvider) -> None:
        meeting = provider.create(meeting_request())

        moved = provider.update(meeting, meeting_request(start=T0 + timedelta(days=2)))

        assert moved.external_id == meeting.external_id
        assert moved.join_url == meeting.join_url
        assert moved.data["start_time"] == "2027-03-03T12:00:00Z"

    def test_repeated_create_for_the_same_booking_and_start_is_one_meeting(
            self, provider: MeetingProvider) -> None:
        first = provider.create(meeting_request())
        again = provider.create(meeting_request())
        other = provider.create(meeting_request(booking_id="bk_2"))

        assert again == first
        assert other.external_id != first.external_id

    def test_delete_is_idempotent_and_update_afterwards_is_gone(
            self, provider: MeetingProvider) -> None:
        meeting = provider.create(meeting_request())

        provider.delete(meeting)
        provider.delete(meeting)

        with pytest.raises(MeetingGone):
            provider.update(meeting, meeting_request(start=T0 + timedelta(days=1)))


def test_create_posts_a_scheduled_meeting_and_returns_its_links(
        zoom: FakeZoomServer, meetings: HttpMeetings) -> None:
    meeting = meetings.create(meeting_request(minutes=30, description="Bring your scans"))

    [call] = zoom.calls
    assert (call.method, call.path) == ("POST", "/v2/users/me/meetings")
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    assert call.headers["idempotency-key"] == "bk_1@20270301T120000Z"
    assert call.body == {
        "topic": "Physio: first visit", "type": 2, "start_time": "2027-03-01T12:00:00Z",
        "duration": 30, "timezone": "Europe/Berlin", "agenda": "Bring your scans",
        "settings": {"join_before_host": False, "waiting_room": True},
    }
    stored = zoom.meetings[int(meeting.external_id)]
    assert meeting == Meeting(
        provider="zoom", external_id=str(stored["id"]), join_url=stored["join_url"],
        host_url=stored["start_url"], passcode=stored["password"],
        data={key: stored[key] for key in
              ("id", "uuid", "host_id", "topic", "start_time", "duration", "timezone")},
    )
    assert Meeting.from_json(json.loads(json.dumps(meeting.to_json()))) == meeting


def test_a_create_whose_answer_was_lost_is_not_made_twice(zoom: FakeZoomServer) -> None:
    zoom.delay_s = 1.0  # the server creates the meeting, then answers too late
    with HttpMeetings(zoom.base_url, TOKEN, timeout_s=0.2) as meetings:
        with pytest.raises(MeetingUnavailable, match="timed out"):
            meetings.create(meeting_request())
        zoom.delay_s = 0

        meeting = meetings.create(meeting_request())

    assert list(zoom.meetings) == [int(meeting.external_id)]


def test_update_patches_the_meeting_and_reads_it_back(
        zoom: FakeZoomServer, meetings: HttpMeetings) -> None:
    meeting = meetings.create(meeting_request())
    zoom.meetings[int(meeting.external_id)]["password"] = "changed"

    moved = meetings.update(meeting, meeting_request(start=T0 + timedelta(hours=3),
                                                     minutes=60, title="Physio: follow-up"))

    patch, get = zoom.calls[1:]
    assert (patch.method, patch.path) == ("PATCH", f"/v2/meetings/{meeting.external_id}")
    assert patch.body == {"topic": "Physio: follow-up", "start_time": "2027-03-01T15:00:00Z",
                          "duration": 60, "timezone": "Europe/Berlin"}
    assert (get.method, get.path) == ("GET", f"/v2/meetings/{meeting.external_id}")
    assert moved.join_url == meeting.join_url
    assert moved.passcode == "changed"
    assert moved.data["topic"] == "Physio: follow-up"
    assert moved.data["duration"] == 60


def test_delete_of_a_meeting_gone_at_the_provider_is_success(
        zoom: FakeZoomServer, meetings: HttpMeetings) -> None:
    meeting = meetings.create(meeting_request())
    zoom.meetings.clear()  # deleted by the host in Zoom's own interface

    meetings.delete(meeting)

    assert zoom.calls[-1].method == "DELETE"


def test_update_of_a_meeting_gone_at_the_provider_is_gone(
        zoom: FakeZoomServer, meetings: HttpMeetings) -> None:
    meeting = meetings.create(meeting_request())
    zoom.meetings.clear()

    with pytest.raises(MeetingGone) as raised:
        meetings.update(meeting, meeting_request(start=T0 + timedelta(days=1)))

    assert raised.value.status == 404
    assert "3001" in str(raised.value)


def test_a_wrong_token_is_rejected_with_zooms_message(zoom: FakeZoomServer) -> None:
    with HttpMeetings(zoom.base_url, "expired") as meetings, \
            pytest.raises(MeetingRejected, match="Invalid access token") as raised:
        meetings.create(meeting_request())

    assert raised.value.status == 401
    assert zoom.meetings == {}


def test_a_token_callable_is_asked_on_every_request(zoom: FakeZoomServer) -> None:
    asked: list[int] = []

    def token() -> str:
        asked.append(1)
        return TOKEN

    with HttpMeetings(zoom.base_url, token) as meetings:
        meeting = meetings.create(meeting_request())
        meetings.delete(meeting)

    assert len(asked) == 2


def test_input_the_provider_refuses_is_rejected(
        zoom: FakeZoomServer, meetings: HttpMeetings) -> None:
    with pytest.raises(MeetingRejected, match="Validation Failed") as raised:
        meetings.create(meeting_request(title="x" * 201))  # Zoom's topic limit is 200

    assert raised.value.status == 400


@pytest.mark.parametrize("status", [403, 405, 422])
def test_other_client_errors_are_rejected(
        status: int, zoom: FakeZoomServer, meetings: HttpMeetings) -> None:
    zoom.fail_next(status=status)

    with pytest.raises(MeetingRejected) as raised:
        meetings.create(meeting_request())

    assert raised.value.status == status


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 409])
def test_server_errors_are_unavailable_and_the_retry_succeeds(
        status: int, zoom: FakeZoomServer, meetings: HttpMeetings) -> None:
    zoom.fail_next(status=status)

    with pytest.raises(MeetingUnavailable) as raised:
        meetings.create(meeting_request())

    assert raised.value.retry_after_s is None
    assert meetings.create(meeting_request()).join_url


def test_rate_limit_is_unavailable_for_as_long_as_retry_after_says(
        zoom: FakeZoomServer, meetings: HttpMeetings) -> None:
    zoom.fail_next(status=429, retry_after="7")
    with pytest.raises(MeetingUnavailable, match="429") as in_seconds:
        meetings.create(meeting_request())

    zoom.fail_next(status=429, retry_after=format_datetime(
        datetime.now(UTC) + timedelta(seconds=120), usegmt=True))
    with pytest.raises(MeetingUnavailable) as as_date:
        meetings.create(meeting_request())

    assert in_seconds.value.retry_after_s == 7.0
    assert as_date.value.retry_after_s is not None
    assert 100 < as_date.value.retry_after_s <= 120


@pytest.mark.parametrize(("header", "seconds"), [
    (None, None), ("", None), ("soon", None), ("nan", None), ("-3", 0.0), ("1.5", 1.5),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
])
def test_retry_after_reads_seconds_and_dates_and_is_never_negative(
        header: str | None, seconds: float | None) -> None:
    assert retry_after_s(header) == seconds


def test_a_timeout_is_unavailable(zoom: FakeZoomServer) -> None:
    zoom.delay_s = 1.0
    with HttpMeetings(zoom.base_url, TOKEN, timeout_s=0.1) as meetings, \
            pytest.raises(MeetingUnavailable, match="timed out") as raised:
        meetings.create(meeting_request())

    assert isinstance(raised.value.__cause__, httpx.TimeoutException)


def test_a_refused_connection_is_unavailable_until_the_server_is_back(
        zoom: FakeZoomServer, meetings: HttpMeetings) -> None:
    zoom.down()
    with pytest.raises(MeetingUnavailable) as raised:
        meetings.create(meeting_request())
    zoom.up()

    assert isinstance(raised.value.__cause__, httpx.ConnectError)
    assert meetings.create(meeting_request()).join_url


@pytest.mark.parametrize("answer", [
    b"<html>Service maintenance</html>",
    [],
    {"id": 81234567890},
    {"id": 81234567890, "join_url": ""},
    {"id": 81234567890, "join_url": "javascript:alert(1)"},
    {"join_url": "https://zoom.example/j/1"},
    {"id": True, "join_url": "https://zoom.example/j/1"},
])
def test_an_answer_that_is_not_a_meeting_is_rejected(
        answer: Any, zoom: FakeZoomServer, meetings: HttpMeetings) -> None:
    zoom.respond_next(201, answer)

    with pytest.raises(MeetingRejected):
        meetings.create(meeting_request())


def test_a_redirect_is_rejected_not_followed(
        zoom: FakeZoomServer, meetings: HttpMeetings) -> None:
    zoom.respond_next(302, None, headers={"Location": "https://example.com/login"})

    with pytest.raises(MeetingRejected) as raised:
        meetings.create(meeting_request())

    assert raised.value.status == 302
    assert len(zoom.calls) == 1


def test_a_meeting_of_another_provider_is_rejected_without_a_request(
        zoom: FakeZoomServer, meetings: HttpMeetings) -> None:
    other = Meeting(provider="jitsi", external_id="room", join_url="https://meet.jit.si/room")

    with pytest.raises(MeetingRejected):
        meetings.delete(other)

    assert zoom.calls == []


def test_the_in_memory_fake_raises_what_it_is_told_to() -> None:
    fake = FakeMeetings()
    fake.fail_next(MeetingUnavailable("down", retry_after_s=3))

    with pytest.raises(MeetingUnavailable):
        fake.create(meeting_request())

    assert fake.create(meeting_request()).join_url
    assert fake.calls == [("create", "bk_1"), ("create", "bk_1")]
