"""The rush lane over HTTP (api/rush_lane.py): in a rush it answers a taken start's 409 itself,
exactly as the full path would, and hands everything else to the full path unchanged. It
stands at four doors: `POST /v1/bookings` and `/v1/holds` (a bearer credential), and the
public `/v1/public/{org_slug}/services/{service_slug}/bookings` and `/holds` (no credential).

Which path answered is read from /metrics: `slotwise_rush_lane_total{outcome="refused"}`
counts the lane's own 409s, `{outcome="passed"}` the attempts it looked at and handed on;
neither moves for a request it never looks at. The lane runs on PostgreSQL only, and so do
its tests, all but the last (which checks that SQLite has none).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from tests.conftest import T0, RedisKeys

from slotwise.app.clock import FrozenClock
from slotwise.bootstrap import Container
from slotwise.testing.api import Org, auth, availability, book, resource, service, signup
from slotwise.testing.stress.scenarios import FIRST_DAY, one_resource_service, weekday_starts

NINE, TAKEN, FREE, NOON, *_ = weekday_starts(FIRST_DAY, 8)  # Monday 09:00, 10:00, 11:00, 12:00
BOOKINGS = "/v1/bookings"
HOLDS = "/v1/holds"
PUBLIC_ROUTE = "/v1/public/{{org_slug}}/services/{{service_slug}}/{door}"  # .format(door=…)
DOORS = ("holds", "bookings")  # the public ones
REFUSED = "slotwise_bookings_refused_total"
TIMED = "slotwise_http_request_duration_seconds_count"

# The lane exists on PostgreSQL only (UseCases.rush is None on SQLite): its tests run there.
on_postgresql = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def booking_body(service_id: str, start: str, **fields: Any) -> dict[str, Any]:
    return {"service_id": service_id, "start": start,
            "customer": {"name": "Rush", "email": f"r-{secrets.token_hex(4)}@example.com"},
            **fields}


def attempt(org: Org, service_id: str, start: str, *, headers: dict[str, str] | None = None,
            **fields: Any) -> httpx.Response:
    """A booking attempt by a new customer, with the organisation's session unless
    `headers` says otherwise; the raw answer."""
    return org.post(BOOKINGS, booking_body(service_id, start, **fields), headers=headers or {})


def keyed() -> dict[str, str]:
    """A new Idempotency-Key: a request with one is never looked at by the lane."""
    return {"Idempotency-Key": f"full-{secrets.token_hex(6)}"}


def full_path(org: Org, service_id: str, start: str) -> httpx.Response:
    """The same attempt with an Idempotency-Key, which the lane never looks at: what the full
    path answers now."""
    return attempt(org, service_id, start, headers=keyed())


def hold(org: Org, service_id: str, start: str, *, headers: dict[str, str] | None = None,
         **fields: Any) -> httpx.Response:
    """`POST /v1/holds` for `start`, with the organisation's session unless `headers` says
    otherwise; the raw answer."""
    return org.post(HOLDS, {"service_id": service_id, "start": start, **fields},
                    headers=headers or {})


def public(client: TestClient, org_slug: str, service_slug: str, door: str, start: str, *,
           key: bool = False, **fields: Any) -> httpx.Response:
    """A visitor's hold or booking (`door`: "holds" or "bookings") of `start` on the public
    route, with no credential; `key`: with a new Idempotency-Key (scoped by the client's
    address), which the lane never looks at: what the route itself answers now."""
    body: dict[str, Any] = {"start": start, **fields}
    if door == "bookings":
        body.setdefault("customer", {"name": "Visitor",
                                     "email": f"v-{secrets.token_hex(4)}@example.com"})
    answer: httpx.Response = client.post(
        f"/v1/public/{org_slug}/services/{service_slug}/{door}", json=body,
        headers=keyed() if key else {})
    return answer


def slug_of(org: Org, service_id: str) -> str:
    slug: str = org.get(f"/v1/services/{service_id}").json()["slug"]
    return slug


def start_rush(org: Org, service_id: str, taken: str = TAKEN) -> httpx.Response:
    """Book `taken`, then try it again: the full path's first refusal, which starts a rush."""
    book(org, service_id, taken)
    refused = attempt(org, service_id, taken)
    assert refused.status_code == 409, refused.text
    return refused


def metric(client: TestClient, sample: str, **labels: str) -> float:
    """The sum of the /metrics samples named `sample` whose labels include `labels`."""
    families = text_string_to_metric_families(client.get("/metrics").text)
    return sum(s.value for family in families for s in family.samples
               if s.name == sample and labels.items() <= s.labels.items())


def lane(client: TestClient) -> tuple[float, float]:
    """How many attempts the lane has (refused, passed) so far."""
    return (metric(client, "slotwise_rush_lane_total", outcome="refused"),
            metric(client, "slotwise_rush_lane_total", outcome="passed"))


