"""The way from pending to confirmed or failed, and how a booking ends: approval and decline,
the deadline that fails a pending booking closed, completed and no-show (by staff or by the
rule after the end), and the customer's no-show history."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from fastapi.testclient import TestClient

from slotwise.app.clock import FrozenClock
from slotwise.bootstrap import Container
from slotwise.testing.api import Org, availability, book, resource, service, signup

DAY = "2027-03-08"


def _starts(org: Org, service_id: str) -> list[str]:
    slots = availability(org, service_id, f"{DAY}T00:00:00Z", f"{DAY}T23:59:00Z")
    return [s["start"] for s in slots]


def _approval_setup(client: TestClient) -> tuple[Org, dict]:
    org = signup(client, timezone="UTC")
    resource(org, requires_approval=True)
    return org, service(org)


def test_an_approval_booking_waits_then_approve_confirms_it(client: TestClient) -> None:
    org, svc = _approval_setup(client)
    booked = book(org, svc["id"], f"{DAY}T10:00:00Z")
    assert booked["status"] == "pending"
    assert booked["awaiting"] == ["approval"]
    assert booked["pending_until"] is None  # a person's decision has no machine deadline
    assert f"{DAY}T10:00:00Z" not in _starts(org, svc["id"])  # held while pending
    approved = org.post(f"/v1/bookings/{booked['id']}/approve").json()
    assert (approved["status"], approved["awaiting"]) == ("confirmed", [])
    again = org.post(f"/v1/bookings/{booked['id']}/approve")
    assert again.status_code == 409


def test_decline_cancels_and_frees_the_slot(client: TestClient) -> None:
    org, svc = _approval_setup(client)
    booked = book(org, svc["id"], f"{DAY}T10:00:00Z")
    declined = org.post(f"/v1/bookings/{booked['id']}/decline", {"reason": "fully booked"})
    assert declined.status_code == 200
    assert declined.json()["status"] == "cancelled"
    assert declined.json()["cancel_reason"] == "fully booked"
    assert f"{DAY}T10:00:00Z" in _starts(org, svc["id"])
    assert org.post(f"/v1/bookings/{booked['id']}/decline").status_code == 409


def test_a_confirmed_booking_cannot_be_approved_or_declined(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    svc = service(org)
    booked = book(org, svc["id"], f"{DAY}T10:00:00Z")
    assert booked["status"] == "confirmed"
    assert org.post(f"/v1/bookings/{booked['id']}/approve").status_code == 409
    assert org.post(f"/v1/bookings/{booked['id']}/decline").status_code == 409


def test_a_pending_booking_past_its_deadline_fails_closed(
        client: TestClient, container: Container, clock: FrozenClock) -> None:
    org, svc = _approval_setup(client)
    booked = book(org, svc["id"], f"{DAY}T10:00:00Z")
    # Plant a machine deadline, as a payment or meeting gate would have set it.
    with container.uow(write=True) as uow:
        stored = uow.bookings.get(org.id, booked["id"])
        assert stored is not None
        uow.bookings.update(replace(stored, awaiting=("payment",),
                                    pending_until=clock.now() + timedelta(minutes=15)))
        uow.commit()
    def repairs() -> list[str]:
        return [r.action for r in container.use_cases.fixer.run() if r.target == booked["id"]]

    assert repairs() == []
    clock.advance(timedelta(minutes=16))
    assert repairs() == ["fail_overdue_pending"]
    failed = org.get(f"/v1/bookings/{booked['id']}").json()
    assert failed["status"] == "failed"
    assert failed["failure_reason"] == "The payment did not arrive in time"
    assert f"{DAY}T10:00:00Z" in _starts(org, svc["id"])
    assert repairs() == []  # idempotent


def test_staff_mark_completed_or_no_show_once_started_and_no_shows_are_counted(
        client: TestClient, container: Container, clock: FrozenClock) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    svc = service(org)
    first = book(org, svc["id"], f"{DAY}T10:00:00Z", email="kim@example.com")
    second = book(org, svc["id"], f"{DAY}T12:00:00Z", email="kim@example.com")
    early = org.post(f"/v1/bookings/{first['id']}/no-show")
    assert early.status_code == 409  # not started yet
    clock.set(clock.now().replace(year=2027, month=3, day=8, hour=14))
    assert org.post(f"/v1/bookings/{first['id']}/no-show").json()["status"] == "no_show"
    assert org.post(f"/v1/bookings/{first['id']}/no-show").status_code == 200  # idempotent
    assert org.post(f"/v1/bookings/{second['id']}/complete").json()["status"] == "completed"
    # A completed booking may still turn out a no-show; a no-show cannot become completed.
    assert org.post(f"/v1/bookings/{second['id']}/no-show").json()["status"] == "no_show"
    assert org.post(f"/v1/bookings/{first['id']}/complete").status_code == 409
    with container.uow() as uow:
        customer = uow.customers.by_email(org.id, "kim@example.com")
    assert customer is not None and customer.no_shows == 2


def test_the_rule_after_the_end_completes_confirmed_bookings(
        client: TestClient, container: Container, clock: FrozenClock) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    svc = service(org)
    booked = book(org, svc["id"], f"{DAY}T10:00:00Z")
    lifecycle = container.use_cases.lifecycle
    clock.set(clock.now().replace(year=2027, month=3, day=8, hour=12, minute=30))
    lifecycle.settle(timedelta(hours=2))  # (other tests' bookings share the database)
    assert org.get(f"/v1/bookings/{booked['id']}").json()["status"] == "confirmed"  # 1 h 30
    clock.advance(timedelta(minutes=31))
    lifecycle.settle(timedelta(hours=2))
    assert org.get(f"/v1/bookings/{booked['id']}").json()["status"] == "completed"


def test_marking_an_unknown_booking_is_404(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    for action in ("approve", "decline", "complete", "no-show"):
        assert org.post(f"/v1/bookings/booking_nope/{action}").status_code == 404


def test_a_customer_with_no_shows_books_only_with_approval_where_the_service_says_so(
        client: TestClient, clock: FrozenClock) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    svc = service(org, approval_after_no_shows=1)
    missed = book(org, svc["id"], f"{DAY}T10:00:00Z", email="late@example.com")
    assert missed["status"] == "confirmed"
    assert book(org, svc["id"], f"{DAY}T11:00:00Z",
                email="punctual@example.com")["status"] == "confirmed"
    clock.set(clock.now().replace(year=2027, month=3, day=8, hour=12))
    org.post(f"/v1/bookings/{missed['id']}/no-show")
    again = book(org, svc["id"], "2027-03-09T10:00:00Z", email="late@example.com")
    assert (again["status"], again["awaiting"]) == ("pending", ["approval"])
    other = book(org, svc["id"], "2027-03-09T11:00:00Z", email="punctual@example.com")
    assert other["status"] == "confirmed"
    assert org.post(f"/v1/bookings/{again['id']}/approve").json()["status"] == "confirmed"
