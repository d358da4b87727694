"""Lighthouse 12 scores of the pages people use: the public booking page and the admin
calendar, next to the machine's ceiling (a minimal static page scored the same way, in the
same run), on Lighthouse's mobile default and its desktop preset. Targets: performance,
accessibility and best practices ≥ 95.

    .venv/bin/python bench/lighthouse.py [--runs 3] [--form-factor mobile|desktop|both]

Lighthouse is installed with npm on first use into ~/.cache/slotwise-bench (never committed)
and drives Debian's Chromium (/usr/bin/chromium). The server is a real `slotwise serve` on a
fresh SQLite file with the demo clinic (`slotwise.demo`) and the clock pinned; scores are the
median of `--runs` runs per page.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from slotwise.bootstrap import build
from slotwise.demo import build_clinic
from slotwise.settings import Settings
from slotwise.testing.browser import CHROMIUM
from slotwise.testing.serve import slotwise_serve

NOW = "2027-03-01T12:00:00Z"
DAY = "2027-03-02"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "slotwise-bench"
LIGHTHOUSE = CACHE / "node_modules" / ".bin" / "lighthouse"
CATEGORIES = ("performance", "accessibility", "best-practices")
TARGET = 95
CHROME_FLAGS = ("--headless=new --no-sandbox --disable-gpu --disable-background-networking "
                "--disable-component-update --disable-sync --no-first-run --disable-quic")
CEILING_PAGE = b"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="description" content="The ceiling: the least a page can be.">
<title>Ceiling</title></head><body><main><h1>Ceiling</h1><p>Nothing else.</p></main>
</body></html>"""


def ensure_lighthouse() -> Path:
    if not LIGHTHOUSE.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        print(f"installing lighthouse@12 into {CACHE} ...", file=sys.stderr)
        subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix",
                        str(CACHE), "lighthouse@12"], check=True)
    return LIGHTHOUSE


def score(url: str, runs: int, form_factor: str, headers: dict[str, str] | None = None
          ) -> dict[str, float]:
    """Median score per category over `runs` Lighthouse runs: "mobile" is Lighthouse's
    default (a mid-range phone on a throttled 4G link), "desktop" its desktop preset."""
    found: dict[str, list[float]] = {c: [] for c in CATEGORIES}
    with tempfile.TemporaryDirectory(prefix="slotwise-lh-") as folder:
        for run in range(runs):
            report = Path(folder) / f"report-{run}.json"
            command = [str(LIGHTHOUSE), url, "--quiet", "--output=json",
                       f"--output-path={report}", f"--chrome-path={CHROMIUM}",
                       f"--chrome-flags={CHROME_FLAGS}",
                       f"--only-categories={','.join(CATEGORIES)}"]
            if form_factor == "desktop":
                command.append("--preset=desktop")
            if headers:
                command.append(f"--extra-headers={json.dumps(headers)}")
            subprocess.run(command, check=True, env={**os.environ, "CHROME_PATH": CHROMIUM})
            categories = json.loads(report.read_text())["categories"]
            for name in CATEGORIES:
                found[name].append(round(100 * (categories[name]["score"] or 0)))
    return {name: statistics.median(values) for name, values in found.items()}


@contextmanager
def ceiling_server() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(CEILING_PAGE)))
            self.end_headers()
            self.wfile.write(CEILING_PAGE)

        def log_message(self, format: str, *args: object) -> None:
            return  # quiet: the bench prints its own figures

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


def admin_cookie(base_url: str, email: str, password: str) -> str:
    """The session cookie the admin login sets, as a Cookie header value."""
    with httpx.Client(base_url=base_url, follow_redirects=False) as client:
        form = client.get("/admin/login")
        csrf = _hidden(form.text, "csrf")
        answer = client.post("/admin/login", data={"email": email, "password": password,
                                                   **({"csrf": csrf} if csrf else {})})
        if answer.status_code >= 400:
            raise SystemExit(f"admin login failed: {answer.status_code} {answer.text[:200]}")
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        board = client.get("/admin", headers={"Cookie": cookie})
        if board.status_code != 200 or "/admin/login" in str(board.url):
            raise SystemExit(f"not signed in: /admin answered {board.status_code}")
        return cookie


def _hidden(html: str, name: str) -> str | None:
    marker = f'name="{name}" value="'
    start = html.find(marker)
    if start < 0:
        return None
    start += len(marker)
    return html[start:html.index('"', start)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--form-factor", choices=("mobile", "desktop", "both"), default="both")
    args = parser.parse_args()
    ensure_lighthouse()
    with tempfile.TemporaryDirectory(prefix="slotwise-lh-db-") as folder:
        database = f"sqlite:///{folder}/slotwise.db"
        seeded = build(Settings(database_url=database, now=NOW, password_hash_time_cost=1,
                                password_hash_memory_kib=1024), migrate=True)
        clinic = build_clinic(seeded.use_cases)
        service_slug = clinic.services[0].slug
        seeded.close()
        settings = {"SLOTWISE_DATABASE_URL": database, "SLOTWISE_NOW": NOW,
                    "SLOTWISE_LOG_JSON": "true"}
        with slotwise_serve(settings, Path(folder)) as base_url, ceiling_server() as ceiling:
            pages = {
                "ceiling (static page)": (ceiling, None),
                "booking page": (f"{base_url}/{clinic.slug}/{service_slug}?day={DAY}", None),
                "admin calendar": (f"{base_url}/admin?date={DAY}", {"Cookie": admin_cookie(
                    base_url, clinic.owner_email, clinic.password)}),
            }
            factors = ("mobile", "desktop") if args.form_factor == "both" \
                else (args.form_factor,)
            failing = False
            for factor in factors:
                print(f"Lighthouse 12, {factor}, median of {args.runs} runs; target "
                      f"≥ {TARGET} in each category")
                print(f"{'page':<24}" + "".join(f"{c:>16}" for c in CATEGORIES))
                for name, (url, headers) in pages.items():
                    scores = score(url, args.runs, factor, headers)
                    print(f"{name:<24}" + "".join(f"{scores[c]:>16.0f}" for c in CATEGORIES))
                    failing |= name != "ceiling (static page)" and min(scores.values()) < TARGET
    if failing:
        print("below target", file=sys.stderr)


if __name__ == "__main__":
    main()