def alternatives(answer: httpx.Response) -> list[str]:
    return [a["start"] for a in answer.json()["alternatives"]]


def nearest_offered(org: Org, service_id: str, near: str) -> list[str]:
    """The five starts nearest `near` (ties to the earlier) among those the availability
    search lists from the Sunday before to the Wednesday after, ascending."""
    offered = [s["start"] for s in availability(org, service_id, "2027-03-07T00:00:00Z",
                                                "2027-03-10T00:00:00Z")]

    def distance(start: str) -> timedelta:
        return abs(datetime.fromisoformat(start) - datetime.fromisoformat(near))

    return sorted(sorted(offered, key=lambda s: (distance(s), s))[:5])


def new_org(client: TestClient) -> tuple[Org, str, str]:
    """An organisation in UTC with one resource open 09:00–17:00 on weekdays and a
    one-hour service that needs it: (org, resource id, service id)."""
    org = signup(client, timezone="UTC")
    return org, *one_resource_service(org)


@on_postgresql
@pytest.mark.parametrize("crowded", [False, True], ids=["one-taken-start", "full-monday"])
def test_the_lane_s_refusal_is_the_full_path_s_first_refusal_byte_for_byte(
        client: TestClient, crowded: bool) -> None:
    """A rush's refusal from the lane has the first refusal's status, content type and
    bytes, and counts as refused by the lane and as a SlotUnavailable refusal (a full
    Monday sends the alternatives a day further)."""
    org, _, svc = new_org(client)
    if crowded:
        for start in weekday_starts(FIRST_DAY, 8):
            if start != TAKEN:
                book(org, svc, start)
    first = start_rush(org, svc)
    assert lane(client) == (0, 0)  # the first refusal starts the rush: the lane never looked
    again = attempt(org, svc, TAKEN)
    assert lane(client) == (1, 0)
    assert again.status_code == 409
    assert again.headers["content-type"] == first.headers["content-type"] \
        == "application/problem+json"
    assert again.content == first.content
    assert again.headers["x-request-id"]
    assert metric(client, "slotwise_bookings_refused_total", reason="SlotUnavailable") == 2


