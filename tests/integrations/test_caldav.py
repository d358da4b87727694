"""`CalDavCalendar` against a real Radicale (one per session, a fresh calendar per test).

"Another app" changes the calendar through the caldav client directly, as a phone or desktop
client would; the adapter must see those changes through sync tokens or, without them, ETags.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from caldav.collection import Calendar as DavCalendar
from caldav.davclient import DAVClient

from slotwise.domain.calendars import (
    CalendarAuthError,
    CalendarUnavailable,
    ChangeSet,
    EventGone,
    OutgoingEvent,
    SyncTokenExpired,
    export_uid,
)
from slotwise.integrations.calendars.caldav import CalDavCalendar
from slotwise.testing.radicale import RadicaleServer

pytestmark = pytest.mark.xdist_group("radicale")

USER, PASSWORD, EMAIL = "alice", "secret", "alice@example.com"
# Europe/Berlin moves to summer time on Sunday 2027-03-28.
WINDOW = (datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 5, 1, tzinfo=UTC))


def vcalendar(*events: str) -> str:
    return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//another app//EN\r\n" + "".join(
        events) + "END:VCALENDAR\r\n"


def vevent(uid: str, start: str, end: str, *extra: str) -> str:
    lines = [f"UID:{uid}", "DTSTAMP:20270101T000000Z", f"DTSTART{start}", f"DTEND{end}", *extra]
    return "BEGIN:VEVENT\r\n" + "".join(f"{line}\r\n" for line in lines) + "END:VEVENT\r\n"


WEEKLY = vcalendar(
    vevent("weekly", ";TZID=Europe/Berlin:20270322T090000", ";TZID=Europe/Berlin:20270322T100000",
           "RRULE:FREQ=WEEKLY;COUNT=4", "EXDATE;TZID=Europe/Berlin:20270405T090000"),
    vevent("weekly", ";TZID=Europe/Berlin:20270329T140000", ";TZID=Europe/Berlin:20270329T150000",
           "RECURRENCE-ID;TZID=Europe/Berlin:20270329T090000"))


def booking(n: int = 1, *, start: datetime = datetime(2027, 3, 2, 9, 0, tzinfo=UTC),
            sequence: int = 0) -> OutgoingEvent:
    return OutgoingEvent(booking_id=f"bk_{n}", uid=export_uid(f"bk_{n}"), title="Check-up",
                         start=start, end=start + timedelta(minutes=45),
                         timezone="Europe/Berlin", sequence=sequence)


@pytest.fixture(scope="session")
def radicale() -> Iterator[RadicaleServer]:
    with RadicaleServer(users={USER: PASSWORD}) as server:
        yield server


@pytest.fixture
def other_app(radicale: RadicaleServer) -> Iterator[DAVClient]:
    client = DAVClient(url=radicale.url, username=USER, password=PASSWORD,
                       enable_rfc6764=False)
    yield client
    client.close()


@pytest.fixture
def calendar(other_app: DAVClient) -> DavCalendar:
    """A fresh, empty calendar of alice's, as the other app sees it."""
    name = f"cal-{secrets.token_hex(4)}"
    made: DavCalendar = other_app.principal().make_calendar(name=name, cal_id=name)
    return made


@pytest.fixture
def adapter(radicale: RadicaleServer) -> Iterator[CalDavCalendar]:
    provider = CalDavCalendar(radicale.url, USER, PASSWORD, EMAIL, timeout_s=5.0,
                              default_zone="Europe/Berlin")
    yield provider
    provider.close()


def full(adapter: CalDavCalendar, calendar: DavCalendar) -> ChangeSet:
    return adapter.changes(str(calendar.url), None, *WINDOW)


def keys(changes: ChangeSet) -> set[str]:
    return {e.key for e in changes.events}


def test_lists_the_accounts_calendars(adapter: CalDavCalendar, calendar: DavCalendar) -> None:
    assert str(calendar.url) in {info.id for info in adapter.calendars()}


