"""Explain and preview name the rules the app loads — limits, sequence rules, location hours —
with their labels and the location's name. The rules are written straight through the unit of
work (their HTTP setup is another change); the questions go through the API."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi.testclient import TestClient

from slotwise.app.clock import FrozenClock
from slotwise.bootstrap import Container
from slotwise.domain.model import Schedule, SequenceRule, WeeklyRule
from slotwise.store.uow import SqlUnitOfWork
from slotwise.testing.api import Org, book, resource, service, signup

TUE = "2027-03-02"  # the clock stands at Monday 2027-03-01T12:00Z


def explain(org: Org, service_id: str, start: str) -> dict[str, Any]:
    answer = org.get(f"/v1/services/{service_id}/availability/explain", params={"start": start})
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def change_service(container: Container, org: Org, service_id: str, **fields: Any) -> None:
    with SqlUnitOfWork(container.engine) as uow:
        found = uow.services.get(org.id, service_id)
        assert found is not None
        uow.services.update(replace(found, **fields))
        uow.commit()


def test_a_full_day_limit_is_named_with_its_label(client: TestClient,
                                                  container: Container) -> None:
    org = signup(client, timezone="UTC")
    ada = resource(org, name="Dr Ada")
    svc = service(org, duration_min=60)
    change_service(container, org, svc["id"], max_per_day=1)
    book(org, svc["id"], f"{TUE}T09:00:00Z")
    found = explain(org, svc["id"], f"{TUE}T14:00:00Z")
    [limit] = [r for r in found["reasons"] if r["code"] == "limit"]
    assert limit["resource_id"] == ada["id"] and limit["label"] == "service day limit 1"
    assert (limit["start"], limit["end"]) == (f"{TUE}T00:00:00Z", "2027-03-03T00:00:00Z")
    assert limit["message"].startswith("Dr Ada has reached its service day limit 1")
    conflicts = org.post("/v1/recurrence/preview", {
        "dtstart": f"{TUE}T14:00:00", "timezone": "UTC", "rrule": "FREQ=DAILY;COUNT=2",
        "service_id": svc["id"]}).json()["occurrences"]
    assert [c["reason"] for c in conflicts[0]["conflicts"]] == ["limit"]
    assert conflicts[1]["available"] is True


def test_a_sequence_rule_names_the_booking_it_keeps_away_from(client: TestClient,
                                                              container: Container) -> None:
    org = signup(client, timezone="UTC")
    resource(org, name="Dr Ada")
    surgery = service(org, name="Surgery", duration_min=60)
    checkup = service(org, name="Check-up", duration_min=60)
    change_service(container, org, checkup["id"], sequence_rules=(
        SequenceRule(other_service_id=surgery["id"], within_min=120, direction="after"),))
    operated = book(org, surgery["id"], f"{TUE}T09:00:00Z")
    found = explain(org, checkup["id"], f"{TUE}T11:00:00Z")
    [rule] = [r for r in found["reasons"] if r["code"] == "rule"]
    assert rule["label"] == operated["id"]
    assert operated["id"] in rule["message"]
    assert explain(org, checkup["id"], f"{TUE}T12:00:00Z")["offered"] is True


def test_location_hours_are_told_apart_from_the_resources_own(
        client: TestClient, container: Container, clock: FrozenClock) -> None:
    org = signup(client, timezone="UTC")
    clinic = org.post("/v1/locations", {"name": "Main Street", "timezone": "UTC"}).json()
    room = resource(org, name="Room 2", kind="room", location_id=clinic["id"])
    svc = service(org, duration_min=60, requirements=[{"kind": "room"}])
    with SqlUnitOfWork(container.engine) as uow:
        uow.locations.put_schedule(Schedule(
            resource_id="", org_id=org.id, timezone=None, location_id=clinic["id"],
            updated_at=clock.now(),
            weekly=(WeeklyRule(("mon", "tue", "wed", "thu", "fri"), "12:00", "17:00"),)))
        uow.commit()
    found = explain(org, svc["id"], f"{TUE}T10:00:00Z")
    [closed] = [r for r in found["reasons"] if r["code"] == "closed"]
    assert closed["resource_id"] == room["id"] and closed["scope"] == "location"
    assert closed["message"] == ("outside the opening hours of Main Street, Room 2's location "
                                 "(closed then)")
    assert explain(org, svc["id"], f"{TUE}T12:00:00Z")["offered"] is True
