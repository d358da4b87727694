"""Fakes for meeting links.

`FakeZoomServer` is a real HTTP server on 127.0.0.1 (ephemeral port, background thread) that
speaks the part of Zoom's Meetings API v2 that `integrations.meetings.HttpMeetings` uses, with
Zoom's field names and error bodies, so the adapter is tested over real sockets:

    with FakeZoomServer(token="t") as zoom:
        meetings = HttpMeetings(zoom.base_url, "t")
        zoom.fail_next(2, status=503)      # the next two requests answer 503
        zoom.delay_s = 1.0                 # every answer comes late (the work done first)
        zoom.down(); zoom.up()             # refuse connections, then serve again (same port)
        zoom.calls                         # every request received, in order

Unlike Zoom it honours `Idempotency-Key` on create (the first answer is replayed).

`FakeMeetings` is the in-memory `MeetingProvider` for fast use-case tests.
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any, Self

from slotwise.domain.meetings import (
    Meeting,
    MeetingError,
    MeetingGone,
    MeetingRequest,
)
from slotwise.testing.fakes.http import LocalServer

MEETINGS_PATH = "/v2/users/me/meetings"
MEETING_PREFIX = "/v2/meetings/"
ZOOM_TIME = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True, slots=True)
class Call:
    """One request as the server received it; `headers` keys are lower case."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True, slots=True)
class Canned:
    status: int
    body: Any  # JSON-serialisable, or bytes sent as they are
    headers: tuple[tuple[str, str], ...] = ()


class FakeZoomServer:
    """Zoom's meeting endpoints on 127.0.0.1; `meetings` is its store (by int id), open to
    tests that play the host deleting or changing a meeting in Zoom's own interface."""

    def __init__(self, token: str = "fake-zoom-token", *, host_email: str = "host@example.com"
                 ) -> None:
        self.token = token
        self.host_email = host_email
        self.host_id = secrets.token_urlsafe(16)[:22]
        self.delay_s = 0.0
        self.meetings: dict[int, dict[str, Any]] = {}
        self._calls: list[Call] = []
        self._canned: deque[Canned] = deque()
        self._idempotent: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(81_234_567_890)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: LocalServer | None = None
        self.port = 0

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What `HttpMeetings` takes, as `https://api.zoom.us/v2` would be."""
        return f"{self.root_url}/v2"

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def up(self) -> None:
        """Serve (again): on an ephemeral port the first time, on the same port after `down`."""
        if self._server is not None:
            return
        self._stopping.clear()
        self._server = LocalServer(_handler_for(self), "fake-zoom", self.port)
        self.port = self._server.port

    def down(self) -> None:
        """Stop listening: connections are refused until `up`. Delayed answers are cut short."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.stop()
        self._server = None

    def __enter__(self) -> Self:
        self.up()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.down()

    def respond_next(self, status: int, body: Any = None, *, times: int = 1,
                     headers: dict[str, str] | None = None) -> None:
        """The next `times` requests get this answer instead of being served."""
        canned = Canned(status, body, tuple((headers or {}).items()))
        with self._lock:
            self._canned.extend([canned] * times)

    def fail_next(self, n: int = 1, status: int = 503, *, retry_after: str | None = None
                  ) -> None:
        """The next `n` requests fail with `status` and a Zoom-style error body."""
        message = "Too many requests" if status == 429 else HTTPStatus(status).phrase
        self.respond_next(status, {"code": status, "message": message}, times=n,
                          headers={"Retry-After": retry_after} if retry_after else None)

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Canned:
        """Answer one request (called on the server's threads)."""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        with self._lock:
            self._calls.append(Call(method, path, headers, body))
            if self._canned:
                answer = self._canned.popleft()
            elif headers.get("authorization") != f"Bearer {self.token}":
                answer = _error(401, 124, "Invalid access token.")
            else:
                answer = self._route(method, path.split("?", 1)[0], headers, body)
        # The work is done before the wait: a create whose answer comes too late for the
        # client has still created its meeting, as on a real server.
        if self.delay_s:
            self._stopping.wait(self.delay_s)
        return answer

    def _route(self, method: str, path: str, headers: dict[str, str], body: Any) -> Canned:
        if path == MEETINGS_PATH and method == "POST":
            return self._create(headers.get("idempotency-key"), body)
        if not path.startswith(MEETING_PREFIX):
            return _error(404, 404, "Not found.")
        meeting_id = path.removeprefix(MEETING_PREFIX)
        meeting = self.meetings.get(int(meeting_id)) if meeting_id.isdigit() else None
        if meeting is None:
            return _error(404, 3001, f"Meeting does not exist: {meeting_id}.")
        if method == "GET":
            return Canned(200, meeting)
        if method == "PATCH":
            problems = _invalid(body, required=False)
            if problems:
                return _error(400, 300, "Validation Failed.", problems)
            changes = dict(body)  # the recorded call keeps the body as sent
            settings = {**meeting["settings"], **changes.pop("settings", {})}
            meeting.update(changes, settings=settings)
            return Canned(204, None)
        if method == "DELETE":
            del self.meetings[meeting["id"]]
            return Canned(204, None)
        return _error(405, 405, "Method not allowed.")

    def _create(self, key: str | None, body: Any) -> Canned:
        if key is not None and key in self._idempotent:
            return Canned(201, self._idempotent[key])
        problems = _invalid(body, required=True)
        if problems:
            return _error(400, 300, "Validation Failed.", problems)
        meeting_id = next(self._ids)
        pwd = secrets.token_urlsafe(24)
        password = secrets.token_hex(3)
        meeting = {
            "uuid": base64.b64encode(secrets.token_bytes(16)).decode(),
            "id": meeting_id,
            "host_id": self.host_id,
            "host_email": self.host_email,
            "topic": body["topic"],
            "type": body.get("type", 2),
            "status": "waiting",
            "start_time": body["start_time"],
            "duration": body["duration"],
            "timezone": body["timezone"],
            "agenda": body.get("agenda", ""),
            "created_at": datetime.now(UTC).strftime(ZOOM_TIME),
            "start_url": f"{self.root_url}/s/{meeting_id}?zak={secrets.token_urlsafe(32)}",
            "join_url": f"{self.root_url}/j/{meeting_id}?pwd={pwd}",
            "password": password,
            "h323_password": password,
            "pstn_password": password,
            "encrypted_password": pwd,
            "settings": {"host_video": False, "participant_video": False,
                         "join_before_host": False, "waiting_room": True,
                         "mute_upon_entry": False, "approval_type": 2, "audio": "both",
                         "auto_recording": "none", **body.get("settings", {})},
            "pre_schedule": False,
        }
        self.meetings[meeting_id] = meeting
        if key is not None:
            self._idempotent[key] = meeting
        return Canned(201, meeting)


