"""Several hosts work as one: two separate `slotwise serve` commands (as on two machines) on one
PostgreSQL and one Redis, with the same `SLOTWISE_SECRET_KEY`, and a `slotwise worker`. What
one host does, the other sees at once: the session, a catalog change behind the other's cache,
a hold in Redis, a released hold, a customer's manage link, a list cursor, and a booking's
live update on a page listening to the other host."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import httpx
import pytest

from slotwise.testing.api import Org, book, resource, service, signup
from slotwise.testing.stress.scenarios import PINNED_NOW
from slotwise.testing.stress.servers import (
    PrivatePostgres,
    PrivateRedis,
    Server,
    WorkerProcess,
    private_postgres_database,
)

SECRET = "one secret for every host of this deployment"
DAY = "2027-03-09"  # a Tuesday, a week past the pinned clock
NINE, TEN = f"{DAY}T09:00:00Z", f"{DAY}T10:00:00Z"


@pytest.fixture
def two_hosts(private_postgres: PrivatePostgres, private_redis: PrivateRedis
              ) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """Two hosts' clients; a `slotwise worker` (the lifecycle, the outbox relay) beside them."""
    env = {"SLOTWISE_SECRET_KEY": SECRET, "SLOTWISE_JOBS": "external"}
    with private_postgres_database(private_postgres) as url, \
            Server(url, now=PINNED_NOW, redis_url=private_redis.url, pool_size=2,
                   extra_env=env) as first, \
            Server(url, now=PINNED_NOW, redis_url=private_redis.url, pool_size=2,
                   extra_env=env) as second, \
            WorkerProcess(first), \
            httpx.Client(base_url=first.base_url, timeout=30) as a, \
            httpx.Client(base_url=second.base_url, timeout=30) as b:
        yield a, b


def on(client: httpx.Client, org: Org) -> Org:
    """The same organisation and session, through another host."""
    return Org(client, {"org": {"id": org.id, "slug": org.slug, "timezone": org.timezone},
                        "token": org.token})


def starts(org: Org, service_id: str) -> list[str]:
    answer = org.get(f"/v1/services/{service_id}/availability",
                     params={"start": f"{DAY}T00:00:00Z", "end": f"{DAY}T23:59:00Z"})
    assert answer.status_code == 200, answer.text
    return [slot["start"] for slot in answer.json()["slots"]]


def test_two_hosts_on_one_database_and_redis_serve_as_one(
        two_hosts: tuple[httpx.Client, httpx.Client]) -> None:
    a, b = two_hosts
    org_a = signup(a, timezone="UTC")
    org_b = on(b, org_a)  # a session made on one host authenticates on the other
    practitioner = resource(org_a)
    svc = service(org_a, requirements=[{"kind": "practitioner",
                                        "resource_ids": [practitioner["id"]]}])
    assert starts(org_b, svc["id"])[:2] == [NINE, TEN]  # host b now caches the catalog

    # Host a moves the hours; host b's cached catalog gives way to the new version.
    changed = org_a.put(f"/v1/resources/{practitioner['id']}/schedule", {"weekly": [
        {"days": ["tue"], "start": "10:00", "end": "12:00"}], "overrides": []})
    assert changed.status_code == 200, changed.text
    assert starts(org_b, svc["id"]) == [TEN, f"{DAY}T11:00:00Z"]

    # A hold placed through host b (in Redis) takes the start on host a too.
    hold = org_b.post("/v1/holds", {"service_id": svc["id"], "start": TEN})
    assert hold.status_code == 201, hold.text
    assert TEN not in starts(org_a, svc["id"])
    refused = org_a.post("/v1/bookings", {"service_id": svc["id"], "start": TEN,
                                          "customer": {"name": "C", "email": "c@example.com"}})
    assert refused.status_code == 409, refused.text

    # Released through host a, the start books through host b.
    assert org_a.delete(f"/v1/holds/{hold.json()['id']}").status_code == 204
    assert book(org_b, svc["id"], TEN)["start"] == TEN

    # A customer's manage link issued by one host works on the other; a wrong one is refused.
    public = a.post(f"/v1/public/{org_a.slug}/services/{svc['slug']}/bookings",
                    json={"start": f"{DAY}T11:00:00Z",
                          "customer": {"name": "Public", "email": "p@example.com"}})
    assert public.status_code == 201, public.text
    booking_id, token = public.json()["id"], public.json()["manage_token"]
    wrong = b.post(f"/v1/public/bookings/{booking_id}/cancel", params={"token": token + "x"})
    assert wrong.status_code == 404, wrong.text
    cancelled = b.post(f"/v1/public/bookings/{booking_id}/cancel", params={"token": token})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"

    # A list cursor signed by one host pages on the other.
    first_page = org_a.get("/v1/bookings", params={"limit": 1})
    assert first_page.status_code == 200, first_page.text
    cursor = first_page.json()["next_cursor"]
    assert cursor is not None
    second_page = org_b.get("/v1/bookings", params={"limit": 1, "cursor": cursor})
    assert second_page.status_code == 200, second_page.text
    seen = [first_page.json()["items"][0]["id"], second_page.json()["items"][0]["id"]]
    assert seen[0] != seen[1] and booking_id in seen


def test_a_booking_on_one_host_reaches_a_live_page_on_the_other(
        two_hosts: tuple[httpx.Client, httpx.Client]) -> None:
    a, b = two_hosts
    org = signup(a, timezone="UTC")
    practitioner = resource(org)
    svc = service(org, requirements=[{"kind": "practitioner",
                                      "resource_ids": [practitioner["id"]]}])
    listening = threading.Event()
    events: list[dict[str, object]] = []
    failed: list[Exception] = []

    def listen() -> None:  # a booking page open on host b
        try:
            with b.stream("GET", f"/v1/public/{org.slug}/live",
                          params={"service": svc["slug"]}, timeout=30) as answer:
                for line in answer.iter_lines():
                    listening.set()
                    if line.startswith("data: "):
                        events.append(json.loads(line.removeprefix("data: ")))
                        return
        except Exception as error:  # the assertion below says what happened
            failed.append(error)
            listening.set()

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert listening.wait(30) and not failed, failed
    book(org, svc["id"], TEN)  # on host a; the worker relays it, host b's stream hears it
    listener.join(30)
    assert not failed, failed
    assert events == [{"type": "slots", "service_ids": [svc["id"]],
                       "resource_ids": [practitioner["id"]], "start": TEN,
                       "end": f"{DAY}T11:00:00Z"}], events
