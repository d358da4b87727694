"""The write path through the API: bookings, holds, cancel, reschedule, series, approvals."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from slotwise.app.bookings import BookingRequest, CustomerDetails
from slotwise.app.clock import FrozenClock
from slotwise.bootstrap import Container
from slotwise.testing.api import Org, availability, book, resource, service, signup

MON = "2027-03-08"

pytestmark = pytest.mark.parametrize("holds", ["sql", "redis"], indirect=True)


def setup(client: TestClient, **service_fields: object) -> tuple[Org, dict[str, object]]:
    org = signup(client, timezone="UTC")
    resource(org)
    return org, service(org, duration_min=60, **service_fields)


def booking_count(org: Org) -> int:
    return len(org.get("/v1/bookings", params={"limit": 500}).json()["items"])


def attempt(org: Org, svc: dict[str, object], start: str, email: str) -> Any:
    """A booking attempt by a new customer; the raw answer."""
    return org.post("/v1/bookings", {"service_id": svc["id"], "start": start,
                                     "customer": {"name": "B", "email": email}})


def nearest_offered(org: Org, svc: dict[str, object], refused: str) -> list[str]:
    """The five starts nearest `refused` (ties to the earlier) among those the availability
    search lists around Monday, ascending: what a refusal's alternatives must be."""
    offered = [s["start"] for s in availability(org, svc["id"], "2027-03-07T00:00:00Z",
                                                "2027-03-10T00:00:00Z")]
    at = datetime.fromisoformat(refused.replace("Z", "+00:00"))

    def distance(start: str) -> timedelta:
        return abs(datetime.fromisoformat(start.replace("Z", "+00:00")) - at)

    return sorted(sorted(offered, key=lambda s: (distance(s), s))[:5])


def test_a_taken_start_is_a_409_with_bookable_alternatives(client: TestClient) -> None:
    org, svc = setup(client)
    book(org, svc["id"], f"{MON}T10:00:00Z")
    clash = org.post("/v1/bookings", {"service_id": svc["id"], "start": f"{MON}T10:00:00Z",
                                      "customer": {"name": "B", "email": "b@example.com"}})
    assert clash.status_code == 409
    assert clash.headers["content-type"] == "application/problem+json"
    problem = clash.json()
    assert problem["status"] == 409 and problem["type"].endswith("slot-unavailable")
    nearest = [a["start"] for a in problem["alternatives"]]
    assert nearest[:2] == [f"{MON}T09:00:00Z", f"{MON}T11:00:00Z"]
    assert book(org, svc["id"], nearest[0])["start"] == nearest[0]
    assert booking_count(org) == 2


def test_a_rush_on_a_full_stretch_gets_the_same_alternatives_as_a_first_refusal(
        client: TestClient) -> None:
    """After a day around a refused start comes up short, the search goes wide at once: the
    answer must be exactly what the day-first search gives."""
    org, svc = setup(client)
    for day in ("2027-03-08", "2027-03-09", "2027-03-10"):  # Monday to Wednesday, full
        for hour in range(9, 17):
            book(org, svc["id"], f"{day}T{hour:02d}:00:00Z")
    answers = []
    for i in range(3):
        clash = org.post("/v1/bookings", {"service_id": svc["id"],
                                          "start": "2027-03-09T12:00:00Z",
                                          "customer": {"name": "B", "email": f"b{i}@x.org"}})
        assert clash.status_code == 409
        answers.append([a["start"] for a in clash.json()["alternatives"]])
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0] == "2027-03-11T09:00:00Z"  # Thursday's first, beyond the day around
    assert len(answers[0]) == 5


@contextmanager
def writes_begun(container: Container) -> Iterator[list[bool]]:
    """One entry per write transaction begun on the container's engine meanwhile."""
    begun: list[bool] = []

    def on_begin(connection: Any) -> None:
        if connection.get_execution_options().get("sqlite_write"):
            begun.append(True)

    event.listen(container.engine, "begin", on_begin)
    try:
        yield begun
    finally:
        event.remove(container.engine, "begin", on_begin)


