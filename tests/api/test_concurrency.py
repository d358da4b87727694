"""Many writers at once: one winner per slot, every loser a clean 409, nothing lost."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from slotwise.testing.api import Org, resource, service, signup

# Every booking race runs with SQL holds and with Redis holds (tests/conftest.py).
with_both_hold_stores = pytest.mark.parametrize("holds", ["sql", "redis"], indirect=True)


def race(attempts: int, attempt: Callable[[int], int], workers: int = 16) -> list[int]:
    """Run `attempt(i)` for each i on many threads at once; return the statuses."""
    with ThreadPoolExecutor(max_workers=min(workers, attempts)) as pool:
        return list(pool.map(attempt, range(attempts)))


def booking_at(org: Org, service_id: str, start: str, email: str | None = None
               ) -> Callable[[int], int]:
    def attempt(i: int) -> int:
        return org.post("/v1/bookings", {
            "service_id": service_id, "start": start,
            "customer": {"name": f"C{i}", "email": email or f"c{i}@example.com"}}).status_code
    return attempt


@with_both_hold_stores
def test_concurrent_bookings_of_one_slot_have_exactly_one_winner(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    svc = service(org)
    statuses = race(32, booking_at(org, svc["id"], "2027-03-08T10:00:00Z"))
    assert statuses.count(201) == 1
    assert statuses.count(409) == 31
    assert len(org.get("/v1/bookings").json()["items"]) == 1


@with_both_hold_stores
def test_concurrent_two_role_bookings_never_share_a_room(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    for i in range(3):
        resource(org, name=f"Doc {i}", kind="practitioner")
    resource(org, name="Only room", kind="room")
    svc = service(org, requirements=[{"kind": "practitioner"}, {"kind": "room"}])
    statuses = race(12, booking_at(org, svc["id"], "2027-03-08T10:00:00Z"))
    assert statuses.count(201) == 1, statuses
    assert set(statuses) == {201, 409}


@with_both_hold_stores
def test_concurrent_seats_of_a_group_session_never_exceed_its_capacity(
        client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    resource(org, name="Studio", kind="room", capacity=20)
    svc = service(org, name="Yoga", capacity=3, requirements=[{"kind": "room"}])
    statuses = race(10, booking_at(org, svc["id"], "2027-03-08T10:00:00Z"))
    assert statuses.count(201) == 3, statuses
    assert statuses.count(409) == 7
    slots = org.get(f"/v1/services/{svc['id']}/availability", params={
        "start": "2027-03-08T00:00:00Z", "end": "2027-03-09T00:00:00Z"}).json()["slots"]
    assert "2027-03-08T10:00:00Z" not in [s["start"] for s in slots]


@with_both_hold_stores
def test_one_new_customer_booking_several_slots_at_once_is_one_customer(
        client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    svc = service(org)

    def attempt(i: int) -> int:
        start = f"2027-03-08T{9 + i:02d}:00:00Z"
        return booking_at(org, svc["id"], start, email="same@example.com")(i)

    assert race(8, attempt) == [201] * 8


def test_concurrent_signups_with_one_email_make_one_account(client: TestClient) -> None:
    def attempt(i: int) -> int:
        return client.post("/v1/signup", json={
            "org_name": f"Race {i}", "email": "race@example.com",
            "password": "correct horse battery", "timezone": "UTC"}).status_code

    statuses = race(6, attempt)
    assert statuses.count(201) == 1
    assert statuses.count(409) == 5


def test_services_sharing_a_room_race_without_deadlock(client: TestClient) -> None:
    """A writer that tries its locks and then waits must keep their global order: two
    services whose lock sets overlap (practitioners + rooms, rooms only) once deadlocked here
    (a 500) when a failed try still took the later keys."""
    org = signup(client, timezone="UTC")
    for i in range(4):
        resource(org, name=f"Doc {i}", kind="practitioner")
    for i in range(2):
        resource(org, name=f"Room {i}", kind="room")
    both = service(org, name="Session", requirements=[{"kind": "practitioner"},
                                                      {"kind": "room"}])
    rooms = service(org, name="Room hire", requirements=[{"kind": "room"}])

    def attempt(i: int) -> int:
        svc = both if i % 2 else rooms
        start = f"2027-03-08T{9 + i % 4:02d}:00:00Z"
        return booking_at(org, svc["id"], start)(i)

    statuses = race(32, attempt)
    assert set(statuses) <= {201, 409}, statuses
    assert statuses.count(201) == 8  # two rooms at each of four starts
