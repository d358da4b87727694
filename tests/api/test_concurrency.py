"""Many writers at once: one winner per slot, every loser a clean 409, nothing lost."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from slotwise.testing.api import resource, service, signup


def test_concurrent_bookings_of_one_slot_have_exactly_one_winner(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    svc = service(org)

    def attempt(i: int) -> int:
        return org.post("/v1/bookings", {
            "service_id": svc["id"], "start": "2027-03-08T10:00:00Z",
            "customer": {"name": f"C{i}", "email": f"c{i}@example.com"}}).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(attempt, range(32)))
    assert statuses.count(201) == 1
    assert statuses.count(409) == 31
    assert len(org.get("/v1/bookings").json()["items"]) == 1


def test_concurrent_two_role_bookings_never_share_a_room(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    for i in range(3):
        resource(org, name=f"Doc {i}", kind="practitioner")
    resource(org, name="Only room", kind="room")
    svc = service(org, requirements=[{"kind": "practitioner"}, {"kind": "room"}])

    def attempt(i: int) -> int:
        return org.post("/v1/bookings", {
            "service_id": svc["id"], "start": "2027-03-08T10:00:00Z",
            "customer": {"name": f"C{i}", "email": f"c{i}@example.com"}}).status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(attempt, range(12)))
    assert statuses.count(201) == 1, statuses
    assert set(statuses) == {201, 409}


def test_concurrent_seats_of_a_group_session_never_exceed_its_capacity(
        client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    resource(org, name="Studio", kind="room", capacity=20)
    svc = service(org, name="Yoga", capacity=3, requirements=[{"kind": "room"}])

    def attempt(i: int) -> int:
        return org.post("/v1/bookings", {
            "service_id": svc["id"], "start": "2027-03-08T10:00:00Z",
            "customer": {"name": f"C{i}", "email": f"c{i}@example.com"}}).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(attempt, range(10)))
    assert statuses.count(201) == 3, statuses
    assert statuses.count(409) == 7
    slots = org.get(f"/v1/services/{svc['id']}/availability", params={
        "start": "2027-03-08T00:00:00Z", "end": "2027-03-09T00:00:00Z"}).json()["slots"]
    assert "2027-03-08T10:00:00Z" not in [s["start"] for s in slots]


def test_one_new_customer_booking_several_slots_at_once_is_one_customer(
        client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    svc = service(org)

    def attempt(hour: int) -> int:
        return org.post("/v1/bookings", {
            "service_id": svc["id"], "start": f"2027-03-08T{hour:02d}:00:00Z",
            "customer": {"name": "Same", "email": "same@example.com"}}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(attempt, range(9, 17)))
    assert statuses == [201] * 8


def test_concurrent_signups_with_one_email_make_one_account(client: TestClient) -> None:
    def attempt(i: int) -> int:
        return client.post("/v1/signup", json={
            "org_name": f"Race {i}", "email": "race@example.com",
            "password": "correct horse battery", "timezone": "UTC"}).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(attempt, range(6)))
    assert statuses.count(201) == 1
    assert statuses.count(409) == 5
