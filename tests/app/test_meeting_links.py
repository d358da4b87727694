"""Meeting links that fail closed, on both job engines: an online service's booking is pending
(its slot held) until a worker has made its link, then confirmed; a provider that stays down
past the deadline, or refuses, fails the booking and frees the slot; a reschedule moves the
meeting, a cancellation deletes it; a job run twice makes one meeting.

The "http" provider is `FakeZoomServer` (real HTTP on 127.0.0.1), "jitsi" needs no server.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from slotwise.api.app import create_app
from slotwise.app.clock import FrozenClock
from slotwise.app.meetings import MeetingLinks, create_attempts
from slotwise.bootstrap import Container, build
from slotwise.domain.jobs import Registry
from slotwise.domain.meetings import Meeting, MeetingProvider, MeetingRequest
from slotwise.domain.model import OutboxEvent
from slotwise.domain.ports import UnitOfWork
from slotwise.settings import Settings
from slotwise.testing.api import Org, availability, book, resource, service, signup
from slotwise.testing.fakes.meetings import Call, FakeZoomServer
from slotwise.testing.workers import running, wait_for
from slotwise.worker.tasks import registry

ZOOM_TOKEN = "zoom-test-token"
JITSI = "https://jitsi.example.org"
START = "2027-03-08T15:00:00Z"  # Monday 10:00 in New York, the organisation's zone
LATER = "2027-03-09T15:00:00Z"
DEADLINE = timedelta(seconds=900)
MONDAY = ("2027-03-08T00:00:00Z", "2027-03-09T00:00:00Z")


def settings(database_url: str, **meetings: Any) -> Settings:
    return Settings(database_url=database_url, database_pool_size=4,
                    password_hash_time_cost=1, password_hash_memory_kib=1024,
                    job_max_attempts=3, job_backoff_s=1,
                    meeting_link_deadline_s=int(DEADLINE.total_seconds()),
                    meeting_jitsi_base_url=JITSI, **meetings)


@pytest.fixture
def zoom() -> Iterator[FakeZoomServer]:
    with FakeZoomServer(token=ZOOM_TOKEN) as server:
        yield server


@pytest.fixture
def container(database_url: str, clock: FrozenClock, zoom: FakeZoomServer
              ) -> Iterator[Container]:
    built = build(settings(database_url, meeting_http_base_url=zoom.base_url,
                           meeting_http_token=ZOOM_TOKEN), clock=clock)
    yield built
    built.close()


def jobs(container: Container) -> Registry:
    """The real tasks and relay, without the periodic sweeps (the tests drive the clock)."""
    every = registry(container.use_cases, max_attempts=container.settings.job_max_attempts,
                     backoff_s=container.settings.job_backoff_s)
    return replace(every, periodic=())


def online(org: Org, provider: str = "http", **fields: Any) -> dict[str, Any]:
    resource(org)
    return service(org, name="Video consultation", meeting_provider=provider, **fields)


def booking(org: Org, booking_id: str) -> dict[str, Any]:
    answer = org.get(f"/v1/bookings/{booking_id}")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def status_of(org: Org, booking_id: str) -> str:
    return str(booking(org, booking_id)["status"])


def starts(org: Org, service_id: str) -> list[str]:
    return [s["start"] for s in availability(org, service_id, *MONDAY)]


def creates(zoom: FakeZoomServer, booking_id: str) -> list[Call]:
    return [c for c in zoom.calls if c.method == "POST"
            and c.headers.get("idempotency-key", "").startswith(f"{booking_id}@")]


def zoom_meeting(zoom: FakeZoomServer, join_url: str) -> dict[str, Any]:
    [found] = [m for m in zoom.meetings.values() if m["join_url"] == join_url]
    return found


def calls_to(zoom: FakeZoomServer, method: str, meeting_id: int) -> list[Call]:
    return [c for c in zoom.calls
            if c.method == method and c.path == f"/v2/meetings/{meeting_id}"]


def create_job(org: Org, booking_id: str) -> dict[str, Any]:
    [job] = [j for j in org.get("/v1/jobs").json()["items"]
             if j["task"] == "meetings.create" and j["args"]["booking_id"] == booking_id]
    return job


class Recorder:
    def __init__(self, org_id: str) -> None:
        self.org_id = org_id
        self.events: list[OutboxEvent] = []

    def react(self, uow: UnitOfWork, event: OutboxEvent, now: object) -> None:
        if event.org_id == self.org_id:
            self.events.append(event)


def test_an_online_booking_is_pending_with_its_slot_held_until_a_worker_makes_its_link(
        client: TestClient, container: Container, zoom: FakeZoomServer) -> None:
    org = signup(client)
    svc = online(org)
    booked = book(org, svc["id"], START)
    assert (booked["status"], booked["awaiting"], booked["meeting"]) == (
        "pending", ["meeting"], None)
    assert booked["pending_until"] == "2027-03-01T12:15:00Z"  # T0 + the deadline
    assert START not in starts(org, svc["id"])

    with running(container, jobs(container)):
        wait_for(lambda: status_of(org, booked["id"]) == "confirmed")

    confirmed = booking(org, booked["id"])
    assert confirmed["awaiting"] == [] and confirmed["pending_until"] is None
    meeting = zoom_meeting(zoom, confirmed["meeting"]["join_url"])
    assert confirmed["meeting"] == {"provider": "http", "join_url": meeting["join_url"],
                                    "passcode": meeting["password"]}
    assert (meeting["topic"], meeting["start_time"], meeting["duration"],
            meeting["timezone"]) == ("Video consultation", START, 60, "America/New_York")
    assert len(creates(zoom, booked["id"])) == 1
    assert START not in starts(org, svc["id"])


def test_a_jitsi_link_needs_no_server(client: TestClient, container: Container) -> None:
    org = signup(client)
    svc = online(org, "jitsi")
    booked = book(org, svc["id"], START)
    assert booked["awaiting"] == ["meeting"]
    with running(container, jobs(container)):
        wait_for(lambda: status_of(org, booked["id"]) == "confirmed")
    meeting = booking(org, booked["id"])["meeting"]
    assert meeting["provider"] == "jitsi"
    assert meeting["join_url"].startswith(f"{JITSI}/video-consultation-")


def test_while_the_meeting_api_is_down_the_job_retries_then_fails_closed_past_the_deadline(
        client: TestClient, container: Container, zoom: FakeZoomServer,
        clock: FrozenClock) -> None:
    org = signup(client)
    svc = online(org)
    recorder = Recorder(org.id)
    container.use_cases.relay.reactors.append(recorder)
    zoom.down()
    booked = book(org, svc["id"], START)

    with running(container, jobs(container)):
        wait_for(lambda: len(create_job(org, booked["id"])["errors"]) >= 2)
        assert status_of(org, booked["id"]) == "pending"  # still waiting, slot still held
        assert START not in starts(org, svc["id"])
        assert "MeetingUnavailable" in create_job(org, booked["id"])["last_error"]

        clock.advance(DEADLINE)  # the next attempt finds the deadline passed
        wait_for(lambda: status_of(org, booked["id"]) == "failed")
        wait_for(lambda: "booking.failed" in [e.type for e in recorder.events])

    failed = booking(org, booked["id"])
    reason = "the meeting link could not be created: the meeting service could not be " \
             "reached in time"
    assert failed["failure_reason"] == reason
    assert (failed["meeting"], failed["pending_until"]) == (None, None)
    assert START in starts(org, svc["id"])  # the slot is free again
    [told] = [e for e in recorder.events if e.type == "booking.failed"]
    assert told.payload["reason"] == reason


def test_the_deadline_sweep_fails_a_booking_whose_link_never_came_and_no_link_is_made_after(
        client: TestClient, container: Container, zoom: FakeZoomServer,
        clock: FrozenClock) -> None:
    org = signup(client)
    svc = online(org)
    booked = book(org, svc["id"], START)
    clock.advance(DEADLINE + timedelta(seconds=1))
    assert booked["id"] in {r.target for r in container.use_cases.fixer.run()}
    failed = booking(org, booked["id"])
    assert failed["status"] == "failed" and "meeting" in failed["failure_reason"]
    assert START in starts(org, svc["id"])

    container.use_cases.meetings.create_link(org.id, booked["id"])  # the job, late
    assert creates(zoom, booked["id"]) == []
    assert status_of(org, booked["id"]) == "failed"


def test_a_refused_request_fails_the_booking_at_once(
        client: TestClient, container: Container, zoom: FakeZoomServer) -> None:
    org = signup(client)
    svc = online(org)
    zoom.fail_next(1, status=400)
    booked = book(org, svc["id"], START)
    with running(container, jobs(container)):
        wait_for(lambda: status_of(org, booked["id"]) == "failed")
    failed = booking(org, booked["id"])
    assert failed["failure_reason"] == ("the meeting link could not be created: the meeting "
                                        "service refused the request (status 400)")
    assert len(creates(zoom, booked["id"])) == 1  # not retried
    assert START in starts(org, svc["id"])


def test_rescheduling_moves_the_meeting_and_keeps_its_link(
        client: TestClient, container: Container, zoom: FakeZoomServer) -> None:
    org = signup(client)
    svc = online(org)
    booked = book(org, svc["id"], START)
    with running(container, jobs(container)):
        wait_for(lambda: status_of(org, booked["id"]) == "confirmed")
        join_url = booking(org, booked["id"])["meeting"]["join_url"]
        meeting_id = zoom_meeting(zoom, join_url)["id"]

        moved = org.post(f"/v1/bookings/{booked['id']}/reschedule", {"start": LATER})
        assert moved.status_code == 200, moved.text
        wait_for(lambda: len(calls_to(zoom, "GET", meeting_id)) == 1)  # PATCH, read back

    [patch] = calls_to(zoom, "PATCH", meeting_id)
    assert patch.body["start_time"] == LATER
    assert zoom.meetings[meeting_id]["start_time"] == LATER
    after = booking(org, booked["id"])
    assert (after["status"], after["start"], after["meeting"]["join_url"]) == (
        "confirmed", LATER, join_url)
    assert len(creates(zoom, booked["id"])) == 1


def test_rescheduling_a_meeting_deleted_at_the_provider_makes_a_new_one(
        client: TestClient, container: Container, zoom: FakeZoomServer) -> None:
    org = signup(client)
    svc = online(org)
    booked = book(org, svc["id"], START)
    with running(container, jobs(container)):
        wait_for(lambda: status_of(org, booked["id"]) == "confirmed")
        old_url = booking(org, booked["id"])["meeting"]["join_url"]
        del zoom.meetings[zoom_meeting(zoom, old_url)["id"]]  # the host deleted it in Zoom

        org.post(f"/v1/bookings/{booked['id']}/reschedule", {"start": LATER})
        wait_for(lambda: booking(org, booked["id"])["meeting"]["join_url"] != old_url)

    new = zoom_meeting(zoom, booking(org, booked["id"])["meeting"]["join_url"])
    assert new["start_time"] == LATER
    assert len(creates(zoom, booked["id"])) == 2


def test_cancelling_deletes_the_meeting(
        client: TestClient, container: Container, zoom: FakeZoomServer) -> None:
    org = signup(client)
    svc = online(org)
    booked = book(org, svc["id"], START)
    with running(container, jobs(container)):
        wait_for(lambda: status_of(org, booked["id"]) == "confirmed")
        meeting_id = zoom_meeting(zoom, booking(org, booked["id"])["meeting"]["join_url"])["id"]

        cancelled = org.post(f"/v1/bookings/{booked['id']}/cancel", {"reason": "ill"})
        assert cancelled.status_code == 200, cancelled.text
        wait_for(lambda: booking(org, booked["id"])["meeting"] is None)

    assert len(calls_to(zoom, "DELETE", meeting_id)) == 1
    assert meeting_id not in zoom.meetings
    assert status_of(org, booked["id"]) == "cancelled"


def test_each_job_repeated_changes_nothing_more_and_makes_one_meeting(
        client: TestClient, container: Container, zoom: FakeZoomServer) -> None:
    org = signup(client)
    svc = online(org)
    booked = book(org, svc["id"], START)
    links = container.use_cases.meetings

    links.create_link(org.id, booked["id"])
    first = booking(org, booked["id"])
    links.create_link(org.id, booked["id"])
    assert booking(org, booked["id"]) == first and first["status"] == "confirmed"
    assert len(creates(zoom, booked["id"])) == 1
    meeting_id = zoom_meeting(zoom, first["meeting"]["join_url"])["id"]

    org.post(f"/v1/bookings/{booked['id']}/reschedule", {"start": LATER})
    links.update_link(org.id, booked["id"], 1)
    links.update_link(org.id, booked["id"], 1)
    assert zoom.meetings[meeting_id]["start_time"] == LATER
    assert booking(org, booked["id"])["meeting"]["join_url"] == first["meeting"]["join_url"]

    org.post(f"/v1/bookings/{booked['id']}/cancel", {})
    links.delete_link(org.id, booked["id"])
    links.delete_link(org.id, booked["id"])
    assert len(calls_to(zoom, "DELETE", meeting_id)) == 1
    assert meeting_id not in zoom.meetings
    assert len(creates(zoom, booked["id"])) == 1


class MeanwhileProvider:
    """The real provider, with something happening to the booking while `create` is under
    way (between the job's read and its write)."""

    def __init__(self, provider: MeetingProvider, meanwhile: Any) -> None:
        self.name = provider.name
        self._provider = provider
        self._meanwhile = meanwhile

    def create(self, request: MeetingRequest) -> Meeting:
        self._meanwhile()
        return self._provider.create(request)

    def update(self, meeting: Meeting, request: MeetingRequest) -> Meeting:
        return self._provider.update(meeting, request)

    def delete(self, meeting: Meeting) -> None:
        self._provider.delete(meeting)


def links_with(container: Container, meanwhile: Any) -> MeetingLinks:
    http = container.meeting_providers["http"]
    return MeetingLinks(container.uow, container.use_cases.clock,
                        {"http": MeanwhileProvider(http, meanwhile)}, DEADLINE)


def test_a_link_made_for_a_booking_cancelled_meanwhile_is_deleted(
        client: TestClient, container: Container, zoom: FakeZoomServer) -> None:
    org = signup(client)
    svc = online(org)
    booked = book(org, svc["id"], START)
    links = links_with(container, lambda: org.post(f"/v1/bookings/{booked['id']}/cancel", {}))

    links.create_link(org.id, booked["id"])

    after = booking(org, booked["id"])
    assert (after["status"], after["meeting"]) == ("cancelled", None)
    [made] = creates(zoom, booked["id"])
    assert [c.method for c in zoom.calls[zoom.calls.index(made):]] == ["POST", "DELETE"]
    assert zoom.meetings == {}


def test_a_booking_moved_while_its_link_is_made_gets_its_meeting_moved(
        client: TestClient, container: Container, zoom: FakeZoomServer) -> None:
    org = signup(client)
    svc = online(org)
    booked = book(org, svc["id"], START)
    links = links_with(container, lambda: org.post(f"/v1/bookings/{booked['id']}/reschedule",
                                                   {"start": LATER}))

    links.create_link(org.id, booked["id"])  # asks for START: it read the booking before

    after = booking(org, booked["id"])
    assert (after["status"], after["start"]) == ("confirmed", LATER)
    assert zoom_meeting(zoom, after["meeting"]["join_url"])["start_time"] == START
    [update] = [j for j in org.get("/v1/jobs").json()["items"]
                if j["task"] == "meetings.update" and j["args"]["booking_id"] == booked["id"]]
    assert update["args"] == {"org_id": org.id, "booking_id": booked["id"], "sequence": 1}

    container.use_cases.meetings.update_link(org.id, booked["id"], 1)  # that job
    assert zoom_meeting(zoom, after["meeting"]["join_url"])["start_time"] == LATER


def test_approval_and_meeting_are_both_awaited(client: TestClient, container: Container
                                               ) -> None:
    org = signup(client)
    svc = online(org, "jitsi", requires_approval=True)
    booked = book(org, svc["id"], START)
    assert (booked["status"], booked["awaiting"]) == ("pending", ["approval", "meeting"])

    container.use_cases.meetings.create_link(org.id, booked["id"])
    waiting = booking(org, booked["id"])
    assert (waiting["status"], waiting["awaiting"]) == ("pending", ["approval"])
    assert waiting["meeting"]["provider"] == "jitsi"

    approved = org.post(f"/v1/bookings/{booked['id']}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "confirmed"
    assert approved.json()["meeting"] == waiting["meeting"]


def test_a_service_may_name_only_a_provider_this_server_has_set_up(
        database_url: str, clock: FrozenClock) -> None:
    without_http = build(settings(database_url), clock=clock)
    try:
        with TestClient(create_app(without_http.use_cases)) as client:
            org = signup(client)
            resource(org)
            body = {"name": "Online", "duration_min": 30,
                    "requirements": [{"kind": "practitioner"}]}
            refused = org.post("/v1/services", {**body, "meeting_provider": "http"})
            assert refused.status_code == 422, refused.text
            assert refused.json()["errors"][0]["loc"] == ["body", "meeting_provider"]
            assert "'http' is not set up" in refused.json()["detail"]

            made = org.post("/v1/services", {**body, "meeting_provider": "jitsi"})
            assert made.status_code == 201, made.text
            patched = org.patch(f"/v1/services/{made.json()['id']}",
                                {"meeting_provider": "http"})
            assert patched.status_code == 422, patched.text
            assert org.patch(f"/v1/services/{made.json()['id']}",
                             {"meeting_provider": None}).json()["meeting_provider"] is None
    finally:
        without_http.close()


def test_an_in_person_service_confirms_at_once(client: TestClient) -> None:
    org = signup(client)
    resource(org)
    svc = service(org)
    booked = book(org, svc["id"], START)
    assert (booked["status"], booked["awaiting"], booked["meeting"]) == ("confirmed", [], None)


def test_a_create_job_is_retried_past_the_deadline_before_it_is_dead_lettered() -> None:
    assert create_attempts(timedelta(seconds=900), backoff_s=2, at_least=8) == 10  # 1022 s
    assert create_attempts(timedelta(seconds=10), backoff_s=2, at_least=8) == 8
    assert create_attempts(timedelta(seconds=900), backoff_s=1, at_least=3) == 50  # the cap