def _invalid(body: Any, *, required: bool) -> list[dict[str, str]]:
    """Zoom-style field errors for a create (`required`) or an update body."""
    if not isinstance(body, dict):
        return [{"field": "", "message": "Request body must be a JSON object."}]
    checks: dict[str, Callable[[Any], bool]] = {
        "topic": lambda v: isinstance(v, str) and 0 < len(v) <= 200,
        "start_time": _is_zoom_time,
        "duration": lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0,
        "timezone": lambda v: isinstance(v, str) and bool(v),
        "settings": lambda v: isinstance(v, dict),
        "agenda": lambda v: isinstance(v, str) and len(v) <= 2000,
    }
    problems = [{"field": name, "message": f"Invalid field: {name}."}
                for name, ok in checks.items() if name in body and not ok(body[name])]
    if required:
        problems += [{"field": name, "message": f"Missing field: {name}."}
                     for name in ("topic", "start_time", "duration", "timezone")
                     if name not in body]
    return problems


def _is_zoom_time(value: Any) -> bool:
    try:
        datetime.strptime(value, ZOOM_TIME)
    except (TypeError, ValueError):
        return False
    return True


def _error(status: int, code: int, message: str, errors: list[dict[str, str]] | None = None
           ) -> Canned:
    body: dict[str, Any] = {"code": code, "message": message}
    if errors:
        body["errors"] = errors
    return Canned(status, body)


def _handler_for(fake: FakeZoomServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            answer = fake.handle(self.command, self.path, headers, raw)
            payload = b"" if answer.body is None else (
                answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode())
            try:
                self.send_response(answer.status)
                for name, value in answer.headers:
                    self.send_header(name, value)
                if payload:
                    self.send_header("Content-Type", "application/json;charset=UTF-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except ConnectionError:
                pass  # the client gave up (a timeout test): nobody is left to answer

        # http.server dispatches on these names.
        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            pass  # tests read `fake.calls`, not stderr

    return Handler


class FakeMeetings:
    """In-memory `MeetingProvider`: deduplicates creates by `request.idempotency_key`, as a
    provider honouring idempotency keys does. `fail_next(*errors)` makes the next calls raise
    them, one each."""

    def __init__(self, name: str = "fake") -> None:
        self.name = name
        self.meetings: dict[str, Meeting] = {}
        self.calls: list[tuple[str, str]] = []  # (method, booking id or external id)
        self._failures: deque[MeetingError] = deque()
        self._by_key: dict[str, Meeting] = {}
        self._ids = itertools.count(1)

    def fail_next(self, *errors: MeetingError) -> None:
        self._failures.extend(errors)

    def create(self, request: MeetingRequest) -> Meeting:
        self._call("create", request.booking_id)
        if request.idempotency_key in self._by_key:
            return self._by_key[request.idempotency_key]
        external_id = f"m{next(self._ids)}"
        meeting = Meeting(provider=self.name, external_id=external_id,
                          join_url=f"https://meet.example/{external_id}",
                          host_url=f"https://meet.example/{external_id}?host=1", passcode="1234",
                          data=_schedule(request))
        self.meetings[external_id] = self._by_key[request.idempotency_key] = meeting
        return meeting

    def update(self, meeting: Meeting, request: MeetingRequest) -> Meeting:
        self._call("update", meeting.external_id)
        if meeting.external_id not in self.meetings:
            raise MeetingGone(f"meeting {meeting.external_id} does not exist", 404)
        moved = replace(self.meetings[meeting.external_id], data=_schedule(request))
        self.meetings[meeting.external_id] = moved
        return moved

    def delete(self, meeting: Meeting) -> None:
        self._call("delete", meeting.external_id)
        self.meetings.pop(meeting.external_id, None)

    def _call(self, method: str, ref: str) -> None:
        self.calls.append((method, ref))
        if self._failures:
            raise self._failures.popleft()


def _schedule(request: MeetingRequest) -> dict[str, Any]:
    return {"topic": request.title, "start_time": request.start.strftime(ZOOM_TIME),
            "duration": request.duration_min, "timezone": request.timezone}