def test_a_weekly_series_across_the_dst_change_keeps_its_local_time(
        adapter: CalDavCalendar, calendar: DavCalendar) -> None:
    calendar.save_event(WEEKLY)

    changes = full(adapter, calendar)

    assert changes.full
    assert changes.token
    assert [(e.key, e.start) for e in changes.events] == [
        ("weekly#20270322T080000Z", datetime(2027, 3, 22, 8, 0, tzinfo=UTC)),  # CET, 09:00
        ("weekly#20270329T070000Z", datetime(2027, 3, 29, 12, 0, tzinfo=UTC)),  # moved to 14:00
        # 2027-04-05 is an EXDATE
        ("weekly#20270412T070000Z", datetime(2027, 4, 12, 7, 0, tzinfo=UTC)),  # CEST, 09:00
    ]


def test_free_declined_and_cancelled_events_are_not_busy(
        adapter: CalDavCalendar, calendar: DavCalendar) -> None:
    day = ";TZID=Europe/Berlin:20270310T"
    calendar.save_event(vcalendar(vevent("free", day + "090000", day + "100000",
                                         "TRANSP:TRANSPARENT")))
    calendar.save_event(vcalendar(vevent("cancelled", day + "100000", day + "110000",
                                         "STATUS:CANCELLED")))
    calendar.save_event(vcalendar(vevent(
        "declined", day + "110000", day + "120000",
        f"ATTENDEE;PARTSTAT=DECLINED:mailto:{EMAIL.upper()}",
        "ATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@example.com")))
    calendar.save_event(vcalendar(vevent("busy", day + "113000", day + "130000")))
    calendar.save_event(vcalendar(vevent("holiday", ";VALUE=DATE:20270311",
                                         ";VALUE=DATE:20270312")))

    busy_by_key = {e.key: e.busy for e in full(adapter, calendar).events}

    assert busy_by_key == {"free": False, "cancelled": False, "declined": False, "busy": True,
                           "holiday": True}
    assert adapter.busy(str(calendar.url), *WINDOW) == [
        (datetime(2027, 3, 10, 10, 30, tzinfo=UTC), datetime(2027, 3, 10, 12, 0, tzinfo=UTC)),
        # the all-day event spans the day in Berlin
        (datetime(2027, 3, 10, 23, 0, tzinfo=UTC), datetime(2027, 3, 11, 23, 0, tzinfo=UTC)),
    ]


def test_our_exported_event_comes_back_as_ours(adapter: CalDavCalendar,
                                               calendar: DavCalendar) -> None:
    adapter.create_event(str(calendar.url), booking(7))

    [event] = full(adapter, calendar).events

    assert event.ours == "bk_7"
    assert event.uid == export_uid("bk_7")


@pytest.mark.parametrize("sync_tokens", [True, False], ids=["sync-collection", "etags"])
def test_incremental_changes_report_what_another_app_added_changed_and_deleted(
        radicale: RadicaleServer, calendar: DavCalendar, sync_tokens: bool) -> None:
    adapter = CalDavCalendar(radicale.url, USER, PASSWORD, EMAIL, timeout_s=5.0,
                             default_zone="Europe/Berlin", sync_tokens=sync_tokens)
    day = ";TZID=Europe/Berlin:20270310T"
    kept = calendar.save_event(vcalendar(vevent("kept", day + "090000", day + "100000")))
    moved = calendar.save_event(vcalendar(vevent("moved", day + "110000", day + "120000")))
    gone = calendar.save_event(WEEKLY)
    first = adapter.changes(str(calendar.url), None, *WINDOW)
    assert first.token is not None
    assert (first.token.startswith('{"v":1,"sync":null') is not sync_tokens)

    calendar.save_event(vcalendar(vevent("added", day + "130000", day + "140000")))
    moved.data = vcalendar(vevent("moved", day + "150000", day + "160000"))
    moved.save()
    gone.delete()
    second = adapter.changes(str(calendar.url), first.token, *WINDOW)

    assert not second.full
    assert set(second.removed) == {"moved", "weekly", "added"}
    assert {(e.key, e.start.hour) for e in second.events} == {("added", 12), ("moved", 14)}
    assert kept.url  # untouched, so not reported

    third = adapter.changes(str(calendar.url), second.token, *WINDOW)
    assert (third.events, third.removed) == ((), ())


