"""Explicit holds write `hold.placed` and `hold.released` to the outbox in their transaction,
the fixer writes `hold.expired` for one it finds lapsed, and the live reactor turns each into a
`slots` message; a booking's implicit hold writes none, and webhooks never see them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from slotwise.app.clock import FrozenClock
from slotwise.app.live import LiveReactor
from slotwise.bootstrap import Container
from slotwise.domain.live import Deliver, LiveMessage
from slotwise.store.tables import outbox
from slotwise.store.uow import SqlUnitOfWork
from slotwise.testing.api import Org, book, resource, service, signup

START = "2027-03-08T10:00:00Z"


class RecordingBus:
    def __init__(self) -> None:
        self.published: list[tuple[str, LiveMessage]] = []

    def publish(self, org_id: str, message: LiveMessage) -> None:
        self.published.append((org_id, message))

    def start(self, deliver: Deliver) -> None: ...

    def stop(self) -> None: ...


def events_of(container: Container, org_id: str, aggregate_id: str) -> list[Any]:
    with SqlUnitOfWork(container.engine) as uow:
        return uow.outbox.for_aggregate(org_id, aggregate_id)


def recording(container: Container) -> RecordingBus:
    """The relay's live reactor, publishing to a bus that records."""
    bus = RecordingBus()
    container.use_cases.relay.after_commit = [LiveReactor(bus)]
    return bus


def mine(bus: RecordingBus, org: Org) -> list[dict[str, Any]]:
    """What was published for `org` (the fixer sweeps every organisation's holds: other
    tests' lapsed holds in the same database are announced too)."""
    return [message for org_id, message in bus.published if org_id == org.id]


def relay_all(container: Container) -> None:
    while container.use_cases.relay():
        pass


def setup(client: TestClient) -> tuple[Org, dict[str, Any], dict[str, Any]]:
    org = signup(client, timezone="UTC")
    practitioner = resource(org, name="Dr Hold")
    return org, practitioner, service(org, duration_min=60)


def test_placing_and_releasing_a_hold_write_events_the_live_reactor_publishes(
        client: TestClient, container: Container) -> None:
    org, practitioner, svc = setup(client)
    relay_all(container)
    bus = recording(container)
    hold = org.post("/v1/holds", {"service_id": svc["id"], "start": START}).json()
    [placed] = events_of(container, org.id, hold["id"])
    assert placed.type == "hold.placed"
    assert placed.payload == {"hold": {
        "id": hold["id"], "service_id": svc["id"], "start": START,
        "end": "2027-03-08T11:00:00Z", "resource_ids": [practitioner["id"]],
        "expires_at": hold["expires_at"].replace("+00:00", "Z")}}
    relay_all(container)
    message = {"type": "slots", "service_ids": [svc["id"]],
               "resource_ids": [practitioner["id"]], "start": START,
               "end": "2027-03-08T11:00:00Z"}
    assert mine(bus, org) == [message]

    assert org.delete(f"/v1/holds/{hold['id']}").status_code == 204
    assert [e.type for e in events_of(container, org.id, hold["id"])] == [
        "hold.placed", "hold.released"]
    relay_all(container)
    assert mine(bus, org) == [message] * 2
    # Releasing it again is a 404 and writes nothing.
    assert org.delete(f"/v1/holds/{hold['id']}").status_code == 404
    assert len(events_of(container, org.id, hold["id"])) == 2


def test_a_refused_hold_and_a_booking_write_no_hold_event(
        client: TestClient, container: Container) -> None:
    org, _, svc = setup(client)
    booked = book(org, svc["id"], START)
    refused = org.post("/v1/holds", {"service_id": svc["id"], "start": START})
    assert refused.status_code == 409
    # This organisation's events only: other tests' events share the database, and the first
    # hundred unpublished ones may all be theirs.
    with container.engine.connect() as connection:
        written = connection.execute(select(outbox.c.type, outbox.c.aggregate_id)
                                     .where(outbox.c.org_id == org.id)
                                     .order_by(outbox.c.seq)).all()
    assert [tuple(row) for row in written] == [("booking.created", booked["id"])]


def test_the_fixer_writes_hold_expired_once(client: TestClient, container: Container,
                                             clock: FrozenClock) -> None:
    org, _, svc = setup(client)
    hold = org.post("/v1/holds", {"service_id": svc["id"], "start": START,
                                  "ttl_s": 60}).json()
    relay_all(container)
    bus = recording(container)
    clock.advance(timedelta(minutes=2))
    container.use_cases.fixer.run()
    container.use_cases.fixer.run()  # nothing left to expire: no second event
    assert [e.type for e in events_of(container, org.id, hold["id"])] == [
        "hold.placed", "hold.expired"]
    relay_all(container)
    assert [m["start"] for m in mine(bus, org)] == [START]


def test_a_lapsed_hold_reclaimed_by_another_acquire_is_still_announced(
        client: TestClient, container: Container, clock: FrozenClock) -> None:
    org, _, svc = setup(client)
    lapsed = org.post("/v1/holds", {"service_id": svc["id"], "start": START,
                                    "ttl_s": 60}).json()
    clock.advance(timedelta(minutes=2))
    # Another hold on the same resource frees the lapsed one's rows before the fixer runs.
    later = org.post("/v1/holds", {"service_id": svc["id"], "start": "2027-03-09T10:00:00Z"})
    assert later.status_code == 201
    assert org.post("/v1/holds", {"service_id": svc["id"], "start": START}).status_code == 201
    container.use_cases.fixer.run()
    assert [e.type for e in events_of(container, org.id, lapsed["id"])] == [
        "hold.placed", "hold.expired"]


def test_webhooks_subscribed_to_everything_do_not_receive_hold_events(
        client: TestClient, container: Container) -> None:
    org, _, svc = setup(client)
    hook = org.post("/v1/webhooks", {"url": "https://example.com/hook"}).json()
    refused = org.post("/v1/webhooks", {"url": "https://example.com/h2",
                                        "events": ["hold.placed"]})
    assert refused.status_code == 422
    hold = org.post("/v1/holds", {"service_id": svc["id"], "start": START}).json()
    org.delete(f"/v1/holds/{hold['id']}")
    book(org, svc["id"], START)
    relay_all(container)
    found = org.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["items"]
    assert [d["event_type"] for d in found] == ["booking.created"]
