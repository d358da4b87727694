"""GET /v1/services/{id}/availability/explain: the real reason for every refused start —
bookings, their buffers, blocks, holds, hours, overrides, notice, horizon, the grid and roles
that cannot be filled together — and the resources an offered start would take."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from slotwise.testing.api import Org, availability, book, resource, service, signup

TUE = "2027-03-02"  # the clock stands at Monday 2027-03-01T12:00Z


def explain(org: Org, service_id: str, start: str, **params: Any) -> dict[str, Any]:
    answer = org.get(f"/v1/services/{service_id}/availability/explain",
                     params={"start": start, **params})
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def codes(found: dict[str, Any]) -> list[str]:
    return [r["code"] for r in found["reasons"]]


def only(found: dict[str, Any], code: str) -> dict[str, Any]:
    [reason] = [r for r in found["reasons"] if r["code"] == code]
    return reason


def ada_and_service(client: TestClient, **service_fields: Any
                    ) -> tuple[Org, dict[str, Any], dict[str, Any]]:
    org = signup(client, timezone="UTC")
    ada = resource(org, name="Dr Ada")
    return org, ada, service(org, duration_min=60, **service_fields)


def test_an_offered_start_names_the_resources_it_would_take(client: TestClient) -> None:
    org, ada, svc = ada_and_service(client)
    found = explain(org, svc["id"], f"{TUE}T10:00:00+01:00")
    assert found == {"service_id": svc["id"], "start": f"{TUE}T09:00:00Z",
                     "end": f"{TUE}T10:00:00Z", "offered": True, "resource_ids": [ada["id"]],
                     "reasons": []}


def test_a_booking_in_the_way_is_named_with_its_id_and_times(client: TestClient) -> None:
    org, ada, svc = ada_and_service(client)
    booked = book(org, svc["id"], f"{TUE}T10:00:00Z")
    found = explain(org, svc["id"], f"{TUE}T10:00:00Z")
    assert found["offered"] is False and found["resource_ids"] == []
    busy = only(found, "busy")
    assert busy["resource_id"] == ada["id"] and busy["roles"] == [0]
    assert busy["source"] == {"type": "booking", "id": booked["id"]}
    assert (busy["start"], busy["end"]) == (f"{TUE}T10:00:00Z", f"{TUE}T11:00:00Z")
    assert busy["message"] == f"Dr Ada is busy with booking {booked['id']} {TUE} 10:00–11:00Z"
    unfilled = only(found, "unfilled")
    assert unfilled["needed"] == 1 and unfilled["free_resource_ids"] == []


def test_a_start_only_the_buffers_keep_out_is_a_buffer(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    ada = resource(org, name="Dr Ada", buffer_after_min=15)
    svc = service(org, duration_min=60)
    booked = book(org, svc["id"], f"{TUE}T10:00:00Z")
    busy = only(explain(org, svc["id"], f"{TUE}T11:00:00Z"), "busy")
    assert busy["resource_id"] == ada["id"]
    assert busy["source"] == {"type": "buffer", "id": booked["id"]}
    assert (busy["start"], busy["end"]) == (f"{TUE}T10:00:00Z", f"{TUE}T11:15:00Z")
    assert "too close" in busy["message"] and "10:00–11:00Z" in busy["message"]


def test_our_own_buffer_reaching_a_booking_is_a_buffer_too(client: TestClient) -> None:
    org, _, plain = ada_and_service(client)
    padded = service(org, name="Padded", duration_min=60, buffer_before_min=30)
    booked = book(org, plain["id"], f"{TUE}T10:00:00Z")
    busy = only(explain(org, padded["id"], f"{TUE}T11:00:00Z"), "busy")
    assert busy["source"] == {"type": "buffer", "id": booked["id"]}


def test_a_block_is_named_with_its_id_and_range(client: TestClient) -> None:
    org, ada, svc = ada_and_service(client)
    block = org.post(f"/v1/resources/{ada['id']}/blocks",
                     {"start": f"{TUE}T09:30:00Z", "end": f"{TUE}T12:00:00Z", "title": "Leave"})
    assert block.status_code == 201
    busy = only(explain(org, svc["id"], f"{TUE}T11:00:00Z"), "busy")
    assert busy["source"] == {"type": "block", "id": block.json()["id"]}
    assert (busy["start"], busy["end"]) == (f"{TUE}T09:30:00Z", f"{TUE}T12:00:00Z")
    assert busy["message"].startswith("Dr Ada is blocked")


def test_a_live_hold_is_named_with_its_id(client: TestClient) -> None:
    org, _, svc = ada_and_service(client)
    hold = org.post("/v1/holds", {"service_id": svc["id"], "start": f"{TUE}T13:00:00Z"})
    assert hold.status_code == 201
    busy = only(explain(org, svc["id"], f"{TUE}T13:00:00Z"), "busy")
    assert busy["source"] == {"type": "hold", "id": hold.json()["id"]}
    assert org.delete(f"/v1/holds/{hold.json()['id']}").status_code == 204
    assert explain(org, svc["id"], f"{TUE}T13:00:00Z")["offered"] is True


def test_a_slot_running_past_closing_time_is_outside_the_resources_hours(
        client: TestClient) -> None:
    org, ada, svc = ada_and_service(client)
    found = explain(org, svc["id"], f"{TUE}T16:30:00Z")
    closed = only(found, "closed")
    assert closed["resource_id"] == ada["id"] and closed["scope"] == "resource"
    assert closed["message"] == f"outside Dr Ada's hours (open {TUE} 09:00–17:00Z)"


def test_a_date_closed_by_an_override_is_outside_the_hours(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    resource(org, name="Room 2", kind="room", overrides=[{"date": TUE, "closed": True}])
    svc = service(org, requirements=[{"kind": "room"}])
    closed = only(explain(org, svc["id"], f"{TUE}T10:00:00Z"), "closed")
    assert closed["message"] == "outside Room 2's hours (closed then)"
    assert explain(org, svc["id"], "2027-03-03T10:00:00Z")["offered"] is True


def test_too_short_notice_gives_the_earliest_bookable_start(client: TestClient) -> None:
    org, _, svc = ada_and_service(client, min_notice_min=120)
    found = explain(org, svc["id"], "2027-03-01T13:00:00Z")
    assert codes(found) == ["notice"]
    assert only(found, "notice")["earliest"] == "2027-03-01T14:00:00Z"
    assert explain(org, svc["id"], "2027-03-01T14:00:00Z")["offered"] is True


def test_beyond_the_horizon_gives_the_latest_bookable_start(client: TestClient) -> None:
    org, _, svc = ada_and_service(client, max_advance_days=1)
    found = explain(org, svc["id"], "2027-03-03T10:00:00Z")
    assert codes(found) == ["horizon"]
    assert only(found, "horizon")["latest"] == "2027-03-02T12:00:00Z"


def test_every_reason_is_given_not_just_the_first(client: TestClient) -> None:
    org, _, svc = ada_and_service(client, min_notice_min=48 * 60)
    book(org, svc["id"], "2027-03-05T10:00:00Z")
    found = explain(org, svc["id"], "2027-03-01T16:30:00Z")  # in the notice and past 17:00
    assert codes(found) == ["notice", "closed", "unfilled"]


def test_an_off_grid_start_points_at_the_nearest_offered_starts(client: TestClient) -> None:
    org, _, svc = ada_and_service(client)
    book(org, svc["id"], f"{TUE}T09:00:00Z")
    found = explain(org, svc["id"], f"{TUE}T10:30:00Z")
    grid = only(found, "grid")
    assert codes(found) == ["grid"]
    assert grid["nearest"] == [{"start": f"{TUE}T10:00:00Z", "end": f"{TUE}T11:00:00Z"},
                               {"start": f"{TUE}T11:00:00Z", "end": f"{TUE}T12:00:00Z"}]
    early = explain(org, svc["id"], f"{TUE}T09:30:00Z")  # off the grid and on the booking
    assert codes(early) == ["busy", "unfilled", "grid"]
    assert "60-minute grid" in grid["message"]


def test_two_roles_competing_for_one_free_resource_fail_to_allocate(
        client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    ada = resource(org, name="Dr Ada")
    bob = resource(org, name="Dr Bob")
    svc = service(org, requirements=[
        {"kind": "practitioner", "resource_ids": [ada["id"]]},
        {"kind": "practitioner", "resource_ids": [ada["id"], bob["id"]]},
    ])
    assert org.post(f"/v1/resources/{bob['id']}/blocks",
                    {"start": f"{TUE}T00:00:00Z", "end": "2027-03-03T00:00:00Z"}
                    ).status_code == 201
    found = explain(org, svc["id"], f"{TUE}T10:00:00Z")
    assert codes(found) == ["busy", "allocation"]
    assert only(found, "busy")["resource_id"] == bob["id"]
    allocation = only(found, "allocation")
    assert allocation["roles"] == [0, 1] and allocation["free_resource_ids"] == [ada["id"]]
    assert "cannot all be filled at once" in allocation["message"]
    assert "Dr Ada" in allocation["message"]


def test_a_busy_resource_whose_role_another_fills_is_not_a_reason(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    resource(org, name="Dr Ada")
    resource(org, name="Dr Bob")
    room = resource(org, name="Room 2", kind="room",
                    weekly=[{"days": ["tue"], "start": "12:00", "end": "17:00"}])
    svc = service(org, requirements=[{"kind": "practitioner"}, {"kind": "room"}])
    book(org, svc["id"], f"{TUE}T12:00:00Z")  # one practitioner and the room
    found = explain(org, svc["id"], f"{TUE}T12:00:00Z")
    assert [(r["code"], r.get("resource_id")) for r in found["reasons"]] == [
        ("busy", room["id"]), ("unfilled", None)]
    assert only(found, "unfilled")["message"] == "no room is free (the role needs 1)"


def test_a_resource_filter_explains_that_resource(client: TestClient) -> None:
    org, ada, svc = ada_and_service(client)
    bob = resource(org, name="Dr Bob")
    room = resource(org, name="Room 9", kind="room")
    booked = book(org, svc["id"], f"{TUE}T10:00:00Z", resource_ids=[bob["id"]])
    assert explain(org, svc["id"], f"{TUE}T10:00:00Z")["resource_ids"] == [ada["id"]]
    found = explain(org, svc["id"], f"{TUE}T10:00:00Z", resource_id=bob["id"])
    assert codes(found) == ["busy"]
    assert only(found, "busy")["source"]["id"] == booked["id"]
    outside = explain(org, svc["id"], f"{TUE}T10:00:00Z", resource_id=room["id"])
    assert codes(outside) == ["not_in_pool"]
    assert outside["reasons"][0]["message"] == "Room 9 is in none of this service's roles"


def test_a_group_session_with_a_free_seat_is_offered_and_a_full_one_is_not(
        client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    studio = resource(org, name="Studio", kind="room", capacity=10)
    svc = service(org, name="Yoga", capacity=2, requirements=[{"kind": "room"}])
    first = book(org, svc["id"], f"{TUE}T10:00:00Z")
    found = explain(org, svc["id"], f"{TUE}T10:00:00Z")
    assert found["offered"] is True and found["resource_ids"] == [studio["id"]]
    book(org, svc["id"], f"{TUE}T10:00:00Z")
    full = explain(org, svc["id"], f"{TUE}T10:00:00Z")
    assert full["offered"] is False
    assert first["id"] in {r["source"]["id"] for r in full["reasons"] if r["code"] == "busy"}


def test_explain_offers_exactly_what_availability_offers(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    ada = resource(org, name="Dr Ada", buffer_after_min=20)
    resource(org, name="Room", kind="room",
             weekly=[{"days": ["tue"], "start": "08:00", "end": "14:00"}])
    svc = service(org, duration_min=45, step_min=15, min_notice_min=60,
                  requirements=[{"kind": "practitioner"}, {"kind": "room"}])
    book(org, svc["id"], f"{TUE}T09:00:00Z")
    org.post(f"/v1/resources/{ada['id']}/blocks",
             {"start": f"{TUE}T11:10:00Z", "end": f"{TUE}T11:40:00Z"})
    offered = {s["start"] for s in availability(org, svc["id"], f"{TUE}T07:00:00Z",
                                                f"{TUE}T15:00:00Z")}
    assert offered
    t = datetime(2027, 3, 2, 7, 0, tzinfo=UTC)
    while t < datetime(2027, 3, 2, 15, 0, tzinfo=UTC):
        start = t.strftime("%Y-%m-%dT%H:%M:%SZ")
        found = explain(org, svc["id"], start)
        assert found["offered"] == (start in offered), found
        assert (found["reasons"] == []) == found["offered"]
        t += timedelta(minutes=15)


def test_unknown_ids_are_404_and_a_malformed_start_is_422(client: TestClient) -> None:
    org, _, svc = ada_and_service(client)
    path = f"/v1/services/{svc['id']}/availability/explain"
    assert org.get("/v1/services/svc_nope/availability/explain",
                   params={"start": f"{TUE}T10:00:00Z"}).status_code == 404
    assert org.get(path, params={"start": f"{TUE}T10:00:00Z", "resource_id": "res_nope"}
                   ).status_code == 404
    for bad in ["2027-03-02T10:00:00", "tomorrow", "0", "0001-01-01T00:00:00Z"]:
        answer = org.get(path, params={"start": bad})
        assert answer.status_code == 422, bad
        assert answer.json()["errors"][0]["loc"] == ["query", "start"]
    assert org.get(path).json()["errors"][0]["loc"] == ["query", "start"]


def test_any_role_of_the_organisation_may_ask_and_no_one_else(client: TestClient) -> None:
    org, _, svc = ada_and_service(client)
    path = f"/v1/services/{svc['id']}/availability/explain"
    params = {"start": f"{TUE}T10:00:00Z"}
    email = f"staff-{org.slug}@example.com"
    assert org.post("/v1/users", {"email": email, "password": "staff password",
                                  "role": "staff"}).status_code == 201
    token = client.post("/v1/login", json={"email": email, "password": "staff password"}
                        ).json()["token"]
    staff = client.get(path, params=params, headers={"Authorization": f"Bearer {token}"})
    assert staff.status_code == 200 and staff.json()["offered"] is True
    assert client.get(path, params=params).status_code == 401
    other = signup(client, timezone="UTC")
    assert other.get(path, params=params).status_code == 404


def test_a_full_day_limit_is_named_with_its_label(client: TestClient) -> None:
    org, ada, svc = ada_and_service(client, max_per_day=1)
    book(org, svc["id"], f"{TUE}T09:00:00Z")
    limit = only(explain(org, svc["id"], f"{TUE}T14:00:00Z"), "limit")
    assert limit["resource_id"] == ada["id"] and limit["label"] == "service day limit 1"
    assert (limit["start"], limit["end"]) == (f"{TUE}T00:00:00Z", "2027-03-03T00:00:00Z")
    assert limit["message"].startswith("Dr Ada has reached its service day limit 1")
    assert explain(org, svc["id"], "2027-03-03T14:00:00Z")["offered"] is True


def test_a_sequence_rule_names_the_booking_it_keeps_away_from(client: TestClient) -> None:
    org, _, surgery = ada_and_service(client)
    checkup = service(org, name="Check-up", duration_min=60, sequence_rules=[
        {"service_id": surgery["id"], "within_min": 120, "direction": "after"}])
    operated = book(org, surgery["id"], f"{TUE}T09:00:00Z")
    rule = only(explain(org, checkup["id"], f"{TUE}T11:00:00Z"), "rule")
    assert rule["label"] == operated["id"] and operated["id"] in rule["message"]
    assert explain(org, checkup["id"], f"{TUE}T12:00:00Z")["offered"] is True


def test_a_resources_own_notice_is_its_own_reason(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    ada = resource(org, name="Dr Ada", min_notice_min=48 * 60)
    svc = service(org, duration_min=60)
    notice = only(explain(org, svc["id"], f"{TUE}T10:00:00Z"), "notice")
    assert notice["resource_id"] == ada["id"] and notice["end"] == "2027-03-03T12:00:00Z"
    assert notice["earliest"] == "2027-03-03T12:00:00Z"
    assert notice["message"] == ("Dr Ada needs more notice: the earliest start it takes is "
                                 "2027-03-03 12:00Z")


def test_a_locations_horizon_gives_the_latest_start_it_takes(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    clinic = org.post("/v1/locations", {"name": "Annex", "timezone": "UTC",
                                        "max_advance_days": 2}).json()
    resource(org, name="Room 2", kind="room", location_id=clinic["id"])
    svc = service(org, duration_min=60, requirements=[{"kind": "room"}])
    horizon = only(explain(org, svc["id"], "2027-03-05T10:00:00Z"), "horizon")
    assert horizon["latest"] == "2027-03-03T12:00:00Z"
    assert horizon["message"].endswith("the latest start it takes is 2027-03-03 12:00Z")


def test_location_hours_are_told_apart_from_the_resources_own(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    clinic = org.post("/v1/locations", {"name": "Main Street", "timezone": "UTC"}).json()
    assert org.put(f"/v1/locations/{clinic['id']}/schedule", {"weekly": [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "12:00", "end": "17:00"}]}
                   ).status_code == 200
    room = resource(org, name="Room 2", kind="room", location_id=clinic["id"])
    svc = service(org, duration_min=60, requirements=[{"kind": "room"}])
    closed = only(explain(org, svc["id"], f"{TUE}T10:00:00Z"), "closed")
    assert closed["resource_id"] == room["id"] and closed["scope"] == "location"
    assert closed["message"] == ("outside the opening hours of Main Street, Room 2's location "
                                 "(closed then)")
    both = explain(org, svc["id"], f"{TUE}T18:00:00Z")
    assert [r.get("scope") for r in both["reasons"] if r["code"] == "closed"] == [
        "resource", "location"]
    assert explain(org, svc["id"], f"{TUE}T12:00:00Z")["offered"] is True
