"""A paid booking end to end, on both databases: the HTTP API, a real job worker, Stripe's API
faked at the HTTP layer (`FakeStripe`) and webhooks signed locally as Stripe signs them.

Hold → book → pending awaiting payment → the job starts the PaymentIntent → the customer pays
→ the signed webhook confirms the booking. A failed or timed-out payment fails the booking and
frees the slot (and its intent is cancelled); redelivered and out-of-order webhooks change
nothing; a bad signature is a 400 that changes nothing; unknown events are acknowledged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from slotwise.app.clock import FrozenClock
from slotwise.bootstrap import Container, build
from slotwise.settings import Settings
from slotwise.testing.api import Org, availability, book, resource, service, signup
from slotwise.testing.fakes.stripe import FakeStripe, event_body
from slotwise.testing.payments import (
    deliver,
    intent_id,
    running_jobs,
    stripe_settings,
    wait_for,
)

DAY = "2027-03-08"
START = f"{DAY}T10:00:00Z"
PRICE = {"amount": 5000, "currency": "EUR"}


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe() as server:
        yield server


@pytest.fixture
def container(database_url: str, clock: FrozenClock, fake: FakeStripe) -> Iterator[Container]:
    settings = Settings(database_url=database_url, database_pool_size=4,
                        password_hash_time_cost=1, password_hash_memory_kib=1024,
                        **stripe_settings(fake))
    built = build(settings, clock=clock)
    yield built
    built.close()


def _paid_service(org: Org, **fields: Any) -> dict[str, Any]:
    resource(org)
    return service(org, price=PRICE, **{"payment": "full", **fields})


def _starts(org: Org, service_id: str) -> list[str]:
    return [s["start"] for s in availability(org, service_id, f"{DAY}T00:00:00Z",
                                             f"{DAY}T23:59:00Z")]


def _booking(org: Org, booking_id: str) -> dict[str, Any]:
    answer = org.get(f"/v1/bookings/{booking_id}")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def _leave_nothing_pending(org: Org, booking: dict[str, Any]) -> None:
    """Pending bookings with a deadline would be failed by another test's fixer run on the
    same database (it sweeps every organisation)."""
    assert org.post(f"/v1/bookings/{booking['id']}/cancel", {}).status_code == 200


def _started(org: Org, booking_id: str) -> dict[str, Any]:
    """The booking once the payments.create job has started its intent."""
    return wait_for(lambda: (b := _booking(org, booking_id))["payment"]["client_secret"]
                    and b)


def test_paid_online_booking_hold_then_payment_then_confirmation(
        client: TestClient, container: Container, fake: FakeStripe) -> None:
    org = signup(client, timezone="UTC")
    svc = _paid_service(org)
    hold = org.post("/v1/holds", {"service_id": svc["id"], "start": START})
    assert hold.status_code == 201, hold.text
    made = client.post(f"/v1/public/{org.slug}/services/{svc['slug']}/bookings", json={
        "start": START, "hold_id": hold.json()["id"],
        "customer": {"name": "Ada", "email": "ada@example.org"}})
    assert made.status_code == 201, made.text
    booked = made.json()
    assert (booked["status"], booked["awaiting"]) == ("pending", ["payment"])
    assert booked["pending_until"] == "2027-03-01T12:15:00Z"  # payment_deadline_s 900
    assert booked["payment"] == {
        "status": "requires_payment", "kind": "full", "amount": 5000, "currency": "EUR",
        "gateway": "stripe", "refunded": 0, "settles_later": False, "client_secret": None}
    assert START not in _starts(org, svc["id"])  # the pending booking holds its slot

    token = booked["manage_token"]
    public = f"/v1/public/bookings/{booked['id']}"
    with running_jobs(container):
        mine = wait_for(lambda: (b := client.get(public, params={"token": token}).json())
                        ["payment"]["client_secret"] and b)
        pi = intent_id(mine["payment"])
        sent = next(r for r in fake.requests if r.path == "/v1/payment_intents")
        assert sent.headers["idempotency-key"] == booked["id"]
        assert (sent.params["amount"], sent.params["currency"]) == ("5000", "eur")
        assert sent.params["metadata"] == {"booking_id": booked["id"], "org_id": org.id}
        assert sent.params["receipt_email"] == "ada@example.org"

        paid = deliver(client, fake, fake.succeed(pi))
        assert paid.status_code == 200, paid.text
        assert paid.json() == {"received": True, "outcome": "applied"}
    confirmed = client.get(public, params={"token": token}).json()
    assert (confirmed["status"], confirmed["awaiting"]) == ("confirmed", [])
    assert confirmed["pending_until"] is None
    assert confirmed["payment"]["status"] == "succeeded"
    assert START not in _starts(org, svc["id"])
    listed = org.get("/v1/bookings").json()["items"]
    assert [b["payment"]["status"] for b in listed] == ["succeeded"]
    assert listed[0]["payment"]["client_secret"] is None  # the secret is the customer's


def test_a_failed_payment_fails_the_booking_frees_the_slot_and_cancels_the_intent(
        client: TestClient, container: Container, fake: FakeStripe) -> None:
    org = signup(client, timezone="UTC")
    svc = _paid_service(org)
    booked = book(org, svc["id"], START)
    with running_jobs(container):
        pi = intent_id(_started(org, booked["id"])["payment"])
        answer = deliver(client, fake, fake.fail(pi))
        assert answer.json()["outcome"] == "applied"
        failed = _booking(org, booked["id"])
        assert (failed["status"], failed["failure_reason"]) == ("failed", "the payment failed")
        assert failed["payment"]["status"] == "failed"
        assert START in _starts(org, svc["id"])
        # The relay's reaction: the intent is cancelled, so the customer cannot pay later.
        wait_for(lambda: fake.intent(pi)["status"] == "canceled")
        wait_for(lambda: _booking(org, booked["id"])["payment"]["status"] == "cancelled")
    again = book(org, svc["id"], START)  # the slot is bookable again
    assert again["status"] == "pending"
    _leave_nothing_pending(org, again)


def test_a_payment_that_does_not_arrive_in_time_fails_the_booking_and_frees_the_slot(
        client: TestClient, container: Container, fake: FakeStripe,
        clock: FrozenClock) -> None:
    org = signup(client, timezone="UTC")
    svc = _paid_service(org)
    booked = book(org, svc["id"], START)
    with running_jobs(container):
        pi = intent_id(_started(org, booked["id"])["payment"])
        # The fixer fails it at the deadline (the worker's periodic run may be the one).
        clock.advance(timedelta(seconds=899))
        container.use_cases.fixer.run()
        assert _booking(org, booked["id"])["status"] == "pending"
        clock.advance(timedelta(seconds=2))
        container.use_cases.fixer.run()
        failed = wait_for(lambda: (b := _booking(org, booked["id"]))["status"] == "failed"
                          and b)
        assert failed["failure_reason"] == "The payment did not arrive in time"
        assert START in _starts(org, svc["id"])
        wait_for(lambda: fake.intent(pi)["status"] == "canceled")


def test_money_that_arrives_after_the_booking_gave_up_is_refunded_in_full(
        client: TestClient, container: Container, fake: FakeStripe,
        clock: FrozenClock) -> None:
    org = signup(client, timezone="UTC")
    svc = _paid_service(org)
    booked = book(org, svc["id"], START)
    with running_jobs(container):
        pi = intent_id(_started(org, booked["id"])["payment"])
    clock.advance(timedelta(minutes=16))
    container.use_cases.fixer.run()
    late = deliver(client, fake, fake.succeed(pi))  # paid just as the deadline passed
    assert late.json()["outcome"] == "applied"
    assert _booking(org, booked["id"])["status"] == "failed"  # no resurrection
    with running_jobs(container):
        wait_for(lambda: any(r.path == "/v1/refunds" for r in fake.requests))
        after = wait_for(lambda: (b := _booking(org, booked["id"]))["payment"]["status"]
                         == "refunded" and b)
    refund = next(r for r in fake.requests if r.path == "/v1/refunds")
    assert refund.params == {"payment_intent": pi, "amount": "5000"}
    assert refund.headers["idempotency-key"] == f"{booked['id']}:released"
    assert after["payment"]["refunded"] == 5000


def test_redelivered_and_out_of_order_webhooks_change_nothing(
        client: TestClient, container: Container, fake: FakeStripe) -> None:
    org = signup(client, timezone="UTC")
    svc = _paid_service(org)
    booked = book(org, svc["id"], START)
    with running_jobs(container):
        pi = intent_id(_started(org, booked["id"])["payment"])
    declined = fake.fail(pi)  # a first attempt is declined...
    succeeded = fake.succeed(pi)  # ...a second card works; the webhooks arrive the other way
    assert deliver(client, fake, succeeded).json()["outcome"] == "applied"
    assert deliver(client, fake, succeeded).json()["outcome"] == "duplicate"
    assert deliver(client, fake, declined).json()["outcome"] == "stale"
    assert deliver(client, fake, declined).json()["outcome"] == "duplicate"
    after = _booking(org, booked["id"])
    assert (after["status"], after["payment"]["status"]) == ("confirmed", "succeeded")

    # An older cancellation (another event id, an earlier time) never undoes the success.
    intent = fake.intent(pi)
    older = event_body("payment_intent.canceled", {**intent, "status": "canceled"},
                       created=json.loads(succeeded)["created"] - 60)
    assert deliver(client, fake, older).json()["outcome"] == "stale"
    assert _booking(org, booked["id"])["status"] == "confirmed"


def test_an_older_failure_than_the_last_event_is_ignored(
        client: TestClient, container: Container, fake: FakeStripe) -> None:
    org = signup(client, timezone="UTC")
    svc = _paid_service(org)
    booked = book(org, svc["id"], START)
    with running_jobs(container):
        pi = intent_id(_started(org, booked["id"])["payment"])
    intent = fake.intent(pi)
    cancelled = event_body("payment_intent.canceled", intent, created=2_000_000_000)
    stale = event_body("payment_intent.payment_failed", intent, created=1_999_999_000)
    assert deliver(client, fake, cancelled).json()["outcome"] == "applied"
    assert deliver(client, fake, stale).json()["outcome"] == "stale"
    after = _booking(org, booked["id"])
    assert after["failure_reason"] == "the payment was cancelled"


def test_a_bad_signature_is_400_and_changes_nothing(
        client: TestClient, container: Container, fake: FakeStripe) -> None:
    org = signup(client, timezone="UTC")
    svc = _paid_service(org)
    booked = book(org, svc["id"], START)
    with running_jobs(container):
        pi = intent_id(_started(org, booked["id"])["payment"])
    body = fake.succeed(pi)
    forged = deliver(client, fake, body, secret="whsec_someone_else")
    assert forged.status_code == 400
    assert forged.headers["content-type"] == "application/problem+json"
    assert forged.json()["type"].endswith("/bad-signature")
    unsigned = client.post("/v1/payments/stripe/webhook", content=body)
    assert unsigned.status_code == 400
    stale = client.post("/v1/payments/stripe/webhook", content=body,
                        headers=fake.headers_for(body, timestamp=1_700_000_000))
    assert stale.status_code == 400  # older than the tolerance: a replay
    tampered = body.replace(b'"amount": 5000', b'"amount": 1')
    assert client.post("/v1/payments/stripe/webhook", content=tampered,
                       headers=fake.headers_for(body)).status_code == 400
    after = _booking(org, booked["id"])
    assert (after["status"], after["payment"]["status"]) == ("pending", "requires_payment")
    # The genuine delivery still applies: the refused ones were not recorded as seen.
    assert deliver(client, fake, body).json()["outcome"] == "applied"


def test_unknown_events_and_payments_are_acknowledged_and_ignored(
        client: TestClient, fake: FakeStripe) -> None:
    other = event_body("customer.created", {"id": "cus_1", "object": "customer"})
    answer = deliver(client, fake, other)
    assert answer.status_code == 200
    assert answer.json() == {"received": True, "outcome": "ignored"}
    stranger = event_body("payment_intent.succeeded", {
        "id": "pi_not_ours", "object": "payment_intent", "amount": 100,
        "amount_received": 100, "metadata": {}})
    assert deliver(client, fake, stranger).json()["outcome"] == "ignored"


def test_a_deposit_percentage_is_taken_online_and_the_rest_is_left_for_the_venue(
        client: TestClient, container: Container, fake: FakeStripe) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    svc = service(org, price={"amount": 12345, "currency": "EUR"}, payment="deposit",
                  deposit={"pct": 20})
    assert (svc["payment"], svc["deposit"]) == ("deposit", {"pct": 20})
    booked = book(org, svc["id"], START)
    assert (booked["payment"]["kind"], booked["payment"]["amount"]) == ("deposit", 2469)
    with running_jobs(container):
        pi = intent_id(_started(org, booked["id"])["payment"])
        assert fake.intent(pi)["amount"] == 2469  # 20 % of 123.45, floored to the cent
        deliver(client, fake, fake.succeed(pi))
    assert _booking(org, booked["id"])["status"] == "confirmed"


def test_a_resources_deposit_makes_an_unpaid_service_take_it(
        client: TestClient, container: Container, fake: FakeStripe) -> None:
    org = signup(client, timezone="UTC")
    room = resource(org, kind="room", deposit={"amount_minor": 1500})
    assert room["deposit"] == {"amount_minor": 1500}
    svc = service(org, price={"amount": 8000, "currency": "EUR"},
                  requirements=[{"kind": "room"}])
    assert svc["payment"] == "none"
    booked = book(org, svc["id"], START)
    assert booked["status"] == "pending"
    assert (booked["payment"]["kind"], booked["payment"]["amount"]) == ("deposit", 1500)
    _leave_nothing_pending(org, booked)


def test_paying_on_site_confirms_at_once_and_records_what_is_due(
        client: TestClient, container: Container, fake: FakeStripe) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    svc = service(org, price=PRICE, payment="on_site")
    booked = book(org, svc["id"], START)
    assert (booked["status"], booked["awaiting"]) == ("confirmed", [])
    assert booked["payment"] == {
        "status": "requires_payment", "kind": "full", "amount": 5000, "currency": "EUR",
        "gateway": "on_site", "refunded": 0, "settles_later": True, "client_secret": None}
    cancelled = org.post(f"/v1/bookings/{booked['id']}/cancel", {})
    assert cancelled.json()["fees"] == []  # a week's notice: flexible refunds, no fee
    with running_jobs(container):
        wait_for(lambda: _booking(org, booked["id"])["payment"]["status"] == "cancelled")
    # Nothing ever went to Stripe for it (other tests' jobs may reach this fake).
    assert not [r for r in fake.requests if booked["id"] in json.dumps(r.params)]


def test_cancelling_an_unpaid_booking_cancels_its_intent(
        client: TestClient, container: Container, fake: FakeStripe) -> None:
    org = signup(client, timezone="UTC")
    svc = _paid_service(org)
    booked = book(org, svc["id"], START)
    with running_jobs(container):
        pi = intent_id(_started(org, booked["id"])["payment"])
        quote = org.get(f"/v1/bookings/{booked['id']}/cancellation-quote").json()
        assert quote["paid"]["amount"] == 0 and quote["refund"]["amount"] == 0
        cancelled = org.post(f"/v1/bookings/{booked['id']}/cancel", {})
        assert cancelled.json()["status"] == "cancelled"
        wait_for(lambda: fake.intent(pi)["status"] == "canceled")
    assert not any(r.path == "/v1/refunds" for r in fake.requests)


def test_a_paid_booking_that_is_then_declined_is_refunded_in_full(
        client: TestClient, container: Container, fake: FakeStripe) -> None:
    org = signup(client, timezone="UTC")
    resource(org, requires_approval=True)
    svc = service(org, price=PRICE, payment="full")
    booked = book(org, svc["id"], START)
    assert booked["awaiting"] == ["approval", "payment"]
    with running_jobs(container):
        pi = intent_id(_started(org, booked["id"])["payment"])
        deliver(client, fake, fake.succeed(pi))
        paid = _booking(org, booked["id"])
        assert (paid["status"], paid["awaiting"]) == ("pending", ["approval"])
        declined = org.post(f"/v1/bookings/{booked['id']}/decline", {"reason": "full"})
        assert declined.json()["status"] == "cancelled"
        wait_for(lambda: _booking(org, booked["id"])["payment"]["status"] == "refunded")
    refund = next(r for r in fake.requests if r.path == "/v1/refunds")
    assert refund.params["amount"] == "5000"
    assert refund.headers["idempotency-key"] == f"{booked['id']}:declined"
