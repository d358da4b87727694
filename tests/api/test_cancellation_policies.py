"""Cancellation policies through the API: the fields on services, resources and locations (and
their 422s), which policy applies, the quote before cancelling, the refund cancelling makes
through the gateway (FakeStripe, a real worker), late-cancellation and no-show fees."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from slotwise.api.app import create_app
from slotwise.app.clock import FrozenClock
from slotwise.bootstrap import Container, build
from slotwise.settings import Settings
from slotwise.testing.api import Org, book, resource, service, signup
from slotwise.testing.fakes.stripe import FakeStripe
from slotwise.testing.payments import deliver, intent_id, running_jobs, stripe_settings, wait_for

START = "2027-03-08T10:00:00Z"
PRICE = {"amount": 5000, "currency": "EUR"}
MODERATE = {"name": "moderate", "tiers": [{"min_notice_h": 120, "refund_pct": 100},
                                          {"min_notice_h": 24, "refund_pct": 50}],
            "late_cancel_fee": None, "no_show_fee": None}


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe() as server:
        yield server


def _settings(database_url: str, **more: Any) -> Settings:
    return Settings(database_url=database_url, database_pool_size=4,
                    password_hash_time_cost=1, password_hash_memory_kib=1024, **more)


@pytest.fixture
def container(database_url: str, clock: FrozenClock, fake: FakeStripe) -> Iterator[Container]:
    built = build(_settings(database_url, **stripe_settings(fake)), clock=clock)
    yield built
    built.close()


def _at(clock: FrozenClock, instant: str) -> None:
    clock.set(datetime.fromisoformat(instant.replace("Z", "+00:00")))


def _quote(org: Org, booking_id: str) -> dict[str, Any]:
    answer = org.get(f"/v1/bookings/{booking_id}/cancellation-quote")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def _problem(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    found: dict[str, Any] = answer.json()
    return found


def _locs(answer: Any) -> list[list[str | int]]:
    return [e["loc"] for e in _problem(answer, 422)["errors"]]


def test_moderate_policy_cancelled_two_days_before_refunds_half_through_the_gateway(
        client: TestClient, container: Container, fake: FakeStripe,
        clock: FrozenClock) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    svc = service(org, price=PRICE, payment="full",
                  cancellation_policy={"preset": "moderate"})
    assert svc["cancellation_policy"] == MODERATE  # stored in full
    made = client.post(f"/v1/public/{org.slug}/services/{svc['slug']}/bookings", json={
        "start": START, "customer": {"name": "Ada", "email": "ada@example.org"}})
    assert made.status_code == 201, made.text
    booking_id, token = made.json()["id"], made.json()["manage_token"]
    with running_jobs(container):
        started = wait_for(lambda: (b := org.get(f"/v1/bookings/{booking_id}").json())
                           ["payment"]["client_secret"] and b)
        deliver(client, fake, fake.succeed(intent_id(started["payment"])))

        _at(clock, "2027-03-06T10:00:00Z")  # two days before the start
        public_quote = client.get(f"/v1/public/bookings/{booking_id}/cancellation-quote",
                                  params={"token": token})
        assert public_quote.status_code == 200, public_quote.text
        quote = public_quote.json()
        assert quote == {
            "booking_id": booking_id, "policy": MODERATE,
            "paid": {"amount": 5000, "currency": "EUR"},
            "refund": {"amount": 2500, "currency": "EUR", "pct": 50},
            "fee": {"amount": 0, "charge": 0, "currency": "EUR"},
            "late": False, "hours_before": 48.0,
            "reason": "moderate: 48 h before the start, at least 24 h notice: 50 % refund"}
        assert _quote(org, booking_id) == quote  # staff see the same

        cancelled = client.post(f"/v1/public/bookings/{booking_id}/cancel",
                                params={"token": token}, json={"reason": "ill"})
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        refunded = wait_for(lambda: (b := org.get(f"/v1/bookings/{booking_id}").json())
                            ["payment"]["refunded"] and b)
    refunds = [r for r in fake.requests if r.path == "/v1/refunds"]
    assert len(refunds) == 1
    assert refunds[0].params["amount"] == str(quote["refund"]["amount"])
    assert refunds[0].headers["idempotency-key"] == f"{booking_id}:cancel"
    assert (refunded["payment"]["status"], refunded["payment"]["refunded"]) == (
        "partially_refunded", 2500)
    # Stripe's own word on it changes nothing: the refund is already counted.
    echoed = deliver(client, fake, fake.last_event("charge.refunded"))
    assert echoed.json()["outcome"] == "stale"
    assert org.get(f"/v1/bookings/{booking_id}").json()["payment"]["refunded"] == 2500
    # Cancelling twice is refused and refunds nothing more.
    assert client.post(f"/v1/public/bookings/{booking_id}/cancel",
                       params={"token": token}).status_code == 409
    assert client.get(f"/v1/public/bookings/{booking_id}/cancellation-quote",
                      params={"token": token}).status_code == 409


@pytest.mark.parametrize(("now", "pct", "late"), [
    ("2027-03-03T10:00:00Z", 100, False),  # exactly 5 days: the boundary is met
    ("2027-03-03T10:00:01Z", 50, False),
    ("2027-03-07T10:00:00Z", 50, False),  # exactly 24 h
    ("2027-03-07T22:00:00Z", 0, True),
    ("2027-03-08T10:30:00Z", 0, True),  # after the start
])
def test_the_quote_follows_the_tiers(client: TestClient, clock: FrozenClock, now: str,
                                     pct: int, late: bool) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    svc = service(org, price=PRICE, payment="on_site",
                  cancellation_policy={"preset": "moderate"})
    booked = book(org, svc["id"], START)
    _at(clock, now)
    quote = _quote(org, booked["id"])
    assert (quote["refund"]["pct"], quote["late"]) == (pct, late)
    assert quote["refund"]["amount"] == 0  # paid at the venue: nothing to give back


def test_the_service_policy_wins_then_the_strictest_resource_then_the_location(
        client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    place = org.post("/v1/locations", {"name": "Main", "timezone": "UTC",
                                       "cancellation_policy": {"preset": "strict"}}).json()
    assert place["cancellation_policy"]["name"] == "strict"
    a = resource(org, name="A", location_id=place["id"],
                 cancellation_policy={"preset": "moderate"})
    b = resource(org, name="B", location_id=place["id"],
                 cancellation_policy={"preset": "flexible"})
    both = [{"kind": "practitioner", "count": 2}]

    def policy_name(**fields: Any) -> str:
        svc = service(org, price=PRICE, requirements=both, **fields)
        booked = book(org, svc["id"], START)
        name: str = _quote(org, booked["id"])["policy"]["name"]
        org.post(f"/v1/bookings/{booked['id']}/cancel", {})
        return name

    assert policy_name(cancellation_policy={"name": "house", "tiers": []}) == "house"
    assert policy_name() == "moderate"  # the stricter of the resources'
    for r in (a, b):
        assert org.patch(f"/v1/resources/{r['id']}",
                         {"cancellation_policy": None}).json()["cancellation_policy"] is None
    assert policy_name() == "strict"  # the location's
    assert org.patch(f"/v1/locations/{place['id']}",
                     {"cancellation_policy": None}).status_code == 200
    assert policy_name() == "flexible"  # the default


def test_a_booking_with_a_payment_keeps_the_policy_it_was_booked_under(
        client: TestClient, clock: FrozenClock) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    svc = service(org, price=PRICE, payment="on_site",
                  cancellation_policy={"preset": "flexible"})
    booked = book(org, svc["id"], START)
    changed = org.patch(f"/v1/services/{svc['id']}", {"cancellation_policy": {"preset": "strict"}})
    assert changed.json()["cancellation_policy"]["name"] == "strict"
    assert _quote(org, booked["id"])["policy"]["name"] == "flexible"
    later = book(org, svc["id"], "2027-03-08T12:00:00Z")
    assert _quote(org, later["id"])["policy"]["name"] == "strict"


def test_a_late_cancellation_records_its_fee(client: TestClient, clock: FrozenClock) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    policy = {"tiers": [{"min_notice_h": 24, "refund_pct": 100}],
              "late_cancel_fee": {"amount_minor": 1000}, "no_show_fee": {"pct": 100}}
    svc = service(org, price=PRICE, payment="on_site", cancellation_policy=policy)
    assert svc["cancellation_policy"] == {
        "name": "custom", "tiers": [{"min_notice_h": 24, "refund_pct": 100}],
        "late_cancel_fee": {"amount_minor": 1000}, "no_show_fee": {"pct": 100}}
    early, late = (book(org, svc["id"], s) for s in (START, "2027-03-08T14:00:00Z"))
    _at(clock, "2027-03-08T02:00:00Z")
    quote = _quote(org, late["id"])
    assert quote["late"] is True
    assert quote["fee"] == {"amount": 1000, "charge": 1000, "currency": "EUR"}
    assert quote["reason"] == ("custom: 12 h before the start, less than 24 h notice: "
                               "no refund; late-cancellation fee 1000")
    cancelled = org.post(f"/v1/bookings/{late['id']}/cancel", {}).json()
    assert cancelled["fees"] == [{"kind": "late_cancel", "amount": 1000, "due": 1000,
                                  "currency": "EUR"}]

    # The other one does not turn up: the no-show fee (100 % of the price) is recorded once.
    _at(clock, "2027-03-08T11:00:00Z")
    assert org.post(f"/v1/bookings/{early['id']}/no-show").status_code == 200
    assert org.post(f"/v1/bookings/{early['id']}/no-show").status_code == 200
    marked = org.get(f"/v1/bookings/{early['id']}").json()
    assert marked["fees"] == [{"kind": "no_show", "amount": 5000, "due": 5000,
                               "currency": "EUR"}]


def test_quotes_of_bookings_that_cannot_be_cancelled_or_seen(client: TestClient) -> None:
    org, other = signup(client, timezone="UTC"), signup(client, timezone="UTC")
    resource(org)
    svc = service(org)
    booked = book(org, svc["id"], START)
    free = _quote(org, booked["id"])
    assert free["paid"] == {"amount": 0, "currency": None}  # no price: nothing to refund
    assert free["policy"]["name"] == "flexible"
    assert other.get(f"/v1/bookings/{booked['id']}/cancellation-quote").status_code == 404
    assert org.get("/v1/bookings/bk_nope/cancellation-quote").status_code == 404
    assert client.get(f"/v1/public/bookings/{booked['id']}/cancellation-quote",
                      params={"token": "mt_wrong"}).status_code == 404
    org.post(f"/v1/bookings/{booked['id']}/cancel", {})
    _problem(org.get(f"/v1/bookings/{booked['id']}/cancellation-quote"), 409)


@pytest.mark.parametrize(("policy", "loc"), [
    ({"tiers": [{"min_notice_h": 48, "refund_pct": 100}, {"min_notice_h": 48,
                                                           "refund_pct": 50}]},
     ["tiers", 1, "min_notice_h"]),  # two tiers from the same notice
    ({"tiers": [{"min_notice_h": 48, "refund_pct": 50}, {"min_notice_h": 24,
                                                          "refund_pct": 100}]},
     ["tiers", 0, "refund_pct"]),  # more notice, less refund
    ({"tiers": [], "late_cancel_fee": {"amount_minor": -1}},
     ["late_cancel_fee", "amount_minor"]),
    ({"tiers": [], "no_show_fee": {"pct": 101}}, ["no_show_fee", "pct"]),
    ({"tiers": [], "no_show_fee": {"pct": 10, "amount_minor": 5}}, ["no_show_fee"]),
    ({"tiers": [{"min_notice_h": -1, "refund_pct": 10}]}, ["tiers", 0, "min_notice_h"]),
    ({"preset": "moderate", "tiers": []}, ["tiers"]),
    ({"preset": "lenient"}, ["preset"]),
])
def test_bad_policies_are_422_naming_the_field(client: TestClient, policy: dict[str, Any],
                                               loc: list[str | int]) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    body = {"name": "X", "duration_min": 60, "requirements": [{"kind": "practitioner"}],
            "price": PRICE, "cancellation_policy": policy}
    assert ["body", "cancellation_policy", *loc] in _locs(org.post("/v1/services", body))
    assert org.get("/v1/services").json()["items"] == []  # nothing was written
    for path, fields in (("/v1/resources", {"kind": "room"}),
                         ("/v1/locations", {"timezone": "UTC"})):
        answer = org.post(path, {"name": "Y", **fields, "cancellation_policy": policy})
        assert ["body", "cancellation_policy", *loc] in _locs(answer)


def test_a_fee_above_the_price_is_422(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    svc = service(org, price=PRICE)
    for fee in ("late_cancel_fee", "no_show_fee"):
        policy = {"tiers": [], fee: {"amount_minor": 5001}}
        answer = org.patch(f"/v1/services/{svc['id']}", {"cancellation_policy": policy})
        assert ["body", "cancellation_policy", fee, "amount_minor"] in _locs(answer)
    assert org.get(f"/v1/services/{svc['id']}").json()["cancellation_policy"] is None


def test_payment_and_deposit_422s(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    base = {"name": "X", "duration_min": 60, "requirements": [{"kind": "practitioner"}]}
    cases: list[tuple[dict[str, Any], list[str | int]]] = [
        ({"payment": "full"}, ["body", "payment"]),  # no price
        ({"payment": "deposit", "deposit": {"pct": 20}}, ["body", "payment"]),
        ({"payment": "full", "price": {"amount": 0, "currency": "EUR"}}, ["body", "payment"]),
        ({"payment": "deposit", "price": PRICE}, ["body", "deposit"]),  # which deposit?
        ({"payment": "deposit", "price": PRICE, "deposit": {"amount_minor": 5001}},
         ["body", "deposit", "amount_minor"]),  # over the price
        ({"payment": "deposit", "price": PRICE, "deposit": {"pct": 120}},
         ["body", "deposit", "pct"]),
        ({"payment": "deposit", "price": PRICE, "deposit": {"amount_minor": -5}},
         ["body", "deposit", "amount_minor"]),
        ({"payment": "deposit", "price": PRICE, "deposit": {}}, ["body", "deposit"]),
        ({"payment": "full", "price": PRICE, "deposit": {"pct": 10}}, ["body", "deposit"]),
        ({"payment": "later", "price": PRICE}, ["body", "payment"]),
    ]
    for fields, loc in cases:
        assert loc in _locs(org.post("/v1/services", {**base, **fields})), fields
    svc = service(org, price=PRICE, payment="full")
    assert svc["payment"] == "full"
    removed = org.patch(f"/v1/services/{svc['id']}", {"price": None})
    assert ["body", "payment"] in _locs(removed)
    assert org.get(f"/v1/services/{svc['id']}").json()["price"] == PRICE
    assert ["body", "deposit", "pct"] in _locs(
        org.post("/v1/resources", {"name": "R", "kind": "room", "deposit": {"pct": -1}}))
    deposit = org.patch(f"/v1/services/{svc['id']}", {"payment": "deposit",
                                                      "deposit": {"pct": 30}}).json()
    assert (deposit["payment"], deposit["deposit"]) == ("deposit", {"pct": 30})
    back = org.patch(f"/v1/services/{svc['id']}", {"payment": "none", "deposit": None}).json()
    assert (back["payment"], back["deposit"]) == ("none", None)


def test_without_a_gateway_only_paying_on_site_is_accepted(
        database_url: str, clock: FrozenClock) -> None:
    built = build(_settings(database_url), clock=clock)
    try:
        with TestClient(create_app(built.use_cases)) as bare:
            org = signup(bare, timezone="UTC")
            resource(org)
            base = {"name": "X", "duration_min": 60, "price": PRICE,
                    "requirements": [{"kind": "practitioner"}]}
            refused = org.post("/v1/services", {**base, "payment": "full"})
            assert _problem(refused, 422)["detail"] == "no online payment gateway configured"
            assert ["body", "payment"] in _locs(refused)
            assert ["body", "deposit"] in _locs(org.post(
                "/v1/resources", {"name": "R", "kind": "room", "deposit": {"pct": 10}}))
            assert service(org, **{**base, "payment": "on_site"})["payment"] == "on_site"
            hook = bare.post("/v1/payments/stripe/webhook", content=json.dumps({}).encode())
            assert _problem(hook, 404)["detail"] == "no such payment gateway"
    finally:
        built.close()
