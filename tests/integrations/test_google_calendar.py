"""GoogleCalendar against recorded Calendar API answers (tests/integrations/data/google/),
served in order by `HttpMockSequence` under the bundled discovery document."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from googleapiclient.http import HttpMockSequence

from slotwise.api.calendar_push import parse_google_notification
from slotwise.domain.calendars import (
    CalendarAuthError,
    CalendarRejected,
    CalendarUnavailable,
    EventGone,
    EventRef,
    OutgoingEvent,
    PushChannel,
    SyncTokenExpired,
    export_uid,
)
from slotwise.integrations.calendars.google import GoogleCalendar

DATA = Path(__file__).parent / "data" / "google"
CAL = "ana@example.com"
START = datetime(2027, 3, 1, tzinfo=UTC)
END = datetime(2027, 4, 1, tzinfo=UTC)
BOOKING = "bk_0123456789abcdef01234567"
VALID = {"access_token": "ya29.valid", "refresh_token": "1//refresh",
         "expires_at": "2099-01-01T00:00:00+00:00"}
EXPIRED = {**VALID, "access_token": "ya29.old", "expires_at": "2020-01-01T00:00:00+00:00"}

Answer = tuple[dict[str, str], str]


def ok(name: str, status: int = 200) -> Answer:
    return {"status": str(status)}, (DATA / name).read_text()


def empty(status: int = 204) -> Answer:
    return {"status": str(status)}, ""


class Google:
    """A GoogleCalendar on a scripted transport, with what it saved and requested."""

    def __init__(self, answers: list[Answer], credentials: dict[str, Any] | None = None
                 ) -> None:
        self.http = HttpMockSequence(answers)
        self.saved: list[dict[str, Any]] = []
        self.calendar = GoogleCalendar(credentials or VALID, "client-id", "client-secret",
                                       self.saved.append, token_uri="https://oauth.test/token",
                                       http=self.http)

    def request(self, index: int) -> tuple[str, str, dict[str, list[str]], Any]:
        uri, method, body, _ = self.http.request_sequence[index]
        parts = urlsplit(uri)
        return method, unquote(parts.path), parse_qs(parts.query), body

    def headers(self, index: int) -> dict[str, str]:
        return dict(self.http.request_sequence[index][3])


def booking_event(**overrides: Any) -> OutgoingEvent:
    fields: dict[str, Any] = {
        "booking_id": BOOKING, "uid": export_uid(BOOKING), "title": "Check-up – Ana Müller",
        "start": datetime(2027, 3, 1, 12, 0, tzinfo=UTC),
        "end": datetime(2027, 3, 1, 12, 45, tzinfo=UTC), "timezone": "Europe/Berlin"}
    return OutgoingEvent(**{**fields, **overrides})


def test_a_full_sync_follows_pages_and_returns_the_sync_token() -> None:
    google = Google([ok("events_full_page1.json"), ok("events_full_page2.json")])

    changes = google.calendar.changes(CAL, None, START, END)

    assert changes.full
    assert changes.token == "CNii6Z3S-4MDENii6Z3S-4MDGAUg5Nq0kQI="
    assert changes.removed == ()
    events = {event.key: event for event in changes.events}
    assert len(events) == 6
    dentist = events["5qlfn25c61gsan9utf8macmmml@google.com"]
    assert (dentist.start, dentist.end) == (datetime(2027, 3, 1, 9, 0, tzinfo=UTC),
                                            datetime(2027, 3, 1, 10, 0, tzinfo=UTC))
    assert dentist.busy and dentist.ours is None and dentist.title == "Dentist"
    _, path, query, _ = google.request(0)
    assert path == f"/calendar/v3/calendars/{CAL}/events"
    assert query["singleEvents"] == ["true"]
    assert query["timeMin"] == ["2027-03-01T00:00:00Z"]
    assert query["timeMax"] == ["2027-04-01T00:00:00Z"]
    assert "syncToken" not in query
    assert google.request(1)[2]["pageToken"] == [
        "CigKGjVxbGZuMjVjNjFnc2FuOXV0ZjhtYWNtbW1sGAEggICA6Ly7yoIaGg0IABIAGNii6Z3S-4MD"]


def test_an_instance_is_keyed_by_uid_and_original_start_in_utc() -> None:
    google = Google([ok("events_full_page1.json"), ok("events_full_page2.json")])

    events = {event.key: event for event in google.calendar.changes(CAL, None, START, END).events}

    standup = events["1h3k9p0qg7ssd0b1ffgs4k2k8c@google.com#2027-03-02T07:00:00Z"]
    assert standup.uid == "1h3k9p0qg7ssd0b1ffgs4k2k8c@google.com"
    assert standup.start == datetime(2027, 3, 2, 7, 0, tzinfo=UTC)


def test_an_all_day_event_spans_its_dates_in_the_calendars_zone() -> None:
    google = Google([ok("events_full_page1.json"), ok("events_full_page2.json")])

    events = {event.key: event for event in google.calendar.changes(CAL, None, START, END).events}

    conference = events["7b0r4kq2ec3f1u3m3gvd2d1d6o@google.com"]
    # 3 and 4 March in Berlin (CET, UTC+1): from 2 March 23:00 UTC to 4 March 23:00 UTC.
    assert conference.all_day
    assert (conference.start, conference.end) == (datetime(2027, 3, 2, 23, 0, tzinfo=UTC),
                                                  datetime(2027, 3, 4, 23, 0, tzinfo=UTC))


def test_transparent_and_declined_events_are_not_busy_and_ours_is_recognised() -> None:
    google = Google([ok("events_full_page1.json"), ok("events_full_page2.json")])

    events = {event.key: event for event in google.calendar.changes(CAL, None, START, END).events}

    assert not events["2s0dm3d7b4mbc6mkv1hrmvpn0g@google.com"].busy  # transparent
    assert not events["0pd1e0m4v8m0o7ne4ta0c0ck6s@google.com"].busy  # declined
    assert events[export_uid(BOOKING)].ours == BOOKING
    assert [event.key for event in events.values() if event.ours] == [export_uid(BOOKING)]


def test_an_incremental_sync_sends_the_token_and_reports_cancelled_items_as_removed() -> None:
    google = Google([ok("events_incremental.json"), ok("cancelled_event_get.json"),
                     ok("recurring_master_get.json")])

    changes = google.calendar.changes(CAL, "CNii6Z3S-4MDENii6Z3S-4MDGAUg5Nq0kQI=", START, END)

    assert not changes.full
    assert changes.token == "CPDAlvWF-4MDEPDAlvWF-4MDGAUg5Nq0kQI="
    # Cancelled items carry only their id: their UIDs were looked up (deleted ones included).
    assert changes.removed == ("5qlfn25c61gsan9utf8macmmml@google.com",
                               "1h3k9p0qg7ssd0b1ffgs4k2k8c@google.com#2027-03-09T07:00:00Z")
    assert [event.key for event in changes.events] == ["6ve9kcb3cbq3jbt5o1l3v5krl4@google.com"]
    _, _, query, _ = google.request(0)
    assert query["syncToken"] == ["CNii6Z3S-4MDENii6Z3S-4MDGAUg5Nq0kQI="]
    assert "timeMin" not in query
    assert google.request(2)[1].endswith("/events/1h3k9p0qg7ssd0b1ffgs4k2k8c")


def test_a_cancelled_item_google_no_longer_knows_is_left_to_the_next_full_sync() -> None:
    google = Google([ok("events_incremental.json"), ok("not_found_404.json", 404),
                     ok("recurring_master_get.json")])

    changes = google.calendar.changes(CAL, "token", START, END)

    assert changes.removed == ("1h3k9p0qg7ssd0b1ffgs4k2k8c@google.com#2027-03-09T07:00:00Z",)


def test_a_refused_sync_token_means_sync_in_full() -> None:
    google = Google([ok("sync_token_expired_410.json", 410)])

    with pytest.raises(SyncTokenExpired, match="fullSyncRequired"):
        google.calendar.changes(CAL, "stale", START, END)


def test_busy_comes_from_a_free_busy_query_sorted() -> None:
    google = Google([ok("freebusy.json")])

    busy = google.calendar.busy(CAL, START, START + timedelta(days=1))

    assert busy == [(datetime(2027, 3, 1, 9, 0, tzinfo=UTC),
                     datetime(2027, 3, 1, 10, 0, tzinfo=UTC)),
                    (datetime(2027, 3, 1, 12, 0, tzinfo=UTC),
                     datetime(2027, 3, 1, 12, 45, tzinfo=UTC))]
    method, path, _, body = google.request(0)
    assert (method, path) == ("POST", "/calendar/v3/freeBusy")
    assert json.loads(body)["items"] == [{"id": CAL}]


def test_a_calendar_free_busy_does_not_know_is_rejected() -> None:
    google = Google([ok("freebusy_not_found.json")])

    with pytest.raises(CalendarRejected, match="notFound"):
        google.calendar.busy("nobody@example.com", START, END)


def test_calendars_lists_the_accounts_calendars() -> None:
    google = Google([ok("calendar_list.json")])

    primary, holidays = google.calendar.calendars()

    assert primary.primary and primary.writable and primary.timezone == "Europe/Berlin"
    assert holidays.name == "Holidays in Germany" and not holidays.writable


def test_create_inserts_with_the_uid_and_the_booking_property() -> None:
    google = Google([ok("event_inserted.json")])

    ref = google.calendar.create_event(CAL, booking_event(tentative=True))

    assert ref.external_id == "b2l0c3dpc2UtYmtfMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3"
    method, path, _, body = google.request(0)
    sent = json.loads(body)
    assert (method, path) == ("POST", f"/calendar/v3/calendars/{CAL}/events")
    assert sent["iCalUID"] == export_uid(BOOKING)
    assert sent["extendedProperties"] == {"private": {"slotwise_booking": BOOKING}}
    assert sent["start"] == {"dateTime": "2027-03-01T12:00:00Z", "timeZone": "Europe/Berlin"}
    assert sent["status"] == "tentative"


def test_create_is_idempotent_by_uid_an_existing_event_is_updated() -> None:
    google = Google([ok("duplicate_409.json", 409),
                     ({"status": "200"}, json.dumps({"items": [json.loads(
                         (DATA / "event_inserted.json").read_text())]})),
                     ok("event_inserted.json")])

    ref = google.calendar.create_event(CAL, booking_event())

    assert ref.external_id == "b2l0c3dpc2UtYmtfMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3"
    assert google.request(1)[2]["iCalUID"] == [export_uid(BOOKING)]
    assert google.request(1)[2]["showDeleted"] == ["true"]
    method, path, _, body = google.request(2)
    assert method == "PATCH" and path.endswith("/events/" + ref.external_id)
    assert json.loads(body)["status"] == "confirmed"  # a deleted one comes back


def test_update_reads_then_patches_the_event() -> None:
    google = Google([ok("event_inserted.json"), ok("event_inserted.json")])
    ref = EventRef("b2l0c3dpc2UtYmtfMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3")

    google.calendar.update_event(CAL, ref, booking_event(title="Moved"))

    assert [google.request(i)[0] for i in (0, 1)] == ["GET", "PATCH"]
    assert json.loads(google.request(1)[3])["summary"] == "Moved"


@pytest.mark.parametrize("answer", [ok("not_found_404.json", 404), ok("deleted_410.json", 410),
                                    ok("cancelled_event_get.json")])
def test_updating_an_event_deleted_at_google_is_event_gone(answer: Answer) -> None:
    google = Google([answer])

    with pytest.raises(EventGone):
        google.calendar.update_event(CAL, EventRef("5qlfn25c61gsan9utf8macmmml"),
                                     booking_event())

    assert len(google.http.request_sequence) == 1  # nothing patched back to life


@pytest.mark.parametrize("answer", [empty(204), ok("not_found_404.json", 404),
                                    ok("deleted_410.json", 410)])
def test_delete_succeeds_when_the_event_is_already_gone(answer: Answer) -> None:
    google = Google([answer])

    google.calendar.delete_event(CAL, EventRef("5qlfn25c61gsan9utf8macmmml"))

    assert google.request(0)[0] == "DELETE"


def test_an_expired_access_token_is_refreshed_and_the_new_credentials_saved() -> None:
    google = Google([ok("token_refreshed.json"), ok("freebusy.json")], credentials=EXPIRED)

    google.calendar.busy(CAL, START, END)

    method, path, _, body = google.request(0)
    assert (method, path) == ("POST", "/token")
    assert parse_qs(body.decode())["grant_type"] == ["refresh_token"]
    assert parse_qs(body.decode())["refresh_token"] == ["1//refresh"]
    assert google.headers(1)["authorization"] == "Bearer ya29.a0AfB_byRefreshedToken"
    [saved] = google.saved
    assert saved["access_token"] == "ya29.a0AfB_byRefreshedToken"
    assert saved["refresh_token"] == "1//refresh"
    assert datetime.fromisoformat(saved["expires_at"]) > datetime.now(UTC)


def test_a_valid_token_is_not_refreshed_or_saved() -> None:
    google = Google([ok("freebusy.json")])

    google.calendar.busy(CAL, START, END)

    assert google.saved == []
    assert google.headers(0)["authorization"] == "Bearer ya29.valid"


def test_a_revoked_refresh_token_is_an_auth_error() -> None:
    google = Google([ok("invalid_grant.json", 400)], credentials=EXPIRED)

    with pytest.raises(CalendarAuthError, match="invalid_grant"):
        google.calendar.busy(CAL, START, END)

    assert google.saved == []


def test_a_401_refreshes_once_then_is_an_auth_error() -> None:
    google = Google([ok("unauthorized_401.json", 401), ok("token_refreshed.json"),
                     ok("unauthorized_401.json", 401)])

    with pytest.raises(CalendarAuthError):
        google.calendar.busy(CAL, START, END)

    assert google.saved[-1]["access_token"] == "ya29.a0AfB_byRefreshedToken"


@pytest.mark.parametrize("answer", [ok("backend_error_503.json", 503),
                                    ok("rate_limited_403.json", 403),
                                    ({"status": "429", "retry-after": "30"}, "{}")])
def test_server_errors_and_rate_limits_are_unavailable(answer: Answer) -> None:
    google = Google([answer])

    with pytest.raises(CalendarUnavailable):
        google.calendar.changes(CAL, None, START, END)


def test_a_retry_after_is_kept() -> None:
    google = Google([({"status": "429", "retry-after": "30"}, "{}")])

    with pytest.raises(CalendarUnavailable) as caught:
        google.calendar.busy(CAL, START, END)

    assert caught.value.retry_after_s == 30


def test_another_client_error_is_rejected_with_its_status() -> None:
    google = Google([ok("not_found_404.json", 404)])

    with pytest.raises(CalendarRejected) as caught:
        google.calendar.changes("nobody@example.com", None, START, END)

    assert caught.value.status == 404
    assert not isinstance(caught.value, EventGone)


def test_watch_opens_a_channel_and_stop_closes_it() -> None:
    google = Google([ok("watch.json"), empty(204)])

    channel = google.calendar.watch(CAL, "https://book.example/hooks/google", "chan-secret",
                                    timedelta(days=7))

    assert channel == PushChannel(id="01234567-89ab-cdef-0123-456789abcdef",
                                  token="chan-secret",
                                  expires_at=datetime.fromtimestamp(1803456000, UTC),
                                  resource_id="o3hgv1538sdjfh")
    sent = json.loads(google.request(0)[3])
    assert sent["type"] == "web_hook" and sent["token"] == "chan-secret"
    assert sent["address"] == "https://book.example/hooks/google"
    assert sent["params"] == {"ttl": "604800"}

    google.calendar.stop(channel)

    method, path, _, body = google.request(1)
    assert (method, path) == ("POST", "/calendar/v3/channels/stop")
    assert json.loads(body)["resourceId"] == "o3hgv1538sdjfh"


def test_stopping_an_expired_channel_succeeds() -> None:
    google = Google([ok("not_found_404.json", 404)])

    google.calendar.stop(PushChannel("c", "t", START, "r"))


NOTIFICATION = {"X-Goog-Channel-ID": "01234567-89ab-cdef-0123-456789abcdef",
                "X-Goog-Channel-Token": "chan-secret", "X-Goog-Resource-State": "exists",
                "X-Goog-Resource-ID": "o3hgv1538sdjfh", "X-Goog-Message-Number": "4",
                "X-Goog-Channel-Expiration": "Fri, 24 Feb 2027 10:00:00 GMT"}


def test_a_channel_notification_is_parsed_from_headers_in_any_case() -> None:
    notification = parse_google_notification(
        {name.lower(): value for name, value in NOTIFICATION.items()})

    assert notification is not None
    assert notification.channel_id == "01234567-89ab-cdef-0123-456789abcdef"
    assert notification.token == "chan-secret"
    assert (notification.resource_state, notification.resource_id,
            notification.message_number) == ("exists", "o3hgv1538sdjfh", 4)


@pytest.mark.parametrize("broken", [
    {"X-Goog-Channel-ID": ""}, {"X-Goog-Resource-State": "changed"},
    {"X-Goog-Message-Number": "four"}, {"X-Goog-Resource-ID": " "}])
def test_malformed_channel_headers_are_not_a_notification(broken: dict[str, str]) -> None:
    assert parse_google_notification({**NOTIFICATION, **broken}) is None


def test_a_request_without_channel_headers_is_not_a_notification() -> None:
    assert parse_google_notification({"Content-Type": "application/json"}) is None


def test_a_malformed_event_is_rejected_not_a_crash() -> None:
    page = {"timeZone": "UTC", "nextSyncToken": "t", "items": [
        {"id": "x", "status": "confirmed", "iCalUID": "x@google.com", "attendees": ["ana"],
         "start": {"dateTime": "2027-03-01T10:00:00Z"},
         "end": {"dateTime": "2027-03-01T11:00:00Z"}},
    ]}
    google = Google([({"status": "200"}, json.dumps(page))])

    with pytest.raises(CalendarRejected, match="malformed"):
        google.calendar.changes(CAL, None, START, END)


def test_a_zero_length_event_blocks_nothing() -> None:
    page = {"timeZone": "UTC", "nextSyncToken": "t", "items": [
        {"id": "x", "status": "confirmed", "iCalUID": "x@google.com",
         "start": {"dateTime": "2027-03-01T10:00:00Z"},
         "end": {"dateTime": "2027-03-01T10:00:00Z"}},
    ]}
    google = Google([({"status": "200"}, json.dumps(page))])

    assert google.calendar.changes(CAL, None, START, END).events == ()
