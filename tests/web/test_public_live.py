"""Live slots on the public page, in real browsers: two visitors look at the same day; one
books a time, or picks it (a hold, while filling in the details), and the other sees it
vanish within a second, without reloading, and come back when the hold is released — over
one server here, and across two server processes in tests/web/test_live_updates.py."""

from __future__ import annotations

import time

import httpx
import pytest
from playwright.sync_api import Browser, expect

from slotwise.testing.api import book, resource, service, signup
from slotwise.testing.browser import screenshot

# `timed`: they hold latencies to a second, so `make test` runs them after the parallel
# suite, alone (beside the stress runs a loaded machine took up to 2 s).
pytestmark = [pytest.mark.xdist_group("web-public-live"), pytest.mark.timed]
DAY = "2027-03-08"
TEN = "2027-03-08T15:00:00Z"  # 10:00 in New York


def test_a_time_taken_by_someone_else_vanishes_within_a_second(
        browser: Browser, site: str, api: httpx.Client, site_database_url: str) -> None:
    org = signup(api, name="Live Physio")
    resource(org, name="Ann Lee")
    svc = service(org, name="Consultation")
    watcher = browser.new_context(base_url=site, locale="en-US",
                                  timezone_id="America/New_York")
    try:
        page = watcher.new_page()
        page.goto(f"/{org.slug}/{svc['slug']}?day={DAY}&tz=America/New_York")
        ten = page.locator("#slots .slot", has_text="10:00")
        expect(ten).to_have_count(1)
        # The page's EventSource is open before the other visitor books.
        page.wait_for_function(
            "() => document.documentElement.getAttribute('data-live') === 'open'",
            timeout=10_000)
        book(org, svc["id"], TEN)
        started = time.monotonic()  # the time is taken: the booking is committed
        expect(ten).to_have_count(0, timeout=5_000)
        took = time.monotonic() - started
        backend = "sqlite" if site_database_url.startswith("sqlite") else "postgresql"
        screenshot(page, f"public-live-vanished-{backend}")
        print(f"\nlive: the taken time vanished from the other page after {took:.2f} s")
        assert took <= 1.0
        assert page.locator("#slots .slot", has_text="11:00").count() == 1
        page.keyboard.press("Tab")  # the refresh left the focus where it was: at the start
        assert page.evaluate("document.activeElement.className") == "skip"
    finally:
        watcher.close()


def test_a_time_another_visitor_holds_vanishes_and_returns_when_released(
        browser: Browser, site: str, api: httpx.Client, site_database_url: str) -> None:
    org = signup(api, name="Held Physio")
    resource(org, name="Ben Hold")
    svc = service(org, name="Assessment")
    contexts = [browser.new_context(base_url=site, locale="en-US",
                                    timezone_id="America/New_York") for _ in range(2)]
    try:
        picker, watcher = (c.new_page() for c in contexts)
        day_page = f"/{org.slug}/{svc['slug']}?day={DAY}&tz=America/New_York"
        watcher.goto(day_page)
        ten = watcher.locator("#slots .slot", has_text="10:00")
        expect(ten).to_have_count(1)
        watcher.wait_for_function(
            "() => document.documentElement.getAttribute('data-live') === 'open'",
            timeout=10_000)

        picker.goto(day_page)
        with picker.expect_response(lambda r: r.request.method == "POST"
                                    and r.url.split("?")[0].endswith("/hold")):
            picker.locator("#slots .slot", has_text="10:00").click()
        # Timed from the answer to the hold's POST, which comes after its commit: the time is
        # held from then on (the picker's own page load is not the other page's latency).
        started = time.monotonic()
        expect(picker.locator(".countdown")).not_to_have_text("")  # the details form is up
        expect(ten).to_have_count(0, timeout=5_000)
        took = time.monotonic() - started
        backend = "sqlite" if site_database_url.startswith("sqlite") else "postgresql"
        screenshot(watcher, f"public-live-held-{backend}")
        print(f"\nlive: the held time vanished from the other page after {took:.2f} s")
        assert took <= 1.0
        assert watcher.locator("#slots .slot", has_text="11:00").count() == 1

        hold_id = picker.locator("input[name=hold_id]").get_attribute("value")
        assert org.delete(f"/v1/holds/{hold_id}").status_code == 204
        started = time.monotonic()  # the release is committed
        expect(ten).to_have_count(1, timeout=5_000)
        took = time.monotonic() - started
        print(f"live: the released time came back after {took:.2f} s")
        assert took <= 1.0
    finally:
        for made in contexts:
            made.close()
