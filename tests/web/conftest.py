"""The browser tests' harness: Debian's Chromium driven by Playwright, against a real
`slotwise serve` (clock pinned) per backend, with a screenshot of every page a test names
written under `artifacts/screenshots/` (SLOTWISE_ARTIFACTS moves it;
`slotwise.testing.browser.screenshot`).

Chromium must be at /usr/bin/chromium (`scripts/chromium.sh`, run by `make check`); it is
never downloaded. Its background networking is off: this machine's network is closed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from slotwise.testing.browser import CHROMIUM, CHROMIUM_ARGS
from slotwise.testing.databases import PostgresUnavailable, empty_database
from slotwise.testing.serve import ServerFailed, free_port, slotwise_serve

NOW = "2027-03-01T12:00:00Z"  # a Monday; US daylight saving time starts 2027-03-14



@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is required at {CHROMIUM}: run scripts/chromium.sh")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site_database_url(request: pytest.FixtureRequest,
                      tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    try:
        with empty_database(request.param, tmp_path_factory.mktemp("web-sqlite"),
                            "slotwise_web") as url:
            yield url
    except PostgresUnavailable as error:
        pytest.fail(str(error))


@pytest.fixture(scope="module")
def site(site_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`slotwise serve` on a free port, clock pinned at NOW; yields its base URL."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    settings = {"SLOTWISE_DATABASE_URL": site_database_url, "SLOTWISE_NOW": NOW,
                "SLOTWISE_PUBLIC_BASE_URL": base_url,
                "SLOTWISE_PASSWORD_HASH_TIME_COST": "1",
                "SLOTWISE_PASSWORD_HASH_MEMORY_KIB": "1024"}
    try:
        with slotwise_serve(settings, tmp_path_factory.mktemp("web-server"), port=port) as url:
            yield url
    except ServerFailed as error:
        pytest.fail(str(error))


@pytest.fixture
def api(site: str) -> Iterator[httpx.Client]:
    """The same server's API, to set up what the pages show (`slotwise.testing.api`)."""
    with httpx.Client(base_url=site, timeout=30.0) as client:
        yield client


@pytest.fixture
def context(browser: Browser, site: str) -> Iterator[BrowserContext]:
    """A fresh browser profile in New York, in English, against the site."""
    made = browser.new_context(base_url=site, locale="en-US",
                               timezone_id="America/New_York")
    yield made
    made.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()

