"""Meetings through an HTTP API shaped like Zoom's Meetings API (v2), over sync httpx.

    POST   {base}/users/me/meetings   {topic, type: 2, start_time, duration, timezone, agenda?,
                                       settings: {join_before_host, waiting_room}}
                                      → 201 {id, join_url, start_url, password, ...}
    PATCH  {base}/meetings/{id}       → 204, then GET {base}/meetings/{id} → 200 (read back)
    DELETE {base}/meetings/{id}       → 204; 404 means already gone, which is success

Every request carries `Authorization: Bearer <token>`; creates carry `Idempotency-Key:
<booking_id>@<start>` (`MeetingRequest.idempotency_key`), which providers that support it use
to return the first meeting to a retry.

Pointing it at Zoom: `HttpMeetings("https://api.zoom.us/v2", token, name="zoom")` with a
Server-to-Server OAuth app holding the `meeting:write:meeting` and `meeting:read:meeting`
scopes (`meeting:write:admin` on older apps). Its access tokens expire after an hour: pass
`token` as a callable that returns a current one (it is called per request). Zoom ignores
`Idempotency-Key`, so a create retried after a lost answer makes a second meeting (see
`MeetingProvider.create`). Google Meet (a Calendar event with `conferenceData`) and Microsoft
Teams (Graph `onlineMeetings`) have other paths and payloads: each needs a thin variant that
keeps this module's error mapping.

Errors: transport failures, timeouts, 408, 409 (an idempotent request still in flight), 425,
429 and 5xx are `MeetingUnavailable` (with `Retry-After` honoured, in seconds or as an HTTP
date); every other 4xx, a redirect and an answer without a usable `id` and `join_url` are
`MeetingRejected`; 404 on update is `MeetingGone`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from slotwise.domain.meetings import (
    Meeting,
    MeetingGone,
    MeetingRejected,
    MeetingRequest,
    MeetingUnavailable,
)

TRANSIENT_STATUSES = frozenset({408, 409, 425, 429})
# The answer's fields kept in `Meeting.data`; the rest is either in Meeting's own fields or noise.
KEPT_FIELDS = ("id", "uuid", "host_id", "topic", "start_time", "duration", "timezone")


class HttpMeetings:
    """`MeetingProvider` for a Zoom-shaped API at `base_url` (e.g. `https://api.zoom.us/v2`).

    `client` lets a caller share a connection pool (or a test inject a transport); a client
    made here is closed by `close()` or by leaving the `with` block.
    """

    def __init__(self, base_url: str, token: str | Callable[[], str], *, timeout_s: float = 5.0,
                 client: httpx.Client | None = None, name: str = "http",
                 join_before_host: bool = False, waiting_room: bool = True) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = httpx.Timeout(timeout_s)
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client(
            follow_redirects=False, headers={"User-Agent": "slotwise-meetings"})
        self._settings = {"join_before_host": join_before_host, "waiting_room": waiting_room}

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def create(self, request: MeetingRequest) -> Meeting:
        body = {**self._schedule(request), "type": 2, "settings": self._settings}
        response = self._send("POST", "/users/me/meetings", json=body,
                              headers={"Idempotency-Key": request.idempotency_key})
        self._raise_for_status(response)
        return self._meeting(response)

    def update(self, meeting: Meeting, request: MeetingRequest) -> Meeting:
        path = self._meeting_path(meeting)
        response = self._send("PATCH", path, json=self._schedule(request))
        self._raise_for_status(response, gone_is=MeetingGone)
        # PATCH answers 204 without a body; the read-back returns what the provider now holds
        # (a fresh host link, a changed passcode) and proves the change took.
        response = self._send("GET", path)
        self._raise_for_status(response, gone_is=MeetingGone)
        return self._meeting(response)

    def delete(self, meeting: Meeting) -> None:
        response = self._send("DELETE", self._meeting_path(meeting))
        if response.status_code != 404:
            self._raise_for_status(response)

    def _schedule(self, request: MeetingRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "topic": request.title,
            "start_time": request.start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration": request.duration_min,
            "timezone": request.timezone,
        }
        if request.description:
            body["agenda"] = request.description
        return body

    def _meeting_path(self, meeting: Meeting) -> str:
        if meeting.provider != self.name:
            raise MeetingRejected(f"not a {self.name} meeting: {meeting.provider!r}")
        return f"/meetings/{quote(meeting.external_id, safe='')}"

    def _send(self, method: str, path: str, *, json: Any = None,
              headers: dict[str, str] | None = None) -> httpx.Response:
        token = self._token() if callable(self._token) else self._token
        try:
            return self._client.request(
                method, self.base_url + path, json=json, timeout=self._timeout,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json",
                         **(headers or {})})
        except httpx.TimeoutException as exc:
            raise MeetingUnavailable(f"{method} {path}: timed out ({exc!r})") from exc
        except httpx.TransportError as exc:
            raise MeetingUnavailable(f"{method} {path}: {exc!r}") from exc

    def _raise_for_status(self, response: httpx.Response,
                          gone_is: type[MeetingRejected] = MeetingRejected) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        request = response.request
        detail = f"{request.method} {request.url.path}: {status} {_message(response)}"
        if status >= 500 or status in TRANSIENT_STATUSES:
            raise MeetingUnavailable(detail, retry_after_s(response.headers.get("Retry-After")))
        if status == 404:
            raise gone_is(detail, status)
        raise MeetingRejected(detail, status)

    def _meeting(self, response: httpx.Response) -> Meeting:
        try:
            answer = response.json()
        except ValueError as exc:
            raise MeetingRejected(f"answer is not JSON: {response.text[:200]!r}",
                                  response.status_code) from exc
        if not isinstance(answer, dict):
            raise MeetingRejected(f"answer is not an object: {answer!r:.200}", response.status_code)
        meeting_id, join_url = answer.get("id"), answer.get("join_url")
        if isinstance(meeting_id, bool) or not isinstance(meeting_id, int | str) or not str(
                meeting_id):
            raise MeetingRejected(f"answer has no meeting id: {answer!r:.200}",
                                  response.status_code)
        if not isinstance(join_url, str) or not join_url.startswith(("https://", "http://")):
            raise MeetingRejected(f"answer has no join_url: {answer!r:.200}",
                                  response.status_code)
        start_url, password = answer.get("start_url"), answer.get("password")
        return Meeting(
            provider=self.name, external_id=str(meeting_id), join_url=join_url,
            host_url=start_url if isinstance(start_url, str) and start_url else None,
            passcode=password if isinstance(password, str) and password else None,
            data={key: answer[key] for key in KEPT_FIELDS if key in answer},
        )


def retry_after_s(value: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delay-seconds or an HTTP date); None when
    absent or unreadable. Never negative."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _message(response: httpx.Response) -> str:
    """The provider's own explanation: Zoom's `{code, message}`, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and "message" in body:
        return f"{body.get('code', '')} {body['message']}".strip()
    return str(body)[:200]
