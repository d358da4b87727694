"""`CalendarProvider` for a published ICS feed (a "subscribe by URL" calendar), read-only.

    IcsSubscription(url, email=None, timeout_s=10.0, default_zone=None, client=None)

The feed is the one calendar: `calendars()` lists it with `id` = the URL, and every call takes
that id. Each `changes` GETs the whole feed, conditionally: the token is JSON we own, `{"v": 1,
"etag": …, "last_modified": …, "keys": [event keys seen last time]}`, and its validators go
out as `If-None-Match` / `If-Modified-Since`. A 304 gives an empty, non-full ChangeSet with the
same token; a 200 a full one over the window. `busy` reads the feed (unconditionally).

`webcal://` URLs are fetched over https. Errors: connection failures, timeouts, 408, 429 and
5xx are `CalendarUnavailable`; 401/403 `CalendarAuthError`; other statuses and a body that is
not a calendar `CalendarRejected`; writes `CalendarRejected("read-only")`.
"""

from __future__ import annotations

import json
from datetime import datetime
from types import TracebackType
from typing import Any, Self

import httpx

from slotwise.domain.calendars import (
    CalendarAuthError,
    CalendarInfo,
    CalendarRejected,
    CalendarUnavailable,
    ChangeSet,
    EventRef,
    ExternalEvent,
    OutgoingEvent,
    SyncTokenExpired,
)
from slotwise.engine.intervals import TimeRange, merge
from slotwise.integrations.calendars import ics
from slotwise.integrations.meetings.http import retry_after_s

TOKEN_VERSION = 1
TRANSIENT_STATUSES = frozenset({408, 425, 429})


class IcsSubscription:
    kind = "ics"

    def __init__(self, url: str, email: str | None = None, *, timeout_s: float = 10.0,
                 default_zone: str | None = None, client: httpx.Client | None = None) -> None:
        self.url = "https://" + url.removeprefix("webcal://") if url.startswith(
            "webcal://") else url
        self.email = email
        self.default_zone = default_zone
        self._timeout = httpx.Timeout(timeout_s)
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client(
            follow_redirects=True, headers={"User-Agent": "slotwise-calendar",
                                            "Accept": "text/calendar"})

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def calendars(self) -> list[CalendarInfo]:
        calendar = ics.load(self._get({}).content)
        name = calendar.get("X-WR-CALNAME")
        zone = calendar.get("X-WR-TIMEZONE")
        return [CalendarInfo(id=self.url, name=str(name) if name else self.url,
                             timezone=str(zone) if zone else None, primary=True,
                             writable=False)]

    def busy(self, calendar_id: str, start: datetime, end: datetime
             ) -> list[tuple[datetime, datetime]]:
        events = self._events(self._get({}), start, end)
        ranges = merge(TimeRange(e.start, e.end) for e in events if e.busy)
        return [(r.start, r.end) for r in ranges]

    def changes(self, calendar_id: str, token: str | None, start: datetime, end: datetime
                ) -> ChangeSet:
        state = _read_token(token) if token is not None else {}
        headers = {}
        if state.get("etag"):
            headers["If-None-Match"] = state["etag"]
        if state.get("last_modified"):
            headers["If-Modified-Since"] = state["last_modified"]
        response = self._get(headers)
        if response.status_code == 304:
            return ChangeSet((), token=token)
        events = self._events(response, start, end)
        return ChangeSet(tuple(events), full=True, token=_write_token(
            response.headers.get("ETag"), response.headers.get("Last-Modified"),
            [e.key for e in events]))

    def create_event(self, calendar_id: str, event: OutgoingEvent) -> EventRef:
        raise CalendarRejected("read-only: an ICS subscription takes no events")

    def update_event(self, calendar_id: str, ref: EventRef, event: OutgoingEvent) -> EventRef:
        raise CalendarRejected("read-only: an ICS subscription takes no events")

    def delete_event(self, calendar_id: str, ref: EventRef) -> None:
        raise CalendarRejected("read-only: an ICS subscription takes no events")

    def _events(self, response: httpx.Response, start: datetime, end: datetime
                ) -> list[ExternalEvent]:
        return ics.parse_events(response.content, start, end, default_zone=self.default_zone,
                                own_email=self.email)

    def _get(self, headers: dict[str, str]) -> httpx.Response:
        try:
            response = self._client.get(self.url, headers=headers, timeout=self._timeout)
        except httpx.TimeoutException as exc:
            raise CalendarUnavailable(f"GET {self.url}: timed out ({exc!r})") from exc
        except httpx.TransportError as exc:
            raise CalendarUnavailable(f"GET {self.url}: {exc!r}") from exc
        status = response.status_code
        if status in (200, 304):
            return response
        detail = f"GET {self.url}: {status}"
        if status >= 500 or status in TRANSIENT_STATUSES:
            raise CalendarUnavailable(detail, retry_after_s(response.headers.get("Retry-After")))
        if status in (401, 403):
            raise CalendarAuthError(detail)
        raise CalendarRejected(detail, status)


def _read_token(token: str) -> dict[str, Any]:
    try:
        state = json.loads(token)
    except ValueError as exc:
        raise SyncTokenExpired(f"not an ICS subscription token: {token[:80]!r}") from exc
    if not isinstance(state, dict) or state.get("v") != TOKEN_VERSION:
        raise SyncTokenExpired(f"not an ICS subscription token: {token[:80]!r}")
    return state


def _write_token(etag: str | None, last_modified: str | None, keys: list[str]) -> str:
    return json.dumps({"v": TOKEN_VERSION, "etag": etag, "last_modified": last_modified,
                       "keys": sorted(keys)}, separators=(",", ":"))
