"""Bad input: a 422 problem naming the field, and nothing written."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from slotwise.testing.api import Org, resource, service, signup


def field_of(answer: object) -> list[object]:
    body = answer.json()  # type: ignore[attr-defined]
    assert answer.status_code == 422, body  # type: ignore[attr-defined]
    assert body["status"] == 422 and body["errors"]
    return list(body["errors"][0]["loc"])


@pytest.fixture
def org(client: TestClient) -> Org:
    return signup(client, timezone="UTC")


@pytest.mark.parametrize(("body", "loc"), [
    ({"name": "R", "kind": "robot"}, ["body", "kind"]),
    ({"name": "R", "kind": "room", "timezone": "Mars/Olympus"}, ["body", "timezone"]),
    ({"name": "R", "kind": "room", "timezone": "+05:00"}, ["body", "timezone"]),
    ({"name": "", "kind": "room"}, ["body", "name"]),
    ({"name": "R", "kind": "room", "capacity": 0}, ["body", "capacity"]),
    ({"name": "R", "kind": "room", "colour": "red"}, ["body", "colour"]),
    ({"kind": "room"}, ["body", "name"]),
])
def test_bad_resources_are_refused_by_field(org: Org, body: dict[str, object],
                                            loc: list[object]) -> None:
    assert field_of(org.post("/v1/resources", body)) == loc
    assert org.get("/v1/resources").json()["items"] == []


@pytest.mark.parametrize(("schedule", "loc"), [
    ({"weekly": [{"days": ["mon"], "start": "17:00", "end": "09:00"}]},
     ["body", "weekly", 0, "end"]),
    ({"weekly": [{"days": ["funday"], "start": "09:00", "end": "17:00"}]},
     ["body", "weekly", 0, "days", 0]),
    ({"weekly": [{"days": ["mon"], "start": "9am", "end": "17:00"}]},
     ["body", "weekly", 0, "start"]),
    ({"weekly": [{"days": ["mon"], "start": "09:00", "end": "24:30"}]},
     ["body", "weekly", 0, "end"]),
    ({"overrides": [{"date": "2027-03-01", "closed": True,
                     "hours": [{"start": "09:00", "end": "10:00"}]}]},
     ["body", "overrides", 0]),
    ({"overrides": [{"date": "2027-02-30", "closed": True}]}, ["body", "overrides", 0, "date"]),
    ({"timezone": "Europe/Atlantis"}, ["body", "timezone"]),
])
def test_bad_schedules_are_refused_and_the_old_one_kept(org: Org, schedule: dict[str, object],
                                                        loc: list[object]) -> None:
    res = resource(org)
    assert field_of(org.put(f"/v1/resources/{res['id']}/schedule", schedule))[:len(loc)] == loc
    kept = org.get(f"/v1/resources/{res['id']}/schedule").json()
    assert kept["weekly"][0]["start"] == "09:00"


def test_closed_and_hours_on_one_date_across_entries_is_refused(org: Org) -> None:
    res = resource(org)
    answer = org.put(f"/v1/resources/{res['id']}/schedule", {"overrides": [
        {"date": "2027-03-01", "closed": True},
        {"date": "2027-03-01", "hours": [{"start": "09:00", "end": "10:00"}]}]})
    assert field_of(answer)[:2] == ["body", "overrides"]


@pytest.mark.parametrize(("params", "loc"), [
    ({"start": "2027-03-01T00:00:00Z", "end": "2027-05-03T00:00:00Z"}, ["query", "end"]),
    ({"start": "2027-03-02T00:00:00Z", "end": "2027-03-01T00:00:00Z"}, ["query", "end"]),
    ({"start": "2027-03-02T00:00:00Z", "end": "2027-03-02T00:00:00Z"}, ["query", "end"]),
    ({"start": "2027-03-01T00:00:00", "end": "2027-03-02T00:00:00Z"}, ["query", "start"]),
    ({"start": "0", "end": "2027-03-02T00:00:00Z"}, ["query", "start"]),
    ({"end": "2027-03-02T00:00:00Z"}, ["query", "start"]),
    ({"start": "2027-03-01T00:00:00Z", "end": "2027-03-02T00:00:00Z", "timezone": "EST"},
     ["query", "timezone"]),
])
def test_bad_availability_windows_name_the_parameter(org: Org, params: dict[str, str],
                                                     loc: list[object]) -> None:
    resource(org)
    svc = service(org)
    assert field_of(org.get(f"/v1/services/{svc['id']}/availability", params=params)) == loc


def test_exactly_sixty_two_days_is_allowed(org: Org) -> None:
    resource(org)
    svc = service(org)
    answer = org.get(f"/v1/services/{svc['id']}/availability",
                     params={"start": "2027-03-01T00:00:00Z", "end": "2027-05-02T00:00:00Z"})
    assert answer.status_code == 200


@pytest.mark.parametrize(("patch", "loc"), [
    ({"start": "2027-03-08T10:00:00"}, ["body", "start"]),
    ({"start": 0}, ["body", "start"]),
    ({"customer": {"name": "x", "email": "not-an-email"}}, ["body", "customer", "email"]),
    ({"customer": {"name": "x", "email": "x@example.com", "timezone": "Nowhere"}},
     ["body", "customer", "timezone"]),
    ({"recurrence": {"rrule": "FREQ=WEEKLY;COUNT=2;UNTIL=20270401T000000Z"}},
     ["body", "recurrence", "rrule"]),
    ({"recurrence": {"rrule": "FREQ=SOMETIMES;COUNT=2"}}, ["body", "recurrence", "rrule"]),
    ({"recurrence": {"rrule": "FREQ=WEEKLY;UNTIL=20270401T000000"}},
     ["body", "recurrence", "rrule"]),
])
def test_bad_bookings_are_refused_and_nothing_is_written(org: Org, patch: dict[str, object],
                                                         loc: list[object]) -> None:
    resource(org)
    svc = service(org)
    body = {"service_id": svc["id"], "start": "2027-03-08T10:00:00Z",
            "customer": {"name": "C", "email": "c@example.com"}, **patch}
    assert field_of(org.post("/v1/bookings", body)) == loc
    assert org.get("/v1/bookings").json()["items"] == []


def test_malformed_json_is_a_422_problem(org: Org) -> None:
    answer = org.client.post("/v1/resources", content=b'{"name": "R", "kind": ',
                             headers={**org.headers, "Content-Type": "application/json"})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"


def test_unknown_ids_are_404_not_422(org: Org) -> None:
    svc = service(org, requirements=[{"kind": "room"}])
    for answer in (
        org.get("/v1/resources/res_unknown"),
        org.get("/v1/resources/!!"),
        org.get("/v1/services/nope/availability",
                params={"start": "2027-03-01T00:00:00Z", "end": "2027-03-02T00:00:00Z"}),
        org.get(f"/v1/services/{svc['id']}/availability",
                params={"start": "2027-03-01T00:00:00Z", "end": "2027-03-02T00:00:00Z",
                        "resource_id": "res_unknown"}),
        org.post("/v1/holds", {"service_id": svc["id"], "start": "2027-03-08T10:00:00Z",
                               "resource_ids": ["res_unknown"]}),
        org.post("/v1/bookings", {"service_id": svc["id"], "start": "2027-03-08T10:00:00Z",
                                  "hold_id": "hld_unknown",
                                  "customer": {"name": "C", "email": "c@example.com"}}),
        org.post("/v1/services", {"name": "S", "duration_min": 30, "requirements": [
            {"kind": "room", "resource_ids": ["res_unknown"]}]}),
    ):
        assert answer.status_code == 404, (answer.request.url, answer.text)


def test_starts_at_the_ends_of_the_calendar_are_409_with_alternatives_never_500(
        client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    svc = service(org)
    for start in ["9999-12-31T10:00:00Z", "0001-01-01T10:00:00Z"]:
        booking = org.post("/v1/bookings", {"service_id": svc["id"], "start": start,
                                            "customer": {"name": "A", "email": "a@example.com"}})
        assert booking.status_code == 409, booking.text
        assert booking.json()["alternatives"]
        assert org.post("/v1/holds", {"service_id": svc["id"], "start": start}).status_code == 409


def test_nul_characters_are_a_422_in_text_and_a_404_in_ids(client: TestClient) -> None:
    """PostgreSQL text cannot hold NUL: found by the fuzz test as a 500 (POST /v1/bookings
    with service_id "\\u0000")."""
    org = signup(client, timezone="UTC")
    named = org.post("/v1/resources", {"name": "Room\x00 1", "kind": "room"})
    assert named.status_code == 422
    assert named.json()["errors"][0]["loc"] == ["body", "name"]
    booking = org.post("/v1/bookings", {"service_id": "\x00", "start": "2027-03-08T10:00:00Z",
                                        "customer": {"name": "A", "email": "a@example.com"}})
    assert booking.status_code == 404
    assert org.get("/v1/bookings/bk_%00").status_code == 404
    assert org.get("/v1/resources").json()["items"] == []


def test_true_is_not_a_number(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    answer = org.post("/v1/resources", {"name": "Room", "kind": "room", "capacity": True})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["loc"] == ["body", "capacity"]
    assert org.post("/v1/resources", {"name": "Room", "kind": "room",
                                      "requires_approval": True}).status_code == 201
