"""The calendar calls through the ASGI app, on SQLite and PostgreSQL: an ICS subscription
against a real local feed server (busy time in, 304s, a broken feed keeps the last good busy
time), the private feed of a resource (ETag, rotation, revocation), OAuth refusals, roles,
other organisations, and bad input."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from slotwise.testing.api import Org, auth, availability, book, resource, service, signup
from slotwise.testing.fakes.ics_server import IcsFeedServer

MONDAY = ("2027-03-08T00:00:00Z", "2027-03-09T00:00:00Z")
TEN_Z = "2027-03-08T15:00:00Z"  # 10:00 in New York
CLOSED = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
          b"BEGIN:VEVENT\r\nUID:closed@feed\r\nDTSTAMP:20270101T000000Z\r\n"
          b"DTSTART:20270308T150000Z\r\nDTEND:20270308T160000Z\r\nSUMMARY:Closed\r\n"
          b"END:VEVENT\r\nEND:VCALENDAR\r\n")


@pytest.fixture
def feed() -> Iterator[IcsFeedServer]:
    with IcsFeedServer(CLOSED) as server:
        yield server


def starts(org: Org, service_id: str) -> list[str]:
    return [s["start"] for s in availability(org, service_id, *MONDAY)]


def subscribe(org: Org, resource_id: str, url: str, **fields: Any) -> dict[str, Any]:
    answer = org.post("/v1/calendars", {"resource_id": resource_id, "provider": "ics",
                                        "url": url, "export_bookings": False, "poll_s": 60,
                                        **fields})
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def sync(org: Org, connection_id: str, **body: Any) -> dict[str, Any]:
    answer = org.post(f"/v1/calendars/{connection_id}/sync", body or None)
    assert answer.status_code == 200, answer.text
    synced: dict[str, Any] = answer.json()
    return synced


def test_an_ics_subscription_blocks_time_asks_conditionally_and_survives_a_broken_feed(
        client: TestClient, feed: IcsFeedServer) -> None:
    org = signup(client)
    practitioner = resource(org)
    svc = service(org)
    connection = subscribe(org, practitioner["id"], feed.url)
    assert (connection["provider"], connection["export_bookings"]) == ("ics", False)
    assert connection["health"]["status"] == "pending"

    assert sync(org, connection["id"])["health"]["status"] == "ok"
    assert TEN_Z not in starts(org, svc["id"])
    requests = feed.requests
    sync(org, connection["id"])
    assert feed.conditional >= 1 and feed.requests == requests + 1  # a 304, nothing redone

    feed.publish(b"this is not a calendar")
    broken = sync(org, connection["id"])["health"]
    assert broken["status"] == "error" and broken["last_error"]
    assert TEN_Z not in starts(org, svc["id"])  # the last good busy time is kept
    feed.status = 503
    assert sync(org, connection["id"])["health"]["failures"] == 2
    assert org.get("/readyz").json()["checks"]["calendars"]["status"] != "ok"

    feed.status = 200
    feed.publish(CLOSED.replace(b"DTSTART:20270308T150000Z", b"DTSTART:20270308T160000Z")
                 .replace(b"DTEND:20270308T160000Z", b"DTEND:20270308T170000Z"))
    healed = sync(org, connection["id"])["health"]
    assert healed["status"] == "ok" and healed["failures"] == 0
    assert TEN_Z in starts(org, svc["id"])
    assert "2027-03-08T16:00:00Z" not in starts(org, svc["id"])


def test_a_resource_feed_lists_its_bookings_and_can_be_rotated_and_revoked(
        client: TestClient) -> None:
    org = signup(client)
    practitioner = resource(org, name="Dr Ada")
    svc = service(org, name="Check-up")
    booked = book(org, svc["id"], TEN_Z)
    opened = org.post(f"/v1/resources/{practitioner['id']}/feed")
    assert opened.status_code == 201, opened.text
    url, token = opened.json()["url"], opened.json()["token"]
    assert url.endswith(f"/v1/feeds/{token}.ics")

    read = client.get(f"/v1/feeds/{token}.ics")
    assert read.status_code == 200
    assert read.headers["content-type"].startswith("text/calendar")
    body = read.text
    assert f"UID:slotwise-{booked['id']}@slotwise" in body
    assert "DTSTART:20270308T150000Z" in body or "DTSTART;TZID" in body
    assert "Check-up" in body
    again = client.get(f"/v1/feeds/{token}.ics", headers={"If-None-Match": read.headers["etag"]})
    assert again.status_code == 304

    assert org.post(f"/v1/bookings/{booked['id']}/cancel", {}).status_code == 200
    assert f"slotwise-{booked['id']}" not in client.get(f"/v1/feeds/{token}.ics").text

    rotated = org.post(f"/v1/resources/{practitioner['id']}/feed").json()["token"]
    assert client.get(f"/v1/feeds/{token}.ics").status_code == 404
    assert client.get(f"/v1/feeds/{rotated}.ics").status_code == 200
    assert org.delete(f"/v1/resources/{practitioner['id']}/feed").status_code == 204
    assert client.get(f"/v1/feeds/{rotated}.ics").status_code == 404
    assert org.delete(f"/v1/resources/{practitioner['id']}/feed").status_code == 404


def test_bad_input_is_refused_and_stores_nothing(client: TestClient, feed: IcsFeedServer
                                                 ) -> None:
    org = signup(client)
    practitioner = resource(org)
    base = {"resource_id": practitioner["id"], "provider": "ics", "url": feed.url}
    for wrong in ({"provider": "google"}, {"url": "ftp://example.org/cal.ics"},
                  {"url": "not a url"}, {"export_bookings": True}, {"poll_s": 0},
                  {"poll_s": 5}, {"resource_id": "res_unknown"}, {"password": 7}):
        answer = org.post("/v1/calendars", {**base, **wrong})
        assert answer.status_code in (404, 422), (wrong, answer.text)
    unreachable = org.post("/v1/calendars", {**base, "url": "http://127.0.0.1:9/cal.ics"})
    assert unreachable.status_code == 422 and "reached" in unreachable.text
    assert org.get("/v1/calendars").json()["items"] == []
    assert org.post("/v1/calendars/oauth/google/start",
                    {"resource_id": practitioner["id"]}).status_code == 404  # not configured
    assert org.post("/v1/calendars/oauth/yahoo/start",
                    {"resource_id": practitioner["id"]}).status_code == 404
    callback = client.get("/v1/calendars/oauth/microsoft/callback",
                          params={"code": "x", "state": "forged.state"})
    assert callback.status_code in (404, 422)
    assert client.post("/v1/calendars/google/notifications").status_code == 422
    assert client.post("/v1/calendars/microsoft/notifications",
                       content=b"{not json").status_code == 422
    echoed = client.post("/v1/calendars/microsoft/notifications",
                         params={"validationToken": "abc 123"})
    assert (echoed.status_code, echoed.text) == (200, "abc 123")
    unknown = client.post("/v1/calendars/microsoft/notifications", json={"value": [
        {"subscriptionId": "nope", "changeType": "updated", "clientState": "x"}]})
    assert unknown.status_code == 404


def test_roles_and_other_organisations(client: TestClient, feed: IcsFeedServer) -> None:
    org = signup(client)
    practitioner = resource(org)
    connection = subscribe(org, practitioner["id"], feed.url)
    email = f"staff-{org.slug}@example.com"
    assert org.post("/v1/users", {"email": email, "password": "staff password",
                                  "role": "staff"}).status_code == 201
    staff = auth(client.post("/v1/login", json={"email": email,
                                                "password": "staff password"}).json()["token"])
    assert client.get("/v1/calendars", headers=staff).status_code == 200
    assert client.post("/v1/calendars", headers=staff, json={
        "resource_id": practitioner["id"], "provider": "ics", "url": feed.url}).status_code == 403
    assert client.delete(f"/v1/calendars/{connection['id']}", headers=staff).status_code == 403
    assert client.post(f"/v1/resources/{practitioner['id']}/feed",
                       headers=staff).status_code == 403

    other = signup(client)
    assert other.get(f"/v1/calendars/{connection['id']}").status_code == 404
    assert other.post(f"/v1/calendars/{connection['id']}/sync").status_code == 404
    assert other.delete(f"/v1/calendars/{connection['id']}").status_code == 404
    assert other.post(f"/v1/resources/{practitioner['id']}/feed").status_code == 404
    assert client.get("/v1/calendars").status_code == 401

    changed = org.patch(f"/v1/calendars/{connection['id']}", {"enabled": False, "poll_s": 120})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["health"]["status"], changed.json()["poll_s"]) == ("disabled", 120)
