"""Idempotency-Key with Stripe's semantics, including concurrent retries."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from slotwise.testing.api import resource, service, signup

BODY = {"start": "2027-03-08T10:00:00Z", "customer": {"name": "I", "email": "i@example.com"}}


def test_the_same_key_and_body_replay_the_first_answer(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    svc = service(org)
    body = {**BODY, "service_id": svc["id"]}
    first = org.post("/v1/bookings", body, headers={"Idempotency-Key": "abc"})
    again = org.post("/v1/bookings", body, headers={"Idempotency-Key": "abc"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    assert len(org.get("/v1/bookings").json()["items"]) == 1


def test_a_conflict_is_replayed_too(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    svc = service(org)
    body = {**BODY, "service_id": svc["id"], "start": "2027-03-08T10:30:00Z"}
    first = org.post("/v1/bookings", body, headers={"Idempotency-Key": "late"})
    again = org.post("/v1/bookings", body, headers={"Idempotency-Key": "late"})
    assert first.status_code == again.status_code == 409
    assert again.json() == first.json()


def test_the_same_key_with_another_body_is_refused(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    svc = service(org)
    org.post("/v1/bookings", {**BODY, "service_id": svc["id"]},
             headers={"Idempotency-Key": "k"})
    other = org.post("/v1/bookings", {**BODY, "service_id": svc["id"],
                                      "start": "2027-03-08T11:00:00Z"},
                     headers={"Idempotency-Key": "k"})
    assert other.status_code == 422
    assert other.json()["type"].endswith("idempotency-mismatch")


def test_keys_are_scoped_to_the_organisation_and_route(client: TestClient) -> None:
    a = signup(client, timezone="UTC")
    b = signup(client, timezone="UTC")
    made_a = a.post("/v1/api-keys", {"name": "x"}, headers={"Idempotency-Key": "same"})
    made_b = b.post("/v1/api-keys", {"name": "x"}, headers={"Idempotency-Key": "same"})
    assert made_a.status_code == made_b.status_code == 201
    assert made_a.json()["id"] != made_b.json()["id"]
    other_route = a.post("/v1/locations", {"name": "x", "timezone": "UTC"},
                         headers={"Idempotency-Key": "same"})
    assert other_route.status_code == 201


def test_twenty_concurrent_requests_with_one_key_write_one_booking(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    svc = service(org)
    body = {**BODY, "service_id": svc["id"]}

    def send(_: int) -> tuple[int, str]:
        answer = org.post("/v1/bookings", body, headers={"Idempotency-Key": "storm"})
        return answer.status_code, answer.json().get("id") or answer.json()["type"]

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(send, range(20)))
    created = {ident for status, ident in answers if status == 201}
    assert len(created) == 1
    assert all(status == 201 or ident.endswith("idempotency-in-flight")
               for status, ident in answers)
    assert len(org.get("/v1/bookings").json()["items"]) == 1