@on_postgresql
def test_the_lane_s_refusals_are_timed_and_logged_under_the_bookings_route(
        client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    """The latency histogram and the access log name the route `/v1/bookings` for a 409
    from the lane as for one from the full path, never "unmatched"."""
    org, _, svc = new_org(client)
    start_rush(org, svc)
    with caplog.at_level(logging.INFO, logger="slotwise.http"):
        assert attempt(org, svc, TAKEN).status_code == 409
    assert lane(client) == (1, 0)
    [logged] = [r for r in caplog.records if r.name == "slotwise.http"]
    timed = {"method": "POST", "status": "409"}
    assert metric(client, "slotwise_http_request_duration_seconds_count", route="unmatched",
                  **timed) == 0
    assert metric(client, "slotwise_http_request_duration_seconds_count", route=BOOKINGS,
                  **timed) == 2
    assert vars(logged)["fields"]["route"] == BOOKINGS


@on_postgresql
@pytest.mark.parametrize("start", ["2027-03-08T10:30:00Z", "2027-03-13T10:00:00Z",
                                   "2027-03-08T11:00:00+01:00"],
                         ids=["off-the-grid", "saturday", "taken-in-another-offset"])
def test_the_lane_refuses_a_start_never_offered_as_the_full_path_does(
        client: TestClient, start: str) -> None:
    """Off the grid, on a closed day, or the taken start written in another offset: the
    lane's 409 is byte for byte what the full path answers for the same attempt."""
    org, _, svc = new_org(client)
    start_rush(org, svc)
    by_lane = attempt(org, svc, start)
    assert lane(client) == (1, 0)
    by_full_path = full_path(org, svc, start)
    assert lane(client) == (1, 0)
    assert by_lane.status_code == by_full_path.status_code == 409
    assert by_lane.content == by_full_path.content


@on_postgresql
def test_the_lane_keeps_the_service_s_notice_as_the_clock_moves(
        client: TestClient, clock: FrozenClock) -> None:
    """A service's own notice is the lane's to keep: its refusals leave out the starts too
    soon at the clock's current time, as the full path's do."""
    org, res, _ = new_org(client)
    # T0 is Monday 2027-03-01 12:00Z: a week less 150 minutes makes Monday 09:00 too soon.
    svc = service(org, duration_min=60, min_notice_min=7 * 24 * 60 - 150,
                  requirements=[{"kind": "practitioner", "resource_ids": [res]}])["id"]
    start_rush(org, svc)
    too_soon = attempt(org, svc, TAKEN)
    assert lane(client) == (1, 0)
    assert NINE not in alternatives(too_soon)
    assert too_soon.content == full_path(org, svc, TAKEN).content
    clock.set(T0 - timedelta(hours=3))
    in_time = attempt(org, svc, TAKEN)
    assert lane(client) == (2, 0)
    assert NINE in alternatives(in_time)
    assert in_time.content == full_path(org, svc, TAKEN).content


def invalid_attempts(service_id: str) -> dict[str, dict[str, Any]]:
    """Bodies the route refuses with a 422, as `httpx.Client.post` keyword arguments."""
    body = booking_body(service_id, TAKEN)
    return {
        "no customer": {"json": {"service_id": service_id, "start": TAKEN}},
        "bad e-mail": {"json": {**body, "customer": {"name": "R", "email": "nobody"}}},
        "naive start": {"json": {**body, "start": TAKEN.removesuffix("Z")}},
        "unknown field": {"json": {**body, "colour": "red"}},
        "empty resource_ids": {"json": {**body, "resource_ids": []}},
        "a list": {"json": [body]},
        "malformed JSON": {"content": b'{"service_id": ',
                           "headers": {"Content-Type": "application/json"}},
        "not JSON": {"content": b"service_id=x", "headers": {"Content-Type": "text/plain"}},
    }


def send(org: Org, request: dict[str, Any]) -> httpx.Response:
    headers = {**org.headers, **request.get("headers", {})}
    return org.client.post(BOOKINGS, headers=headers,
                           **{k: v for k, v in request.items() if k != "headers"})


@on_postgresql
def test_an_invalid_body_in_a_rush_gets_the_route_s_422_unchanged(client: TestClient) -> None:
    """Every body the route refuses gets, in a rush, the very 422 it gets outside one, and
    the lane does not count it."""
    org, _, svc = new_org(client)
    book(org, svc, TAKEN)
    requests = invalid_attempts(svc)
    outside = {name: send(org, request) for name, request in requests.items()}
    assert attempt(org, svc, TAKEN).status_code == 409  # the rush
    for name, request in requests.items():
        inside = send(org, request)
        assert outside[name].status_code == 422, name
        assert (inside.status_code, inside.content) == (422, outside[name].content), name
    assert lane(client) == (0, 0)


@on_postgresql
def test_a_caller_the_lane_cannot_authenticate_gets_the_route_s_401(
        client: TestClient) -> None:
    """No credential, another scheme, an unknown session token or API key: in a rush the
    route answers the same 401 as outside one, and the lane refuses none of them."""
    org, _, svc = new_org(client)
    book(org, svc, TAKEN)
    body = booking_body(svc, TAKEN)
    callers = {"none": {}, "basic": {"Authorization": "Basic cnVzaDpydXNo"},
               "empty bearer": {"Authorization": "Bearer "},
               "unknown session": auth(secrets.token_urlsafe(32)),
               "unknown key": auth(f"swk_{secrets.token_urlsafe(32)}")}
    outside = {name: client.post(BOOKINGS, json=body, headers=h) for name, h in callers.items()}
    assert attempt(org, svc, TAKEN).status_code == 409  # the rush
    for name, headers in callers.items():
        inside = client.post(BOOKINGS, json=body, headers=headers)
        assert outside[name].status_code == 401, name
        assert (inside.status_code, inside.content) == (401, outside[name].content), name
        assert inside.headers["www-authenticate"] == "Bearer", name
    refused, _ = lane(client)
    assert refused == 0


@on_postgresql
def test_a_session_the_lane_meets_is_live_until_its_lifetime_ends_or_it_signs_out(
        client: TestClient, container: Container, clock: FrozenClock) -> None:
    """The lane refuses for a session in its last second; at its lifetime's end, or once
    signed out, the route answers 401 instead — while an API key goes on being refused by
    the lane."""
    org, _, svc = new_org(client)
    key = org.post("/v1/api-keys", {"name": "front desk"}).json()["key"]
    taken = "2027-03-22T10:00:00Z"  # a week after the session's end
    first = start_rush(org, svc, taken)
    lifetime = timedelta(seconds=container.settings.session_lifetime_s)

    clock.set(T0 + lifetime - timedelta(seconds=1))
    assert attempt(org, svc, taken).content == first.content
    assert lane(client) == (1, 0)

    clock.set(T0 + lifetime)
    expired = attempt(org, svc, taken)
    assert expired.status_code == 401, expired.text
    assert expired.json()["detail"] == "unknown or expired session"
    assert lane(client) == (1, 1)

    by_key = attempt(org, svc, taken, headers=auth(key))
    assert (by_key.status_code, by_key.content) == (409, first.content)
    assert lane(client) == (2, 1)

    fresh = client.post("/v1/login", json={"email": org.email,
                                           "password": "correct horse battery"}).json()["token"]
    assert attempt(org, svc, taken, headers=auth(fresh)).content == first.content
    assert lane(client) == (3, 1)
    assert client.post("/v1/logout", headers=auth(fresh)).status_code == 204
    signed_out = attempt(org, svc, taken, headers=auth(fresh))
    assert signed_out.status_code == 401, signed_out.text
    assert lane(client) == (3, 2)


@on_postgresql
def test_an_api_key_is_refused_by_the_lane_until_it_is_revoked(client: TestClient) -> None:
    """A live API key's attempt at a taken start is the lane's 409; once the key is revoked
    the route answers 401."""
    org, _, svc = new_org(client)
    created = org.post("/v1/api-keys", {"name": "kiosk"}).json()
    first = start_rush(org, svc)
    live = attempt(org, svc, TAKEN, headers=auth(created["key"]))
    assert (live.status_code, live.content) == (409, first.content)
    assert lane(client) == (1, 0)
    assert org.delete(f"/v1/api-keys/{created['id']}").status_code == 204
    revoked = attempt(org, svc, TAKEN, headers=auth(created["key"]))
    assert revoked.status_code == 401, revoked.text
    assert revoked.json()["detail"] == "unknown or revoked API key"
    assert lane(client) == (1, 1)


@on_postgresql
def test_an_idempotency_key_in_a_rush_keeps_its_semantics_and_skips_the_lane(
        client: TestClient) -> None:
    """A keyed attempt is never looked at by the lane: refused or booked, its answer is
    kept and replayed under the same key."""
    org, _, svc = new_org(client)
    first = start_rush(org, svc)
    keyed = {"Idempotency-Key": "rush-taken"}
    body = booking_body(svc, TAKEN)
    refused = org.post(BOOKINGS, body, headers=keyed)
    replayed = org.post(BOOKINGS, body, headers=keyed)
    assert (refused.status_code, refused.content) == (409, first.content)
    assert (replayed.status_code, replayed.content) == (409, first.content)
    assert replayed.headers["idempotent-replayed"] == "true"

    keyed = {"Idempotency-Key": "rush-free"}
    body = booking_body(svc, FREE)
    booked = org.post(BOOKINGS, body, headers=keyed)
    replayed = org.post(BOOKINGS, body, headers=keyed)
    assert booked.status_code == replayed.status_code == 201, booked.text
    assert replayed.json() == booked.json()
    assert replayed.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in booked.headers
    assert lane(client) == (0, 0)
    assert len(org.get(BOOKINGS).json()["items"]) == 2


@on_postgresql
def test_a_free_start_in_a_rush_books_and_is_refused_by_the_lane_at_once(
        client: TestClient) -> None:
    """The lane passes a free start on, the full path books it (201), and the lane's very
    next answer for it is a 409 whose alternatives leave it out."""
    org, _, svc = new_org(client)
    start_rush(org, svc)
    booked = attempt(org, svc, FREE)
    assert booked.status_code == 201, booked.text
    assert lane(client) == (0, 1)
    again = attempt(org, svc, FREE)
    assert again.status_code == 409
    assert lane(client) == (1, 1)
    assert again.content == full_path(org, svc, FREE).content
    assert TAKEN not in alternatives(again) and FREE not in alternatives(again)
    assert metric(client, "slotwise_bookings_created_total", channel="api") == 2


@on_postgresql
def test_what_the_lane_does_not_take_is_answered_by_the_full_path(client: TestClient) -> None:
    """A hold, chosen resources, a recurrence, a query string, another organisation's
    service: each gets the full path's own answer, never a lane refusal."""
    org, res, svc = new_org(client)
    first = start_rush(org, svc)
    chosen = attempt(org, svc, TAKEN, resource_ids=[res])
    assert (chosen.status_code, chosen.content) == (409, first.content)
    series = attempt(org, svc, TAKEN, recurrence={"rrule": "FREQ=DAILY;COUNT=2"})
    assert series.status_code == 409
    assert series.json()["type"].endswith("series-unavailable")
    queried = org.client.post(f"{BOOKINGS}?source=rush", json=booking_body(svc, TAKEN),
                              headers=org.headers)
    assert (queried.status_code, queried.content) == (409, first.content)
    no_such_hold = attempt(org, svc, TAKEN, hold_id="hold_missing")
    assert no_such_hold.status_code == 404, no_such_hold.text
    assert lane(client) == (0, 0)
    held = org.post("/v1/holds", {"service_id": svc, "start": FREE}).json()
    assert lane(client) == (0, 1)  # the hold's start is free: the lane looked, and passed
    with_hold = attempt(org, svc, FREE, hold_id=held["id"])
    assert with_hold.status_code == 201, with_hold.text
    assert lane(client) == (0, 1)

    stranger = signup(client, timezone="UTC")
    foreign = attempt(stranger, svc, TAKEN)
    assert foreign.status_code == 404, foreign.text
    assert lane(client) == (0, 2)


@on_postgresql
def test_a_schedule_change_shows_in_the_lane_s_very_next_refusal(client: TestClient) -> None:
    """Mid-rush the resource's hours change: the lane's next refusal offers the new
    schedule's starts, as the full path and the availability search do."""
    org, res, svc = new_org(client)
    first = start_rush(org, svc)
    before = attempt(org, svc, TAKEN)
    assert before.content == first.content
    assert lane(client) == (1, 0)
    assert org.put(f"/v1/resources/{res}/schedule", {"weekly": [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "07:00", "end": "12:00"}]}
                   ).status_code == 200
    after = attempt(org, svc, TAKEN)
    assert after.status_code == 409
    assert lane(client) == (2, 0)
    assert alternatives(after) == nearest_offered(org, svc, TAKEN)
    assert alternatives(after) != alternatives(before)
    assert "2027-03-08T07:00:00Z" in alternatives(after)
    assert after.content == full_path(org, svc, TAKEN).content


