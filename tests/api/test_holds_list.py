"""`GET /v1/holds`: the organisation's live holds by start, paged, with either hold store;
released, converted and expired holds are not listed, nor another organisation's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from slotwise.app.clock import FrozenClock
from slotwise.testing.api import book, resource, service, signup

pytestmark = pytest.mark.parametrize("holds", ["sql", "redis"], indirect=True)


def test_live_holds_are_listed_by_start_and_paged(client: TestClient,
                                                  clock: FrozenClock) -> None:
    org = signup(client, timezone="UTC")
    practitioner = resource(org, name="Dr List")
    svc = service(org, duration_min=60)
    starts = ["2027-03-08T13:00:00Z", "2027-03-08T10:00:00Z", "2027-03-08T11:00:00Z",
              "2027-03-08T14:00:00Z", "2027-03-08T15:00:00Z"]
    held = {s: org.post("/v1/holds", {"service_id": svc["id"], "start": s}).json()
            for s in starts}
    short = org.post("/v1/holds", {"service_id": svc["id"], "start": "2027-03-08T09:00:00Z",
                                   "ttl_s": 30}).json()
    org.delete(f"/v1/holds/{held['2027-03-08T14:00:00Z']['id']}")
    book(org, svc["id"], "2027-03-08T15:00:00Z", hold_id=held["2027-03-08T15:00:00Z"]["id"])
    other = signup(client, timezone="UTC")
    resource(other)
    other.post("/v1/holds", {"service_id": service(other)["id"],
                             "start": "2027-03-08T10:00:00Z"})
    clock.advance(timedelta(seconds=31))  # the 09:00 hold lapses

    first = org.get("/v1/holds?limit=2").json()
    assert [h["start"] for h in first["items"]] == ["2027-03-08T10:00:00Z",
                                                    "2027-03-08T11:00:00Z"]
    assert first["items"][0] == {**held["2027-03-08T10:00:00Z"],
                                 "resource_ids": [practitioner["id"]]}
    assert first["next_cursor"]
    rest = org.get(f"/v1/holds?limit=2&cursor={first['next_cursor']}").json()
    assert [h["start"] for h in rest["items"]] == ["2027-03-08T13:00:00Z"]
    assert rest["next_cursor"] is None
    assert short["id"] not in {h["id"] for h in first["items"] + rest["items"]}
    assert org.get("/v1/holds?cursor=forged").status_code == 422
