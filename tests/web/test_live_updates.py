"""Live updates: `GET /v1/public/{org}/live` streams a `slots` event when a booking takes or
frees time, fed from the outbox and fanned out in process (SQLite), through PostgreSQL
LISTEN/NOTIFY, or through Redis pub/sub — across server processes within a second."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import secrets
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Browser

from slotwise.api.app import create_app
from slotwise.app.live import QUEUE_SIZE, LiveUpdates, StreamDropped
from slotwise.bootstrap import Container
from slotwise.integrations.live import InProcessLiveBus
from slotwise.testing import api
from slotwise.testing.browser import screenshot
from slotwise.testing.databases import fresh_postgres_database
from slotwise.testing.serve import slotwise_serve

T = TypeVar("T")

# `timed`: they hold latencies to a second, so `make test` runs them after the parallel
# suite, alone (beside the stress runs a loaded machine took up to 2 s).
pytestmark = [pytest.mark.xdist_group("web-live"), pytest.mark.timed]

NOW = "2027-03-01T12:00:00Z"
REDIS_URL = "redis://127.0.0.1:6379/0"
START = "2027-03-02T15:00:00Z"  # Tuesday 10:00 in New York


async def read_stream(app: FastAPI, path: str, *, until: Callable[[str], bool],
                      while_open: Callable[[], Any] | None = None,
                      timeout_s: float = 5.0) -> tuple[int, dict[str, str], str]:
    """Drive the ASGI app by hand (TestClient would wait for an endless body): read the
    response until `until(body)` holds, running `while_open` (in a thread) once the
    headers are in, then disconnect."""
    done = asyncio.Event()
    started: dict[str, Any] = {}
    body: list[str] = []
    first = True

    async def receive() -> dict[str, Any]:
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            started.update(status=message["status"], headers={
                k.decode(): v.decode() for k, v in message["headers"]})
            if message["status"] != 200:
                done.set()
            elif while_open is not None:
                asyncio.get_running_loop().run_in_executor(None, while_open)
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b"").decode())
            if until("".join(body)) or not message.get("more_body", False):
                done.set()

    route, _, query = path.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": route, "raw_path": route.encode(),
             "query_string": query.encode(), "root_path": "", "server": ("test", 80),
             "client": ("127.0.0.1", 1), "headers": [(b"host", b"test")], "app": app}
    await asyncio.wait_for(app(scope, receive, send), timeout_s)
    return started["status"], started["headers"], "".join(body)


def _delete_keys(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def slots_events(body: str) -> list[dict[str, Any]]:
    return [json.loads(block.split("data: ", 1)[1]) for block in body.split("\n\n")
            if block.startswith("event: slots")]


@pytest.fixture
def live_app(container: Container) -> Iterator[tuple[FastAPI, TestClient]]:
    app = create_app(container.use_cases)
    container.start_live()
    with TestClient(app) as client:
        yield app, client


def run_apart(coroutine: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` in a thread of its own: Playwright's sync API keeps an event loop
    running in this one once a browser test has run in the same worker."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def test_a_booking_reaches_the_stream_of_its_service(
        live_app: tuple[FastAPI, TestClient], container: Container) -> None:
    app, client = live_app
    org = api.signup(client)
    practitioner = api.resource(org, name="Dr Who")
    service = api.service(org, name="Checkup")
    other = api.service(org, name="Elsewhere",
                        requirements=[{"kind": "room"}])  # draws on no resource of ours

    def book_and_relay() -> None:
        deadline = time.monotonic() + 5
        while container.use_cases.live.open_streams() < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        api.book(org, service["id"], START)
        container.use_cases.relay()

    async def both() -> tuple[Any, Any]:
        mine = read_stream(app, f"/v1/public/{org.slug}/live?service={service['slug']}",
                           until=lambda body: "event: slots" in body,
                           while_open=book_and_relay)
        theirs = read_stream(app, f"/v1/public/{org.slug}/live?service={other['slug']}",
                             until=lambda body: "event: slots" in body, timeout_s=2.0)
        return await asyncio.gather(mine, theirs, return_exceptions=True)

    mine, theirs = run_apart(both())
    status, headers, body = mine
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    assert body.startswith("retry: ")
    [event] = slots_events(body)
    assert event == {"type": "slots", "service_ids": [service["id"]],
                     "resource_ids": [practitioner["id"]], "start": START,
                     "end": "2027-03-02T16:00:00Z"}
    assert isinstance(theirs, TimeoutError)  # the other service's stream heard nothing
    assert container.use_cases.live.open_streams() == 0


def test_an_unknown_organisation_or_service_is_404(
        live_app: tuple[FastAPI, TestClient]) -> None:
    _, client = live_app
    assert client.get("/v1/public/no-such-org/live").status_code == 404
    org = api.signup(client)
    assert client.get(f"/v1/public/{org.slug}/live?service=nope").status_code == 404


def test_a_stream_that_falls_behind_is_dropped_not_waited_for() -> None:
    async def scenario() -> None:
        hub = LiveUpdates(uow=None, bus=InProcessLiveBus())  # type: ignore[arg-type]
        slow = hub.open("org", "svc")
        other = hub.open("org", "elsewhere", frozenset({"room"}))
        message = {"type": "slots", "service_ids": ["svc"], "resource_ids": ["dr"]}
        for _ in range(QUEUE_SIZE + 1):
            hub.deliver("org", message)
        hub.deliver("another-org", message)
        await asyncio.sleep(0.05)
        with pytest.raises(StreamDropped):
            await slow.next(1.0)
        assert await other.next(0.05) is None

    run_apart(scenario())


EVENT_SOURCE_PAGE = """<!doctype html><title>live</title><ul id="log"></ul><script>
window.received = []; window.ready = false;
const source = new EventSource(%s);
source.addEventListener("open", () => { window.ready = true; });
source.addEventListener("slots", (e) => {
  window.received.push({at: Date.now(), data: JSON.parse(e.data)});
  const li = document.createElement("li"); li.textContent = e.data;
  document.getElementById("log").append(li);
});
</script>"""


@pytest.mark.parametrize("fan_out", ["postgresql", "redis"])
def test_a_booking_through_one_server_reaches_a_browser_on_another_within_a_second(
        fan_out: str, browser: Browser, tmp_path: Path) -> None:
    with ExitStack() as stack:
        url = stack.enter_context(fresh_postgres_database("slotwise_live"))
        settings = {"SLOTWISE_DATABASE_URL": url, "SLOTWISE_NOW": NOW,
                    "SLOTWISE_PASSWORD_HASH_TIME_COST": "1",
                    "SLOTWISE_PASSWORD_HASH_MEMORY_KIB": "1024"}
        prefix = f"slotwise_live_{secrets.token_hex(6)}"
        settings["SLOTWISE_REDIS_KEY_PREFIX"] = prefix
        if fan_out == "redis":
            settings["SLOTWISE_REDIS_URL"] = REDIS_URL
            stack.callback(_delete_keys, prefix)
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        server_a = stack.enter_context(slotwise_serve(settings, tmp_path / "a"))
        server_b = stack.enter_context(slotwise_serve(settings, tmp_path / "b"))
        client_b = stack.enter_context(httpx.Client(base_url=server_b, timeout=30))
        org = api.signup(client_b)
        api.resource(org, name="Dr Who")
        service = api.service(org, name="Checkup")

        context = browser.new_context(base_url=server_a)
        stack.callback(context.close)
        page = context.new_page()
        page.goto("/healthz")  # the test page is then same-origin with server A
        stream = f"/v1/public/{org.slug}/live?service={service['slug']}"
        page.set_content(EVENT_SOURCE_PAGE % json.dumps(stream))
        page.wait_for_function("window.ready === true", timeout=10_000)

        sent_ms = time.time() * 1000
        api.book(org, service["id"], START)
        page.wait_for_function("window.received.length > 0", timeout=5_000)
        received = page.evaluate("window.received")
        latency_s = (received[0]["at"] - sent_ms) / 1000
        print(f"\nlive update via {fan_out}: booking POST on B → browser on A in "
              f"{latency_s * 1000:.0f} ms")
        screenshot(page, f"live-updates-{fan_out}")
        assert received[0]["data"]["service_ids"] == [service["id"]]
        assert received[0]["data"]["start"] == START
        assert latency_s <= 1.0
