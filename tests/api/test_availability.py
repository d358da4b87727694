"""Availability through the API: UTC answers on the grid, right across DST, with buffers,
blocks and holds counted."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from slotwise.api.schemas.bookings import AvailabilityOut
from slotwise.testing.api import availability, book, resource, service, signup


def starts(slots: list[dict[str, str]]) -> list[str]:
    return [s["start"] for s in slots]


def test_nine_oclock_new_york_moves_from_14z_to_13z_across_the_spring_change(
        client: TestClient) -> None:
    org = signup(client, timezone="America/New_York")
    resource(org)
    svc = service(org, duration_min=60)
    friday = availability(org, svc["id"], "2027-03-12T00:00:00Z", "2027-03-13T00:00:00Z")
    monday = availability(org, svc["id"], "2027-03-15T00:00:00Z", "2027-03-16T00:00:00Z")
    assert starts(friday)[0] == "2027-03-12T14:00:00Z"
    assert starts(friday)[-1] == "2027-03-12T21:00:00Z"
    assert starts(monday)[0] == "2027-03-15T13:00:00Z"
    assert len(friday) == len(monday) == 8
    assert monday[0]["end"] == "2027-03-15T14:00:00Z"


def test_step_sets_the_grid_from_the_window_start(client: TestClient) -> None:
    org = signup(client, timezone="Europe/London")
    resource(org, weekly=[{"days": ["mon"], "start": "09:15", "end": "11:00"}])
    svc = service(org, duration_min=45, step_min=30)
    slots = availability(org, svc["id"], "2027-03-08T00:00:00Z", "2027-03-09T00:00:00Z")
    assert starts(slots) == ["2027-03-08T09:15:00Z", "2027-03-08T09:45:00Z",
                             "2027-03-08T10:15:00Z"]


def test_buffers_of_existing_bookings_and_of_the_service_keep_slots_apart(
        client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    resource(org, weekly=[{"days": ["tue"], "start": "09:00", "end": "13:00"}])
    svc = service(org, duration_min=60, buffer_after_min=15)
    book(org, svc["id"], "2027-03-02T10:00:00Z")
    slots = availability(org, svc["id"], "2027-03-02T00:00:00Z", "2027-03-03T00:00:00Z")
    # 09:00 would end 10:00 with its 15-minute buffer reaching into the booking;
    # 11:00 falls inside the booking's own buffer (11:00–11:15).
    assert starts(slots) == ["2027-03-02T12:00:00Z"]


def test_a_block_removes_overlapping_slots_and_deleting_it_restores_them(
        client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    res = resource(org, weekly=[{"days": ["wed"], "start": "09:00", "end": "12:00"}])
    svc = service(org, duration_min=60)
    block = org.post(f"/v1/resources/{res['id']}/blocks",
                     {"start": "2027-03-03T09:30:00Z", "end": "2027-03-03T10:15:00Z"})
    assert block.status_code == 201
    window = ("2027-03-03T00:00:00Z", "2027-03-04T00:00:00Z")
    assert starts(availability(org, svc["id"], *window)) == ["2027-03-03T11:00:00Z"]
    assert org.delete(f"/v1/resources/{res['id']}/blocks/{block.json()['id']}"
                      ).status_code == 204
    assert len(availability(org, svc["id"], *window)) == 3


def test_overrides_replace_weekly_hours_and_close_dates(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    resource(org, weekly=[{"days": ["mon", "tue"], "start": "09:00", "end": "11:00"}],
             overrides=[{"date": "2027-03-01", "closed": True},
                        {"date": "2027-03-02", "hours": [{"start": "14:00", "end": "15:00"},
                                                         {"start": "16:00", "end": "17:00"}]}])
    svc = service(org, duration_min=60)
    slots = availability(org, svc["id"], "2027-03-01T00:00:00Z", "2027-03-03T00:00:00Z")
    assert starts(slots) == ["2027-03-02T14:00:00Z", "2027-03-02T16:00:00Z"]


def test_the_timezone_parameter_only_labels_the_answer(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    svc = service(org)
    window = {"start": "2027-03-02T00:00:00Z", "end": "2027-03-03T00:00:00Z"}
    plain = org.get(f"/v1/services/{svc['id']}/availability", params=window).json()
    labelled = org.get(f"/v1/services/{svc['id']}/availability",
                       params={**window, "timezone": "Asia/Kolkata"}).json()
    assert plain["timezone"] == "UTC"
    assert labelled["timezone"] == "Asia/Kolkata"
    assert plain["slots"] == labelled["slots"]


def test_notice_and_horizon_bound_the_offered_starts(client: TestClient) -> None:
    org = signup(client, timezone="UTC")  # the clock is pinned at 2027-03-01T12:00Z
    resource(org, weekly=[{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                           "start": "00:00", "end": "24:00"}])
    svc = service(org, duration_min=60, min_notice_min=120, max_advance_days=1)
    slots = availability(org, svc["id"], "2027-03-01T00:00:00Z", "2027-03-03T00:00:00Z")
    assert starts(slots)[0] == "2027-03-01T14:00:00Z"
    assert starts(slots)[-1] == "2027-03-02T12:00:00Z"


def test_a_two_role_service_needs_both_resources_free(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    doc = resource(org, name="Doc", kind="practitioner", tags=["physio"])
    room = resource(org, name="Room", kind="room",
                    weekly=[{"days": ["mon"], "start": "13:00", "end": "17:00"}])
    svc = service(org, requirements=[{"kind": "practitioner", "tags": ["physio"]},
                                     {"kind": "room"}])
    slots = availability(org, svc["id"], "2027-03-08T00:00:00Z", "2027-03-09T00:00:00Z")
    assert starts(slots) == ["2027-03-08T13:00:00Z", "2027-03-08T14:00:00Z",
                             "2027-03-08T15:00:00Z", "2027-03-08T16:00:00Z"]
    booked = book(org, svc["id"], "2027-03-08T13:00:00Z")
    assert sorted(booked["resource_ids"]) == sorted([doc["id"], room["id"]])


def test_resource_filter_keeps_only_choices_with_that_resource(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    early = resource(org, name="Early", weekly=[{"days": ["mon"], "start": "08:00",
                                                 "end": "10:00"}])
    resource(org, name="Late", weekly=[{"days": ["mon"], "start": "15:00", "end": "16:00"}])
    other = resource(org, name="Room", kind="room")
    svc = service(org)
    window = ("2027-03-08T00:00:00Z", "2027-03-09T00:00:00Z")
    assert len(availability(org, svc["id"], *window)) == 3
    assert starts(availability(org, svc["id"], *window, resource_id=early["id"])) == [
        "2027-03-08T08:00:00Z", "2027-03-08T09:00:00Z"]
    assert availability(org, svc["id"], *window, resource_id=other["id"]) == []


def test_the_answer_is_what_its_response_model_would_write(client: TestClient) -> None:
    # The route serialises its answer itself (speed); it must stay the model's JSON, byte for
    # byte, on both routes that answer availability.
    org = signup(client, timezone="America/New_York")
    resource(org)
    svc = service(org, duration_min=30, step_min=15)
    params = {"start": "2027-03-12T00:00:00-05:00", "end": "2027-03-16T00:00:00-04:00"}
    for path, headers in ((f"/v1/services/{svc['id']}/availability", org.headers),
                          (f"/v1/public/{org.slug}/services/{svc['slug']}/availability", {})):
        for extra in ({}, {"timezone": "Europe/London"}):
            answer = client.get(path, params={**params, **extra}, headers=headers)
            assert answer.status_code == 200
            assert answer.headers["content-type"] == "application/json"
            model = AvailabilityOut.model_validate(answer.json())
            assert len(model.slots) > 40
            assert answer.content == json.dumps(
                model.model_dump(mode="json"), ensure_ascii=False, allow_nan=False,
                separators=(",", ":")).encode()