@on_postgresql
def test_a_block_added_mid_rush_is_refused_by_the_lane_until_removed(
        client: TestClient) -> None:
    """Busy time is read afresh on every attempt: a block on a free start is the lane's 409
    at once, and the start books once the block is gone."""
    org, res, svc = new_org(client)
    start_rush(org, svc)
    block = org.post(f"/v1/resources/{res}/blocks", {"start": NOON,
                                                    "end": "2027-03-08T13:00:00Z"}).json()
    blocked = attempt(org, svc, NOON)
    assert blocked.status_code == 409
    assert lane(client) == (1, 0)
    assert blocked.content == full_path(org, svc, NOON).content
    assert org.delete(f"/v1/resources/{res}/blocks/{block['id']}").status_code == 204
    booked = attempt(org, svc, NOON)
    assert booked.status_code == 201, booked.text
    assert lane(client) == (1, 1)


def limit_per_day(org: Org, resource_id: str, service_id: str) -> None:
    assert org.patch(f"/v1/services/{service_id}", {"max_per_day": 2}).status_code == 200
    book(org, service_id, NOON)  # with TAKEN, Monday's two


def resource_notice(org: Org, resource_id: str, service_id: str) -> None:
    # T0 is Monday 2027-03-01 12:00Z: a week less 150 minutes makes Monday 09:00 too soon.
    assert org.patch(f"/v1/resources/{resource_id}",
                     {"min_notice_min": 7 * 24 * 60 - 150}).status_code == 200


