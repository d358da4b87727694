"""Browser tests' helpers: how Debian's Chromium is launched here, and screenshots written as
artifacts (under `artifacts/screenshots/`, or SLOTWISE_ARTIFACTS)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from playwright.sync_api import Page

CHROMIUM = "/usr/bin/chromium"
# Background networking off: this machine's network is closed, and Chromium's own calls
# home would be refused many at a time.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]


def artifacts() -> Path:
    return Path(os.environ.get("SLOTWISE_ARTIFACTS", "artifacts")) / "screenshots"


def screenshot(page: Page, name: str) -> Path:
    """Save the whole page as `<artifacts>/<name>.png` and return the path."""
    folder = artifacts()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
