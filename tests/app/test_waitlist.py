"""The waitlist: a cancellation frees a slot, the first in line gets an exclusive, held offer
with a link; it books through the link, or the offer lapses and the next in line gets it."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from slotwise.app.clock import FrozenClock
from slotwise.bootstrap import Container
from slotwise.domain.waitlist import EntryState
from slotwise.testing.api import Org, availability, book, resource, service, signup
from slotwise.testing.workers import running, wait_for

DAY = "2027-03-08"
TEN = f"{DAY}T10:00:00Z"


def _starts(org: Org, service_id: str) -> list[str]:
    return [s["start"] for s in availability(org, service_id, f"{DAY}T00:00:00Z",
                                             f"{DAY}T23:59:00Z")]


def _full_day(client: TestClient) -> tuple[Org, dict, list[dict]]:
    """A one-resource service open 10:00-12:00 with both hours booked."""
    org = signup(client, timezone="UTC")
    resource(org, weekly=[{"days": ["mon"], "start": "10:00", "end": "12:00"}])
    svc = service(org)
    booked = [book(org, svc["id"], TEN), book(org, svc["id"], f"{DAY}T11:00:00Z")]
    return org, svc, booked


def _state(org: Org, entry: dict) -> str:
    state: str = org.get(f"/v1/waitlist/{entry['id']}").json()["state"]
    return state


def _join(org: Org, svc: dict, email: str) -> dict:
    answer = org.post("/v1/waitlist", {
        "service_id": svc["id"], "start": f"{DAY}T09:00:00Z", "end": f"{DAY}T12:00:00Z",
        "customer": {"name": email.split("@")[0], "email": email}})
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_a_cancellation_offers_the_slot_to_the_first_in_line_who_books_it(
        client: TestClient, container: Container) -> None:
    org, svc, booked = _full_day(client)
    with running(container):
        first = _join(org, svc, "first@example.com")
        second = _join(org, svc, "second@example.com")
        assert first["state"] == second["state"] == "waiting"
        org.post(f"/v1/bookings/{booked[0]['id']}/cancel", {})
        wait_for(lambda: _state(org, first) == "offered")
    offered = org.get(f"/v1/waitlist/{first['id']}").json()
    assert offered["offer"]["start"] == TEN
    assert _state(org, second) == "waiting"
    assert TEN not in _starts(org, svc["id"])  # exclusive: the offer's hold keeps it

    entry = container.use_cases.waitlist.get(org.id, first["id"])
    token = container.use_cases.waitlist.offer_token(entry)
    assert client.post(f"/v1/public/waitlist/{first['id']}/accept",
                       params={"token": "wrong"}).status_code == 404
    accepted = client.post(f"/v1/public/waitlist/{first['id']}/accept", params={"token": token})
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["start"] == TEN
    assert accepted.json()["customer"]["email"] == "first@example.com"
    done = org.get(f"/v1/waitlist/{first['id']}").json()
    assert (done["state"], done["booking_id"]) == ("booked", accepted.json()["id"])
    assert client.post(f"/v1/public/waitlist/{first['id']}/accept",
                       params={"token": token}).status_code == 404


def test_a_lapsed_offer_goes_to_the_next_in_line(
        client: TestClient, container: Container, clock: FrozenClock) -> None:
    org, svc, booked = _full_day(client)
    with running(container):
        first = _join(org, svc, "first@example.com")
        second = _join(org, svc, "second@example.com")
        org.post(f"/v1/bookings/{booked[0]['id']}/cancel", {})
        wait_for(lambda: _state(org, first) == "offered")
        entry = container.use_cases.waitlist.get(org.id, first["id"])
        stale_token = container.use_cases.waitlist.offer_token(entry)
        clock.advance(timedelta(seconds=container.settings.waitlist_offer_ttl_s + 1))
        container.use_cases.waitlist.lapse_offers()  # the periodic job's work, now
        wait_for(lambda: _state(org, second) == "offered")
    assert _state(org, first) == "lapsed"
    assert org.get(f"/v1/waitlist/{second['id']}").json()["offer"]["start"] == TEN
    assert client.post(f"/v1/public/waitlist/{first['id']}/accept",
                       params={"token": stale_token}).status_code == 404


def test_leaving_passes_the_offer_on_and_entries_are_listed_in_line_order(
        client: TestClient, container: Container) -> None:
    org, svc, booked = _full_day(client)
    with running(container):
        first = _join(org, svc, "first@example.com")
        second = _join(org, svc, "second@example.com")
        org.post(f"/v1/bookings/{booked[1]['id']}/cancel", {})
        wait_for(lambda: _state(org, first) == "offered")
        assert org.delete(f"/v1/waitlist/{first['id']}").status_code == 204
        wait_for(lambda: _state(org, second) == "offered")
    listed = org.get("/v1/waitlist", params={"service_id": svc["id"]}).json()["items"]
    assert [(e["id"], e["state"]) for e in listed] == [
        (first["id"], "cancelled"), (second["id"], "offered")]
    assert org.delete(f"/v1/waitlist/{first['id']}").status_code == 409


def test_joining_when_a_slot_is_free_offers_it_at_once(client: TestClient,
                                                       container: Container) -> None:
    org = signup(client, timezone="UTC")
    resource(org, weekly=[{"days": ["mon"], "start": "10:00", "end": "12:00"}])
    svc = service(org)
    with running(container):
        entry = _join(org, svc, "early@example.com")
        wait_for(lambda: _state(org, entry) == "offered")
    assert org.get(f"/v1/waitlist/{entry['id']}").json()["offer"]["start"] == TEN


def test_bad_waitlist_input_is_refused_and_writes_nothing(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    svc = service(org)
    customer = {"name": "A", "email": "a@example.com"}
    backwards = org.post("/v1/waitlist", {"service_id": svc["id"], "customer": customer,
                                          "start": f"{DAY}T12:00:00Z",
                                          "end": f"{DAY}T09:00:00Z"})
    assert backwards.status_code == 422
    unknown = org.post("/v1/waitlist", {"service_id": "svc_nope", "customer": customer,
                                        "start": f"{DAY}T09:00:00Z", "end": f"{DAY}T12:00:00Z"})
    assert unknown.status_code == 404
    assert org.get("/v1/waitlist").json()["items"] == []
    other = signup(client)
    assert other.get("/v1/waitlist").json()["items"] == []


def test_the_public_join_uses_the_organisation_slug(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    svc = service(org)
    joined = client.post(f"/v1/public/{org.slug}/services/{svc['slug']}/waitlist", json={
        "customer": {"name": "P", "email": "p@example.com"},
        "start": f"{DAY}T09:00:00Z", "end": f"{DAY}T12:00:00Z"})
    assert joined.status_code == 201, joined.text
    assert joined.json()["state"] == EntryState.WAITING.value
