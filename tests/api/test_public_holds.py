"""The public booking extensions: a visitor holds a start by slug, books with the hold, and
downloads the booking as iCalendar; the team a service draws on is public."""

from __future__ import annotations

from fastapi.testclient import TestClient
from icalendar import Calendar

from slotwise.testing.api import resource, service, signup

START = "2027-03-08T14:00:00Z"  # Monday 09:00 in New York (T0 is before it)


def setup(client: TestClient) -> tuple[str, str, dict[str, object]]:
    org = signup(client)
    ann = resource(org, name="Ann")
    svc = service(org, name="Consultation")
    return org.slug, svc["slug"], ann


def test_a_visitor_holds_a_start_then_books_it_with_the_hold(client: TestClient) -> None:
    org, svc, ann = setup(client)
    held = client.post(f"/v1/public/{org}/services/{svc}/holds", json={"start": START})
    assert held.status_code == 201, held.text
    hold = held.json()
    assert hold["start"] == START and hold["end"] == "2027-03-08T15:00:00Z"
    assert hold["resource_ids"] == [ann["id"]] and hold["expires_at"] == "2027-03-01T12:10:00Z"
    taken = client.post(f"/v1/public/{org}/services/{svc}/holds", json={"start": START})
    assert taken.status_code == 409 and taken.json()["alternatives"]
    booked = client.post(f"/v1/public/{org}/services/{svc}/bookings", json={
        "start": START, "hold_id": hold["id"],
        "customer": {"name": "Bo", "email": "bo@example.com"}})
    assert booked.status_code == 201, booked.text
    again = client.post(f"/v1/public/{org}/services/{svc}/bookings", json={
        "start": START, "hold_id": hold["id"],
        "customer": {"name": "Cy", "email": "cy@example.com"}})
    assert again.status_code == 409


def test_a_public_hold_answers_404_for_unknown_slugs_and_resources(client: TestClient
                                                                  ) -> None:
    org, svc, _ = setup(client)
    assert client.post(f"/v1/public/{org}/services/nope/holds",
                       json={"start": START}).status_code == 404
    assert client.post("/v1/public/no-such-org/services/x/holds",
                       json={"start": START}).status_code == 404
    assert client.post(f"/v1/public/{org}/services/{svc}/holds",
                       json={"start": START, "resource_ids": ["res_nope"]}).status_code == 404
    assert client.post(f"/v1/public/{org}/services/{svc}/holds",
                       json={"start": "tomorrow"}).status_code == 422


def test_a_public_hold_can_name_the_team_member(client: TestClient) -> None:
    org = signup(client)
    resource(org, name="Ann")
    bob = resource(org, name="Bob")
    svc = service(org)
    team = client.get(f"/v1/public/{org.slug}/team", params={"service": svc["slug"]})
    assert [m["name"] for m in team.json()["items"]] == ["Ann", "Bob"]
    held = client.post(f"/v1/public/{org.slug}/services/{svc['slug']}/holds",
                       json={"start": START, "resource_ids": [bob["id"]]})
    assert held.status_code == 201 and held.json()["resource_ids"] == [bob["id"]]


def test_the_customer_downloads_the_booking_as_icalendar(client: TestClient) -> None:
    org, svc, _ = setup(client)
    booked = client.post(f"/v1/public/{org}/services/{svc}/bookings", json={
        "start": START, "customer": {"name": "Bo", "email": "bo@example.com"}}).json()
    ics = client.get(f"/v1/public/bookings/{booked['id']}/ics",
                     params={"token": booked["manage_token"]})
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    event = Calendar.from_ical(ics.content).walk("VEVENT")[0]
    assert str(event["SUMMARY"]) == "Consultation"
    assert event["DTSTART"].dt.isoformat() == "2027-03-08T14:00:00+00:00"
    assert client.get(f"/v1/public/bookings/{booked['id']}/ics",
                      params={"token": "wrong"}).status_code == 404
