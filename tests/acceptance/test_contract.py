"""The black-box acceptance test: a client walks the HTTP contract of ../shared/API.md.

Every test talks to a real `slotwise serve` (see conftest.py) over HTTP, once on SQLite and once
on PostgreSQL, with the server's clock pinned at 2027-03-01T12:00:00Z (a Monday). Each test signs
up its own organisation, so the tests share a server but no data.

The calendar the tests lean on: organisations and resources live in America/New_York, open
weekdays 09:00–17:00. US daylight saving time starts on Sunday 2027-03-14, so 09:00 New York is
14:00Z up to Friday 2027-03-12 and 13:00Z from Monday 2027-03-15.
"""

from __future__ import annotations

import re
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from slotwise.testing.api import Org, auth, availability, book, resource, service, signup

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("acceptance")]

FRI = "2027-03-12"  # before DST: 09:00 New York = 14:00Z
MON = "2027-03-15"  # after DST: 09:00 New York = 13:00Z
PROBLEM = "application/problem+json"


# -- helpers -------------------------------------------------------------------------------------

def day(date: str) -> tuple[str, str]:
    """The UTC day `date` as an availability query window."""
    return f"{date}T00:00:00Z", f"{date}T23:59:59Z"


def starts(org: Org, service_id: str, date: str, **params: Any) -> list[str]:
    return [slot["start"] for slot in availability(org, service_id, *day(date), **params)]


def hours(date: str, *hhs: int | str) -> list[str]:
    """UTC instants on `date`: hours(MON, 13, "13:30") → ["…T13:00:00Z", "…T13:30:00Z"]."""
    out = []
    for hh in hhs:
        hm = f"{hh:02d}:00" if isinstance(hh, int) else hh
        out.append(f"{date}T{hm}:00Z")
    return out


def customer() -> dict[str, str]:
    return {"name": "Ada Customer", "email": f"ada-{secrets.token_hex(4)}@example.com"}


def booking_body(service_id: str, start: str, **fields: Any) -> dict[str, Any]:
    return {"service_id": service_id, "start": start, "customer": customer(), **fields}


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """`response` is an RFC 9457 problem answer with `status`; returns its body."""
    request = response.request
    assert response.status_code == status, (
        f"{request.method} {request.url} → {response.status_code} (expected {status}): "
        f"{response.text}")
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body: dict[str, Any] = response.json()
    for field in ("type", "title", "status", "detail"):
        assert field in body, f"problem answer without {field!r}: {body}"
    assert body["status"] == status, body
    return body


def assert_422(response: httpx.Response, *field: str) -> dict[str, Any]:
    """A 422 problem whose `errors` name a location ending with `field`."""
    body = assert_problem(response, 422)
    errors = body.get("errors")
    assert isinstance(errors, list), body
    assert errors, body
    for error in errors:
        assert {"loc", "msg", "type"} <= error.keys(), body
    if field:
        locs = [tuple(error["loc"]) for error in errors]
        assert any(loc[-len(field):] == field for loc in locs), (
            f"no error names {list(field)}: {locs}")
    return body


def assert_409(response: httpx.Response) -> dict[str, Any]:
    """A 409 problem carrying `alternatives: [{start, end}]`."""
    body = assert_problem(response, 409)
    assert isinstance(body.get("alternatives"), list), body
    for alternative in body["alternatives"]:
        assert {"start", "end"} <= alternative.keys(), body
    return body


def concurrently(http: httpx.Client, org: Org, path: str, bodies: list[dict[str, Any]],
                 headers: dict[str, str] | None = None) -> list[httpx.Response]:
    """POST every body to `path` at once, each from its own connection."""
    barrier = threading.Barrier(len(bodies))

    def post(body: dict[str, Any]) -> httpx.Response:
        with httpx.Client(base_url=http.base_url, timeout=30.0) as own:
            barrier.wait()
            return own.post(path, json=body, headers={**org.headers, **(headers or {})})

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(post, bodies))


def count_bookings(org: Org) -> int:
    answer = org.get("/v1/bookings", params={"limit": 500})
    assert answer.status_code == 200, answer.text
    return len(answer.json()["items"])


def practitioner_service(org: Org, **fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """One practitioner open weekdays 09:00–17:00 and a 60-minute service drawing on it."""
    person = resource(org, name="Dr Who")
    return person, service(org, **fields)


# -- accounts and auth ---------------------------------------------------------------------------

def test_signup_answers_201_with_org_user_and_token(http: httpx.Client) -> None:
    suffix = secrets.token_hex(4)
    body = {"org_name": "Harbour Clinic", "org_slug": f"harbour-{suffix}",
            "email": f"owner-{suffix}@example.com", "password": "correct horse battery",
            "timezone": "Europe/Lisbon"}
    response = http.post("/v1/signup", json=body)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["org"]["slug"] == body["org_slug"]
    assert answer["org"]["name"] == "Harbour Clinic"
    assert answer["org"]["timezone"] == "Europe/Lisbon"
    assert isinstance(answer["org"]["id"], str)
    assert answer["org"]["id"]
    assert answer["user"]["email"] == body["email"]
    assert answer["user"]["role"] == "owner"
    assert isinstance(answer["user"]["id"], str)
    assert answer["user"]["id"]
    assert isinstance(answer["token"], str)
    assert answer["token"]
    assert "password" not in response.text
    assert http.get("/v1/resources", headers=auth(answer["token"])).status_code == 200


def test_login_succeeds_and_refuses_wrong_password_and_unknown_email_alike(
        http: httpx.Client) -> None:
    org = signup(http, password="correct horse battery")
    good = http.post("/v1/login", json={"email": org.email, "password": "correct horse battery"})
    assert good.status_code == 200, good.text
    token = good.json()["token"]
    assert http.get("/v1/resources", headers=auth(token)).status_code == 200

    wrong_password = http.post("/v1/login", json={"email": org.email, "password": "wrong horse"})
    unknown_email = http.post("/v1/login", json={"email": f"nobody-{secrets.token_hex(4)}"
                                                          "@example.com",
                                                 "password": "correct horse battery"})
    assert_problem(wrong_password, 401)
    assert_problem(unknown_email, 401)
    assert wrong_password.json() == unknown_email.json()


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer not-a-real-token"},
    {"Authorization": "Bearer"},
    {"Authorization": "Basic dXNlcjpwYXNz"},
], ids=["missing", "garbage", "empty", "basic"])
def test_missing_or_garbage_token_is_a_401_problem(http: httpx.Client,
                                                   headers: dict[str, str]) -> None:
    assert_problem(http.get("/v1/resources", headers=headers), 401)
    assert_problem(http.post("/v1/resources", json={"name": "x", "kind": "room"},
                             headers=headers), 401)


def test_api_key_is_shown_once_listed_without_it_and_dead_once_revoked(
        http: httpx.Client) -> None:
    org = signup(http)
    created = org.post("/v1/api-keys", {"name": "ci"})
    assert created.status_code == 201, created.text
    key = created.json()
    assert key["name"] == "ci"
    assert isinstance(key["key"], str)
    assert key["key"]
    assert http.get("/v1/resources", headers=auth(key["key"])).status_code == 200
    # an API key acts with its creator's role: this owner's key may create resources
    assert http.post("/v1/resources", json={"name": "Room", "kind": "room"},
                     headers=auth(key["key"])).status_code == 201

    listed = org.get("/v1/api-keys")
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert [item["id"] for item in items] == [key["id"]]
    assert all("key" not in item for item in items), items
    assert key["key"] not in listed.text

    assert org.delete(f"/v1/api-keys/{key['id']}").status_code == 204
    assert_problem(http.get("/v1/resources", headers=auth(key["key"])), 401)