def sequence_rule(org: Org, resource_id: str, service_id: str) -> None:
    other = service(org, name="Aftercare", duration_min=60, requirements=[
        {"kind": "practitioner", "resource_ids": [resource_id]}], sequence_rules=[
        {"service_id": service_id, "within_min": 120, "direction": "either"}])
    book(org, other["id"], "2027-03-08T14:00:00Z")


@on_postgresql
@pytest.mark.parametrize("rule", [limit_per_day, resource_notice, sequence_rule],
                         ids=["service-max-per-day", "resource-notice", "sequence-rule"])
def test_a_service_with_rules_beyond_the_lane_is_answered_by_the_full_path(
        client: TestClient, rule: Callable[[Org, str, str], None]) -> None:
    """A limit, a resource's notice or a sequence rule can forbid a start the busy time
    leaves free: such a service's attempts are passed on, before the rule and after it
    comes mid-rush, and the full path's alternatives keep to the rule."""
    org, res, svc = new_org(client)
    first = start_rush(org, svc)
    assert attempt(org, svc, TAKEN).content == first.content
    assert lane(client) == (1, 0)
    rule(org, res, svc)
    refused, passed = lane(client)
    refusals = [attempt(org, svc, TAKEN) for _ in range(2)]
    assert lane(client) == (refused, passed + 2)
    assert refusals[0].status_code == refusals[1].status_code == 409
    assert refusals[0].content == refusals[1].content == full_path(org, svc, TAKEN).content
    assert alternatives(refusals[0]) != alternatives(first)  # the rule forbids some of them


