"""The conflicts calls: shapes, filters and pages, roles, other organisations' ids, and the
answers to bad input. (The behaviour behind them: tests/app/test_conflicts.py.)"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from slotwise.testing.api import Org, auth, book, resource, service, signup

DAY = "2027-03-08"
WEEKLY = [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}]


def at(hhmm: str) -> str:
    return f"{DAY}T{hhmm}:00Z"


def _flagged(client: TestClient, count: int = 1) -> tuple[Org, str, list[dict[str, Any]]]:
    """`count` one-hour bookings on one practitioner from 10:00, then a block over them."""
    org = signup(client, timezone="UTC")
    ada = resource(org, name="Ada", weekly=WEEKLY)["id"]
    resource(org, name="Bob", weekly=WEEKLY)
    svc = service(org)
    booked = [book(org, svc["id"], at(f"{10 + i}:00"), resource_ids=[ada])
              for i in range(count)]
    blocked = org.post(f"/v1/resources/{ada}/blocks",
                       {"start": at("10:00"), "end": at(f"{10 + count}:00")})
    assert blocked.status_code == 201
    return org, ada, booked


def _staff(client: TestClient, org: Org) -> dict[str, str]:
    email = f"staff-{org.slug}@example.com"
    made = org.post("/v1/users", {"email": email, "password": "staff password",
                                  "role": "staff"})
    assert made.status_code == 201
    token = client.post("/v1/login", json={"email": email, "password": "staff password"})
    return auth(token.json()["token"])


def test_a_conflict_and_its_suggestions_have_the_documented_shape(client: TestClient) -> None:
    org, ada, [booked] = _flagged(client)
    page = org.get("/v1/conflicts").json()
    assert page["next_cursor"] is None
    [item] = page["items"]
    assert set(item) == {"id", "status", "cause", "cause_ref", "booking_id", "resource_id",
                         "start", "end", "created_at", "updated_at", "closed_at",
                         "resolution", "suggestions"}
    assert item["id"].startswith("cf_")
    assert (item["status"], item["booking_id"], item["resource_id"]) == (
        "open", booked["id"], ada)
    one = org.get(f"/v1/conflicts/{item['id']}").json()
    assert one == item
    for s in one["suggestions"]:
        assert set(s) == {"id", "kind", "rank", "start", "end", "resources", "replaces",
                          "waitlist_entry_id", "summary"}
        assert s["id"].startswith("sg_") and s["start"].endswith("Z")
    kinds = [s["kind"] for s in one["suggestions"]]
    assert kinds[0] == "reschedule" and "substitute" in kinds
    without = org.get("/v1/conflicts", params={"suggestions": "false"}).json()["items"]
    assert without[0]["suggestions"] is None


def test_filters_and_pages(client: TestClient) -> None:
    org, ada, booked = _flagged(client, count=3)
    first = org.get("/v1/conflicts", params={"limit": 2}).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = org.get("/v1/conflicts", params={"limit": 2, "cursor": first["next_cursor"],
                                            "suggestions": "false"}).json()
    assert rest["next_cursor"] is None
    ordered = [x["booking_id"] for x in first["items"] + rest["items"]]
    assert ordered == [b["id"] for b in booked]  # by start

    by_booking = org.get("/v1/conflicts", params={"booking_id": booked[1]["id"]}).json()
    assert [x["booking_id"] for x in by_booking["items"]] == [booked[1]["id"]]
    by_resource = org.get("/v1/conflicts", params={"resource_id": ada}).json()
    assert len(by_resource["items"]) == 3
    assert org.get("/v1/conflicts", params={"status": "resolved"}).json()["items"] == []


def test_staff_read_resolve_and_dismiss(client: TestClient) -> None:
    org, _, _ = _flagged(client, count=2)
    staff = _staff(client, org)
    items = client.get("/v1/conflicts", headers=staff).json()["items"]
    assert len(items) == 2
    best = items[0]["suggestions"][0]["id"]
    resolved = client.post(f"/v1/conflicts/{items[0]['id']}/resolve", headers=staff,
                           json={"suggestion_id": best})
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["conflict"]["resolution"]["by"].startswith("user:")
    dismissed = client.post(f"/v1/conflicts/{items[1]['id']}/dismiss", headers=staff)
    assert dismissed.status_code == 200, dismissed.text
    assert client.get("/v1/conflicts", headers=staff).json()["items"] == []


def test_another_organisations_conflicts_are_404(client: TestClient) -> None:
    org, ada, [booked] = _flagged(client)
    [item] = org.get("/v1/conflicts").json()["items"]
    other = signup(client, timezone="UTC")
    assert other.get(f"/v1/conflicts/{item['id']}").status_code == 404
    suggestion = item["suggestions"][0]["id"]
    assert other.post(f"/v1/conflicts/{item['id']}/resolve",
                      {"suggestion_id": suggestion}).status_code == 404
    assert other.post(f"/v1/conflicts/{item['id']}/dismiss", {}).status_code == 404
    assert other.get("/v1/conflicts", params={"resource_id": ada}).status_code == 404
    assert other.get("/v1/conflicts", params={"booking_id": booked["id"]}).status_code == 404
    assert other.get("/v1/conflicts").json()["items"] == []
    assert org.get("/v1/conflicts/cf_unknown").status_code == 404
    # Nothing changed for the owner.
    assert org.get(f"/v1/conflicts/{item['id']}").json()["status"] == "open"


def test_bad_input_is_422_and_no_token_401(client: TestClient) -> None:
    org, _, _ = _flagged(client)
    [item] = org.get("/v1/conflicts").json()["items"]
    path = f"/v1/conflicts/{item['id']}"
    assert client.get("/v1/conflicts").status_code == 401
    for params in ({"status": "bogus"}, {"limit": 0}, {"limit": 501}, {"cursor": "forged"}):
        answer = org.get("/v1/conflicts", params=params)
        assert answer.status_code == 422, params
    for body in ({}, {"suggestion_id": ""}, {"suggestion_id": 5},
                 {"suggestion_id": "sg_x", "extra": 1}):
        answer = org.post(f"{path}/resolve", body)
        assert answer.status_code == 422, body
        assert answer.json()["errors"]
    assert org.post(f"{path}/dismiss", {"note": 5}).status_code == 422
    assert org.get(path).json()["status"] == "open"