def test_staff_cannot_manage_resources_but_lists_bookings_and_holds_slots(
        http: httpx.Client) -> None:
    org = signup(http)
    person, svc = practitioner_service(org)
    email = f"staff-{secrets.token_hex(4)}@example.com"
    created = org.post("/v1/users", {"email": email, "password": "staff password 1",
                                     "role": "staff"})
    assert created.status_code == 201, created.text
    assert created.json()["email"] == email
    assert created.json()["role"] == "staff"
    assert isinstance(created.json()["id"], str)
    login = http.post("/v1/login", json={"email": email, "password": "staff password 1"})
    assert login.status_code == 200, login.text
    staff = auth(login.json()["token"])

    assert_problem(http.post("/v1/resources", json={"name": "Room", "kind": "room"},
                             headers=staff), 403)
    assert_problem(http.post("/v1/services", json={"name": "S", "duration_min": 30,
                                                   "requirements": [{"kind": "practitioner"}]},
                             headers=staff), 403)
    assert_problem(http.post("/v1/users", json={"email": f"x-{email}", "password": "pw pw pw 1",
                                                "role": "staff"}, headers=staff), 403)
    assert_problem(http.post("/v1/api-keys", json={"name": "mine"}, headers=staff), 403)

    assert http.get("/v1/resources", headers=staff).status_code == 200
    listed = http.get("/v1/bookings", headers=staff)
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == []
    hold = http.post("/v1/holds", json={"service_id": svc["id"], "start": hours(MON, 13)[0]},
                     headers=staff)
    assert hold.status_code == 201, hold.text
    booked = http.post("/v1/bookings", json=booking_body(svc["id"], hours(MON, 14)[0]),
                       headers=staff)
    assert booked.status_code == 201, booked.text
    cancelled = http.post(f"/v1/bookings/{booked.json()['id']}/cancel", json={}, headers=staff)
    assert cancelled.status_code == 200, cancelled.text
    block = http.post(f"/v1/resources/{person['id']}/blocks", headers=staff,
                      json={"start": hours(MON, 18)[0], "end": hours(MON, 19)[0]})
    assert block.status_code == 201, block.text
    assert_problem(http.put(f"/v1/resources/{person['id']}/schedule", headers=staff,
                            json={"weekly": [], "overrides": []}), 403)
    assert_problem(http.patch(f"/v1/resources/{person['id']}", headers=staff,
                              json={"name": "renamed"}), 403)
    assert_problem(http.delete(f"/v1/resources/{person['id']}", headers=staff), 403)
    assert hours(MON, 18)[0] not in starts(org, svc["id"], MON)


# -- resources and schedules ---------------------------------------------------------------------

def test_resources_are_created_listed_in_pages_patched_and_deleted(http: httpx.Client) -> None:
    org = signup(http)
    ids = []
    for name in ("Room A", "Room B", "Room C"):
        created = org.post("/v1/resources", {"name": name, "kind": "room", "capacity": 4,
                                             "tags": ["quiet"]})
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["name"] == name
        assert body["kind"] == "room"
        assert body["capacity"] == 4
        assert body["tags"] == ["quiet"]
        assert body["timezone"] == "America/New_York"  # the organisation's
        ids.append(body["id"])

    first = org.get("/v1/resources", params={"limit": 2})
    assert first.status_code == 200, first.text
    assert len(first.json()["items"]) == 2
    assert first.json()["next_cursor"]
    second = org.get("/v1/resources", params={"limit": 2, "cursor": first.json()["next_cursor"]})
    assert second.status_code == 200, second.text
    assert len(second.json()["items"]) == 1
    assert second.json()["next_cursor"] is None
    paged = [item["id"] for item in first.json()["items"] + second.json()["items"]]
    assert sorted(paged) == sorted(ids)

    target = ids[0]
    got = org.get(f"/v1/resources/{target}")
    assert got.status_code == 200, got.text
    assert got.json()["name"] == "Room A"
    patched = org.patch(f"/v1/resources/{target}", {"name": "Room A+", "capacity": 6})
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "Room A+"
    assert patched.json()["capacity"] == 6
    assert patched.json()["kind"] == "room"
    assert org.get(f"/v1/resources/{target}").json()["name"] == "Room A+"

    assert org.delete(f"/v1/resources/{target}").status_code == 204
    assert_problem(org.get(f"/v1/resources/{target}"), 404)
    remaining = org.get("/v1/resources").json()["items"]
    assert sorted(item["id"] for item in remaining) == sorted(ids[1:])


def test_resource_timezone_defaults_to_its_location_then_the_organisation(
        http: httpx.Client) -> None:
    org = signup(http)
    location = org.post("/v1/locations", {"name": "London office", "timezone": "Europe/London"})
    assert location.status_code == 201, location.text
    assert location.json()["timezone"] == "Europe/London"
    located = org.post("/v1/resources", {"name": "Desk", "kind": "equipment",
                                         "location_id": location.json()["id"]})
    assert located.status_code == 201, located.text
    assert located.json()["timezone"] == "Europe/London"
    plain = org.post("/v1/resources", {"name": "Desk 2", "kind": "equipment"})
    assert plain.json()["timezone"] == "America/New_York"


def test_schedule_overrides_close_a_date_and_replace_its_weekly_hours(http: httpx.Client) -> None:
    org = signup(http)
    person = org.post("/v1/resources", {"name": "Dr Who", "kind": "practitioner"}).json()
    schedule = {
        "weekly": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00",
                    "end": "17:00"}],
        "overrides": [{"date": "2027-03-10", "closed": True},
                      {"date": "2027-03-11", "hours": [{"start": "12:00", "end": "14:00"}]},
                      {"date": "2027-03-11", "hours": [{"start": "15:00", "end": "16:00"}]},
                      {"date": "2027-03-13", "hours": [{"start": "10:00", "end": "11:00"}]}],
    }
    put = org.put(f"/v1/resources/{person['id']}/schedule", schedule)
    assert put.status_code == 200, put.text
    answer = put.json()
    assert answer["weekly"][0]["days"] == ["mon", "tue", "wed", "thu", "fri"]
    assert len(answer["overrides"]) >= 3
    svc = service(org)

    assert starts(org, svc["id"], "2027-03-09") == hours("2027-03-09", *range(14, 22))
    assert starts(org, svc["id"], "2027-03-10") == []  # closed
    # 12:00–14:00 and 15:00–16:00 EST
    assert starts(org, svc["id"], "2027-03-11") == hours("2027-03-11", 17, 18, 20)
    assert starts(org, svc["id"], "2027-03-13") == hours("2027-03-13", 15)  # a Saturday opened

    # closed together with hours on one date is malformed, and the old schedule stands
    bad = {"weekly": [], "overrides": [{"date": "2027-03-09", "closed": True,
                                        "hours": [{"start": "09:00", "end": "10:00"}]}]}
    assert_422(org.put(f"/v1/resources/{person['id']}/schedule", bad))
    for weekly in ([{"days": ["funday"], "start": "09:00", "end": "17:00"}],
                   [{"days": ["mon"], "start": "09:00", "end": "25:00"}],
                   [{"days": ["mon"], "start": "9am", "end": "17:00"}]):
        assert_422(org.put(f"/v1/resources/{person['id']}/schedule",
                           {"weekly": weekly, "overrides": []}))
    assert starts(org, svc["id"], "2027-03-09") == hours("2027-03-09", *range(14, 22))


