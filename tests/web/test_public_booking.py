"""Public booking in a real browser, on both backends: a visitor books end to end (with the
keyboard alone, and without JavaScript too), a DST-change day reads right in two zones, the
pages speak German and French, and the embed snippet puts the flow on another site."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from icalendar import Calendar
from playwright.sync_api import Browser, Page, expect

from slotwise.testing.api import resource, service, signup
from slotwise.testing.browser import screenshot

pytestmark = pytest.mark.xdist_group("web-public")


@pytest.fixture
def backend(site_database_url: str) -> str:
    return "sqlite" if site_database_url.startswith("sqlite") else "postgresql"


def clinic(api: httpx.Client, **service_fields: Any) -> tuple[str, str]:
    """An organisation in New York with Ann (weekdays 09:00–17:00) and a one-hour
    consultation; its slug and the service's."""
    org = signup(api, name="Harbour Physio")
    resource(org, name="Ann Lee")
    svc = service(org, name="Consultation", price={"amount": 6000, "currency": "USD"},
                  **service_fields)
    return org.slug, svc["slug"]


def text(page: Page, selector: str) -> list[str]:
    return [t.replace("\u202f", " ").strip() for t in page.locator(selector).all_inner_texts()]


def fill_details_and_confirm(page: Page) -> None:
    page.get_by_label("Name").fill("Bo Visitor")
    page.get_by_label("E-mail").fill("bo@example.com")
    page.get_by_role("button", name="Confirm booking").click()


def test_a_visitor_books_end_to_end(page: Page, api: httpx.Client, backend: str) -> None:
    org, svc = clinic(api)
    page.goto(f"/{org}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Harbour Physio")
    expect(page.locator(".service")).to_contain_text("$60.00")
    expect(page.locator(".team")).to_contain_text("Ann Lee")
    screenshot(page, f"public-organisation-{backend}")

    page.get_by_role("link", name="Book Consultation", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Consultation")
    expect(page.locator("#month-heading")).to_have_text("March 2027")
    page.get_by_role("link", name=re.compile(r"^Monday, March 8, 2027")).click()
    expect(page.locator("#slots h2")).to_have_text("Monday, March 8, 2027")
    assert page.url.endswith("day=2027-03-08")  # htmx pushed the page's own URL
    assert text(page, "#slots .slot")[:2] == ["9:00 AM EST", "10:00 AM EST"]
    screenshot(page, f"public-service-{backend}")

    page.get_by_role("button", name="10:00 AM EST").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your details")
    expect(page.locator(".countdown")).to_have_text(re.compile(r"\((10:00|9:5\d)\)"))
    expect(page.locator(".hold")).to_contain_text("until 7:10 AM EST")
    screenshot(page, f"public-details-{backend}")

    page.get_by_label("E-mail").fill("not an address")
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.locator("#email")).to_have_attribute("aria-describedby", "email-error")
    expect(page.locator("#email-error")).to_be_visible()
    screenshot(page, f"public-details-errors-{backend}")
    fill_details_and_confirm(page)

    expect(page.get_by_role("heading", level=1)).to_have_text("You are booked")
    facts = page.locator(".facts")
    expect(facts).to_contain_text("Monday, March 8, 2027")
    expect(facts).to_contain_text("10:00\u202fAM EST – 11:00\u202fAM EST")
    expect(facts).to_contain_text("Ann Lee")
    expect(page.get_by_role("link", name="Change or cancel")).to_have_attribute(
        "href", re.compile(r"^/manage/bk_\w+\?token=mt_"))
    screenshot(page, f"public-confirmation-{backend}")

    ics = page.get_by_role("link", name="Add to calendar (.ics)").get_attribute("href")
    assert ics is not None
    answer = page.request.get(ics)
    assert answer.ok and answer.headers["content-type"].startswith("text/calendar")
    event = Calendar.from_ical(answer.body()).walk("VEVENT")[0]
    assert str(event["SUMMARY"]) == "Consultation"
    assert event["DTSTART"].dt.isoformat() == "2027-03-08T15:00:00+00:00"

    # The taken time is gone for the next visitor.
    page.goto(f"/{org}/{svc}?day=2027-03-08")
    assert "10:00 AM EST" not in text(page, "#slots .slot")