def test_in_a_rush_a_taken_start_is_refused_without_a_write_transaction(
        client: TestClient, container: Container) -> None:
    """Once a start of a service was refused, most attempts that follow are for taken starts
    too: they are refused from a plain read, with the alternatives the write path gives,
    while a free start still books."""
    org, svc = setup(client)
    book(org, svc["id"], f"{MON}T10:00:00Z")
    first = attempt(org, svc, f"{MON}T10:00:00Z", "b1@x.org")  # the write path's refusal
    assert first.status_code == 409
    with writes_begun(container) as begun:
        again = attempt(org, svc, f"{MON}T10:00:00Z", "b2@x.org")
        held = org.post("/v1/holds", {"service_id": svc["id"], "start": f"{MON}T10:00:00Z"})
    assert again.status_code == held.status_code == 409
    assert begun == []
    assert again.json()["alternatives"] == first.json()["alternatives"]
    assert held.json()["alternatives"] == first.json()["alternatives"]
    with writes_begun(container) as begun:
        free = attempt(org, svc, f"{MON}T11:00:00Z", "b3@x.org")
        free_held = org.post("/v1/holds", {"service_id": svc["id"], "start": f"{MON}T13:00:00Z"})
    assert free.status_code == free_held.status_code == 201 and len(begun) == 2
    assert attempt(org, svc, f"{MON}T11:00:00Z", "b4@x.org").status_code == 409
    assert attempt(org, svc, f"{MON}T13:00:00Z", "b5@x.org").status_code == 409  # held
    unknown = attempt(org, {"id": "svc_missing"}, f"{MON}T10:00:00Z", "b6@x.org")
    assert unknown.status_code == 404
    assert booking_count(org) == 2