def test_touching_weekly_entries_merge_into_one_window_and_24_00_is_midnight(
        http: httpx.Client) -> None:
    org = signup(http)
    resource(org, weekly=[{"days": ["mon"], "start": "09:00", "end": "11:30"},
                          {"days": ["mon"], "start": "11:30", "end": "17:00"},
                          {"days": ["mon"], "start": "10:00", "end": "12:00"},
                          {"days": ["fri"], "start": "20:00", "end": "24:00"}])
    svc = service(org)
    # one window 09:00–17:00 EDT: the grid runs on through the join at 11:30
    assert starts(org, svc["id"], MON) == hours(MON, *range(13, 21))
    # Friday 20:00–24:00 EST is Saturday 01:00Z–05:00Z
    assert starts(org, svc["id"], "2027-03-13") == hours("2027-03-13", 1, 2, 3, 4)


def test_schedule_hours_in_the_dst_gap_move_forward_and_in_the_fold_take_the_earlier(
        http: httpx.Client) -> None:
    org = signup(http)
    resource(org, weekly=[{"days": ["sun"], "start": "02:30", "end": "05:00"},
                          {"days": ["sun"], "start": "01:30", "end": "03:00"}])
    svc = service(org, duration_min=30)
    # 2027-03-14: 01:30–03:00 is 06:30Z–07:00Z (the clock jumps 02:00 → 03:00); 02:30 does
    # not exist and reads as 03:30 EDT (07:30Z), so 02:30–05:00 is 07:30Z–09:00Z
    assert starts(org, svc["id"], "2027-03-14") == hours(
        "2027-03-14", "06:30", "07:30", "08:00", "08:30")
    # 2027-11-07: 01:30 happens twice and means the earlier (EDT, 05:30Z); the two entries
    # overlap (02:30 EST is 07:30Z, 03:00 EST 08:00Z) and merge; 05:00 EST is 10:00Z
    assert starts(org, svc["id"], "2027-11-07") == hours(
        "2027-11-07", "05:30", "06:00", "06:30", "07:00", "07:30", "08:00", "08:30", "09:00",
        "09:30")


def test_schedule_timezone_is_the_zone_its_hours_are_read_in(http: httpx.Client) -> None:
    org = signup(http)
    resource(org, schedule_timezone="Europe/Berlin")  # 09:00–17:00 CET is 08:00Z–16:00Z
    svc = service(org)
    assert starts(org, svc["id"], FRI) == hours(FRI, *range(8, 16))


# -- availability --------------------------------------------------------------------------------

def test_availability_is_in_utc_on_the_grid_right_across_dst(http: httpx.Client) -> None:
    org = signup(http)
    resource(org, name="Dr NY", timezone="America/New_York")
    svc = service(org, duration_min=60)

    friday = availability(org, svc["id"], *day(FRI))
    assert friday[0] == {"start": f"{FRI}T14:00:00Z", "end": f"{FRI}T15:00:00Z"}
    assert [s["start"] for s in friday] == hours(FRI, *range(14, 22))
    assert [s["end"] for s in friday] == hours(FRI, *range(15, 23))

    monday = availability(org, svc["id"], *day(MON))
    assert monday[0] == {"start": f"{MON}T13:00:00Z", "end": f"{MON}T14:00:00Z"}
    assert [s["start"] for s in monday] == hours(MON, *range(13, 21))

    weekend = availability(org, svc["id"], "2027-03-13T00:00:00Z", "2027-03-15T00:00:00Z")
    assert weekend == []

    week = [s["start"] for s in availability(org, svc["id"], f"{FRI}T00:00:00Z",
                                             "2027-03-16T00:00:00Z")]
    assert week == sorted(set(week))
    assert week == hours(FRI, *range(14, 22)) + hours(MON, *range(13, 21))


def test_step_min_30_offers_half_hour_starts(http: httpx.Client) -> None:
    org = signup(http)
    resource(org)
    svc = service(org, duration_min=60, step_min=30)
    expected = [f"{FRI}T{h:02d}:{m:02d}:00Z" for h in range(14, 22) for m in (0, 30)][:-1]
    assert starts(org, svc["id"], FRI) == expected  # last start 21:00Z ends at 22:00Z


def test_service_buffer_after_takes_the_next_slot_after_a_booking(http: httpx.Client) -> None:
    org = signup(http)
    resource(org)
    svc = service(org, duration_min=60, buffer_after_min=15)
    assert hours(MON, 14)[0] in starts(org, svc["id"], MON)
    # buffers may reach outside open hours: the last start stays on offer
    assert starts(org, svc["id"], MON)[-1] == hours(MON, 20)[0]

    book(org, svc["id"], hours(MON, 13)[0])
    after = starts(org, svc["id"], MON)
    assert hours(MON, 13)[0] not in after
    assert hours(MON, 14)[0] not in after  # [14:00, 15:15) meets the booking's 13:00–14:15
    assert after == hours(MON, *range(15, 21))


def test_a_block_removes_overlapping_slots_and_deleting_it_restores_them(
        http: httpx.Client) -> None:
    org = signup(http)
    person = resource(org)
    svc = service(org)
    before = starts(org, svc["id"], MON)

    created = org.post(f"/v1/resources/{person['id']}/blocks",
                       {"start": f"{MON}T11:30:00-04:00", "end": f"{MON}T12:30:00-04:00",
                        "title": "Staff meeting"})
    assert created.status_code == 201, created.text
    block = created.json()
    assert block["start"] == f"{MON}T15:30:00Z"
    assert block["end"] == f"{MON}T16:30:00Z"
    blocked = starts(org, svc["id"], MON)
    assert blocked == [s for s in before if s not in hours(MON, 15, 16)]

    assert org.delete(f"/v1/resources/{person['id']}/blocks/{block['id']}").status_code == 204
    assert starts(org, svc["id"], MON) == before


def test_a_resource_buffer_and_the_service_buffer_combine_by_the_larger(
        http: httpx.Client) -> None:
    org = signup(http)
    resource(org, buffer_after_min=45)
    svc = service(org, duration_min=30, step_min=15, buffer_after_min=15)
    book(org, svc["id"], hours(MON, 15)[0])  # 15:00–15:30, busy to 16:15 with the larger 45
    offered = starts(org, svc["id"], MON)
    # a candidate t needs [t, t + 30 + 45) free: 13:45 just fits, 16:15 is the first after
    around = [s for s in offered if hours(MON, "13:30")[0] <= s <= hours(MON, "16:30")[0]]
    assert around == hours(MON, "13:30", "13:45", "16:15", "16:30")


