"""Signup, login, tokens, API keys, roles and tenant isolation."""

from __future__ import annotations

import secrets

from fastapi.testclient import TestClient

from slotwise.testing.api import auth, book, resource, service, signup


def test_login_answers_the_same_for_a_wrong_password_and_an_unknown_email(
        client: TestClient) -> None:
    org = signup(client, password="correct horse battery")
    ok = client.post("/v1/login", json={"email": org.email, "password": "correct horse battery"})
    assert ok.status_code == 200 and ok.json()["token"]
    wrong = client.post("/v1/login", json={"email": org.email, "password": "nope nope"})
    unknown = client.post("/v1/login", json={"email": "ghost@example.com", "password": "x"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_missing_or_wrong_tokens_are_401_problems(client: TestClient) -> None:
    for headers in ({}, auth("garbage"), {"Authorization": "Basic abc"}):
        answer = client.get("/v1/resources", headers=headers)
        assert answer.status_code == 401
        assert answer.headers["content-type"] == "application/problem+json"


def test_an_api_key_acts_for_its_creator_until_revoked(client: TestClient) -> None:
    org = signup(client)
    created = org.post("/v1/api-keys", {"name": "ci"})
    assert created.status_code == 201
    key = created.json()["key"]
    listed = org.get("/v1/api-keys").json()["items"]
    assert [k["id"] for k in listed] == [created.json()["id"]]
    assert "key" not in listed[0]
    assert client.get("/v1/resources", headers=auth(key)).status_code == 200
    assert org.delete(f"/v1/api-keys/{created.json()['id']}").status_code == 204
    assert client.get("/v1/resources", headers=auth(key)).status_code == 401
    assert org.delete(f"/v1/api-keys/{created.json()['id']}").status_code == 404


def test_staff_manage_bookings_but_not_setup(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    svc = service(org)
    made = org.post("/v1/users", {"email": f"staff-{org.slug}@example.com",
                                  "password": "staff password", "role": "staff"})
    assert made.status_code == 201 and made.json()["role"] == "staff"
    token = client.post("/v1/login", json={"email": f"staff-{org.slug}@example.com",
                                           "password": "staff password"}).json()["token"]
    staff = auth(token)
    assert client.post("/v1/resources", json={"name": "X", "kind": "room"},
                       headers=staff).status_code == 403
    assert client.post("/v1/services", json={"name": "X", "duration_min": 30,
                                             "requirements": [{"kind": "room"}]},
                       headers=staff).status_code == 403
    assert client.post("/v1/api-keys", json={"name": "k"}, headers=staff).status_code == 403
    assert client.get("/v1/bookings", headers=staff).status_code == 200
    held = client.post("/v1/holds", json={"service_id": svc["id"],
                                          "start": "2027-03-08T10:00:00Z"}, headers=staff)
    assert held.status_code == 201
    booked = client.post("/v1/bookings", headers=staff, json={
        "service_id": svc["id"], "start": "2027-03-08T10:00:00Z", "hold_id": held.json()["id"],
        "customer": {"name": "C", "email": "c@example.com"}})
    assert booked.status_code == 201


def test_another_organisations_ids_are_404(client: TestClient) -> None:
    a = signup(client, timezone="UTC")
    b = signup(client, timezone="UTC")
    res = resource(a)
    svc = service(a)
    booked = book(a, svc["id"], "2027-03-08T10:00:00Z")
    held = a.post("/v1/holds", {"service_id": svc["id"], "start": "2027-03-08T11:00:00Z"}).json()
    window = {"start": "2027-03-08T00:00:00Z", "end": "2027-03-09T00:00:00Z"}
    for answer in (
        b.get(f"/v1/resources/{res['id']}"),
        b.patch(f"/v1/resources/{res['id']}", {"name": "mine"}),
        b.delete(f"/v1/resources/{res['id']}"),
        b.put(f"/v1/resources/{res['id']}/schedule", {"weekly": []}),
        b.get(f"/v1/services/{svc['id']}"),
        b.get(f"/v1/services/{svc['id']}/availability", params=window),
        b.get(f"/v1/bookings/{booked['id']}"),
        b.post(f"/v1/bookings/{booked['id']}/cancel"),
        b.post(f"/v1/bookings/{booked['id']}/reschedule", {"start": "2027-03-08T12:00:00Z"}),
        b.delete(f"/v1/holds/{held['id']}"),
        b.post("/v1/bookings", {"service_id": svc["id"], "start": "2027-03-08T12:00:00Z",
                                "customer": {"name": "x", "email": "x@example.com"}}),
        b.get("/v1/bookings", params={"resource_id": res["id"]}),
    ):
        assert answer.status_code == 404, (answer.request.url, answer.text)
    assert b.get("/v1/bookings").json()["items"] == []
    assert a.get(f"/v1/bookings/{booked['id']}").json()["status"] == "confirmed"


def test_resources_page_with_signed_cursors(client: TestClient) -> None:
    org = signup(client)
    made = [resource(org, name=f"R{i}")["id"] for i in range(5)]
    first = org.get("/v1/resources", params={"limit": 2}).json()
    second = org.get("/v1/resources", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    third = org.get("/v1/resources", params={"limit": 2, "cursor": second["next_cursor"]}).json()
    seen = [r["id"] for page in (first, second, third) for r in page["items"]]
    assert sorted(seen) == sorted(made) and third["next_cursor"] is None


def test_a_resource_with_upcoming_bookings_cannot_be_deleted(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    res = resource(org)
    svc = service(org)
    booked = book(org, svc["id"], "2027-03-08T10:00:00Z")
    assert org.delete(f"/v1/resources/{res['id']}").status_code == 409
    org.post(f"/v1/bookings/{booked['id']}/cancel")
    assert org.delete(f"/v1/resources/{res['id']}").status_code == 204
    assert org.get(f"/v1/resources/{res['id']}").status_code == 404


def test_public_booking_is_managed_with_its_token(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    resource(org)
    svc = service(org, name="Massage")
    listed = client.get(f"/v1/public/{org.slug}/services").json()
    assert [s["slug"] for s in listed["items"]] == ["massage"]
    slots = client.get(f"/v1/public/{org.slug}/services/massage/availability",
                       params={"start": "2027-03-08T00:00:00Z",
                               "end": "2027-03-09T00:00:00Z"}).json()["slots"]
    made = client.post(f"/v1/public/{org.slug}/services/massage/bookings", json={
        "start": slots[0]["start"], "customer": {"name": "P", "email": "p@example.com"}})
    assert made.status_code == 201
    booking, token = made.json(), made.json()["manage_token"]
    assert booking["service_id"] == svc["id"]
    base = f"/v1/public/bookings/{booking['id']}"
    assert client.post(f"{base}/cancel", params={"token": "wrong"}).status_code == 404
    moved = client.post(f"{base}/reschedule", params={"token": token},
                        json={"start": slots[1]["start"]})
    assert moved.status_code == 200 and moved.json()["start"] == slots[1]["start"]
    cancelled = client.post(f"{base}/cancel", params={"token": token})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert client.get(f"/v1/public/nope-{org.slug}/services").status_code == 404


def test_logout_ends_the_session_it_is_called_with(client: TestClient) -> None:
    org = signup(client, password="correct horse battery")
    other = client.post("/v1/login", json={"email": org.email,
                                           "password": "correct horse battery"}).json()["token"]
    assert client.post("/v1/logout", headers=auth(org.token)).status_code == 204
    refused = client.get("/v1/resources", headers=auth(org.token))
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert client.post("/v1/logout", headers=auth(org.token)).status_code == 401
    # only that session ends: the same user's other session still works
    assert client.get("/v1/resources", headers=auth(other)).status_code == 200
    assert client.post("/v1/logout").status_code == 401


def test_an_api_key_is_not_logged_out_but_revoked(client: TestClient) -> None:
    org = signup(client)
    key = org.post("/v1/api-keys", {"name": "ci"}).json()
    answer = client.post("/v1/logout", headers=auth(key["key"]))
    assert answer.status_code == 409
    assert "revoke" in answer.json()["detail"]
    assert client.get("/v1/resources", headers=auth(key["key"])).status_code == 200
    assert client.post("/v1/logout", headers=auth("swk_unknown")).status_code == 401


def test_the_owner_renames_the_organisation_and_moves_its_zone(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    before = org.get("/v1/org").json()
    assert before["timezone"] == "UTC"
    changed = org.patch("/v1/org", {"name": "  Harbour Clinic ", "timezone": "Europe/Berlin"})
    assert changed.status_code == 200, changed.text
    assert changed.json() == {**before, "name": "Harbour Clinic", "timezone": "Europe/Berlin"}
    assert org.get("/v1/org").json() == changed.json()
    # the slug stays (customers' links): naming it is refused, like any unknown field
    assert org.patch("/v1/org", {"slug": "elsewhere"}).status_code == 422
    assert org.patch("/v1/org", {"name": "Only the name"}).json()["timezone"] == "Europe/Berlin"


def test_org_settings_refuse_bad_zones_and_staff(client: TestClient) -> None:
    org = signup(client, timezone="UTC")
    for zone in ("Mars/Olympus", "EST5EDT", "Etc/GMT+5"):
        bad = org.patch("/v1/org", {"timezone": zone})
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["loc"] == ["body", "timezone"]
    assert org.patch("/v1/org", {"name": ""}).status_code == 422
    email = f"staff-{secrets.token_hex(4)}@example.com"
    org.post("/v1/users", {"email": email, "password": "correct horse battery", "role": "staff"})
    staff = client.post("/v1/login", json={"email": email, "password": "correct horse battery"}
                        ).json()["token"]
    assert client.get("/v1/org", headers=auth(staff)).json()["timezone"] == "UTC"
    assert client.patch("/v1/org", json={"name": "Mine now"},
                        headers=auth(staff)).status_code == 403
    assert org.get("/v1/org").json()["name"] != "Mine now"