def test_a_dst_change_day_reads_right_in_two_zones(page: Page, api: httpx.Client,
                                                   backend: str) -> None:
    org = signup(api, name="Night Clinic")
    resource(org, name="Nora", weekly=[{"days": ["sun"], "start": "00:00", "end": "05:00"}])
    svc = service(org, name="Night call")["slug"]
    # New York skips 02:00–03:00 on 2027-03-14: four hours of opening, four slots.
    page.goto(f"/{org.slug}/{svc}?day=2027-03-14&tz=America/New_York")
    expect(page.locator("#slots h2")).to_have_text("Sunday, March 14, 2027")
    assert text(page, "#slots .slot") == ["12:00 AM EST", "1:00 AM EST", "3:00 AM EDT",
                                         "4:00 AM EDT"]
    screenshot(page, f"public-dst-new-york-{backend}")
    page.goto(f"/{org.slug}/{svc}?day=2027-03-14&tz=Europe/Berlin")
    assert text(page, "#slots .slot") == ["6:00 AM CET", "7:00 AM CET", "8:00 AM CET",
                                         "9:00 AM CET"]
    expect(page.locator("#tz")).to_have_value("Europe/Berlin")
    screenshot(page, f"public-dst-berlin-{backend}")
    page.goto(f"/{org.slug}/{svc}?day=2027-03-13&tz=Europe/Berlin")
    expect(page.locator("#slots")).to_contain_text("No free times on this day.")


def focus_on(page: Page, selector: str, limit: int = 120) -> None:
    """Press Tab until the element matching `selector` has the focus."""
    for _ in range(limit):
        if page.evaluate("s => document.activeElement?.matches(s) ?? false", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def test_a_visitor_books_with_the_keyboard_alone(page: Page, api: httpx.Client,
                                                 backend: str) -> None:
    org, _ = clinic(api)
    page.goto(f"/{org}")
    focus_on(page, "a.button")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Consultation")
    focus_on(page, 'a.day[href$="day=2027-03-09"]')
    page.keyboard.press("Enter")
    expect(page.locator("#slots h2")).to_have_text("Tuesday, March 9, 2027")
    focus_on(page, "#slots button.slot")
    expect(page.locator("#slots button.slot").first).to_be_focused()
    screenshot(page, f"public-keyboard-slot-{backend}")
    page.keyboard.press("Space")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your details")
    focus_on(page, "#name")
    page.keyboard.type("Kay Board")
    page.keyboard.press("Tab")
    page.keyboard.type("kay@example.com")
    focus_on(page, "form.details button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("You are booked")
    expect(page.locator(".facts")).to_contain_text("Tuesday, March 9, 2027")


def test_booking_works_without_javascript(browser: Browser, site: str, api: httpx.Client,
                                         backend: str) -> None:
    org, _ = clinic(api)
    context = browser.new_context(base_url=site, locale="en-US",
                                  timezone_id="America/New_York", java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"/{org}")
        page.get_by_role("link", name="Book Consultation", exact=True).click()
        page.get_by_role("link", name=re.compile(r"^Wednesday, March 10, 2027")).click()
        expect(page.locator("#slots h2")).to_have_text("Wednesday, March 10, 2027")
        page.get_by_label("Time zone").select_option("Europe/Berlin")
        page.get_by_role("button", name="Show times").click()
        assert text(page, "#slots .slot")[0] == "3:00 PM CET"
        page.get_by_role("button", name="3:00 PM CET").click()
        expect(page.locator(".countdown")).to_have_text("")  # no script: the expiry time
        expect(page.locator(".hold")).to_contain_text("until 1:10 PM CET")
        fill_details_and_confirm(page)
        expect(page.get_by_role("heading", level=1)).to_have_text("You are booked")
        expect(page.locator(".facts")).to_contain_text("3:00\u202fPM CET")
        screenshot(page, f"public-no-js-confirmation-{backend}")
    finally:
        context.close()


@pytest.mark.parametrize(("lang", "day", "zone_label", "time", "month"), [
    ("de", "Montag, 8. März 2027", "Zeitzone", "09:00 EST", "März 2027"),
    ("fr", "lundi 8 mars 2027", "Fuseau horaire", "09:00 EST", "mars 2027"),
])
def test_the_pages_speak_german_and_french(page: Page, api: httpx.Client, backend: str,
                                           lang: str, day: str, zone_label: str, time: str,
                                           month: str) -> None:
    org, svc = clinic(api)
    page.goto(f"/{org}?lang={lang}")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.locator("#services-heading")).to_have_text(
        {"de": "Leistungen", "fr": "Prestations"}[lang])
    expect(page.locator(".service")).to_contain_text("60,00")
    page.goto(f"/{org}/{svc}?day=2027-03-08")  # the cookie keeps the language
    expect(page.locator("#slots h2")).to_have_text(day)
    expect(page.locator("#month-heading")).to_have_text(re.compile(month, re.I))
    expect(page.get_by_text(zone_label, exact=True)).to_be_visible()
    assert text(page, "#slots .slot")[0] == time
    screenshot(page, f"public-service-{lang}-{backend}")
    page.locator("#slots .slot").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        {"de": "Ihre Angaben", "fr": "Vos coordonnées"}[lang])
    screenshot(page, f"public-details-{lang}-{backend}")