@on_postgresql
def test_a_group_session_s_seats_are_the_full_path_s(client: TestClient) -> None:
    """A group service's attempts go to the full path: in a rush a session with a seat left
    still takes a booking, and a full one is refused as before."""
    org = signup(client, timezone="UTC")
    res = resource(org, name="Studio", kind="room", capacity=3)
    svc = service(org, name="Class", duration_min=60, capacity=3, requirements=[
        {"kind": "room", "resource_ids": [res["id"]]}])["id"]
    for _ in range(3):
        book(org, svc, TAKEN)
    first = attempt(org, svc, TAKEN)
    assert first.status_code == 409  # the session is full: a rush
    assert attempt(org, svc, FREE).status_code == 201
    second_seat = attempt(org, svc, FREE)
    assert second_seat.status_code == 201, second_seat.text
    again = attempt(org, svc, TAKEN)
    assert again.status_code == 409
    assert lane(client) == (0, 3)
    assert again.content == full_path(org, svc, TAKEN).content


@on_postgresql
@pytest.mark.parametrize("holds", ["sql", "redis"], indirect=True)
def test_a_live_hold_is_refused_by_the_lane_until_released_or_expired(
        client: TestClient, clock: FrozenClock, holds: str, redis_keys: RedisKeys) -> None:
    """In a rush a start under a live hold (in SQL or in Redis) is the lane's 409, as the
    full path would answer; released, or expired by the clock, the start books."""
    org, _, svc = new_org(client)
    start_rush(org, svc)
    held = org.post("/v1/holds", {"service_id": svc, "start": FREE})
    assert held.status_code == 201, held.text
    in_redis = redis_keys.client.keys(f"{redis_keys.prefix}:*:hold:{held.json()['id']}")
    assert len(in_redis) == (1 if holds == "redis" else 0)
    assert lane(client) == (0, 1)  # placing the hold: its start was free, the lane passed
    refused = attempt(org, svc, FREE)
    assert refused.status_code == 409
    assert lane(client) == (1, 1)
    assert FREE not in alternatives(refused)
    assert refused.content == full_path(org, svc, FREE).content
    assert org.delete(f"/v1/holds/{held.json()['id']}").status_code == 204
    booked = attempt(org, svc, FREE)
    assert booked.status_code == 201, booked.text
    assert lane(client) == (1, 2)

    short = org.post("/v1/holds", {"service_id": svc, "start": NOON, "ttl_s": 60})
    assert short.status_code == 201, short.text
    assert attempt(org, svc, NOON).status_code == 409
    assert lane(client) == (2, 3)
    clock.advance(timedelta(seconds=60))  # the hold's end: no longer live
    expired = attempt(org, svc, NOON)
    assert expired.status_code == 201, expired.text
    assert lane(client) == (2, 4)


@on_postgresql
@pytest.mark.parametrize("taken_by", ["booking", "hold"])
def test_an_api_hold_on_a_taken_start_is_refused_by_the_lane_as_the_full_path_would(
        client: TestClient, taken_by: str) -> None:
    """In a rush `POST /v1/holds` on a start booked, or held by another hold, is the lane's
    409 with the full path's bytes, timed under `/v1/holds`; no booking refusal is counted
    (the route counts none for a hold)."""
    org, _, svc = new_org(client)
    first = start_rush(org, svc)
    taken = TAKEN
    if taken_by == "hold":
        taken = FREE
        assert hold(org, svc, taken).status_code == 201
        assert lane(client) == (0, 1)
    refused, passed = lane(client)
    by_lane = hold(org, svc, taken, ttl_s=120)
    assert lane(client) == (refused + 1, passed)
    assert by_lane.status_code == 409, by_lane.text
    assert by_lane.headers["content-type"] == "application/problem+json"
    by_full_path = hold(org, svc, taken, ttl_s=120, headers=keyed())
    assert lane(client) == (refused + 1, passed)
    assert by_lane.content == by_full_path.content
    assert taken not in alternatives(by_lane)
    if taken_by == "booking":
        assert by_lane.content == first.content  # a hold's refusal is a booking's
    assert metric(client, REFUSED) == 1  # the rush's first, a booking's
    timed = {"method": "POST", "status": "409"}
    assert metric(client, TIMED, route=HOLDS, **timed) == 2
    assert metric(client, TIMED, route="unmatched", **timed) == 0


@on_postgresql
def test_an_api_hold_on_a_free_start_or_with_chosen_resources_is_the_full_path_s(
        client: TestClient) -> None:
    """In a rush a hold on a free start is placed (the lane looked, and passed); a hold
    naming its resources, or a body the route refuses (422), is never looked at; a hold
    without a credential is looked at, passed on, and gets the route's 401."""
    org, res, svc = new_org(client)
    start_rush(org, svc)
    placed = hold(org, svc, FREE, ttl_s=60)
    assert placed.status_code == 201, placed.text
    assert (placed.json()["start"], placed.json()["resource_ids"]) == (FREE, [res])
    assert lane(client) == (0, 1)
    chosen = hold(org, svc, TAKEN, resource_ids=[res])
    assert chosen.status_code == 409, chosen.text
    assert chosen.content == hold(org, svc, TAKEN, resource_ids=[res], headers=keyed()).content
    chosen_free = hold(org, svc, NOON, resource_ids=[res])
    assert chosen_free.status_code == 201, chosen_free.text
    assert lane(client) == (0, 1)

    body = {"service_id": svc, "start": TAKEN}
    anonymous = client.post(HOLDS, json=body)
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert lane(client) == (0, 2)  # looked at (a valid body), then handed to the route
    for invalid in ({**body, "ttl_s": 0}, {**body, "ttl_s": 1801}, {"start": TAKEN},
                    {**body, "customer": {"name": "R", "email": "r@example.com"}}):
        answer = org.post(HOLDS, invalid)
        assert answer.status_code == 422, (invalid, answer.text)
    assert lane(client) == (0, 2)
    assert metric(client, REFUSED) == 1


