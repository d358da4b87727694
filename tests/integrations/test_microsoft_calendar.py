"""MicrosoftCalendar against the fake Graph (`slotwise.testing.fakes.graph`) over sockets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from slotwise.api.calendar_push import parse_graph_notifications
from slotwise.domain.calendars import (
    CalendarAuthError,
    CalendarRejected,
    CalendarUnavailable,
    EventGone,
    EventRef,
    OutgoingEvent,
    SyncTokenExpired,
    export_uid,
)
from slotwise.integrations.calendars.microsoft import (
    BOOKING_PROPERTY,
    MAX_SUBSCRIPTION,
    MicrosoftCalendar,
)
from slotwise.testing.fakes.graph import FakeGraphServer
from slotwise.testing.fakes.graph_webhook import GraphWebhookEndpoint

START = datetime(2027, 3, 1, tzinfo=UTC)
END = datetime(2027, 4, 1, tzinfo=UTC)
BOOKING = "bk_0123456789abcdef01234567"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2027, 3, day, hour, minute, tzinfo=UTC)


def booking_event(**overrides: Any) -> OutgoingEvent:
    fields: dict[str, Any] = {
        "booking_id": BOOKING, "uid": export_uid(BOOKING), "title": "Check-up – Ana Müller",
        "start": at(1, 12), "end": at(1, 12, 45), "timezone": "Europe/Berlin"}
    return OutgoingEvent(**{**fields, **overrides})


@pytest.fixture
def graph() -> Iterator[FakeGraphServer]:
    with FakeGraphServer() as fake:
        yield fake


class Account:
    """A MicrosoftCalendar on the fake, with the credentials it saved."""

    def __init__(self, graph: FakeGraphServer, credentials: dict[str, Any] | None = None,
                 **options: Any) -> None:
        self.saved: list[dict[str, Any]] = []
        self.calendar = MicrosoftCalendar(
            credentials or graph.issue_credentials(), graph.client_id, graph.client_secret,
            self.saved.append, graph_url=graph.graph_url, token_url=graph.token_url, **options)


def test_a_full_sync_then_an_incremental_one_returns_only_what_changed(
        graph: FakeGraphServer) -> None:
    graph.page_size = 2
    dentist = graph.add_event(subject="Dentist", start=at(1, 9), end=at(1, 10))
    lunch = graph.add_event(subject="Lunch", start=at(2, 11), end=at(2, 12))
    gym = graph.add_event(subject="Gym", start=at(3, 17), end=at(3, 18))
    graph.add_event(subject="Last year", start=datetime(2026, 3, 1, 9, tzinfo=UTC),
                    end=datetime(2026, 3, 1, 10, tzinfo=UTC))
    calendar = Account(graph).calendar

    full = calendar.changes(graph.calendar_id, None, START, END)

    assert full.full and full.removed == ()
    assert {event.key for event in full.events} == {dentist, lunch, gym}
    by_key = {event.key: event for event in full.events}
    assert by_key[dentist].uid == graph.events[dentist].ical_uid
    assert (by_key[dentist].start, by_key[dentist].end) == (at(1, 9), at(1, 10))
    assert full.token is not None and full.token.startswith(graph.graph_url)

    graph.change_event(lunch, start=at(2, 12), end=at(2, 13))
    graph.remove_event(gym)
    tea = graph.add_event(subject="Tea", start=at(4, 15), end=at(4, 16))
    changes = calendar.changes(graph.calendar_id, full.token, START, END)

    assert not changes.full
    assert [event.key for event in changes.events] == [lunch, tea]
    assert changes.events[0].start == at(2, 12)
    assert changes.removed == (gym,)

    unchanged = calendar.changes(graph.calendar_id, changes.token, START, END)
    assert unchanged.events == () and unchanged.removed == ()


def test_an_event_moved_out_of_the_window_is_removed(graph: FakeGraphServer) -> None:
    dentist = graph.add_event(subject="Dentist", start=at(1, 9), end=at(1, 10))
    calendar = Account(graph).calendar
    token = calendar.changes(graph.calendar_id, None, START, END).token

    graph.change_event(dentist, start=datetime(2027, 5, 1, 9, tzinfo=UTC),
                       end=datetime(2027, 5, 1, 10, tzinfo=UTC))

    assert calendar.changes(graph.calendar_id, token, START, END).removed == (dentist,)


def test_free_declined_and_cancelled_events_are_not_busy_tentative_is(
        graph: FakeGraphServer) -> None:
    free = graph.add_event(subject="Focus", start=at(1, 9), end=at(1, 10), show_as="free")
    declined = graph.add_event(subject="Review", start=at(1, 11), end=at(1, 12),
                               response="declined")
    maybe = graph.add_event(subject="Maybe", start=at(1, 13), end=at(1, 14),
                            show_as="tentative")
    calendar = Account(graph).calendar
    token = calendar.changes(graph.calendar_id, None, START, END).token
    graph.change_event(maybe, cancelled=True)

    full = {event.key: event for event in
            calendar.changes(graph.calendar_id, None, START, END).events}
    cancelled = calendar.changes(graph.calendar_id, token, START, END)

    assert not full[free].busy and not full[declined].busy
    assert maybe not in full  # cancelled by its organiser meanwhile
    assert cancelled.removed == (maybe,)


def test_tentative_counts_as_busy(graph: FakeGraphServer) -> None:
    maybe = graph.add_event(subject="Maybe", start=at(1, 13), end=at(1, 14),
                            show_as="tentative")

    [event] = Account(graph).calendar.changes(graph.calendar_id, None, START, END).events

    assert event.key == maybe and event.busy


def test_an_all_day_event_spans_its_dates_in_the_calendars_zone(graph: FakeGraphServer) -> None:
    graph.add_event(subject="Conference", start=datetime(2027, 3, 3, tzinfo=UTC),
                    end=datetime(2027, 3, 5, tzinfo=UTC), all_day=True)
    calendar = Account(graph, timezone="Europe/Berlin").calendar

    [event] = calendar.changes(graph.calendar_id, None, START, END).events

    assert event.all_day
    assert (event.start, event.end) == (datetime(2027, 3, 2, 23, tzinfo=UTC),
                                        datetime(2027, 3, 4, 23, tzinfo=UTC))


def test_a_token_graph_no_longer_knows_means_sync_in_full(graph: FakeGraphServer) -> None:
    calendar = Account(graph).calendar
    stale = (f"{graph.graph_url}/me/calendars/{graph.calendar_id}/calendarView/delta"
             "?$deltatoken=R0usmcCM996atia_s")

    with pytest.raises(SyncTokenExpired, match="SyncStateNotFound"):
        calendar.changes(graph.calendar_id, stale, START, END)
    with pytest.raises(SyncTokenExpired):
        calendar.changes(graph.calendar_id, "https://elsewhere.example/delta?x=1", START, END)


def test_our_exported_event_is_recognised_when_read_back(graph: FakeGraphServer) -> None:
    calendar = Account(graph).calendar
    ref = calendar.create_event(graph.calendar_id, booking_event())

    [event] = calendar.changes(graph.calendar_id, None, START, END).events

    assert event.key == ref.external_id
    assert event.ours == BOOKING
    stored = graph.events[ref.external_id]
    assert stored.extended == {BOOKING_PROPERTY: BOOKING}
    assert stored.transaction_id == export_uid(BOOKING)
    # Sent as wall time in the booking's zone: 13:00 in Berlin is 12:00 UTC.
    assert (stored.start, stored.end) == (at(1, 12), at(1, 12, 45))


def test_create_is_idempotent_by_uid(graph: FakeGraphServer) -> None:
    calendar = Account(graph).calendar
    first = calendar.create_event(graph.calendar_id, booking_event())

    again = calendar.create_event(graph.calendar_id, booking_event(title="Check-up (moved)",
                                                                   start=at(1, 14),
                                                                   end=at(1, 14, 45)))

    assert again.external_id == first.external_id
    [stored] = graph.events.values()
    assert stored.subject == "Check-up (moved)" and stored.start == at(1, 14)


def test_a_tentative_booking_shows_as_tentative(graph: FakeGraphServer) -> None:
    ref = Account(graph).calendar.create_event(graph.calendar_id,
                                               booking_event(tentative=True))

    assert graph.events[ref.external_id].show_as == "tentative"


def test_update_moves_the_event_and_a_deleted_one_is_gone(graph: FakeGraphServer) -> None:
    calendar = Account(graph).calendar
    ref = calendar.create_event(graph.calendar_id, booking_event())

    calendar.update_event(graph.calendar_id, ref, booking_event(start=at(2, 9),
                                                                end=at(2, 9, 45)))
    assert graph.events[ref.external_id].start == at(2, 9)

    graph.remove_event(ref.external_id)
    with pytest.raises(EventGone):
        calendar.update_event(graph.calendar_id, ref, booking_event())


def test_delete_is_idempotent(graph: FakeGraphServer) -> None:
    calendar = Account(graph).calendar
    ref = calendar.create_event(graph.calendar_id, booking_event())

    calendar.delete_event(graph.calendar_id, ref)
    calendar.delete_event(graph.calendar_id, ref)

    assert graph.events[ref.external_id].deleted
    calendar.delete_event(graph.calendar_id, EventRef("AAMkADnever-existed"))


def test_busy_lists_busy_events_in_the_window(graph: FakeGraphServer) -> None:
    graph.add_event(subject="Dentist", start=at(1, 9), end=at(1, 10))
    graph.add_event(subject="Focus", start=at(1, 10), end=at(1, 11), show_as="free")
    graph.add_event(subject="Later", start=at(5, 9), end=at(5, 10))

    busy = Account(graph).calendar.busy(graph.calendar_id, at(1, 0), at(2, 0))

    assert busy == [(at(1, 9), at(1, 10))]


def test_calendars_lists_the_accounts_calendars(graph: FakeGraphServer) -> None:
    graph.calendars["AAMkADbirthdays"] = "Birthdays"

    calendars = {info.id: info for info in Account(graph).calendar.calendars()}

    assert calendars[graph.calendar_id].primary
    assert calendars["AAMkADbirthdays"].name == "Birthdays"


def test_an_expired_access_token_is_refreshed_and_saved(graph: FakeGraphServer) -> None:
    account = Account(graph, graph.issue_credentials(expires_in=timedelta(seconds=-5)))

    account.calendar.calendars()

    [saved] = account.saved
    assert datetime.fromisoformat(saved["expires_at"]) > datetime.now(UTC)
    assert [call.method for call in graph.calls] == ["POST", "GET"]  # token, then the call


def test_a_401_refreshes_once_and_retries(graph: FakeGraphServer) -> None:
    account = Account(graph)
    graph.revoke_access_tokens()

    account.calendar.calendars()

    assert len(account.saved) == 1
    assert [call.method for call in graph.calls] == ["GET", "POST", "GET"]


def test_a_revoked_grant_is_an_auth_error(graph: FakeGraphServer) -> None:
    account = Account(graph, graph.issue_credentials(expires_in=timedelta(seconds=-5)))
    graph.refuse_refresh = True

    with pytest.raises(CalendarAuthError, match="invalid_grant"):
        account.calendar.changes(graph.calendar_id, None, START, END)

    assert account.saved == []


def test_a_401_after_a_refresh_is_an_auth_error(graph: FakeGraphServer) -> None:
    account = Account(graph)
    graph.revoke_access_tokens()
    graph.refuse_refresh = True

    with pytest.raises(CalendarAuthError):
        account.calendar.calendars()


@pytest.mark.parametrize("status", [503, 429, 500])
def test_server_errors_are_unavailable(graph: FakeGraphServer, status: int) -> None:
    calendar = Account(graph).calendar
    graph.fail_next(1, status=status)

    with pytest.raises(CalendarUnavailable):
        calendar.changes(graph.calendar_id, None, START, END)


def test_an_unreachable_graph_is_unavailable() -> None:
    with FakeGraphServer() as gone:
        credentials = gone.issue_credentials()
        graph_url = gone.graph_url
    calendar = MicrosoftCalendar(credentials, "c", "s", lambda _: None, graph_url=graph_url,
                                 timeout_s=1)

    with pytest.raises(CalendarUnavailable):
        calendar.calendars()


def test_watch_subscribes_after_the_validation_handshake_and_notifications_come_back(
        graph: FakeGraphServer) -> None:
    calendar = Account(graph).calendar
    with GraphWebhookEndpoint() as endpoint:
        channel = calendar.watch(graph.calendar_id, endpoint.url, "client-state-secret",
                                 timedelta(days=7))

        [subscription] = graph.subscriptions.values()
        assert subscription.id == channel.id
        assert subscription.client_state == "client-state-secret"
        assert subscription.change_type == "created,updated,deleted"
        assert subscription.resource == f"/me/calendars/{graph.calendar_id}/events"
        # Asked for a week; Graph allows about three days.
        assert channel.expires_at <= datetime.now(UTC) + MAX_SUBSCRIPTION

        assert graph.notify(channel.id, "created") == 202
        [notification] = parse_graph_notifications(endpoint.received[0])
        assert notification.subscription_id == channel.id
        assert notification.client_state == "client-state-secret"
        assert notification.change_type == "created"

    calendar.stop(channel)
    assert graph.subscriptions == {}
    calendar.stop(channel)  # already gone: success


def test_a_subscription_whose_endpoint_fails_the_handshake_is_refused(
        graph: FakeGraphServer) -> None:
    calendar = Account(graph).calendar
    with GraphWebhookEndpoint() as endpoint:
        endpoint.echo_validation = False

        with pytest.raises(CalendarRejected, match="validation"):
            calendar.watch(graph.calendar_id, endpoint.url, "secret", timedelta(days=1))

    assert graph.subscriptions == {}


def test_graph_notifications_are_parsed() -> None:
    body = json.dumps({"value": [
        {"subscriptionId": "sub-1", "clientState": "s", "changeType": "updated",
         "resource": "Users/u/Events/e1", "tenantId": "t"},
        {"subscriptionId": "sub-1", "changeType": "deleted"}]}).encode()

    first, second = parse_graph_notifications(body)

    assert (first.subscription_id, first.client_state, first.change_type, first.resource) == (
        "sub-1", "s", "updated", "Users/u/Events/e1")
    assert second.client_state is None


@pytest.mark.parametrize("body", [
    b"", b"not json", b"\xff\xfe", b"[]", b'{"value": {}}', b'{"value": [1]}',
    b'{"value": [{"changeType": "updated"}]}', b'{"value": [{"subscriptionId": "s"}]}',
    b'{"value": [{"subscriptionId": "s", "changeType": "updated", "clientState": 7}]}'])
def test_malformed_graph_notification_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (the contract is a plain ValueError)
        parse_graph_notifications(body)


def test_every_request_asks_for_utc_times_and_immutable_ids(graph: FakeGraphServer) -> None:
    Account(graph).calendar.changes(graph.calendar_id, None, START, END)

    [call] = graph.calls
    assert 'outlook.timezone="UTC"' in call.headers["prefer"]
    assert 'IdType="ImmutableId"' in call.headers["prefer"]


def test_the_fake_returns_the_first_event_to_a_retried_post(graph: FakeGraphServer) -> None:
    credentials = graph.issue_credentials()
    url = f"{graph.graph_url}/me/calendars/{graph.calendar_id}/events"
    body = {"subject": "Check-up", "transactionId": export_uid(BOOKING),
            "start": {"dateTime": "2027-03-01T13:00:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2027-03-01T13:45:00", "timeZone": "Europe/Berlin"}}
    headers = {"Authorization": f"Bearer {credentials['access_token']}"}

    first = httpx.post(url, json=body, headers=headers).json()
    again = httpx.post(url, json=body, headers=headers).json()

    assert first["id"] == again["id"]
    assert first["start"] == {"dateTime": "2027-03-01T12:00:00.0000000", "timeZone": "UTC"}
    assert len(graph.events) == 1
