"""The harness itself: Debian's Chromium opens a page of the running server, and a
screenshot lands among the artifacts."""

from __future__ import annotations

from playwright.sync_api import Page

from slotwise.testing.browser import screenshot


def test_chromium_renders_a_page_of_the_server(page: Page) -> None:
    page.goto("/static/app.css")
    assert "--accent" in page.content()
    shot = screenshot(page, "harness")
    assert shot.stat().st_size > 0
