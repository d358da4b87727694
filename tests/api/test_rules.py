"""Every rule through the API: breaks, location hours and rules, notice and horizon per
resource, daily and weekly limits, sequence rules, approvals, optional and collective roles,
preference weights and round robin — and the contradictions that are refused.

The clock is frozen at Monday 2027-03-01 12:00Z; the organisations here live in UTC.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from slotwise.testing.api import Org, availability, book, resource, service, signup

TUE = "2027-03-02"
WED = "2027-03-03"
MON_NEXT = "2027-03-08"


def day(org: Org, service_id: str, date: str, **params: Any) -> list[str]:
    slots = availability(org, service_id, f"{date}T00:00:00Z", f"{date}T23:59:00Z", **params)
    return [s["start"][11:16] for s in slots]


def weekdays(start: str = "09:00", end: str = "17:00") -> list[dict[str, Any]]:
    return [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": start, "end": end}]


@pytest.fixture
def org(client: TestClient) -> Org:
    return signup(client, timezone="UTC")


def test_a_break_closes_part_of_the_day_and_is_returned_with_the_schedule(org: Org) -> None:
    r = resource(org)
    body = {"weekly": weekdays(), "breaks": [{"days": ["tue"], "start": "12:00", "end": "13:30"}]}
    put = org.put(f"/v1/resources/{r['id']}/schedule", body)
    assert put.status_code == 200
    assert put.json()["breaks"] == [{"days": ["tue"], "start": "12:00", "end": "13:30"}]
    svc = service(org, duration_min=60)
    assert day(org, svc["id"], TUE) == ["09:00", "10:00", "11:00", "13:30", "14:30", "15:30"]
    assert "12:00" in day(org, svc["id"], WED)


def test_location_hours_cut_resource_hours_in_the_locations_zone(org: Org) -> None:
    # 09:00–12:00 in New York is 14:00–17:00Z in early March (EST).
    loc = org.post("/v1/locations", {"name": "NY office", "timezone": "America/New_York"})
    assert loc.status_code == 201
    hours = org.put(f"/v1/locations/{loc.json()['id']}/schedule", {"weekly": weekdays(
        "09:00", "12:00")})
    assert hours.status_code == 200 and hours.json()["timezone"] == "America/New_York"
    resource(org, location_id=loc.json()["id"], timezone="UTC")
    svc = service(org, duration_min=60)
    assert day(org, svc["id"], TUE) == ["14:00", "15:00", "16:00"]
    got = org.get(f"/v1/locations/{loc.json()['id']}/schedule").json()
    assert got["weekly"] == weekdays("09:00", "12:00")


def test_a_location_without_hours_is_always_open(org: Org) -> None:
    loc = org.post("/v1/locations", {"name": "Annex", "timezone": "UTC"}).json()
    assert org.get(f"/v1/locations/{loc['id']}/schedule").json()["weekly"] == []
    resource(org, location_id=loc["id"])
    svc = service(org, duration_min=60)
    assert len(day(org, svc["id"], TUE)) == 8


def test_location_buffers_and_approval_apply_to_its_resources(org: Org) -> None:
    loc = org.post("/v1/locations", {"name": "Theatre", "timezone": "UTC",
                                     "buffer_after_min": 30, "requires_approval": True}).json()
    assert loc["buffer_after_min"] == 30 and loc["requires_approval"] is True
    resource(org, location_id=loc["id"])
    svc = service(org, duration_min=60)
    booked = book(org, svc["id"], f"{TUE}T09:00:00Z")
    assert booked["status"] == "pending"
    # 10:00 would sit inside the booking's 30-minute after-buffer.
    assert day(org, svc["id"], TUE)[:2] == ["11:00", "12:00"]


def test_a_resources_own_notice_and_horizon_bind_only_that_resource(org: Org) -> None:
    near = resource(org, name="Near", min_notice_min=24 * 60)
    far = resource(org, name="Far", max_advance_days=1)
    svc = service(org, duration_min=60)
    # Tuesday 09:00 is 21 h away: only Far (within its one-day horizon) can take it.
    tuesday = availability(org, svc["id"], f"{TUE}T09:00:00Z", f"{TUE}T10:00:00Z",
                           resource_id=near["id"])
    assert tuesday == []
    assert day(org, svc["id"], TUE, resource_id=far["id"])[:1] == ["09:00"]
    # Wednesday is beyond Far's horizon but Near has its notice by then.
    assert day(org, svc["id"], WED, resource_id=far["id"]) == []
    assert day(org, svc["id"], WED, resource_id=near["id"])[:1] == ["09:00"]


def test_a_resource_daily_limit_closes_the_day_once_reached_and_holds_count(org: Org) -> None:
    r = resource(org, max_per_day=2)
    svc = service(org, duration_min=60)
    book(org, svc["id"], f"{TUE}T09:00:00Z")
    hold = org.post("/v1/holds", {"service_id": svc["id"], "start": f"{TUE}T11:00:00Z"})
    assert hold.status_code == 201
    assert day(org, svc["id"], TUE) == []
    assert len(day(org, svc["id"], WED)) == 8
    refused = org.post("/v1/bookings", {"service_id": svc["id"], "start": f"{TUE}T14:00:00Z",
                                        "customer": {"name": "A", "email": "a@example.com"}})
    assert refused.status_code == 409
    alternatives = [a["start"] for a in refused.json()["alternatives"]]
    assert alternatives and not any(a.startswith(TUE) for a in alternatives)
    # The holder itself may still convert its hold: its own claim does not count against it.
    converted = org.post("/v1/bookings", {"service_id": svc["id"], "start": f"{TUE}T11:00:00Z",
                                          "hold_id": hold.json()["id"],
                                          "customer": {"name": "B", "email": "b@example.com"}})
    assert converted.status_code == 201
    assert r["max_per_day"] == 2


def test_a_service_weekly_limit_counts_the_services_bookings_in_the_org_week(org: Org) -> None:
    resource(org, name="A")
    resource(org, name="B")
    svc = service(org, duration_min=60, max_per_week=2)
    book(org, svc["id"], f"{TUE}T09:00:00Z")
    book(org, svc["id"], f"{WED}T09:00:00Z")
    assert day(org, svc["id"], "2027-03-04") == []
    assert len(day(org, svc["id"], MON_NEXT)) == 8


def test_a_weekly_limit_also_binds_the_occurrences_of_one_series(org: Org) -> None:
    resource(org)
    svc = service(org, duration_min=60, max_per_week=2)
    answer = org.post("/v1/bookings", {
        "service_id": svc["id"], "start": f"{TUE}T09:00:00Z",
        "customer": {"name": "S", "email": "s@example.com"},
        "recurrence": {"rrule": "FREQ=DAILY;COUNT=3", "timezone": "UTC"}})
    assert answer.status_code == 409
    assert [c["start"] for c in answer.json()["conflicts"]] == ["2027-03-04T09:00:00Z"]
    assert org.get("/v1/bookings").json()["items"] == []


def test_a_location_daily_limit_counts_bookings_on_all_its_resources(org: Org) -> None:
    loc = org.post("/v1/locations", {"name": "Small site", "timezone": "UTC",
                                     "max_per_day": 2}).json()
    resource(org, name="A", location_id=loc["id"])
    resource(org, name="B", location_id=loc["id"])
    svc = service(org, duration_min=60)
    book(org, svc["id"], f"{TUE}T09:00:00Z")
    book(org, svc["id"], f"{TUE}T09:00:00Z")
    assert day(org, svc["id"], TUE) == []


def test_a_sequence_rule_binds_both_services_in_both_orders(org: Org) -> None:
    resource(org)
    surgery = service(org, name="Surgery", duration_min=60)
    massage = service(org, name="Massage", duration_min=60, sequence_rules=[
        {"service_id": surgery["id"], "within_min": 90, "direction": "after"}])
    assert massage["sequence_rules"] == [
        {"service_id": surgery["id"], "within_min": 90, "direction": "after"}]
    book(org, surgery["id"], f"{TUE}T10:00:00Z")
    # A massage may not start within 90 minutes after the surgery ends (11:00–12:30).
    assert day(org, massage["id"], TUE) == ["09:00", "13:00", "14:00", "15:00", "16:00"]
    book(org, massage["id"], f"{WED}T14:00:00Z")
    # ...nor may a surgery end within 90 minutes before a massage starts (12:30–14:00).
    assert day(org, surgery["id"], WED) == ["09:00", "10:00", "11:00", "15:00", "16:00"]


def test_a_service_that_requires_approval_books_pending(org: Org) -> None:
    resource(org)
    svc = service(org, duration_min=60, requires_approval=True)
    assert book(org, svc["id"], f"{TUE}T09:00:00Z")["status"] == "pending"


def test_an_optional_role_joins_when_free_and_never_removes_a_slot(org: Org) -> None:
    doctor = resource(org, name="Doctor")
    nurse = resource(org, name="Nurse", kind="equipment", weekly=weekdays("09:00", "10:00"))
    svc = service(org, duration_min=60, requirements=[
        {"kind": "practitioner"}, {"kind": "equipment", "optional": True}])
    assert len(day(org, svc["id"], TUE)) == 8
    first = book(org, svc["id"], f"{TUE}T09:00:00Z")
    later = book(org, svc["id"], f"{TUE}T11:00:00Z")
    assert first["resource_ids"] == [doctor["id"], nurse["id"]]
    assert later["resource_ids"] == [doctor["id"]]


def test_a_collective_role_needs_every_resource_of_its_pool(org: Org) -> None:
    a = resource(org, name="Host A")
    b = resource(org, name="Host B", weekly=weekdays("13:00", "17:00"))
    svc = service(org, duration_min=60, requirements=[{"kind": "practitioner", "mode": "all"}])
    assert day(org, svc["id"], TUE) == ["13:00", "14:00", "15:00", "16:00"]
    booked = book(org, svc["id"], f"{TUE}T13:00:00Z")
    assert sorted(booked["resource_ids"]) == sorted([a["id"], b["id"]])


def test_weights_choose_first_then_the_least_booked_takes_the_next(org: Org) -> None:
    a = resource(org, name="A")
    b = resource(org, name="B")
    c = resource(org, name="C")
    svc = service(org, duration_min=60, requirements=[
        {"kind": "practitioner", "weights": {c["id"]: 10}}])
    first, second = sorted([a["id"], b["id"]])  # equal weight and load: by id
    assert book(org, svc["id"], f"{TUE}T09:00:00Z")["resource_ids"] == [c["id"]]
    assert book(org, svc["id"], f"{TUE}T09:00:00Z")["resource_ids"] == [first]
    assert book(org, svc["id"], f"{TUE}T10:00:00Z")["resource_ids"] == [c["id"]]
    plain = service(org, name="Plain", duration_min=60)
    # Round robin: two of the three have bookings this week; the third has none.
    assert book(org, plain["id"], f"{WED}T09:00:00Z")["resource_ids"] == [second]


def test_in_a_rush_the_least_booked_still_takes_the_next(org: Org) -> None:
    """After a refusal the service's writers check first without the lock, and that check
    skips the preference order; the booking itself is still chosen by it, under the lock."""
    a = resource(org, name="A")
    b = resource(org, name="B")
    svc = service(org, duration_min=60)
    first, second = sorted([a["id"], b["id"]])  # equal load: by id
    assert book(org, svc["id"], f"{TUE}T09:00:00Z")["resource_ids"] == [first]
    assert book(org, svc["id"], f"{TUE}T09:00:00Z")["resource_ids"] == [second]
    assert book(org, svc["id"], f"{TUE}T10:00:00Z")["resource_ids"] == [first]
    refused = org.post("/v1/bookings", {"service_id": svc["id"], "start": f"{TUE}T09:00:00Z",
                                        "customer": {"name": "R", "email": "r@x.org"}})
    assert refused.status_code == 409  # the service is in a rush now
    # The first has two bookings this week, the second one: round robin picks the second.
    assert book(org, svc["id"], f"{WED}T09:00:00Z")["resource_ids"] == [second]


def test_a_service_patch_changes_its_rules_and_keeps_the_rest(org: Org) -> None:
    resource(org)
    svc = service(org, duration_min=60)
    patched = org.patch(f"/v1/services/{svc['id']}", {"max_per_day": 1, "buffer_after_min": 15})
    assert patched.status_code == 200
    assert patched.json()["max_per_day"] == 1 and patched.json()["duration_min"] == 60
    book(org, svc["id"], f"{TUE}T09:00:00Z")
    assert day(org, svc["id"], TUE) == []
    cleared = org.patch(f"/v1/services/{svc['id']}", {"max_per_day": None})
    assert cleared.json()["max_per_day"] is None
    assert day(org, svc["id"], TUE)[0] == "11:00"


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/v1/services", {"max_per_day": 0}, "max_per_day"),
    ("/v1/services", {"buffer_before_min": 1441}, "buffer_before_min"),
    ("/v1/services", {"max_per_day": 5, "max_per_week": 3}, "max_per_week"),
    ("/v1/services", {"min_notice_min": 2 * 24 * 60, "max_advance_days": 2}, "min_notice_min"),
    ("/v1/services", {"requirements": [{"kind": "room", "optional": True}]}, "requirements"),
    ("/v1/services", {"requirements": [{"kind": "room", "mode": "all", "count": 2}]}, "count"),
    ("/v1/services", {"sequence_rules": [{"service_id": "x", "within_min": 0}]}, "within_min"),
    ("/v1/resources", {"max_per_week": 0}, "max_per_week"),
    ("/v1/resources", {"min_notice_min": 1440, "max_advance_days": 1}, "min_notice_min"),
    ("/v1/locations", {"max_per_day": 0}, "max_per_day"),
    ("/v1/locations", {"timezone": "Mars/Olympus"}, "timezone"),
])
def test_contradicting_or_impossible_rules_are_422_naming_the_field(
        org: Org, path: str, body: dict[str, Any], field: str) -> None:
    base: dict[str, Any] = {
        "/v1/services": {"name": "S", "duration_min": 30,
                         "requirements": [{"kind": "practitioner"}]},
        "/v1/resources": {"name": "R", "kind": "room"},
        "/v1/locations": {"name": "L", "timezone": "UTC"},
    }[path]
    answer = org.post(path, {**base, **body})
    assert answer.status_code == 422, answer.text
    assert any(field in e["loc"] for e in answer.json()["errors"]), answer.json()
    listed = org.get(path).json()
    assert listed["items"] == []


def test_a_sequence_rule_naming_an_unknown_service_is_404(org: Org) -> None:
    answer = org.post("/v1/services", {
        "name": "S", "duration_min": 30, "requirements": [{"kind": "practitioner"}],
        "sequence_rules": [{"service_id": "service_nope", "within_min": 30}]})
    assert answer.status_code == 404


def test_a_patch_that_would_contradict_is_refused_and_changes_nothing(org: Org) -> None:
    r = resource(org, max_per_day=3)
    answer = org.patch(f"/v1/resources/{r['id']}", {"max_per_week": 2})
    assert answer.status_code == 422
    assert org.get(f"/v1/resources/{r['id']}").json()["max_per_week"] is None
