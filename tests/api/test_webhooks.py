"""Webhooks through the API and a real worker: subscribe, receive signed events that verify,
retries with backoff until a 2xx, the delivery log, and who may see and change what.

The module has databases of its own (see tests/app/test_notifications.py for why).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from slotwise.app.clock import FrozenClock
from slotwise.bootstrap import Container, build
from slotwise.integrations.webhooks import InvalidSignature, verify
from slotwise.settings import Settings
from slotwise.testing.api import Org, book, resource, service, signup
from slotwise.testing.databases import PostgresUnavailable, migrated_database
from slotwise.testing.fakes.webhook_receiver import WebhookReceiver
from slotwise.testing.workers import running, wait_for

TEN = "2027-03-08T10:00:00Z"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    try:
        with migrated_database(request.param, tmp_path_factory.mktemp("hooks")) as url:
            yield url
    except PostgresUnavailable as error:
        pytest.fail(str(error))


@pytest.fixture
def container(database_url: str, clock: FrozenClock) -> Iterator[Container]:
    built = build(Settings(database_url=database_url, database_pool_size=4,
                           password_hash_time_cost=1, password_hash_memory_kib=1024,
                           job_backoff_s=1, job_max_attempts=3), clock=clock)
    yield built
    built.close()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


def subscribe(org: Org, url: str, events: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"url": url, "description": "our CRM"}
    if events is not None:
        body["events"] = events
    answer = org.post("/v1/webhooks", body)
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def bookable(client: TestClient) -> tuple[Org, dict[str, Any]]:
    org = signup(client, timezone="UTC")
    resource(org)
    return org, service(org)


def deliveries(org: Org, webhook_id: str) -> list[dict[str, Any]]:
    answer = org.get(f"/v1/webhooks/{webhook_id}/deliveries")
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def latest_state(org: Org, webhook_id: str) -> str | None:
    found = deliveries(org, webhook_id)
    return found[0]["state"] if found else None


def staff_of(client: TestClient, org: Org) -> dict[str, str]:
    email = f"staff-{org.id}@example.com"
    made = org.post("/v1/users", {"email": email, "password": "correct horse battery",
                                  "role": "staff"})
    assert made.status_code == 201, made.text
    token = client.post("/v1/login", json={"email": email, "password": "correct horse battery"}
                        ).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def test_an_event_arrives_signed_and_verifies(client: TestClient, container: Container,
                                              receiver: WebhookReceiver) -> None:
    org, svc = bookable(client)
    hook = subscribe(org, receiver.url("/hooks"), ["booking.created"])
    assert hook["secret"].startswith("whsec_")
    assert hook["events"] == ["booking.created"]
    with running(container):
        booked = book(org, svc["id"], TEN)
        [received] = receiver.wait_for(1)
        wait_for(lambda: latest_state(org, hook["id"]) == "delivered")
    assert received.path == "/hooks"
    signature = received.headers["slotwise-signature"]
    verify(hook["secret"], signature, received.body, now=time.time())
    with pytest.raises(InvalidSignature):
        verify(hook["secret"], signature, received.body + b" ", now=time.time())
    with pytest.raises(InvalidSignature):
        verify("whsec_other", signature, received.body, now=time.time())
    event = json.loads(received.body)
    assert event["type"] == "booking.created"
    assert event["id"].startswith("evt_")
    assert event["data"]["booking"]["id"] == booked["id"]
    assert event["created_at"].endswith("Z")
    assert received.headers["slotwise-event"] == "booking.created"
    [delivery] = deliveries(org, hook["id"])
    assert delivery["event_id"] == event["id"]
    assert received.headers["slotwise-delivery"] == delivery["id"]
    assert (delivery["attempts"], delivery["last_status"]) == (1, 200)
    assert [a["status"] for a in delivery["log"]] == [200]
    assert delivery["delivered_at"] is not None


def test_500_500_200_is_delivered_on_the_third_attempt(
        client: TestClient, container: Container, receiver: WebhookReceiver) -> None:
    org, svc = bookable(client)
    receiver.respond_with(500, 500, 200)
    hook = subscribe(org, receiver.url())
    with running(container):
        book(org, svc["id"], TEN)
        received = receiver.wait_for(3, timeout_s=20)
        wait_for(lambda: latest_state(org, hook["id"]) == "delivered")
    [delivery] = deliveries(org, hook["id"])
    assert delivery["attempts"] == 3
    assert [a["status"] for a in delivery["log"]] == [500, 500, 200]
    assert [a["error"] for a in delivery["log"]] == ["answered 500", "answered 500", None]
    assert all(a["ms"] >= 0 for a in delivery["log"])
    # Every attempt posts the same body, signed afresh.
    assert len({r.body for r in received}) == 1
    assert len(receiver.received) == 3


def test_an_endpoint_that_keeps_failing_is_marked_failed_after_the_last_attempt(
        client: TestClient, container: Container, receiver: WebhookReceiver) -> None:
    org, svc = bookable(client)
    receiver.respond_with(503)
    hook = subscribe(org, receiver.url(), ["booking.created"])
    with running(container):
        book(org, svc["id"], TEN)
        wait_for(lambda: latest_state(org, hook["id"]) == "failed", timeout_s=20)
        time.sleep(0.5)
    [delivery] = deliveries(org, hook["id"])
    assert delivery["attempts"] == 3  # job_max_attempts
    assert [a["status"] for a in delivery["log"]] == [503, 503, 503]
    assert len(receiver.received) == 3


def test_only_subscribed_events_are_sent_and_a_delivered_one_never_again(
        client: TestClient, container: Container, receiver: WebhookReceiver) -> None:
    org, svc = bookable(client)
    hook = subscribe(org, receiver.url(), ["booking.cancelled"])
    everything = subscribe(org, receiver.url("/all"))
    assert everything["events"] == ["*"]
    with running(container):
        booked = book(org, svc["id"], TEN)
        org.post(f"/v1/bookings/{booked['id']}/cancel", {})
        wait_for(lambda: len(deliveries(org, everything["id"])) == 2
                 and {d["state"] for d in deliveries(org, everything["id"])} == {"delivered"})
        wait_for(lambda: [d["state"] for d in deliveries(org, hook["id"])] == ["delivered"])
    [cancelled] = deliveries(org, hook["id"])
    assert cancelled["event_type"] == "booking.cancelled"
    assert [d["event_type"] for d in deliveries(org, everything["id"])] == [
        "booking.cancelled", "booking.created"]  # newest first
    posted = len(receiver.received)
    assert container.use_cases.webhooks.deliver(cancelled["id"]).value == "delivered"
    assert len(receiver.received) == posted


def test_the_delivery_log_pages_newest_first(
        client: TestClient, container: Container, receiver: WebhookReceiver) -> None:
    org, svc = bookable(client)
    hook = subscribe(org, receiver.url(), ["booking.created"])
    with running(container):
        for hour in (9, 10, 11):
            book(org, svc["id"], f"2027-03-08T{hour:02d}:00:00Z")
        wait_for(lambda: len(receiver.received) == 3)
    first = org.get(f"/v1/webhooks/{hook['id']}/deliveries", params={"limit": 2}).json()
    rest = org.get(f"/v1/webhooks/{hook['id']}/deliveries",
                   params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert len(first["items"]) == 2 and len(rest["items"]) == 1
    assert rest["next_cursor"] is None
    ids = [d["id"] for d in first["items"] + rest["items"]]
    assert len(set(ids)) == 3
    assert org.get(f"/v1/webhooks/{hook['id']}/deliveries",
                   params={"cursor": "forged"}).status_code == 422


@pytest.mark.parametrize("body", [
    {"url": "ftp://example.com/hooks"},
    {"url": "example.com/hooks"},
    {"url": "https://"},
    {"url": "https://example.com/hooks", "events": ["booking.exploded"]},
    {"url": "https://example.com/hooks", "events": ["*", "booking.created"]},
    {"url": "https://example.com/hooks", "events": []},
    {"url": "https://example.com/hooks", "secret": "mine"},
])
def test_bad_webhook_input_is_422_and_writes_nothing(client: TestClient,
                                                     body: dict[str, Any]) -> None:
    org = signup(client)
    answer = org.post("/v1/webhooks", body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"]
    assert org.get("/v1/webhooks").json()["items"] == []


def test_another_organisations_webhook_is_404(client: TestClient) -> None:
    org, other = signup(client), signup(client)
    hook = subscribe(org, "https://example.com/hooks")
    for call in (other.get(f"/v1/webhooks/{hook['id']}"),
                 other.get(f"/v1/webhooks/{hook['id']}/deliveries"),
                 other.delete(f"/v1/webhooks/{hook['id']}"),
                 org.get("/v1/webhooks/we_nope")):
        assert call.status_code == 404, call.text
    assert other.get("/v1/webhooks").json()["items"] == []
    assert org.get(f"/v1/webhooks/{hook['id']}").status_code == 200


def test_staff_read_webhooks_without_secrets_but_cannot_create_or_delete(
        client: TestClient) -> None:
    org = signup(client)
    hook = subscribe(org, "https://example.com/hooks")
    staff = staff_of(client, org)
    created = client.post("/v1/webhooks", json={"url": "https://example.com/x"}, headers=staff)
    assert created.status_code == 403
    assert client.delete(f"/v1/webhooks/{hook['id']}", headers=staff).status_code == 403
    listed = client.get("/v1/webhooks", headers=staff).json()["items"]
    assert [h["id"] for h in listed] == [hook["id"]]
    assert "secret" not in listed[0]
    assert "secret" not in client.get(f"/v1/webhooks/{hook['id']}", headers=staff).json()


def test_a_deleted_webhook_is_gone_and_gets_nothing_more(
        client: TestClient, container: Container, receiver: WebhookReceiver) -> None:
    org, svc = bookable(client)
    hook = subscribe(org, receiver.url())
    assert org.delete(f"/v1/webhooks/{hook['id']}").status_code == 204
    assert org.get(f"/v1/webhooks/{hook['id']}").status_code == 404
    assert org.delete(f"/v1/webhooks/{hook['id']}").status_code == 404
    assert org.get("/v1/webhooks").json()["items"] == []
    with running(container):
        book(org, svc["id"], TEN)
        wait_for(lambda: container.use_cases.relay.backlog()[0] == 0)
        time.sleep(0.5)
    assert receiver.received == []


def test_webhooks_are_in_the_openapi_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/webhooks", "/v1/webhooks/{webhook_id}",
            "/v1/webhooks/{webhook_id}/deliveries"} <= set(paths)
