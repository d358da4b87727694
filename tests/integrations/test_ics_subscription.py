"""`IcsSubscription` against a real local HTTP server publishing a feed."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from slotwise.domain.calendars import (
    CalendarRejected,
    CalendarUnavailable,
    EventRef,
    OutgoingEvent,
    SyncTokenExpired,
)
from slotwise.integrations.calendars.ics_subscription import IcsSubscription
from slotwise.testing.fakes.ics_server import IcsFeedServer

WINDOW = (datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 5, 1, tzinfo=UTC))


def feed(*events: str) -> bytes:
    body = "".join(
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20270101T000000Z\r\n"
        f"DTSTART:{start}\r\nDTEND:{end}\r\nEND:VEVENT\r\n"
        for uid, start, end in (e.split() for e in events))
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//feed//EN\r\nX-WR-CALNAME:Holidays\r\n"
            f"X-WR-TIMEZONE:Europe/Berlin\r\n{body}END:VCALENDAR\r\n").encode()


ONE = feed("a 20270310T090000Z 20270310T100000Z")
TWO = feed("a 20270310T090000Z 20270310T100000Z", "b 20270311T090000Z 20270311T093000Z")


@pytest.fixture
def server() -> Iterator[IcsFeedServer]:
    with IcsFeedServer(ONE) as published:
        yield published


@pytest.fixture
def subscription(server: IcsFeedServer) -> Iterator[IcsSubscription]:
    with IcsSubscription(server.url, timeout_s=2.0) as adapter:
        yield adapter


def test_the_feed_is_its_one_read_only_calendar(subscription: IcsSubscription,
                                                server: IcsFeedServer) -> None:
    [info] = subscription.calendars()
    assert (info.id, info.name, info.timezone, info.writable) == (
        server.url, "Holidays", "Europe/Berlin", False)


def test_an_unchanged_feed_answers_304_and_an_empty_changeset(
        subscription: IcsSubscription, server: IcsFeedServer) -> None:
    first = subscription.changes(server.url, None, *WINDOW)
    assert first.full
    assert [e.key for e in first.events] == ["a"]
    assert first.token is not None
    assert json.loads(first.token)["keys"] == ["a"]

    again = subscription.changes(server.url, first.token, *WINDOW)

    assert (again.events, again.removed, again.full, again.token) == ((), (), False, first.token)
    assert (server.requests, server.conditional) == (2, 1)


def test_a_changed_feed_is_read_in_full(subscription: IcsSubscription,
                                        server: IcsFeedServer) -> None:
    first = subscription.changes(server.url, None, *WINDOW)
    server.publish(TWO)

    second = subscription.changes(server.url, first.token, *WINDOW)

    assert second.full
    assert [e.key for e in second.events] == ["a", "b"]
    assert second.token != first.token


def test_busy_merges_the_feeds_events(subscription: IcsSubscription,
                                      server: IcsFeedServer) -> None:
    server.publish(TWO)
    assert subscription.busy(server.url, *WINDOW) == [
        (datetime(2027, 3, 10, 9, tzinfo=UTC), datetime(2027, 3, 10, 10, tzinfo=UTC)),
        (datetime(2027, 3, 11, 9, tzinfo=UTC), datetime(2027, 3, 11, 9, 30, tzinfo=UTC)),
    ]


def test_a_body_that_is_not_a_calendar_is_rejected(subscription: IcsSubscription,
                                                   server: IcsFeedServer) -> None:
    server.publish(b"<html><body>Sign in</body></html>")
    with pytest.raises(CalendarRejected):
        subscription.changes(server.url, None, *WINDOW)


def test_a_failing_or_unreachable_feed_is_unavailable(subscription: IcsSubscription,
                                                      server: IcsFeedServer) -> None:
    server.status = 503
    with pytest.raises(CalendarUnavailable):
        subscription.changes(server.url, None, *WINDOW)

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with IcsSubscription(f"http://127.0.0.1:{port}/feed.ics", timeout_s=2.0) as nowhere, \
            pytest.raises(CalendarUnavailable):
        nowhere.changes(nowhere.url, None, *WINDOW)


def test_a_token_not_ours_is_expired(subscription: IcsSubscription,
                                     server: IcsFeedServer) -> None:
    with pytest.raises(SyncTokenExpired):
        subscription.changes(server.url, "garbage", *WINDOW)


def test_writes_are_refused(subscription: IcsSubscription, server: IcsFeedServer) -> None:
    start = datetime(2027, 3, 2, 9, tzinfo=UTC)
    event = OutgoingEvent(booking_id="bk_1", uid="slotwise-bk_1@slotwise", title="x",
                          start=start, end=start + timedelta(hours=1), timezone="UTC")
    ref = EventRef("x")
    with pytest.raises(CalendarRejected, match="read-only"):
        subscription.create_event(server.url, event)
    with pytest.raises(CalendarRejected, match="read-only"):
        subscription.update_event(server.url, ref, event)
    with pytest.raises(CalendarRejected, match="read-only"):
        subscription.delete_event(server.url, ref)
    assert server.requests == 0