def test_requirements_draw_count_distinct_resources_carrying_every_tag(
        http: httpx.Client) -> None:
    org = signup(http)
    plain = resource(org, name="Dr Plain", tags=["general"])
    certified = resource(org, name="Dr Cert", tags=["general", "laser"])
    third = resource(org, name="Dr Third", tags=["general"])
    pair = service(org, name="Pair", requirements=[{"kind": "practitioner", "count": 2}])
    laser = service(org, name="Laser", requirements=[{"kind": "practitioner",
                                                      "tags": ["general", "laser"]}])
    chosen = service(org, name="Chosen", requirements=[
        {"kind": "practitioner", "resource_ids": [plain["id"], third["id"]]}])

    offered = starts(org, chosen["id"], MON)
    assert offered == sorted(set(offered))  # two resources, one start each
    assert offered == hours(MON, *range(13, 21))
    booked = book(org, pair["id"], hours(MON, 13)[0])
    assert len(set(booked["resource_ids"])) == 2
    assert book(org, laser["id"], hours(MON, 14)[0])["resource_ids"] == [certified["id"]]
    assert book(org, chosen["id"], hours(MON, 15)[0])["resource_ids"][0] in (
        plain["id"], third["id"])

    # a resource of the caller's in no pool of the service: 200 with no slots
    answer = org.get(f"/v1/services/{laser['id']}/availability",
                     params={"start": day(MON)[0], "end": day(MON)[1],
                             "resource_id": plain["id"]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["slots"] == []
    only = starts(org, laser["id"], MON, resource_id=certified["id"])
    assert hours(MON, 14)[0] not in only
    assert hours(MON, 16)[0] in only
    # resource_ids that cannot fill the roles → 409, nothing written
    before = count_bookings(org)
    assert_409(org.post("/v1/bookings", booking_body(pair["id"], hours(MON, 17)[0],
                                                     resource_ids=[plain["id"]])))
    assert_409(org.post("/v1/holds", {"service_id": laser["id"], "start": hours(MON, 17)[0],
                                      "resource_ids": [plain["id"]]}))
    assert count_bookings(org) == before
    pinned = book(org, pair["id"], hours(MON, 17)[0],
                  resource_ids=[plain["id"], third["id"]])
    assert sorted(pinned["resource_ids"]) == sorted([plain["id"], third["id"]])


def test_service_capacity_shares_a_start_but_resource_capacity_never_overlaps(
        http: httpx.Client) -> None:
    org = signup(http)
    resource(org, name="Big room", kind="room", capacity=10)
    class_ = service(org, name="Class", capacity=2, requirements=[{"kind": "room"}])
    solo = service(org, name="Solo", requirements=[{"kind": "room"}])
    start = hours(MON, 13)[0]
    first = book(org, class_["id"], start)
    assert start in starts(org, class_["id"], MON)  # one seat left
    second = book(org, class_["id"], start)
    assert second["resource_ids"] == first["resource_ids"]
    assert start not in starts(org, class_["id"], MON)
    assert_409(org.post("/v1/bookings", booking_body(class_["id"], start)))
    # a roomy resource still takes one session at a time
    book(org, solo["id"], hours(MON, 15)[0])
    assert_409(org.post("/v1/bookings", booking_body(solo["id"], hours(MON, 15)[0])))
    assert_409(org.post("/v1/bookings", booking_body(solo["id"], start)))


def test_a_resource_requiring_approval_books_pending_and_holds_its_time(
        http: httpx.Client) -> None:
    org = signup(http)
    resource(org, requires_approval=True)
    svc = service(org)
    booking = book(org, svc["id"], hours(MON, 13)[0])
    assert booking["status"] == "pending"
    assert hours(MON, 13)[0] not in starts(org, svc["id"], MON)
    assert_409(org.post("/v1/bookings", booking_body(svc["id"], hours(MON, 13)[0])))


def test_timezone_parameter_is_echoed_and_never_changes_the_slots(http: httpx.Client) -> None:
    org = signup(http)
    resource(org)
    svc = service(org)
    path = f"/v1/services/{svc['id']}/availability"
    start, end = day(MON)
    default = org.get(path, params={"start": start, "end": end})
    assert default.status_code == 200, default.text
    assert default.json()["service_id"] == svc["id"]
    assert default.json()["timezone"] == "America/New_York"  # the organisation's
    for zone in ("Asia/Tokyo", "Pacific/Chatham", "UTC"):
        labelled = org.get(path, params={"start": start, "end": end, "timezone": zone})
        assert labelled.status_code == 200, labelled.text
        assert labelled.json()["timezone"] == zone
        assert labelled.json()["slots"] == default.json()["slots"]
    assert_422(org.get(path, params={"start": start, "end": end, "timezone": "Mars/Base"}),
               "timezone")


def test_availability_window_over_62_days_is_422_naming_query_end(http: httpx.Client) -> None:
    org = signup(http)
    resource(org)
    svc = service(org)
    path = f"/v1/services/{svc['id']}/availability"
    too_long = org.get(path, params={"start": "2027-03-02T00:00:00Z",
                                     "end": "2027-05-03T00:00:01Z"})
    body = assert_422(too_long)
    assert body["errors"][0]["loc"] == ["query", "end"]
    exactly = org.get(path, params={"start": "2027-03-02T00:00:00Z", "end": "2027-05-03T00:00:00Z"})
    assert exactly.status_code == 200, exactly.text


@pytest.mark.parametrize("end", ["2027-03-15T00:00:00Z", "2027-03-14T00:00:00Z"],
                         ids=["equal", "before"])
def test_availability_end_not_after_start_is_422(http: httpx.Client, end: str) -> None:
    org = signup(http)
    resource(org)
    svc = service(org)
    answer = org.get(f"/v1/services/{svc['id']}/availability",
                     params={"start": "2027-03-15T00:00:00Z", "end": end})
    assert assert_422(answer)["errors"][0]["loc"] == ["query", "end"]


def test_instants_without_an_offset_are_422(http: httpx.Client) -> None:
    org = signup(http)
    resource(org)
    svc = service(org)
    assert_422(org.get(f"/v1/services/{svc['id']}/availability",
                       params={"start": "2027-03-15T00:00:00", "end": "2027-03-16T00:00:00Z"}),
               "start")
    assert_422(org.post("/v1/bookings", booking_body(svc["id"], f"{MON}T09:00:00")), "start")
    assert_422(org.post("/v1/holds", {"service_id": svc["id"], "start": f"{MON}T09:00:00"}),
               "start")
    assert count_bookings(org) == 0


# -- bad input -----------------------------------------------------------------------------------

def test_unknown_zone_is_422_naming_the_field_and_writes_nothing(http: httpx.Client) -> None:
    org = signup(http)
    assert_422(org.post("/v1/resources", {"name": "R", "kind": "room",
                                          "timezone": "Mars/Olympus_Mons"}), "timezone")
    assert_422(org.post("/v1/resources", {"name": "R", "kind": "room", "timezone": "+02:00"}),
               "timezone")
    assert_422(org.post("/v1/locations", {"name": "L", "timezone": "Nowhere/Special"}),
               "timezone")
    assert org.get("/v1/resources").json()["items"] == []
    suffix = secrets.token_hex(4)
    assert_422(http.post("/v1/signup", json={"org_name": "X", "org_slug": f"x-{suffix}",
                                             "email": f"x-{suffix}@example.com",
                                             "password": "correct horse battery",
                                             "timezone": "Atlantis/Capital"}), "timezone")
    person = org.post("/v1/resources", {"name": "R", "kind": "room"}).json()
    assert_422(org.put(f"/v1/resources/{person['id']}/schedule",
                       {"timezone": "Moon/Tranquility", "weekly": [], "overrides": []}),
               "timezone")


def test_unknown_kind_is_422_naming_the_field(http: httpx.Client) -> None:
    org = signup(http)
    assert_422(org.post("/v1/resources", {"name": "R", "kind": "spaceship"}), "kind")
    assert org.get("/v1/resources").json()["items"] == []
    assert_422(org.post("/v1/services", {"name": "S", "duration_min": 30,
                                         "requirements": [{"kind": "spaceship"}]}), "kind")


def test_malformed_json_is_422(http: httpx.Client) -> None:
    org = signup(http)
    for path in ("/v1/resources", "/v1/bookings", "/v1/signup"):
        answer = http.post(path, content=b'{"name": "R", "kind": ',
                           headers={**org.headers, "Content-Type": "application/json"})
        assert_422(answer)
    assert org.get("/v1/resources").json()["items"] == []


def test_bad_blocks_and_patches_are_422_and_change_nothing(http: httpx.Client) -> None:
    org = signup(http)
    person = resource(org, name="Dr Who")
    svc = service(org)
    blocks = f"/v1/resources/{person['id']}/blocks"
    assert_422(org.post(blocks, {"start": hours(MON, 15)[0], "end": hours(MON, 15)[0]}), "end")
    assert_422(org.post(blocks, {"start": hours(MON, 15)[0], "end": hours(MON, 14)[0]}), "end")
    assert_422(org.post(blocks, {"start": f"{MON}T15:00:00", "end": hours(MON, 16)[0]}), "start")
    assert starts(org, svc["id"], MON) == hours(MON, *range(13, 21))
    assert_problem(org.delete(f"{blocks}/not-a-block"), 404)

    assert_422(org.patch(f"/v1/resources/{person['id']}", {"kind": "spaceship"}), "kind")
    assert_422(org.patch(f"/v1/resources/{person['id']}", {"timezone": "Mars/Base"}),
               "timezone")
    after = org.get(f"/v1/resources/{person['id']}").json()
    assert after["kind"] == "practitioner"
    assert after["timezone"] == "America/New_York"
    assert_problem(org.patch("/v1/resources/not-an-id", {"name": "x"}), 404)
    assert_problem(org.delete("/v1/resources/not-an-id"), 404)


def test_unknown_and_malformed_ids_are_404(http: httpx.Client) -> None:
    org = signup(http)
    resource(org)
    svc = service(org)
    for ident in ("00000000-0000-0000-0000-000000000000", "not-an-id", "123"):
        assert_problem(org.get(f"/v1/resources/{ident}"), 404)
        assert_problem(org.get(f"/v1/bookings/{ident}"), 404)
        assert_problem(org.get(f"/v1/services/{ident}/availability",
                               params={"start": day(MON)[0], "end": day(MON)[1]}), 404)
        assert_problem(org.post("/v1/bookings", booking_body(ident, hours(MON, 13)[0])), 404)
        assert_problem(org.post("/v1/bookings", booking_body(svc["id"], hours(MON, 13)[0],
                                                             hold_id=ident)), 404)
        assert_problem(org.delete(f"/v1/holds/{ident}"), 404)
    assert count_bookings(org) == 0


# -- bookings ------------------------------------------------------------------------------------

def test_a_two_role_service_books_both_the_practitioner_and_the_room(http: httpx.Client) -> None:
    org = signup(http)
    person = resource(org, name="Dr Who", kind="practitioner")
    room = resource(org, name="Room 1", kind="room")
    svc = service(org, requirements=[{"kind": "practitioner"}, {"kind": "room"}])
    response = org.post("/v1/bookings", booking_body(svc["id"], hours(MON, 13)[0]))
    assert response.status_code == 201, response.text
    booking = response.json()
    assert sorted(booking["resource_ids"]) == sorted([person["id"], room["id"]])
    assert booking["service_id"] == svc["id"]
    assert booking["status"] == "confirmed"
    assert booking["start"] == f"{MON}T13:00:00Z"
    assert booking["end"] == f"{MON}T14:00:00Z"
    assert booking["customer"]["name"] == "Ada Customer"
    assert booking["customer"]["email"].endswith("@example.com")
    assert booking["created_at"].endswith("Z")
    assert booking["created_at"].startswith("2027-03-01T12:00:00")  # the pinned clock
    fetched = org.get(f"/v1/bookings/{booking['id']}")
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["id"] == booking["id"]
    assert sorted(fetched.json()["resource_ids"]) == sorted(booking["resource_ids"])
    assert hours(MON, 13)[0] not in starts(org, svc["id"], MON)


def test_a_taken_start_is_409_with_alternatives_that_are_bookable(http: httpx.Client) -> None:
    org = signup(http)
    _, svc = practitioner_service(org)
    book(org, svc["id"], hours(MON, 15)[0])
    before = count_bookings(org)
    body = assert_409(org.post("/v1/bookings", booking_body(svc["id"], hours(MON, 15)[0])))
    assert body["alternatives"], body
    assert count_bookings(org) == before
    offered = starts(org, svc["id"], MON)
    for alternative in body["alternatives"]:
        assert alternative["start"] in offered, (alternative, offered)
    for alternative in body["alternatives"]:
        booked = book(org, svc["id"], alternative["start"])
        assert booked["start"] == alternative["start"]
        assert booked["end"] == alternative["end"]


def test_an_off_grid_start_is_409(http: httpx.Client) -> None:
    org = signup(http)
    _, svc = practitioner_service(org)
    for start in (f"{MON}T13:15:00Z", f"{MON}T13:00:30Z", f"{MON}T12:00:00Z", f"{MON}T21:00:00Z",
                  "2027-03-13T14:00:00Z"):  # off the grid, before / after hours, a Saturday
        assert_409(org.post("/v1/bookings", booking_body(svc["id"], start)))
        assert_409(org.post("/v1/holds", {"service_id": svc["id"], "start": start}))
    assert count_bookings(org) == 0


def test_a_start_within_the_minimum_notice_or_in_the_past_is_409(http: httpx.Client) -> None:
    org = signup(http)
    _, svc = practitioner_service(org, min_notice_min=3 * 24 * 60)  # not before 03-04T12:00Z
    assert_409(org.post("/v1/bookings", booking_body(svc["id"], "2027-03-03T14:00:00Z")))
    assert_409(org.post("/v1/bookings", booking_body(svc["id"], "2027-02-26T14:00:00Z")))
    assert count_bookings(org) == 0
    assert starts(org, svc["id"], "2027-03-03") == []
    assert starts(org, svc["id"], "2027-03-04")[0] == "2027-03-04T14:00:00Z"
    book(org, svc["id"], "2027-03-04T14:00:00Z")


def test_a_start_beyond_max_advance_days_is_409(http: httpx.Client) -> None:
    org = signup(http)
    _, svc = practitioner_service(org, max_advance_days=10)  # horizon 2027-03-11T12:00Z
    assert_409(org.post("/v1/bookings", booking_body(svc["id"], f"{FRI}T14:00:00Z")))
    assert count_bookings(org) == 0
    assert starts(org, svc["id"], FRI) == []
    book(org, svc["id"], "2027-03-10T14:00:00Z")


def test_idempotency_key_replays_the_answer_and_refuses_a_different_body(
        http: httpx.Client) -> None:
    org = signup(http)
    _, svc = practitioner_service(org)
    key = {"Idempotency-Key": f"key-{secrets.token_hex(8)}"}
    body = booking_body(svc["id"], hours(MON, 13)[0])
    first = org.post("/v1/bookings", body, headers=key)
    assert first.status_code == 201, first.text
    replay = org.post("/v1/bookings", body, headers=key)
    assert replay.status_code == 201, replay.text
    assert replay.json() == first.json()
    assert count_bookings(org) == 1

    different = booking_body(svc["id"], hours(MON, 14)[0])
    assert_422(org.post("/v1/bookings", different, headers=key))
    assert count_bookings(org) == 1

    # a refusal is an answer too: replayed as it was, even once the slot frees up
    taken_key = {"Idempotency-Key": f"key-{secrets.token_hex(8)}"}
    clash = booking_body(svc["id"], hours(MON, 13)[0])
    refused = org.post("/v1/bookings", clash, headers=taken_key)
    assert_409(refused)
    assert org.post(f"/v1/bookings/{first.json()['id']}/cancel", {}).status_code == 200
    again = org.post("/v1/bookings", clash, headers=taken_key)
    assert again.status_code == 409
    assert again.json() == refused.json()


def test_idempotency_keys_are_scoped_to_the_organisation_and_the_route(
        http: httpx.Client) -> None:
    a = signup(http)
    b = signup(http)
    _, a_svc = practitioner_service(a)
    _, b_svc = practitioner_service(b)
    key = {"Idempotency-Key": f"shared-{secrets.token_hex(8)}"}
    first = a.post("/v1/bookings", booking_body(a_svc["id"], hours(MON, 13)[0]), headers=key)
    assert first.status_code == 201, first.text
    other_org = b.post("/v1/bookings", booking_body(b_svc["id"], hours(MON, 13)[0]), headers=key)
    assert other_org.status_code == 201, other_org.text
    assert other_org.json()["id"] != first.json()["id"]
    other_route = a.post("/v1/holds", {"service_id": a_svc["id"], "start": hours(MON, 14)[0]},
                         headers=key)
    assert other_route.status_code == 201, other_route.text
    assert count_bookings(a) == 1
    assert count_bookings(b) == 1


def test_concurrent_bookings_of_one_slot_make_exactly_one_booking(http: httpx.Client) -> None:
    org = signup(http)
    _, svc = practitioner_service(org)
    answers = concurrently(http, org, "/v1/bookings",
                           [booking_body(svc["id"], hours(MON, 13)[0]) for _ in range(8)])
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * 7, [(a.status_code, a.text[:200]) for a in answers]
    for answer in answers:
        if answer.status_code == 409:
            assert_409(answer)
    assert count_bookings(org) == 1


def test_concurrent_requests_with_one_idempotency_key_book_once(http: httpx.Client) -> None:
    org = signup(http)
    _, svc = practitioner_service(org)
    body = booking_body(svc["id"], hours(MON, 13)[0])
    answers = concurrently(http, org, "/v1/bookings", [body] * 6,
                           headers={"Idempotency-Key": f"race-{secrets.token_hex(8)}"})
    created = [a for a in answers if a.status_code == 201]
    assert created, [(a.status_code, a.text[:200]) for a in answers]
    assert all(a.json() == created[0].json() for a in created)
    for answer in answers:
        if answer.status_code != 201:  # arrived while the first was still running
            problem = assert_problem(answer, 409)
            assert problem["type"].endswith("idempotency-in-flight"), problem
            assert "alternatives" not in problem, problem
    assert count_bookings(org) == 1


# -- holds ---------------------------------------------------------------------------------------

def test_a_hold_hides_its_slot_and_a_booking_with_it_converts_it(http: httpx.Client) -> None:
    org = signup(http)
    person, svc = practitioner_service(org)
    start = hours(MON, 14)[0]
    created = org.post("/v1/holds", {"service_id": svc["id"], "start": start})
    assert created.status_code == 201, created.text
    hold = created.json()
    assert hold["service_id"] == svc["id"]
    assert hold["start"] == start
    assert hold["end"] == hours(MON, 15)[0]
    assert hold["resource_ids"] == [person["id"]]
    assert hold["expires_at"] == "2027-03-01T12:10:00Z"  # now + the default 600 s

    assert start not in starts(org, svc["id"], MON)
    assert_409(org.post("/v1/bookings", booking_body(svc["id"], start)))
    assert_409(org.post("/v1/holds", {"service_id": svc["id"], "start": start}))
    assert count_bookings(org) == 0

    booked = org.post("/v1/bookings", booking_body(svc["id"], start, hold_id=hold["id"]))
    assert booked.status_code == 201, booked.text
    assert booked.json()["resource_ids"] == hold["resource_ids"]
    assert booked.json()["start"] == start
    # a converted hold cannot be used again, and holds are never listed as bookings
    assert_409(org.post("/v1/bookings", booking_body(svc["id"], start, hold_id=hold["id"])))
    assert count_bookings(org) == 1


def test_a_hold_for_another_start_or_service_is_409(http: httpx.Client) -> None:
    org = signup(http)
    _, svc = practitioner_service(org)
    other = service(org, name="Other")
    hold = org.post("/v1/holds", {"service_id": svc["id"], "start": hours(MON, 14)[0]}).json()
    assert_409(org.post("/v1/bookings", booking_body(svc["id"], hours(MON, 15)[0],
                                                     hold_id=hold["id"])))
    assert_409(org.post("/v1/bookings", booking_body(other["id"], hours(MON, 14)[0],
                                                     hold_id=hold["id"])))
    assert count_bookings(org) == 0


def test_deleting_a_hold_frees_its_slot_and_a_second_delete_is_404(http: httpx.Client) -> None:
    org = signup(http)
    _, svc = practitioner_service(org)
    start = hours(MON, 14)[0]
    hold = org.post("/v1/holds", {"service_id": svc["id"], "start": start}).json()
    assert start not in starts(org, svc["id"], MON)
    assert org.delete(f"/v1/holds/{hold['id']}").status_code == 204
    assert start in starts(org, svc["id"], MON)
    assert_problem(org.delete(f"/v1/holds/{hold['id']}"), 404)
    # a released hold cannot be booked with
    assert_409(org.post("/v1/bookings", booking_body(svc["id"], start, hold_id=hold["id"])))


@pytest.mark.parametrize("ttl_s", [0, -5, 1801])
def test_hold_ttl_outside_1_to_1800_seconds_is_422(http: httpx.Client, ttl_s: int) -> None:
    org = signup(http)
    _, svc = practitioner_service(org)
    start = hours(MON, 14)[0]
    assert_422(org.post("/v1/holds", {"service_id": svc["id"], "start": start, "ttl_s": ttl_s}),
               "ttl_s")
    assert start in starts(org, svc["id"], MON)  # nothing was held
    longest = org.post("/v1/holds", {"service_id": svc["id"], "start": start, "ttl_s": 1800})
    assert longest.status_code == 201, longest.text
    assert longest.json()["expires_at"] == "2027-03-01T12:30:00Z"


# -- cancel and reschedule -----------------------------------------------------------------------

def test_cancelling_a_booking_offers_its_slot_again(http: httpx.Client) -> None:
    org = signup(http)
    _, svc = practitioner_service(org)
    start = hours(MON, 14)[0]
    booking = book(org, svc["id"], start)
    assert start not in starts(org, svc["id"], MON)
    cancelled = org.post(f"/v1/bookings/{booking['id']}/cancel", {"reason": "changed plans"})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["id"] == booking["id"]
    assert cancelled.json()["status"] == "cancelled"
    assert org.get(f"/v1/bookings/{booking['id']}").json()["status"] == "cancelled"
    assert start in starts(org, svc["id"], MON)
    assert book(org, svc["id"], start)["start"] == start


def test_rescheduling_keeps_the_id_and_moves_the_times(http: httpx.Client) -> None:
    org = signup(http)
    _, svc = practitioner_service(org)
    booking = book(org, svc["id"], hours(MON, 14)[0])
    moved = org.post(f"/v1/bookings/{booking['id']}/reschedule",
                     {"start": f"{MON}T12:00:00-04:00"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["id"] == booking["id"]
    assert moved.json()["start"] == hours(MON, 16)[0]
    assert moved.json()["end"] == hours(MON, 17)[0]
    assert moved.json()["status"] == "confirmed"
    offered = starts(org, svc["id"], MON)
    assert hours(MON, 14)[0] in offered
    assert hours(MON, 16)[0] not in offered
    assert count_bookings(org) == 1


def test_rescheduling_into_a_taken_slot_is_409_and_changes_nothing(http: httpx.Client) -> None:
    org = signup(http)
    _, svc = practitioner_service(org)
    mine = book(org, svc["id"], hours(MON, 14)[0])
    book(org, svc["id"], hours(MON, 15)[0])
    assert_409(org.post(f"/v1/bookings/{mine['id']}/reschedule", {"start": hours(MON, 15)[0]}))
    assert_409(org.post(f"/v1/bookings/{mine['id']}/reschedule", {"start": f"{MON}T16:20:00Z"}))
    after = org.get(f"/v1/bookings/{mine['id']}").json()
    assert after["start"] == mine["start"]
    assert after["end"] == mine["end"]
    assert after["status"] == "confirmed"
    assert hours(MON, 14)[0] not in starts(org, svc["id"], MON)


# -- recurring series ----------------------------------------------------------------------------

def test_a_weekly_series_stays_at_nine_new_york_time_across_dst(http: httpx.Client) -> None:
    org = signup(http)
    _, svc = practitioner_service(org)
    body = booking_body(svc["id"], "2027-03-08T14:00:00Z",
                        recurrence={"rrule": "FREQ=WEEKLY;COUNT=4",
                                    "timezone": "America/New_York"})
    response = org.post("/v1/bookings", body)
    assert response.status_code == 201, response.text
    answer = response.json()
    occurrences = answer["occurrences"]
    assert [o["start"] for o in occurrences] == [
        "2027-03-08T14:00:00Z", "2027-03-15T13:00:00Z",
        "2027-03-22T13:00:00Z", "2027-03-29T13:00:00Z"]
    assert [o["end"] for o in occurrences] == [
        "2027-03-08T15:00:00Z", "2027-03-15T14:00:00Z",
        "2027-03-22T14:00:00Z", "2027-03-29T14:00:00Z"]
    series = {o["series_id"] for o in occurrences}
    assert len(series) == 1
    assert None not in series
    assert answer["id"] == occurrences[0]["id"]
    assert answer["series_id"] == occurrences[0]["series_id"]
    assert len({o["id"] for o in occurrences}) == 4
    assert count_bookings(org) == 4


def test_a_series_clashing_with_a_booking_is_409_listing_it_and_writes_nothing(
        http: httpx.Client) -> None:
    org = signup(http)
    _, svc = practitioner_service(org)
    book(org, svc["id"], "2027-03-22T13:00:00Z")
    before = count_bookings(org)
    body = booking_body(svc["id"], "2027-03-08T14:00:00Z",
                        recurrence={"rrule": "FREQ=WEEKLY;COUNT=4",
                                    "timezone": "America/New_York"})
    problem = assert_409(org.post("/v1/bookings", body))
    assert problem["conflicts"] == [{"start": "2027-03-22T13:00:00Z",
                                     "end": "2027-03-22T14:00:00Z"}]
    assert count_bookings(org) == before
    assert "2027-03-08T14:00:00Z" in starts(org, svc["id"], "2027-03-08")
    assert problem["alternatives"], problem
    offered = [s["start"] for s in availability(org, svc["id"], "2027-03-15T00:00:00Z",
                                                "2027-03-30T00:00:00Z")]
    assert all(a["start"] in offered for a in problem["alternatives"]), problem


def test_a_series_bounded_by_until_books_every_occurrence_up_to_it(http: httpx.Client) -> None:
    org = signup(http)
    _, svc = practitioner_service(org)
    body = booking_body(svc["id"], "2027-03-08T14:00:00Z",
                        recurrence={"rrule": "FREQ=WEEKLY;UNTIL=20270322T130000Z"})
    response = org.post("/v1/bookings", body)  # the recurrence zone defaults to the org's
    assert response.status_code == 201, response.text
    assert [o["start"] for o in response.json()["occurrences"]] == [
        "2027-03-08T14:00:00Z", "2027-03-15T13:00:00Z", "2027-03-22T13:00:00Z"]


@pytest.mark.parametrize("rrule", ["FREQ=WEEKLY", "FREQ=DAILY;INTERVAL=2", "NOT-A-RULE",
                                   "FREQ=WEEKLY;COUNT=3;UNTIL=20270329T130000Z"])
def test_an_unbounded_or_malformed_rrule_is_422(http: httpx.Client, rrule: str) -> None:
    org = signup(http)
    _, svc = practitioner_service(org)
    body = booking_body(svc["id"], "2027-03-08T14:00:00Z",
                        recurrence={"rrule": rrule, "timezone": "America/New_York"})
    assert_422(org.post("/v1/bookings", body))
    assert count_bookings(org) == 0


# -- tenants -------------------------------------------------------------------------------------

def test_another_organisation_sees_none_of_it(http: httpx.Client) -> None:
    a = signup(http)
    b = signup(http)
    person, svc = practitioner_service(a)
    booking = book(a, svc["id"], hours(MON, 14)[0])
    hold = a.post("/v1/holds", {"service_id": svc["id"], "start": hours(MON, 15)[0]}).json()
    b_person = resource(b)
    b_svc = service(b)

    assert_problem(b.get(f"/v1/resources/{person['id']}"), 404)
    assert_problem(b.patch(f"/v1/resources/{person['id']}", {"name": "mine now"}), 404)
    assert_problem(b.put(f"/v1/resources/{person['id']}/schedule",
                         {"weekly": [], "overrides": []}), 404)
    assert_problem(b.post(f"/v1/resources/{person['id']}/blocks",
                          {"start": hours(MON, 16)[0], "end": hours(MON, 17)[0]}), 404)
    assert_problem(b.delete(f"/v1/resources/{person['id']}"), 404)
    assert_problem(b.get(f"/v1/services/{svc['id']}/availability",
                         params={"start": day(MON)[0], "end": day(MON)[1]}), 404)
    assert_problem(b.get(f"/v1/services/{b_svc['id']}/availability",
                         params={"start": day(MON)[0], "end": day(MON)[1],
                                 "resource_id": person["id"]}), 404)
    assert_problem(b.post("/v1/bookings", booking_body(svc["id"], hours(MON, 16)[0])), 404)
    assert_problem(b.post("/v1/holds", {"service_id": svc["id"], "start": hours(MON, 16)[0]}),
                   404)
    assert_problem(b.post("/v1/bookings", booking_body(b_svc["id"], hours(MON, 16)[0],
                                                       resource_ids=[person["id"]])), 404)
    assert_problem(b.post("/v1/bookings", booking_body(b_svc["id"], hours(MON, 15)[0],
                                                       hold_id=hold["id"])), 404)
    assert_problem(b.get(f"/v1/bookings/{booking['id']}"), 404)
    assert_problem(b.post(f"/v1/bookings/{booking['id']}/cancel", {}), 404)
    assert_problem(b.post(f"/v1/bookings/{booking['id']}/reschedule",
                          {"start": hours(MON, 16)[0]}), 404)
    assert_problem(b.delete(f"/v1/holds/{hold['id']}"), 404)
    assert b.get("/v1/bookings").json()["items"] == []
    assert [r["id"] for r in b.get("/v1/resources").json()["items"]] == [b_person["id"]]

    # and A's things are untouched
    assert a.get(f"/v1/resources/{person['id']}").json()["name"] == person["name"]
    assert a.get(f"/v1/bookings/{booking['id']}").json()["status"] == "confirmed"
    assert a.get(f"/v1/bookings/{booking['id']}").json()["start"] == booking["start"]
    assert a.delete(f"/v1/holds/{hold['id']}").status_code == 204
    assert count_bookings(a) == 1


# -- public booking ------------------------------------------------------------------------------

def test_public_booking_with_a_manage_token(http: httpx.Client) -> None:
    org = signup(http)
    resource(org)
    svc = service(org, name="Check-up", slug="check-up")
    assert svc["slug"] == "check-up"

    listed = http.get(f"/v1/public/{org.slug}/services")
    assert listed.status_code == 200, listed.text
    assert [s["slug"] for s in listed.json()["items"]] == ["check-up"]
    assert_problem(http.get(f"/v1/public/no-such-org-{secrets.token_hex(4)}/services"), 404)

    path = f"/v1/public/{org.slug}/services/check-up"
    start, end = day(MON)
    public = http.get(f"{path}/availability", params={"start": start, "end": end})
    assert public.status_code == 200, public.text
    assert public.json()["slots"] == availability(org, svc["id"], start, end)
    assert public.json()["timezone"] == "America/New_York"
    assert_problem(http.get(f"/v1/public/{org.slug}/services/nope/availability",
                            params={"start": start, "end": end}), 404)

    created = http.post(f"{path}/bookings",
                        json={"start": hours(MON, 13)[0], "customer": customer()})
    assert created.status_code == 201, created.text
    booking = created.json()
    token = booking["manage_token"]
    assert isinstance(token, str)
    assert token
    assert booking["status"] == "confirmed"
    assert booking["start"] == hours(MON, 13)[0]
    assert hours(MON, 13)[0] not in starts(org, svc["id"], MON)
    assert org.get(f"/v1/bookings/{booking['id']}").json()["id"] == booking["id"]
    # taken slots refuse public bookings too
    assert_409(http.post(f"{path}/bookings",
                         json={"start": hours(MON, 13)[0], "customer": customer()}))

    manage = f"/v1/public/bookings/{booking['id']}"
    assert_problem(http.post(f"{manage}/reschedule", params={"token": "wrong"},
                             json={"start": hours(MON, 15)[0]}), 404)
    assert_problem(http.post(f"{manage}/cancel", params={"token": "wrong"}, json={}), 404)
    assert org.get(f"/v1/bookings/{booking['id']}").json()["status"] == "confirmed"

    moved = http.post(f"{manage}/reschedule", params={"token": token},
                      json={"start": hours(MON, 15)[0]})
    assert moved.status_code == 200, moved.text
    assert moved.json()["id"] == booking["id"]
    assert moved.json()["start"] == hours(MON, 15)[0]
    assert hours(MON, 13)[0] in starts(org, svc["id"], MON)

    cancelled = http.post(f"{manage}/cancel", params={"token": token}, json={})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert org.get(f"/v1/bookings/{booking['id']}").json()["status"] == "cancelled"
    assert hours(MON, 15)[0] in starts(org, svc["id"], MON)


# -- operations ----------------------------------------------------------------------------------

CONTRACT_PATHS = {
    "/v1/signup": {"post"}, "/v1/login": {"post"},
    "/v1/api-keys": {"post", "get"}, "/v1/api-keys/{}": {"delete"},
    "/v1/users": {"post"}, "/v1/locations": {"post"},
    "/v1/resources": {"post", "get"}, "/v1/resources/{}": {"get", "patch", "delete"},
    "/v1/resources/{}/schedule": {"put"}, "/v1/resources/{}/blocks": {"post"},
    "/v1/resources/{}/blocks/{}": {"delete"},
    "/v1/services": {"post"}, "/v1/services/{}/availability": {"get"},
    "/v1/holds": {"post"}, "/v1/holds/{}": {"delete"},
    "/v1/bookings": {"post", "get"}, "/v1/bookings/{}": {"get"},
    "/v1/bookings/{}/cancel": {"post"}, "/v1/bookings/{}/reschedule": {"post"},
    "/v1/public/{}/services": {"get"}, "/v1/public/{}/services/{}/availability": {"get"},
    "/v1/public/{}/services/{}/bookings": {"post"},
    "/v1/public/bookings/{}/cancel": {"post"}, "/v1/public/bookings/{}/reschedule": {"post"},
    "/healthz": {"get"}, "/readyz": {"get"},
}


def test_openapi_json_describes_every_contract_path(http: httpx.Client) -> None:
    response = http.get("/openapi.json")
    assert response.status_code == 200, response.text
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    paths = {re.sub(r"\{[^}]*\}", "{}", path): {m.lower() for m in ops}
             for path, ops in schema["paths"].items()}
    missing = {path: methods - paths.get(path, set()) for path, methods in CONTRACT_PATHS.items()
               if methods - paths.get(path, set())}
    assert not missing, missing


def test_healthz_and_readyz_report_a_ready_database(http: httpx.Client) -> None:
    assert http.get("/healthz").status_code == 200
    ready = http.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["database"]["status"] == "ok"


def test_metrics_expose_bookings_created_and_request_latency(http: httpx.Client) -> None:
    org = signup(http)
    _, svc = practitioner_service(org)
    book(org, svc["id"], hours(MON, 13)[0])
    response = http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    created = [line for line in text.splitlines()
               if line.startswith("slotwise_bookings_created_total")]
    assert created, text[:2000]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in created) >= 1
    assert "slotwise_http_request_duration_seconds_bucket" in text
    assert "# TYPE slotwise_http_request_duration_seconds histogram" in text


# -- listing bookings ----------------------------------------------------------------------------

def test_bookings_list_filters_by_window_pages_in_order_and_refuses_bad_paging(
        http: httpx.Client) -> None:
    org = signup(http)
    _, svc = practitioner_service(org)
    made = [book(org, svc["id"], start)["id"] for start in
            ("2027-03-17T13:00:00Z", "2027-03-15T13:00:00Z", "2027-03-16T13:00:00Z")]
    by_start = [made[1], made[2], made[0]]

    everything = org.get("/v1/bookings")
    assert everything.status_code == 200, everything.text
    assert [b["id"] for b in everything.json()["items"]] == by_start
    assert everything.json()["next_cursor"] is None

    window = org.get("/v1/bookings", params={"start": "2027-03-16T00:00:00Z",
                                             "end": "2027-03-17T00:00:00Z"})
    assert window.status_code == 200, window.text
    assert [b["id"] for b in window.json()["items"]] == [made[2]]
    overlapping = org.get("/v1/bookings", params={"start": "2027-03-15T13:30:00Z",
                                                  "end": "2027-03-16T13:30:00Z"})
    assert [b["id"] for b in overlapping.json()["items"]] == [made[1], made[2]]
    touching = org.get("/v1/bookings", params={"start": "2027-03-15T14:00:00Z",
                                               "end": "2027-03-16T13:00:00Z"})
    assert touching.json()["items"] == []

    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params: dict[str, Any] = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        page = org.get("/v1/bookings", params=params)
        assert page.status_code == 200, page.text
        seen += [b["id"] for b in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if not cursor:
            break
    assert seen == by_start

    assert org.post(f"/v1/bookings/{made[0]}/cancel", {}).status_code == 200
    cancelled = org.get("/v1/bookings", params={"status": "cancelled"})
    assert [b["id"] for b in cancelled.json()["items"]] == [made[0]]
    confirmed = org.get("/v1/bookings", params={"status": "confirmed"})
    assert [b["id"] for b in confirmed.json()["items"]] == [made[1], made[2]]
    room = resource(org, name="Room", kind="room")
    by_room = org.get("/v1/bookings", params={"resource_id": room["id"]})
    assert by_room.status_code == 200, by_room.text
    assert by_room.json()["items"] == []

    assert_422(org.get("/v1/bookings", params={"limit": 0}), "limit")
    assert_422(org.get("/v1/bookings", params={"limit": 501}), "limit")
    assert org.get("/v1/bookings", params={"limit": 500}).status_code == 200
    assert_422(org.get("/v1/bookings", params={"cursor": "not-a-cursor"}), "cursor")
    assert_422(org.get("/v1/resources", params={"cursor": "bm90LWEtY3Vyc29y"}), "cursor")