@pytest.mark.parametrize("token", ["garbage", '{"v":1,"sync":"http://radicale.org/ns/sync/x",'
                                              '"objects":{}}'])
def test_a_token_the_server_or_we_do_not_know_is_expired(
        adapter: CalDavCalendar, calendar: DavCalendar, token: str) -> None:
    with pytest.raises(SyncTokenExpired):
        adapter.changes(str(calendar.url), token, *WINDOW)


def test_create_update_delete_of_an_exported_event_shows_on_the_server(
        adapter: CalDavCalendar, calendar: DavCalendar) -> None:
    url = str(calendar.url)
    ref = adapter.create_event(url, booking(1))
    [stored] = calendar.events()
    assert "SEQUENCE:0" in stored.data
    assert "X-SLOTWISE-BOOKING:bk_1" in stored.data

    later = datetime(2027, 3, 3, 15, 0, tzinfo=UTC)
    ref = adapter.update_event(url, ref, booking(1, start=later, sequence=1))
    [stored] = calendar.events()
    assert stored.component.start == later
    assert "SEQUENCE:1" in stored.data

    adapter.delete_event(url, ref)
    assert calendar.events() == []
    adapter.delete_event(url, ref)  # already gone: still success


def test_creating_the_same_uid_twice_keeps_one_object(adapter: CalDavCalendar,
                                                      calendar: DavCalendar) -> None:
    url = str(calendar.url)
    first = adapter.create_event(url, booking(1))
    second = adapter.create_event(url, booking(1, sequence=1))

    [stored] = calendar.events()
    assert first.external_id == second.external_id
    assert "SEQUENCE:1" in stored.data


def test_creating_a_uid_another_app_filed_elsewhere_updates_it(
        adapter: CalDavCalendar, calendar: DavCalendar) -> None:
    elsewhere = calendar.save_event(vcalendar(vevent(
        export_uid("bk_1"), ":20270302T090000Z", ":20270302T094500Z")))

    ref = adapter.create_event(str(calendar.url), booking(1, sequence=2))

    [stored] = calendar.events()
    assert ref.external_id == str(elsewhere.url)
    assert "SEQUENCE:2" in stored.data


def test_updating_an_event_deleted_on_the_server_is_gone(adapter: CalDavCalendar,
                                                        calendar: DavCalendar) -> None:
    ref = adapter.create_event(str(calendar.url), booking(1))
    calendar.events()[0].delete()

    with pytest.raises(EventGone):
        adapter.update_event(str(calendar.url), ref, booking(1, sequence=1))
    assert calendar.events() == []  # not recreated


def test_a_wrong_password_is_an_auth_error(radicale: RadicaleServer,
                                           calendar: DavCalendar) -> None:
    adapter = CalDavCalendar(radicale.url, USER, "wrong", timeout_s=5.0)
    with pytest.raises(CalendarAuthError):
        adapter.calendars()
    with pytest.raises(CalendarAuthError):
        adapter.changes(str(calendar.url), None, *WINDOW)


def test_an_unreachable_server_is_unavailable() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    adapter = CalDavCalendar(f"http://127.0.0.1:{port}/", USER, PASSWORD, timeout_s=2.0)
    url = f"http://127.0.0.1:{port}/{USER}/work/"
    with pytest.raises(CalendarUnavailable):
        adapter.calendars()
    with pytest.raises(CalendarUnavailable):
        adapter.changes(url, None, *WINDOW)
    with pytest.raises(CalendarUnavailable):
        adapter.create_event(url, booking(1))
