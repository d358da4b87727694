"""Every change to a booking writes its event to the outbox in the same transaction;
a refused change writes none."""

from __future__ import annotations

from fastapi.testclient import TestClient

from slotwise.bootstrap import Container
from slotwise.store.uow import SqlUnitOfWork
from slotwise.testing.api import book, resource, service, signup


def events_of(container: Container, org_id: str, booking_id: str) -> list[str]:
    with SqlUnitOfWork(container.engine) as uow:
        return [e.type for e in uow.outbox.for_aggregate(org_id, booking_id)]


def test_created_rescheduled_and_cancelled_events_follow_the_booking(
        client: TestClient, container: Container) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    svc = service(org)
    booked = book(org, svc["id"], "2027-03-08T10:00:00Z")
    assert events_of(container, org.id, booked["id"]) == ["booking.created"]
    org.post(f"/v1/bookings/{booked['id']}/reschedule", {"start": "2027-03-08T12:00:00Z"})
    org.post(f"/v1/bookings/{booked['id']}/cancel", {"reason": "moved away"})
    assert events_of(container, org.id, booked["id"]) == [
        "booking.created", "booking.rescheduled", "booking.cancelled"]
    with SqlUnitOfWork(container.engine) as uow:
        moved = uow.outbox.for_aggregate(org.id, booked["id"])[1]
    assert moved.payload["previous"]["start"] == "2027-03-08T10:00:00Z"
    assert moved.payload["booking"]["start"] == "2027-03-08T12:00:00Z"


def test_a_refused_reschedule_writes_no_event(client: TestClient,
                                              container: Container) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    svc = service(org)
    first = book(org, svc["id"], "2027-03-08T10:00:00Z")
    book(org, svc["id"], "2027-03-08T12:00:00Z")
    refused = org.post(f"/v1/bookings/{first['id']}/reschedule",
                       {"start": "2027-03-08T12:00:00Z"})
    assert refused.status_code == 409
    assert events_of(container, org.id, first["id"]) == ["booking.created"]


def test_each_occurrence_of_a_series_has_its_created_event(client: TestClient,
                                                           container: Container) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    svc = service(org)
    series = org.post("/v1/bookings", {
        "service_id": svc["id"], "start": "2027-03-08T10:00:00Z",
        "customer": {"name": "S", "email": "s@example.com"},
        "recurrence": {"rrule": "FREQ=DAILY;COUNT=3;BYDAY=MO,TU,WE"}}).json()
    for occurrence in series["occurrences"]:
        assert events_of(container, org.id, occurrence["id"]) == ["booking.created"]