@on_postgresql
def test_a_hold_refused_by_the_full_path_starts_a_rush_for_bookings_too(
        client: TestClient) -> None:
    """The rush is the service's: a hold's refusal starts it, and the lane then refuses a
    booking of the same start with the very bytes the hold got."""
    org, _, svc = new_org(client)
    book(org, svc, TAKEN)
    first = hold(org, svc, TAKEN)
    assert first.status_code == 409, first.text
    assert lane(client) == (0, 0)  # no rush yet: the lane never looked
    again = attempt(org, svc, TAKEN)
    assert (again.status_code, again.content) == (409, first.content)
    assert lane(client) == (1, 0)
    assert metric(client, REFUSED) == 1  # the lane's, a booking's


@on_postgresql
@pytest.mark.parametrize("origin", ["public", "api"],
                         ids=["rush-started-publicly", "rush-started-by-the-api"])
def test_a_public_hold_or_booking_on_a_taken_start_gets_the_lane_s_409_as_the_route_s(
        client: TestClient, origin: str) -> None:
    """A rush started on the public route or through the API: the public hold and booking
    on a taken start are the lane's 409, byte for byte the route's (asked again with an
    Idempotency-Key); the booking's counted as refused, the hold's not; timed under their
    routes, never "unmatched"."""
    org, _, svc = new_org(client)
    slug = slug_of(org, svc)
    if origin == "api":
        first = start_rush(org, svc)
    else:
        book(org, svc, TAKEN)
        first = public(client, org.slug, slug, "bookings", TAKEN)
        assert first.status_code == 409, first.text
    assert lane(client) == (0, 0)  # the first refusal starts the rush: the lane never looked
    assert metric(client, REFUSED, reason="SlotUnavailable") == 1
    for n, door in enumerate(DOORS, start=1):
        by_lane = public(client, org.slug, slug, door, TAKEN)
        assert lane(client) == (n, 0), door
        assert by_lane.status_code == 409, (door, by_lane.text)
        assert by_lane.headers["content-type"] == "application/problem+json"
        by_route = public(client, org.slug, slug, door, TAKEN, key=True)
        assert lane(client) == (n, 0), door
        assert by_route.status_code == 409, (door, by_route.text)
        assert by_lane.content == by_route.content == first.content, door
    # the rush's first, then the public booking's two (the lane's and the route's)
    assert metric(client, REFUSED, reason="SlotUnavailable") == 3
    timed = {"method": "POST", "status": "409"}
    assert metric(client, TIMED, route=PUBLIC_ROUTE.format(door="holds"), **timed) == 2
    assert metric(client, TIMED, route=PUBLIC_ROUTE.format(door="bookings"), **timed) \
        == (3 if origin == "public" else 2)
    assert metric(client, TIMED, route="unmatched", **timed) == 0


@on_postgresql
def test_unknown_public_slugs_in_a_rush_get_the_route_s_404(client: TestClient) -> None:
    """An unknown organisation or service slug gets, in a rush, the very 404 the route
    answers outside one: the lane looks (it counts them as passed) and hands them on."""
    org, _, svc = new_org(client)
    slug = slug_of(org, svc)
    book(org, svc, TAKEN)
    unknown = {"organisation": (f"nope-{org.slug}", slug), "service": (org.slug, f"nope-{slug}")}
    outside = {(name, door): public(client, *slugs, door, TAKEN)
               for name, slugs in unknown.items() for door in DOORS}
    assert lane(client) == (0, 0)  # no rush: the lane does not look
    assert public(client, org.slug, slug, "bookings", TAKEN).status_code == 409  # the rush
    for (name, door), answer in outside.items():
        assert answer.status_code == 404, (name, door, answer.text)
        assert answer.json()["detail"] == f"no such {name}"
        inside = public(client, *unknown[name], door, TAKEN)
        assert (inside.status_code, inside.content) == (404, answer.content), (name, door)
    assert lane(client) == (0, 4)


