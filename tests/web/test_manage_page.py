"""The customer's manage page in a real browser, on SQLite and PostgreSQL: it shows the
refund and fee before cancelling and then cancels; it reschedules to a free slot (and a slot
taken meanwhile is a 409 showing the times free now); a wrong token is a translated 404;
the waitlist offer page books the offered time."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from slotwise.bootstrap import build
from slotwise.settings import Settings
from slotwise.testing import api as build_api
from slotwise.testing.browser import screenshot

pytestmark = pytest.mark.xdist_group("web-manage")

START = "2027-03-02T15:00:00Z"  # Tuesday 10:00 EST, 27 h after the pinned now
LATE_FEE_POLICY = {"name": "custom", "tiers": [{"min_notice_h": 48, "refund_pct": 100}],
                   "late_cancel_fee": {"amount_minor": 1500}}


def _booked(client: httpx.Client, **service_fields: Any) -> tuple[build_api.Org, dict[str, Any],
                                                                  dict[str, Any]]:
    org = build_api.signup(client, timezone="America/New_York")
    build_api.resource(org, name="Dr Ada Lovelace")
    svc = build_api.service(org, name="Consultation", **service_fields)
    answer = client.post(f"/v1/public/{org.slug}/services/{svc['slug']}/bookings", json={
        "start": START, "customer": {"name": "Grace", "email": "grace@example.com"}})
    assert answer.status_code == 201, answer.text
    return org, svc, answer.json()


def test_the_manage_page_shows_the_refund_and_fee_first_then_cancels(
        page: Page, api: httpx.Client, site_database_url: str) -> None:
    _, _, booked = _booked(api, price={"amount": 5000, "currency": "EUR"},
                             payment="on_site", cancellation_policy=LATE_FEE_POLICY)
    manage = f"/manage/{booked['id']}?token={booked['manage_token']}"
    page.goto(manage)
    expect(page.get_by_role("heading", name="Your booking")).to_be_visible()
    expect(page.locator(".summary")).to_contain_text("Consultation")
    expect(page.locator(".summary")).to_contain_text("Dr Ada Lovelace")
    expect(page.locator(".when-time")).to_have_text(re.compile(r"10:00\sAM EST"))
    screenshot(page, f"manage-booking-{_backend(site_database_url)}")
    page.goto(f"{manage}&tz=Europe/Berlin")
    expect(page.locator(".when-time")).to_have_text(re.compile(r"4:00\sPM CET"))

    page.get_by_role("link", name="Cancel booking").click()
    expect(page.get_by_role("heading", name="Cancel your booking?")).to_be_visible()
    expect(page.locator("#refund")).to_contain_text("€0.00")
    expect(page.locator("#fee")).to_contain_text("€15.00")  # under 48 h: late
    screenshot(page, f"manage-cancel-quote-{_backend(site_database_url)}")
    assert api.get(f"/v1/public/bookings/{booked['id']}",
                   params={"token": booked["manage_token"]}).json()["status"] == "confirmed"

    page.get_by_role("button", name="Yes, cancel my booking").click()
    expect(page.get_by_role("heading", name="Booking cancelled")).to_be_visible()
    expect(page.locator("#fee")).to_contain_text("€15.00")
    expect(page.locator("[data-status]")).to_have_text("Cancelled")
    screenshot(page, f"manage-cancelled-{_backend(site_database_url)}")
    assert api.get(f"/v1/public/bookings/{booked['id']}",
                   params={"token": booked["manage_token"]}).json()["status"] == "cancelled"


def test_the_manage_page_reschedules_to_a_free_slot_and_a_taken_one_is_a_409(
        page: Page, api: httpx.Client, site_database_url: str) -> None:
    org, svc, booked = _booked(api)
    manage = f"/manage/{booked['id']}?token={booked['manage_token']}"
    page.goto(manage)
    page.get_by_role("link", name="Reschedule").click()
    expect(page.get_by_role("heading", name="Choose a new time")).to_be_visible()
    slots = page.locator(".slot")
    times = [t.strip() for t in slots.all_inner_texts()]
    # 9:00–16:00 free, its own 10:00 left out; its own allocation blocks none of them
    assert [t.split(" ")[0] for t in times] == [
        "9:00\u202fAM", "11:00\u202fAM", "12:00\u202fPM", "1:00\u202fPM", "2:00\u202fPM",
        "3:00\u202fPM", "4:00\u202fPM"]
    screenshot(page, f"manage-reschedule-{_backend(site_database_url)}")

    # Someone else takes 1 PM while the page is open: choosing it is a 409
    build_api.book(org, svc["id"], "2027-03-02T18:00:00Z")
    page.get_by_label(re.compile(r"1:00\sPM")).check()
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Move my booking").click()
    assert posted.value.status == 409
    expect(page.get_by_role("alert")).to_contain_text("just been taken")
    expect(page.get_by_label(re.compile(r"1:00\sPM"))).to_have_count(0)
    screenshot(page, f"manage-reschedule-409-{_backend(site_database_url)}")

    page.get_by_label(re.compile(r"11:00\sAM")).check()
    page.get_by_role("button", name="Move my booking").click()
    expect(page.get_by_role("status")).to_have_text("Your booking has been moved.")
    expect(page.locator(".when-time")).to_have_text(re.compile(r"11:00\sAM EST"))
    screenshot(page, f"manage-rescheduled-{_backend(site_database_url)}")
    moved = api.get(f"/v1/public/bookings/{booked['id']}",
                    params={"token": booked["manage_token"]}).json()
    assert moved["start"] == "2027-03-02T16:00:00Z"


def test_a_wrong_token_is_a_translated_404_that_leaks_nothing(
        page: Page, api: httpx.Client, site_database_url: str) -> None:
    _, _, booked = _booked(api)
    for path in (f"/manage/{booked['id']}?token=wrong", "/manage/no-such-booking?token=x",
                 f"/manage/{booked['id']}/cancel?token=wrong",
                 f"/manage/{booked['id']}/reschedule", "/waitlist/no-such-entry?token=x"):
        response = page.goto(path)
        assert response is not None and response.status == 404, path
        expect(page.get_by_role("heading", name="This link is not valid")).to_be_visible()
        assert "Consultation" not in page.content() and "Grace" not in page.content()
    page.goto(f"/manage/{booked['id']}?token=wrong&lang=de")
    expect(page.get_by_role("heading", name="Dieser Link ist ungültig")).to_be_visible()
    screenshot(page, f"manage-404-de-{_backend(site_database_url)}")


def test_the_waitlist_offer_page_books_the_offered_time(
        page: Page, api: httpx.Client, site_database_url: str) -> None:
    org, svc, booked = _booked(api)
    # Alan will wait for 9–12, where only 10:00 is taken: take the other times first, or the
    # waitlist would offer him one of them at once.
    for start in ("2027-03-02T14:00:00Z", "2027-03-02T16:00:00Z"):
        build_api.book(org, svc["id"], start)
    entry = org.post("/v1/waitlist", {
        "service_id": svc["id"], "start": "2027-03-02T14:00:00Z", "end": "2027-03-02T17:00:00Z",
        "customer": {"name": "Alan", "email": "alan@example.com"}}).json()
    assert api.post(f"/v1/public/bookings/{booked['id']}/cancel",
                    params={"token": booked["manage_token"]}).status_code == 200
    deadline = time.monotonic() + 20
    while (found := org.get(f"/v1/waitlist/{entry['id']}").json())["state"] != "offered":
        assert time.monotonic() < deadline, found
        time.sleep(0.2)
    token = _offer_token(site_database_url, org.id, entry["id"])

    page.goto(f"/waitlist/{entry['id']}?token={token}")
    expect(page.get_by_role("heading", name="A time has opened up")).to_be_visible()
    expect(page.locator("#offer-time")).to_contain_text(re.compile(r"10:00\sAM EST"))
    expect(page.locator("#offer-expiry")).to_contain_text("EST")
    screenshot(page, f"waitlist-offer-{_backend(site_database_url)}")
    page.get_by_role("button", name="Book this time").click()
    expect(page.get_by_role("heading", name="Your booking")).to_be_visible()
    expect(page.locator(".when-time")).to_have_text(re.compile(r"10:00\sAM EST"))
    screenshot(page, f"waitlist-offer-booked-{_backend(site_database_url)}")
    assert org.get(f"/v1/waitlist/{entry['id']}").json()["state"] == "booked"
    response = page.goto(f"/waitlist/{entry['id']}?token={token}")  # spent: nothing left
    assert response is not None and response.status == 404


def _offer_token(database_url: str, org_id: str, entry_id: str) -> str:
    """The token of the offer e-mail's link (no SMTP here), derived the server's way."""
    container = build(Settings(database_url=database_url, database_pool_size=1))
    try:
        waitlist = container.use_cases.waitlist
        return waitlist.offer_token(waitlist.get(org_id, entry_id))
    finally:
        container.close()


def _backend(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"