def test_in_a_rush_a_start_taken_after_the_plain_read_is_refused_under_the_lock(
        client: TestClient, container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    """The plain read of a rush found the start free, a rival took it before the write path
    locked: the check under the lock refuses it, with alternatives read afresh."""
    org, svc = setup(client)
    book(org, svc["id"], f"{MON}T10:00:00Z")
    assert attempt(org, svc, f"{MON}T10:00:00Z", "b1@x.org").status_code == 409  # a rush
    book_slot = container.use_cases.book
    plain_read = book_slot._refuse_if_taken

    def then_a_rival_books(org_id: str, request: BookingRequest, now: datetime) -> None:
        plain_read(org_id, request, now)  # the start looks free
        monkeypatch.setattr(book_slot, "_refuse_if_taken", plain_read)
        book_slot(org_id, BookingRequest(str(svc["id"]), request.start,
                                         CustomerDetails("Rival", "rival@x.org")))

    monkeypatch.setattr(book_slot, "_refuse_if_taken", then_a_rival_books)
    late = attempt(org, svc, f"{MON}T11:00:00Z", "b2@x.org")
    assert late.status_code == 409
    nearest = nearest_offered(org, svc, f"{MON}T11:00:00Z")
    assert f"{MON}T11:00:00Z" not in nearest  # the rival's
    assert [a["start"] for a in late.json()["alternatives"]] == nearest
    assert booking_count(org) == 2


def test_a_refusal_s_alternatives_are_the_nearest_starts_availability_offers(
        client: TestClient) -> None:
    """A refused start's alternatives come from its own check's read of the calendar (a
    booking's or a hold's); they must be the five starts nearest to it among those the
    availability search lists, held and booked ones left out."""
    org, svc = setup(client)
    for hour in (9, 10, 11, 14):
        book(org, svc["id"], f"{MON}T{hour:02d}:00:00Z")
    held = org.post("/v1/holds", {"service_id": svc["id"], "start": f"{MON}T12:00:00Z",
                                  "ttl_s": 600})
    assert held.status_code == 201
    nearest = nearest_offered(org, svc, f"{MON}T10:00:00Z")
    clash = attempt(org, svc, f"{MON}T10:00:00Z", "b@example.com")
    assert clash.status_code == 409
    assert [a["start"] for a in clash.json()["alternatives"]] == nearest
    assert f"{MON}T12:00:00Z" not in nearest and f"{MON}T11:00:00Z" not in nearest
    taken = org.post("/v1/holds", {"service_id": svc["id"], "start": f"{MON}T10:00:00Z"})
    assert taken.status_code == 409
    assert [a["start"] for a in taken.json()["alternatives"]] == nearest


def test_starts_that_are_not_offered_are_409_never_422(client: TestClient) -> None:
    org, svc = setup(client, min_notice_min=60 * 24, max_advance_days=30)
    for start in (f"{MON}T10:30:00Z",        # off the grid
                  f"{MON}T20:00:00Z",        # outside hours
                  "2027-02-26T10:00:00Z",    # in the past
                  "2027-03-02T10:00:00Z",    # within the notice
                  "2027-04-05T10:00:00Z"):   # beyond the horizon
        answer = org.post("/v1/bookings", {"service_id": svc["id"], "start": start,
                                           "customer": {"name": "B", "email": "b@x.org"}})
        assert answer.status_code == 409, (start, answer.text)
        assert "alternatives" in answer.json()
    assert booking_count(org) == 0


def test_a_hold_hides_the_slot_until_it_is_booked_released_or_expired(
        client: TestClient, clock: FrozenClock) -> None:
    org, svc = setup(client)
    start = f"{MON}T10:00:00Z"
    hold = org.post("/v1/holds", {"service_id": svc["id"], "start": start, "ttl_s": 300})
    assert hold.status_code == 201
    held = hold.json()
    assert held["expires_at"] == "2027-03-01T12:05:00Z"
    window = (f"{MON}T00:00:00Z", f"{MON}T23:00:00Z")
    assert start not in [s["start"] for s in availability(org, svc["id"], *window)]
    other = org.post("/v1/bookings", {"service_id": svc["id"], "start": start,
                                      "customer": {"name": "B", "email": "b@example.com"}})
    assert other.status_code == 409
    clock.advance(timedelta(seconds=301))
    assert start in [s["start"] for s in availability(org, svc["id"], *window)]
    expired = org.post("/v1/bookings", {"service_id": svc["id"], "start": start,
                                        "hold_id": held["id"],
                                        "customer": {"name": "A", "email": "a@example.com"}})
    assert expired.status_code == 409
    assert expired.json()["type"].endswith("hold-not-usable")


def test_booking_with_a_hold_converts_it(client: TestClient) -> None:
    org, svc = setup(client)
    start = f"{MON}T10:00:00Z"
    held = org.post("/v1/holds", {"service_id": svc["id"], "start": start}).json()
    wrong = org.post("/v1/bookings", {"service_id": svc["id"], "start": f"{MON}T11:00:00Z",
                                      "hold_id": held["id"],
                                      "customer": {"name": "A", "email": "a@example.com"}})
    assert wrong.status_code == 409
    booked = book(org, svc["id"], start, hold_id=held["id"])
    assert booked["resource_ids"] == held["resource_ids"]
    again = org.post("/v1/bookings", {"service_id": svc["id"], "start": start,
                                      "hold_id": held["id"],
                                      "customer": {"name": "A", "email": "a@example.com"}})
    assert again.status_code == 409
    assert org.delete(f"/v1/holds/{held['id']}").status_code == 404


def test_releasing_a_hold_frees_the_slot_once(client: TestClient) -> None:
    org, svc = setup(client)
    held = org.post("/v1/holds", {"service_id": svc["id"], "start": f"{MON}T10:00:00Z"}).json()
    assert org.delete(f"/v1/holds/{held['id']}").status_code == 204
    assert org.delete(f"/v1/holds/{held['id']}").status_code == 404
    book(org, svc["id"], f"{MON}T10:00:00Z")


def test_hold_ttl_is_bounded(client: TestClient) -> None:
    org, svc = setup(client)
    for ttl in (0, 1801, "ten"):
        answer = org.post("/v1/holds", {"service_id": svc["id"], "start": f"{MON}T10:00:00Z",
                                        "ttl_s": ttl})
        assert answer.status_code == 422
        assert answer.json()["errors"][0]["loc"] == ["body", "ttl_s"]


def test_extending_a_live_hold_keeps_the_slot_hidden_from_now_on(
        client: TestClient, clock: FrozenClock) -> None:
    org, svc = setup(client)
    start = f"{MON}T10:00:00Z"
    held = org.post("/v1/holds", {"service_id": svc["id"], "start": start, "ttl_s": 300}).json()
    clock.advance(timedelta(seconds=200))
    extended = org.post(f"/v1/holds/{held['id']}/extend", {"ttl_s": 600})
    assert extended.status_code == 200, extended.text
    assert extended.json() == {**held, "expires_at": "2027-03-01T12:13:20Z"}
    clock.advance(timedelta(seconds=599))
    window = (f"{MON}T00:00:00Z", f"{MON}T23:00:00Z")
    assert start not in [s["start"] for s in availability(org, svc["id"], *window)]
    assert book(org, svc["id"], start, hold_id=held["id"])["start"] == start


def test_only_a_live_hold_can_be_extended(client: TestClient, clock: FrozenClock) -> None:
    org, svc = setup(client)
    hold = org.post("/v1/holds", {"service_id": svc["id"], "start": f"{MON}T10:00:00Z",
                                  "ttl_s": 60}).json()
    for body in ({"ttl_s": 0}, {"ttl_s": 1801}, {"ttl_s": "ten"}, {}):
        answer = org.post(f"/v1/holds/{hold['id']}/extend", body)
        assert answer.status_code == 422
        assert answer.json()["errors"][0]["loc"] == ["body", "ttl_s"]
    released = org.post("/v1/holds", {"service_id": svc["id"], "start": f"{MON}T11:00:00Z"})
    org.delete(f"/v1/holds/{released.json()['id']}")
    converted = org.post("/v1/holds", {"service_id": svc["id"], "start": f"{MON}T12:00:00Z"})
    book(org, svc["id"], f"{MON}T12:00:00Z", hold_id=converted.json()["id"])
    clock.advance(timedelta(seconds=60))
    for hold_id in (hold["id"], released.json()["id"], converted.json()["id"], "hold_unknown"):
        answer = org.post(f"/v1/holds/{hold_id}/extend", {"ttl_s": 600})
        assert answer.status_code == 404, (hold_id, answer.text)


def test_cancel_frees_the_slot(client: TestClient) -> None:
    org, svc = setup(client)
    booked = book(org, svc["id"], f"{MON}T10:00:00Z")
    cancelled = org.post(f"/v1/bookings/{booked['id']}/cancel", {"reason": "ill"})
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["cancel_reason"] == "ill"
    book(org, svc["id"], f"{MON}T10:00:00Z")
    assert org.post(f"/v1/bookings/{booked['id']}/cancel").status_code == 409


def test_reschedule_keeps_the_id_and_refuses_a_taken_start_without_change(
        client: TestClient) -> None:
    org, svc = setup(client)
    first = book(org, svc["id"], f"{MON}T10:00:00Z")
    second = book(org, svc["id"], f"{MON}T12:00:00Z")
    moved = org.post(f"/v1/bookings/{first['id']}/reschedule", {"start": f"{MON}T10:30:00Z"})
    assert moved.status_code == 409  # off the grid
    moved = org.post(f"/v1/bookings/{first['id']}/reschedule", {"start": f"{MON}T12:00:00Z"})
    assert moved.status_code == 409
    assert org.get(f"/v1/bookings/{first['id']}").json()["start"] == f"{MON}T10:00:00Z"
    moved = org.post(f"/v1/bookings/{first['id']}/reschedule", {"start": f"{MON}T14:00:00Z"})
    assert moved.status_code == 200
    assert moved.json()["id"] == first["id"]
    assert moved.json()["start"] == f"{MON}T14:00:00Z"
    book(org, svc["id"], f"{MON}T10:00:00Z")  # the old slot is free again
    # moving onto a range that overlaps its own old range works
    shifted = org.post(f"/v1/bookings/{second['id']}/reschedule", {"start": f"{MON}T13:00:00Z"})
    assert shifted.status_code == 200


def test_a_weekly_series_stays_at_nine_new_york_across_dst(client: TestClient) -> None:
    org = signup(client, timezone="America/New_York")
    resource(org)
    svc = service(org)
    answer = org.post("/v1/bookings", {
        "service_id": svc["id"], "start": "2027-03-08T14:00:00Z",
        "customer": {"name": "S", "email": "s@example.com"},
        "recurrence": {"rrule": "FREQ=WEEKLY;COUNT=4", "timezone": "America/New_York"}})
    assert answer.status_code == 201, answer.text
    series = answer.json()
    assert [o["start"] for o in series["occurrences"]] == [
        "2027-03-08T14:00:00Z", "2027-03-15T13:00:00Z", "2027-03-22T13:00:00Z",
        "2027-03-29T13:00:00Z"]
    assert {o["series_id"] for o in series["occurrences"]} == {series["series_id"]}
    assert series["id"] == series["occurrences"][0]["id"]


def test_a_clashing_series_writes_nothing_and_lists_the_clashes(client: TestClient) -> None:
    org, svc = setup(client)
    book(org, svc["id"], "2027-03-22T10:00:00Z")
    answer = org.post("/v1/bookings", {
        "service_id": svc["id"], "start": f"{MON}T10:00:00Z",
        "customer": {"name": "S", "email": "s@example.com"},
        "recurrence": {"rrule": "FREQ=WEEKLY;COUNT=3"}})
    assert answer.status_code == 409
    problem = answer.json()
    assert problem["conflicts"] == [{"start": "2027-03-22T10:00:00Z",
                                     "end": "2027-03-22T11:00:00Z"}]
    assert problem["alternatives"]
    assert booking_count(org) == 1


def test_a_series_needs_an_end(client: TestClient) -> None:
    org, svc = setup(client)
    answer = org.post("/v1/bookings", {
        "service_id": svc["id"], "start": f"{MON}T10:00:00Z",
        "customer": {"name": "S", "email": "s@example.com"},
        "recurrence": {"rrule": "FREQ=WEEKLY"}})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["loc"] == ["body", "recurrence", "rrule"]


def test_a_resource_that_requires_approval_leaves_the_booking_pending(
        client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    resource(org, requires_approval=True)
    svc = service(org)
    booked = book(org, svc["id"], f"{MON}T10:00:00Z")
    assert booked["status"] == "pending"
    approved = org.post(f"/v1/bookings/{booked['id']}/approve")
    assert approved.status_code == 200 and approved.json()["status"] == "confirmed"


def test_bookings_list_filters_and_pages_in_start_order(client: TestClient) -> None:
    org, svc = setup(client)
    for hour in (15, 9, 12, 10):
        book(org, svc["id"], f"{MON}T{hour:02d}:00:00Z")
    page = org.get("/v1/bookings", params={"limit": 3}).json()
    assert [b["start"][11:13] for b in page["items"]] == ["09", "10", "12"]
    rest = org.get("/v1/bookings", params={"limit": 3, "cursor": page["next_cursor"]}).json()
    assert [b["start"][11:13] for b in rest["items"]] == ["15"]
    assert rest["next_cursor"] is None
    window = org.get("/v1/bookings", params={"start": f"{MON}T10:30:00Z",
                                             "end": f"{MON}T12:30:00Z"}).json()
    assert [b["start"][11:13] for b in window["items"]] == ["10", "12"]
    assert org.get("/v1/bookings", params={"limit": 0}).status_code == 422
    assert org.get("/v1/bookings", params={"cursor": "forged"}).status_code == 422
