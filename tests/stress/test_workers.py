"""Production job processing: `slotwise serve` with SLOTWISE_JOBS=external and two
`slotwise worker` processes on one PostgreSQL. Both workers are killed with SIGKILL while a
meeting-link job is in flight (the meeting API answers slowly); a fresh worker finishes the
work: every booking is confirmed with exactly one link and nothing the customer sees repeats.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from slotwise.testing.api import Org, resource, service, signup
from slotwise.testing.fakes.meetings import FakeZoomServer
from slotwise.testing.stress.servers import (
    PrivatePostgres,
    Server,
    WorkerProcess,
    private_postgres_database,
)

ZOOM_TOKEN = "zoom-stress-token"
BOOKINGS = 6


@pytest.fixture
def zoom() -> Iterator[FakeZoomServer]:
    with FakeZoomServer(token=ZOOM_TOKEN) as server:
        yield server


def _until(condition: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_workers_killed_mid_job_and_restarted_repeat_nothing_the_customer_sees(
        private_postgres: PrivatePostgres, zoom: FakeZoomServer) -> None:
    zoom.delay_s = 2.0  # the meeting is made at once; its answer comes late: kill then
    env = {"SLOTWISE_JOBS": "external", "SLOTWISE_MEETING_HTTP_BASE_URL": zoom.base_url,
           "SLOTWISE_MEETING_HTTP_TOKEN": ZOOM_TOKEN, "SLOTWISE_STUCK_JOB_AFTER_S": "5",
           "SLOTWISE_JOB_BACKOFF_S": "1", "SLOTWISE_LOG_LEVEL": "INFO"}
    with private_postgres_database(private_postgres) as url, \
            Server(url, extra_env=env) as server, httpx.Client(base_url=server.base_url,
                                                               timeout=30) as client:
        org = signup(client, timezone="UTC")
        resource(org, weekly=[{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                               "start": "00:00", "end": "24:00"}])
        svc = service(org, meeting_provider="http")
        booking_ids = [_book(org, svc["id"], n) for n in range(BOOKINGS)]
        assert all(_status(org, b) == "pending" for b in booking_ids)

        first, second = WorkerProcess(server).start(), WorkerProcess(server).start()
        try:
            _until(lambda: any(c.method == "POST" for c in zoom.calls), 60,
                   "a worker to call the meeting API")
            first.kill()
            second.kill()  # whichever held the job, it is dead mid-call now
        finally:
            first.stop()
            second.stop()
        confirmed_before = sum(_status(org, b) == "confirmed" for b in booking_ids)
        assert confirmed_before < BOOKINGS

        with WorkerProcess(server) as fresh:
            _until(lambda: all(_status(org, b) == "confirmed" for b in booking_ids), 120,
                   f"every booking to be confirmed:\n{fresh.log()[-3000:]}")
        bookings = [org.get(f"/v1/bookings/{b}").json() for b in booking_ids]

    links = [b["meeting"]["join_url"] for b in bookings]
    assert len(set(links)) == BOOKINGS  # one link each, none shared
    made = {m["join_url"] for m in zoom.meetings.values()}
    assert set(links) <= made
    assert len(made) == BOOKINGS  # a repeated create was recognised, not made twice
    assert all(b["failure_reason"] is None for b in bookings)


def _book(org: Org, service_id: str, n: int) -> str:
    day = datetime.now(UTC).date() + timedelta(days=7 + n)  # the server runs on the real clock
    answer = org.post("/v1/bookings", {
        "service_id": service_id, "start": f"{day.isoformat()}T10:00:00Z",
        "customer": {"name": f"Customer {n}", "email": f"c{n}@example.com"}})
    assert answer.status_code == 201, answer.text
    booking_id: str = answer.json()["id"]
    return booking_id


def _status(org: Org, booking_id: str) -> str:
    status: str = org.get(f"/v1/bookings/{booking_id}").json()["status"]
    return status
