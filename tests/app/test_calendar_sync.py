"""The calendar sync engine against the in-memory provider, on SQLite and PostgreSQL: external
busy time blocks slots and unblocks them when it goes; incremental syncs use the token and
fall back to a full one; our own exported events never come back as busy; a failing calendar
keeps its last good busy time and says why; bookings are exported, moved and removed; push
notifications are checked and debounced.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from slotwise.api.app import create_app
from slotwise.app.calendar_connections import ConnectionFields
from slotwise.app.calendar_sync import SYNC_TASK
from slotwise.app.clock import FrozenClock
from slotwise.bootstrap import Container, build
from slotwise.domain.calendars import (
    CalendarAuthError,
    CalendarConnection,
    CalendarUnavailable,
    export_uid,
)
from slotwise.domain.errors import Forbidden
from slotwise.domain.jobs import JobState, Registry
from slotwise.domain.model import Principal, Role
from slotwise.settings import Settings
from slotwise.testing.api import Org, availability, book, resource, service, signup
from slotwise.testing.fakes.calendar import FakeCalendar
from slotwise.testing.workers import running, wait_for
from slotwise.worker.tasks import registry

MONDAY = ("2027-03-08T00:00:00Z", "2027-03-09T00:00:00Z")
TEN = datetime(2027, 3, 8, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York
TEN_Z, ELEVEN_Z = "2027-03-08T15:00:00Z", "2027-03-08T16:00:00Z"
HOUR = timedelta(hours=1)


@pytest.fixture
def calendar() -> FakeCalendar:
    return FakeCalendar()


@pytest.fixture
def container(database_url: str, clock: FrozenClock, calendar: FakeCalendar
              ) -> Iterator[Container]:
    settings = Settings(database_url=database_url, database_pool_size=4,
                        password_hash_time_cost=1, password_hash_memory_kib=1024,
                        job_max_attempts=3, job_backoff_s=1, calendar_min_poll_s=1)
    # Only this test's organisations reach `calendar`: on PostgreSQL a worker runs every
    # organisation's jobs, other tests' leftover syncs and exports included.
    built = build(settings, clock=clock, calendar_providers={
        "fake": lambda connection, save: calendar if connection.org_id in calendar.owners
        else FakeCalendar()})
    built.use_cases.calendar_sync.timer = clock  # polling follows the test's clock too
    yield built
    built.close()


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container.use_cases)) as test_client:
        yield test_client


def owner(org: Org) -> Principal:
    return Principal(org_id=org.id, user_id="usr_test", role=Role.OWNER)


def connect(container: Container, org: Org, resource_id: str, **fields: Any
            ) -> CalendarConnection:
    return container.use_cases.calendars.connect(owner(org), ConnectionFields(
        resource_id=resource_id, provider="fake", calendar_id="primary", **fields))


def sync(container: Container, connection: CalendarConnection, *, full: bool = False
         ) -> CalendarConnection:
    synced = container.use_cases.calendar_sync.sync(connection.org_id, connection.id,
                                                     full=full)
    assert synced is not None
    return synced


def starts(org: Org, service_id: str) -> list[str]:
    return [s["start"] for s in availability(org, service_id, *MONDAY)]


def jobs(container: Container) -> Registry:
    every = registry(container.use_cases, max_attempts=3, backoff_s=1)
    return replace(every, periodic=())


@pytest.fixture
def setup(client: TestClient, container: Container, calendar: FakeCalendar
          ) -> tuple[Org, dict[str, Any], dict[str, Any]]:
    org = signup(client)
    calendar.owners.add(org.id)
    practitioner = resource(org)
    svc = service(org)
    return org, practitioner, svc


def test_external_busy_time_removes_slots_and_gives_them_back_when_it_goes(
        container: Container, calendar: FakeCalendar, setup: Any) -> None:
    org, practitioner, svc = setup
    connection = connect(container, org, practitioner["id"])
    assert TEN_Z in starts(org, svc["id"])

    calendar.put("dentist@example.org", TEN, TEN + HOUR, title="Dentist")
    synced = sync(container, connection)
    assert synced.status.value == "ok" and synced.sync_token == "v1"
    assert TEN_Z not in starts(org, svc["id"])
    assert ELEVEN_Z in starts(org, svc["id"])

    calendar.put("dentist@example.org", TEN + HOUR, TEN + 2 * HOUR)  # moved an hour later
    sync(container, connection)
    assert TEN_Z in starts(org, svc["id"]) and ELEVEN_Z not in starts(org, svc["id"])

    calendar.remove("dentist@example.org")
    sync(container, connection)
    assert {TEN_Z, ELEVEN_Z} <= set(starts(org, svc["id"]))


def test_free_and_our_own_events_never_block(
        container: Container, calendar: FakeCalendar, setup: Any) -> None:
    org, practitioner, svc = setup
    connection = connect(container, org, practitioner["id"])
    calendar.put("lunch@example.org", TEN, TEN + HOUR, busy=False)
    calendar.put(export_uid("bk_elsewhere"), TEN + HOUR, TEN + 2 * HOUR)
    sync(container, connection)
    assert {TEN_Z, ELEVEN_Z} <= set(starts(org, svc["id"]))
    with container.uow() as uow:
        assert uow.calendars.imported(org.id, connection.id) == []


def test_an_expired_token_falls_back_to_a_full_sync_that_drops_what_vanished(
        container: Container, calendar: FakeCalendar, setup: Any) -> None:
    org, practitioner, svc = setup
    connection = connect(container, org, practitioner["id"])
    calendar.put("a", TEN, TEN + HOUR)
    calendar.put("b", TEN + HOUR, TEN + 2 * HOUR)
    connection = sync(container, connection)
    calendar.remove("a")
    calendar.forget_before = 99  # every token issued so far is refused now
    connection = sync(container, connection)
    assert connection.sync_token == "v3" and connection.last_full_at is not None
    with container.uow() as uow:
        assert [e.key for e in uow.calendars.imported(org.id, connection.id)] == ["b"]
    assert TEN_Z in starts(org, svc["id"])


def test_a_failing_calendar_keeps_its_last_good_busy_time_and_says_why(
        client: TestClient, container: Container, calendar: FakeCalendar, setup: Any) -> None:
    org, practitioner, svc = setup
    connection = connect(container, org, practitioner["id"])
    calendar.put("a", TEN, TEN + HOUR)
    sync(container, connection)

    calendar.fail_with(CalendarUnavailable("connection refused"))
    failed = sync(container, connection)
    assert failed.status.value == "error" and failed.failures == 1
    assert TEN_Z not in starts(org, svc["id"])  # still blocked: never opened up
    shown = org.get(f"/v1/calendars/{connection.id}").json()["health"]
    assert shown["status"] == "error" and "connection refused" in shown["last_error"]
    assert shown["last_success_at"] is not None
    ready = client.get("/readyz").json()
    assert "connection refused" in str(ready)

    calendar.fail_with(None)
    healed = sync(container, connection)
    assert healed.status.value == "ok" and healed.failures == 0 and healed.last_error is None
    with container.uow() as uow:
        kinds = [e.type for e in uow.outbox.for_aggregate(org.id, connection.id)]
    assert kinds == ["calendar.connection_failed", "calendar.connection_restored"]


def test_revoked_credentials_alert_once_and_need_a_person(
        container: Container, calendar: FakeCalendar, setup: Any) -> None:
    org, practitioner, _ = setup
    connection = connect(container, org, practitioner["id"])
    calendar.fail_with(CalendarAuthError("invalid_grant"))
    sync(container, connection)
    again = sync(container, connection)
    assert again.status.value == "auth_failed" and again.failures == 2
    with container.uow() as uow:
        kinds = [e.type for e in uow.outbox.for_aggregate(org.id, connection.id)]
        audit = [e.action for e in uow.audit.recent(org.id) if e.target == connection.id]
    assert kinds == ["calendar.connection_failed"]
    assert audit == ["calendar.connection_failed"]


def test_a_connection_is_checked_when_it_is_made(
        client: TestClient, container: Container, calendar: FakeCalendar, setup: Any) -> None:
    org, practitioner, _ = setup
    calendar.fail_with(CalendarAuthError("401 Unauthorized"))
    with pytest.raises(Exception, match="refused these credentials"):
        connect(container, org, practitioner["id"])
    assert org.get("/v1/calendars").json()["items"] == []


def test_bookings_are_exported_moved_and_removed_and_never_come_back_as_busy(
        container: Container, calendar: FakeCalendar, setup: Any) -> None:
    org, practitioner, svc = setup
    connection = connect(container, org, practitioner["id"])
    booked = book(org, svc["id"], TEN_Z)
    uid = export_uid(booked["id"])
    with running(container, jobs(container)):
        wait_for(lambda: [e.uid for e in calendar.events()] == [uid])
        assert calendar.events()[0].start == TEN
        moved = org.post(f"/v1/bookings/{booked['id']}/reschedule", {"start": ELEVEN_Z})
        assert moved.status_code == 200, moved.text
        wait_for(lambda: [e.start for e in calendar.events()] == [TEN + HOUR])
        sync(container, connection)  # the exported event is in the calendar now
        with container.uow() as uow:
            assert uow.calendars.imported(org.id, connection.id) == []
        assert org.post(f"/v1/bookings/{booked['id']}/cancel", {}).status_code == 200
        wait_for(lambda: calendar.events() == [])
    assert calendar.calls.count("create_event") == 1
    with container.uow() as uow:
        assert uow.calendars.exports_of_booking(org.id, booked["id"]) == []
    assert ELEVEN_Z in starts(org, svc["id"])


def test_an_export_job_run_twice_writes_once(
        container: Container, calendar: FakeCalendar, setup: Any) -> None:
    org, practitioner, svc = setup
    connection = connect(container, org, practitioner["id"])
    booked = book(org, svc["id"], TEN_Z)
    exporter = container.use_cases.calendar_export
    exporter.export(org.id, connection.id, booked["id"])
    exporter.export(org.id, connection.id, booked["id"])
    assert calendar.calls.count("create_event") == 1
    assert calendar.calls.count("update_event") == 0


def test_push_notifications_are_checked_and_debounced(
        container: Container, calendar: FakeCalendar, setup: Any) -> None:
    org, practitioner, _ = setup
    connection = connect(container, org, practitioner["id"])
    sync(container, connection)
    with container.uow(write=True) as uow:
        current = uow.calendars.get(org.id, connection.id)
        assert current is not None
        channel = calendar.watch("primary", "https://example.org/hook", "s3cret", HOUR)
        uow.calendars.update(replace(current, channel=channel))
        uow.commit()
    sync_jobs = lambda: [j for j in container.use_cases.jobs.list(org.id, JobState.TODO)  # noqa: E731
                         if j.task == SYNC_TASK]
    before = len(sync_jobs())

    sync_service = container.use_cases.calendar_sync
    with pytest.raises(Forbidden):
        sync_service.notified(channel.id, "wrong")
    assert len(sync_jobs()) == before
    for _ in range(5):
        sync_service.notified(channel.id, "s3cret")
    assert len(sync_jobs()) == before + 1


def test_polling_defers_one_sync_per_due_connection(
        container: Container, clock: FrozenClock, calendar: FakeCalendar, setup: Any) -> None:
    org, practitioner, _ = setup
    connection = connect(container, org, practitioner["id"], poll_s=60)
    sync(container, connection)
    sync_service = container.use_cases.calendar_sync

    def pending() -> list[str]:
        return [j.id for j in container.use_cases.jobs.list(org.id, JobState.TODO)
                if j.task == SYNC_TASK and j.args["connection_id"] == connection.id]

    before = pending()
    sync_service.poll()  # other tests' connections may be due; this one is not
    assert pending() == before
    clock.advance(timedelta(seconds=61))
    sync_service.poll()
    assert len(pending()) == len(before) + 1
    sync_service.poll()  # already due: not twice
    assert len(pending()) == len(before) + 1


def test_deleting_a_connection_frees_its_busy_time_and_such_blocks_are_not_deleted_by_hand(
        container: Container, calendar: FakeCalendar, setup: Any) -> None:
    org, practitioner, svc = setup
    connection = connect(container, org, practitioner["id"])
    calendar.put("a", TEN, TEN + HOUR)
    sync(container, connection)
    with container.uow() as uow:
        [imported] = uow.calendars.imported(org.id, connection.id)
    answer = org.delete(f"/v1/resources/{practitioner['id']}/blocks/{imported.block_id}")
    assert answer.status_code == 409
    assert org.delete(f"/v1/calendars/{connection.id}").status_code == 204
    assert TEN_Z in starts(org, svc["id"])
    assert org.get(f"/v1/calendars/{connection.id}").status_code == 404


def test_a_new_connection_takes_the_upcoming_bookings_and_a_reconnect_duplicates_nothing(
        container: Container, calendar: FakeCalendar, setup: Any) -> None:
    org, practitioner, svc = setup
    booked = book(org, svc["id"], TEN_Z)
    first = connect(container, org, practitioner["id"])
    with running(container, jobs(container)):
        wait_for(lambda: [e.uid for e in calendar.events()] == [export_uid(booked["id"])])
        assert org.delete(f"/v1/calendars/{first.id}").status_code == 204
        connect(container, org, practitioner["id"])  # the same calendar again
        wait_for(lambda: calendar.calls.count("create_event") == 2)
    assert [e.uid for e in calendar.events()] == [export_uid(booked["id"])]


def test_busy_time_landing_on_a_booking_flags_it_and_a_substitution_resolves_it_cleanly(
        container: Container, calendar: FakeCalendar, client: TestClient) -> None:
    """Practitioner and room from pools; Ada's calendar fills the hour of her booking. The
    conflict offers a reschedule with the same resources and Bob at the same time; taking
    Bob moves only the practitioner, and Ada's exported event leaves her calendar."""
    org = signup(client)
    calendar.owners.add(org.id)
    ada = resource(org, name="Ada", tags=["physio"])
    bob = resource(org, name="Bob", tags=["physio"])
    room = resource(org, name="Room 1", kind="room")
    svc = service(org, requirements=[{"kind": "practitioner", "tags": ["physio"]},
                                     {"kind": "room"}])
    booked = book(org, svc["id"], TEN_Z, resource_ids=[ada["id"], room["id"]])
    connection = connect(container, org, ada["id"])
    with running(container, jobs(container)):
        wait_for(lambda: [e.uid for e in calendar.events()] == [export_uid(booked["id"])])
        calendar.put("surgery@hospital", TEN - HOUR, TEN + HOUR, title="Surgery")
        sync(container, connection)
        [conflict] = org.get("/v1/conflicts").json()["items"]
        assert (conflict["cause"], conflict["booking_id"], conflict["resource_id"]) == (
            "calendar", booked["id"], ada["id"])
        kinds = [s["kind"] for s in conflict["suggestions"]]
        assert "reschedule" in kinds and "substitute" in kinds
        [swap] = [s for s in conflict["suggestions"] if s["kind"] == "substitute"]
        assert swap["replaces"] == {"from": ada["id"], "to": bob["id"]}
        resolved = org.post(f"/v1/conflicts/{conflict['id']}/resolve",
                            {"suggestion_id": swap["id"]})
        assert resolved.status_code == 200, resolved.text
        after = org.get(f"/v1/bookings/{booked['id']}").json()
        assert sorted(after["resource_ids"]) == sorted([bob["id"], room["id"]])
        assert after["start"] == TEN_Z
        wait_for(lambda: [e.uid for e in calendar.events()] == ["surgery@hospital"])
    assert org.get("/v1/conflicts").json()["items"] == []
    with container.uow() as uow:
        assert uow.calendars.exports_of_booking(org.id, booked["id"]) == []
        taken = uow.bookings.busy(org.id, [ada["id"], bob["id"], room["id"]], TEN - HOUR,
                                  TEN + 2 * HOUR)
    assert sorted(a.resource_id for a in taken) == sorted([bob["id"], room["id"]])
