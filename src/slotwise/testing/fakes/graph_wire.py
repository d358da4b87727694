"""Microsoft Graph's wire format as the fake Graph speaks it: the stored event and how it is
rendered, error bodies, times, the opaque state inside delta links, and writing an answer."""

from __future__ import annotations

import base64
import json
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    path: str  # with the query string
    headers: dict[str, str]  # names lower-cased
    body: bytes


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: Any = None  # JSON-serialisable, or bytes sent as they are
    content_type: str = "application/json"


@dataclass(slots=True)
class StoredEvent:
    id: str
    calendar_id: str
    ical_uid: str
    subject: str
    start: datetime
    end: datetime
    seq: int
    all_day: bool = False
    show_as: str = "busy"
    response: str = "organizer"
    cancelled: bool = False
    transaction_id: str | None = None
    body: str = ""
    location: str = ""
    extended: dict[str, str] = field(default_factory=dict)
    deleted: bool = False


def render_event(event: StoredEvent, *, extended: bool = True) -> dict[str, Any]:
    """An event as Graph answers it; delta answers carry no extended properties."""
    rendered: dict[str, Any] = {
        "@odata.etag": f'W/"{event.seq}"', "id": event.id, "changeKey": str(event.seq),
        "iCalUId": event.ical_uid, "subject": event.subject, "isAllDay": event.all_day,
        "isCancelled": event.cancelled, "showAs": event.show_as, "type": "singleInstance",
        "transactionId": event.transaction_id,
        "responseStatus": {"response": event.response, "time": "0001-01-01T00:00:00Z"},
        "start": {"dateTime": graph_wall(event.start), "timeZone": "UTC"},
        "end": {"dateTime": graph_wall(event.end), "timeZone": "UTC"},
        "body": {"contentType": "text", "content": event.body},
        "location": {"displayName": event.location}}
    if extended and event.extended:
        rendered["singleValueExtendedProperties"] = [
            {"id": key, "value": value} for key, value in event.extended.items()]
    return rendered


def wall_time(value: dict[str, Any]) -> datetime:
    zone = value.get("timeZone") or "UTC"
    wall = datetime.fromisoformat(value["dateTime"]).replace(tzinfo=None)
    return wall.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def graph_wall(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000")


def graph_instant(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def page_size(prefer: str, default: int) -> int:
    found = re.search(r"odata\.maxpagesize=(\d+)", prefer)
    return max(1, int(found.group(1))) if found else default


def encode_state(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode().rstrip("=")


def decode_state(token: str) -> dict[str, Any]:
    try:
        state = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, TypeError) as exc:
        raise ValueError("not a token of this fake") from exc
    if not isinstance(state, dict):
        raise ValueError("not a token of this fake")
    return state


def json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def new_id() -> str:
    return "AAMkAD" + secrets.token_urlsafe(30)


def new_ical_uid() -> str:
    return "040000008200E00074C5B7101A82E00800000000" + secrets.token_hex(16).upper()


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message,
                      "innerError": {"request-id": str(uuid.uuid4()),
                                     "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")}}}


def not_found() -> Answer:
    return Answer(404, error_body("ErrorItemNotFound",
                                   "The specified object was not found in the store."))


def send_answer(handler: BaseHTTPRequestHandler, answer: Answer) -> None:
    payload = b"" if answer.body is None else (
        answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode())
    try:
        handler.send_response(answer.status)
        if payload:
            handler.send_header("Content-Type", answer.content_type)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)
    except ConnectionError:
        pass  # the client gave up: nobody is left to answer


def read_body(handler: BaseHTTPRequestHandler) -> bytes:
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""