@on_postgresql
def test_a_rush_at_the_public_doors_is_the_service_s_own(client: TestClient) -> None:
    """While one service is in a rush, another's taken start is not the lane's to refuse:
    it looks (by slug) and passes it on, and the route's refusal starts that service's own
    rush; the lane then refuses its next attempt, and passes its free start on (201)."""
    org, _, busy = new_org(client)
    calm_id = one_resource_service(org, name="Calm")[1]
    calm = slug_of(org, calm_id)
    book(org, calm_id, TAKEN)
    start_rush(org, busy)
    by_route = public(client, org.slug, calm, "holds", TAKEN)
    assert by_route.status_code == 409, by_route.text
    assert lane(client) == (0, 1)
    by_lane = public(client, org.slug, calm, "bookings", TAKEN)
    assert (by_lane.status_code, by_lane.content) == (409, by_route.content)
    assert lane(client) == (1, 1)
    booked = public(client, org.slug, calm, "bookings", FREE)
    assert booked.status_code == 201, booked.text
    assert lane(client) == (1, 2)
    assert metric(client, "slotwise_bookings_created_total", channel="public") == 1


@on_postgresql
def test_what_the_lane_does_not_take_at_the_public_doors_is_the_route_s(
        client: TestClient) -> None:
    """A public hold naming its resources, a public booking with a hold or a recurrence:
    the route answers, the lane counts nothing; a free start's public hold is placed (the
    lane passed it), booked with its hold_id, and then refused by the lane."""
    org, res, svc = new_org(client)
    slug = slug_of(org, svc)
    first = start_rush(org, svc)
    chosen = public(client, org.slug, slug, "holds", TAKEN, resource_ids=[res])
    assert (chosen.status_code, chosen.content) == (409, first.content)
    series = public(client, org.slug, slug, "bookings", TAKEN,
                    recurrence={"rrule": "FREQ=DAILY;COUNT=2"})
    assert series.status_code == 409, series.text
    assert series.json()["type"].endswith("series-unavailable")
    no_such_hold = public(client, org.slug, slug, "bookings", TAKEN, hold_id="hold_missing")
    assert no_such_hold.status_code == 404, no_such_hold.text
    assert lane(client) == (0, 0)

    held = public(client, org.slug, slug, "holds", FREE)
    assert held.status_code == 201, held.text
    assert lane(client) == (0, 1)
    with_hold = public(client, org.slug, slug, "bookings", FREE, hold_id=held.json()["id"])
    assert with_hold.status_code == 201, with_hold.text
    assert lane(client) == (0, 1)
    for n, door in enumerate(DOORS, start=1):
        again = public(client, org.slug, slug, door, FREE)
        assert again.status_code == 409, (door, again.text)
        assert lane(client) == (n, 1)
        assert FREE not in alternatives(again)
        assert again.content == public(client, org.slug, slug, door, FREE, key=True).content


@on_postgresql
def test_a_service_renamed_mid_rush_is_found_by_its_new_slug_only(client: TestClient) -> None:
    """The service's slug changes mid-rush (the catalog version with it): at both public
    doors the old slug gets the route's 404 and the new one the lane's 409."""
    org, _, svc = new_org(client)
    old = slug_of(org, svc)
    first = start_rush(org, svc)
    for door in DOORS:
        assert public(client, org.slug, old, door, TAKEN).content == first.content
    assert lane(client) == (2, 0)  # the old slug is known to the lane now
    renamed = org.patch(f"/v1/services/{svc}", {"slug": f"{old}-renamed"})
    assert renamed.status_code == 200, renamed.text
    new = renamed.json()["slug"]
    assert new == f"{old}-renamed"
    for door in DOORS:
        gone = public(client, org.slug, old, door, TAKEN)
        by_route = public(client, org.slug, old, door, TAKEN, key=True)
        assert by_route.status_code == 404, (door, by_route.text)
        assert (gone.status_code, gone.content) == (404, by_route.content), door
        moved = public(client, org.slug, new, door, TAKEN)
        assert (moved.status_code, moved.content) == (409, first.content), door
        assert public(client, org.slug, new, door, TAKEN, key=True).content == first.content
    assert lane(client) == (4, 2)


def test_on_sqlite_there_is_no_lane_and_a_rush_is_the_full_path_s(
        client: TestClient, container: Container) -> None:
    """SQLite has no lane (PostgreSQL has one): a rush's refusals there are the full path's,
    the same bytes each time, and the lane counts nothing."""
    assert (container.use_cases.rush is None) == container.settings.is_sqlite
    org, _, svc = new_org(client)
    first = start_rush(org, svc)
    again = attempt(org, svc, TAKEN)
    assert (again.status_code, again.content) == (409, first.content)
    assert lane(client) == ((0, 0) if container.settings.is_sqlite else (1, 0))
