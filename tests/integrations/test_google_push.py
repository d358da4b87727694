"""Google Calendar end to end in process (its HTTP mocks cannot cross into a server
subprocess): a connection synced in full from recorded answers, its push channel opened, then
a notification posted to the webhook route leads to an incremental sync (the recorded
`events_incremental.json`) and the slot it covers disappears within 5 s, on SQLite and on
PostgreSQL with their real job engines. A wrong channel token is refused and syncs nothing.

The recorded answers are routed by request (not served in order), since the worker's sync
and channel jobs may run in either order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from googleapiclient.http import HttpMockSequence

from slotwise.api.app import create_app
from slotwise.app.calendar_connections import ConnectionFields
from slotwise.app.clock import FrozenClock
from slotwise.bootstrap import Container, build
from slotwise.domain.calendars import CalendarConnection
from slotwise.domain.model import Principal, Role
from slotwise.integrations.calendars.google import GoogleCalendar
from slotwise.settings import Settings
from slotwise.testing.api import availability, resource, service, signup
from slotwise.testing.workers import running, wait_for
from slotwise.worker.tasks import registry

DATA = Path(__file__).parent / "data" / "google"
CALENDAR = "ana@example.com"
CREDENTIALS = {"access_token": "ya29.valid", "refresh_token": "1//refresh",
               "expires_at": "2099-01-01T00:00:00+00:00"}
# "Lunch with Ben", Tuesday 12:30–13:30 in Berlin, arrives with the incremental answer.
LUNCH_SLOT = "2027-03-02T11:00:00Z"
TUESDAY = ("2027-03-02T00:00:00Z", "2027-03-03T00:00:00Z")
TARGET_S = 5.0

pytestmark = pytest.mark.xdist_group("google-push")


class RecordedGoogle:
    """Google's Calendar API as recorded answers, chosen by the request: the calendar list,
    the two pages of a full sync, `events.watch`, and an incremental page that is empty until
    `changed` is set (then `events_incremental.json`)."""

    def __init__(self) -> None:
        self.changed = threading.Event()
        self.incremental: list[str] = []
        self._lock = threading.Lock()

    def request(self, uri: str, method: str = "GET", body: Any = None,
                headers: Any = None, **kwargs: Any) -> Any:
        parts = urlsplit(uri)
        query = parse_qs(parts.query)
        if parts.path.endswith("/users/me/calendarList"):
            name = "calendar_list.json"
        elif parts.path.endswith("/events/watch"):
            name = "watch.json"
        elif "syncToken" in query:
            with self._lock:
                self.incremental.append(query["syncToken"][0])
            name = "events_incremental.json" if self.changed.is_set() else "__nothing__"
        elif "pageToken" in query:
            name = "events_full_page2.json"
        else:
            name = "events_full_page1.json"
        answer = ('{"kind": "calendar#events", "items": [], "nextSyncToken": "unchanged"}'
                  if name == "__nothing__" else (DATA / name).read_text())
        return HttpMockSequence([({"status": "200"}, answer)]).request(
            uri, method, body, headers, **kwargs)


@pytest.fixture
def google() -> RecordedGoogle:
    return RecordedGoogle()


@pytest.fixture
def container(database_url: str, clock: FrozenClock, google: RecordedGoogle
              ) -> Iterator[Container]:
    settings = Settings(database_url=database_url, database_pool_size=4,
                        password_hash_time_cost=1, password_hash_memory_kib=1024,
                        calendar_push_base_url="https://slotwise.example")
    built = build(settings, clock=clock, calendar_providers={
        "google": lambda connection, save: GoogleCalendar(
            connection.credentials, "client-id", "client-secret", save, http=google)})
    yield built
    built.close()


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container.use_cases)) as test_client:
        yield test_client


def watched(container: Container, org_id: str, connection_id: str
            ) -> CalendarConnection | None:
    with container.uow() as uow:
        found = uow.calendars.get(org_id, connection_id)
    return found if found is not None and found.channel is not None \
        and found.last_success_at is not None else None


def test_a_push_notification_blocks_the_slot_within_five_seconds(
        client: TestClient, container: Container, google: RecordedGoogle) -> None:
    org = signup(client, timezone="Europe/Berlin")
    practitioner = resource(org)
    svc = service(org)
    owner = Principal(org_id=org.id, user_id="usr_test", role=Role.OWNER)
    connection = container.use_cases.calendars.connect(owner, ConnectionFields(
        resource_id=practitioner["id"], provider="google", calendar_id=CALENDAR,
        credentials=CREDENTIALS))
    jobs = replace(registry(container.use_cases), periodic=())
    with running(container, jobs):
        wait_for(lambda: watched(container, org.id, connection.id) is not None)
        current = watched(container, org.id, connection.id)
        assert current is not None and current.channel is not None
        slots = lambda: [s["start"] for s in availability(org, svc["id"], *TUESDAY)]  # noqa: E731
        assert LUNCH_SLOT in slots()
        headers = {"X-Goog-Channel-ID": current.channel.id,
                   "X-Goog-Resource-ID": current.channel.resource_id or "o3hgv1538sdjfh",
                   "X-Goog-Resource-State": "exists", "X-Goog-Message-Number": "2"}

        forged = client.post("/v1/calendars/google/notifications",
                             headers={**headers, "X-Goog-Channel-Token": "forged"})
        assert forged.status_code == 403
        time.sleep(1)
        assert google.incremental == []  # refused: no sync followed

        google.changed.set()
        started = time.monotonic()
        answer = client.post("/v1/calendars/google/notifications",
                             headers={**headers, "X-Goog-Channel-Token": current.channel.token})
        assert answer.status_code == 200
        wait_for(lambda: LUNCH_SLOT not in slots(), timeout_s=15)
        took = time.monotonic() - started
    print(f"\nGoogle: notification to slot gone in {took:.2f} s (target {TARGET_S:.0f} s)")
    assert took <= TARGET_S
    assert len(google.incremental) == 1