def test_the_widget_puts_the_booking_flow_on_another_site(page: Page, api: httpx.Client,
                                                          site: str, backend: str) -> None:
    org, svc = clinic(api)
    page.set_content(f"""<!doctype html><html lang="en"><head><title>Partner</title></head>
      <body><h1>Harbour Physio on a partner site</h1>
      <script src="{site}/embed.js" data-org="{org}" data-service="{svc}"></script>
      <p>Footer of the partner site</p></body></html>""")
    frame = page.frame_locator("iframe.slotwise-embed")
    expect(frame.get_by_role("heading", level=1)).to_have_text("Consultation")
    expect(frame.locator(".site-footer")).to_be_hidden()
    page.wait_for_function(
        "() => parseInt(document.querySelector('iframe.slotwise-embed').style.height) > 480")
    screenshot(page, f"public-widget-{backend}")
    frame.locator("#slots .slot").first.click()
    expect(frame.get_by_role("heading", level=1)).to_have_text("Your details")
    frame.get_by_label("Name").fill("Wid Get")
    frame.get_by_label("E-mail").fill("widget@example.com")
    frame.get_by_role("button", name="Confirm booking").click()
    expect(frame.get_by_role("heading", level=1)).to_have_text("You are booked")
    screenshot(page, f"public-widget-confirmation-{backend}")


def test_a_time_taken_meanwhile_says_so_and_shows_the_days_times(
        page: Page, api: httpx.Client, backend: str) -> None:
    org, svc = clinic(api)
    # This visitor's live stream is down, so the taken time is still on screen when they pick it
    # (with it up, the button would vanish first and there would be nothing to click).
    page.route(re.compile(r"/v1/public/[^/]+/live"), lambda route: route.abort())
    page.goto(f"/{org}/{svc}?day=2027-03-11")
    held = api.post(f"/v1/public/{org}/services/{svc}/holds",
                    json={"start": "2027-03-11T14:00:00Z"})  # another visitor, 09:00 EST
    assert held.status_code == 201
    page.get_by_role("button", name="9:00 AM EST").click()
    expect(page.get_by_role("alert")).to_contain_text("that time has just been taken")
    expect(page.locator("#slots h2")).to_have_text("Thursday, March 11, 2027")
    assert text(page, "#slots .slot")[0] == "10:00 AM EST"
    screenshot(page, f"public-slot-gone-{backend}")


def test_the_visitors_zone_is_detected(browser: Browser, site: str, api: httpx.Client) -> None:
    org, svc = clinic(api)
    context = browser.new_context(base_url=site, locale="en-GB", timezone_id="Europe/Berlin")
    try:
        page = context.new_page()
        page.goto(f"/{org}/{svc}?day=2027-03-08")
        page.wait_for_url(re.compile(r"tz=Europe%2FBerlin"))
        expect(page.locator("#tz")).to_have_value("Europe/Berlin")
        assert text(page, "#slots .slot")[0] == "15:00 CET"  # en-GB: English, 24-hour times
    finally:
        context.close()
