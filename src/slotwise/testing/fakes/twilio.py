"""A local HTTP server shaped like Twilio's Messages API, for tests of SMS adapters.

    with FakeTwilio() as twilio:
        sms = TwilioSms(twilio.account_sid, twilio.auth_token, twilio.from_number,
                        api_base=twilio.base_url)
        sid = sms.send(Sms(to="+4915112345678", body="Hi"), "key-1")
        assert twilio.messages[0]["sid"] == sid

What it does as Twilio does (2010-04-01 API): HTTP basic auth with the account SID and auth
token (401, error 20003, otherwise); `POST /2010-04-01/Accounts/{sid}/Messages.json` with a
form (To, From, Body) answering 201 with the message resource (`sid` "SM…", `status`
"queued", `num_segments` counted as GSM-7 or UCS-2, RFC 2822 dates); 400 with Twilio's error
body for a missing or malformed number (21604, 21211), an unknown From (21606), an empty or
too long body (21602, 21617); the magic To numbers of Twilio's test credentials
(+15005550001 invalid: 21211, …0002 unroutable: 21612, …0003 no international permission:
21408, …0004 blocked: 21610, …0009 not SMS-capable: 21614); `GET …/Messages/{sid}.json`.

What it adds for tests: `fail_next` (answer the next create with a status and error code, e.g.
429 or 503), the recorded `requests`, and, only when asked (`honour_idempotency_token=True`),
replaying the first answer for a repeated `I-Twilio-Idempotency-Token` — no Twilio document
promises that for message creation, so tests of the lifecycle should not rely on it.
"""

from __future__ import annotations

import base64
import json
import math
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

from slotwise.testing.fakes.http import LocalServer

API = "/2010-04-01"
E164 = re.compile(r"\+[1-9][0-9]{1,14}")
MAGIC_TO = {
    "+15005550001": (21211, "The 'To' number +15005550001 is not a valid phone number."),
    "+15005550002": (21612, "The 'To' phone number is not currently reachable via SMS."),
    "+15005550003": (21408, "Permission to send an SMS has not been enabled for the region "
                            "indicated by the 'To' number: +15005550003."),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "'To' number is not a valid mobile number"),
}
_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ ÆæßÉ!\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
_GSM7_EXTENDED = set("^{}\\[~]|€\f")  # two septets each


@dataclass(frozen=True)
class TwilioRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    form: dict[str, str]


@dataclass(frozen=True)
class _Answer:
    status: int
    body: dict[str, Any]


class FakeTwilio:
    def __init__(self, *, account_sid: str | None = None, auth_token: str | None = None,
                 from_numbers: tuple[str, ...] = ("+15005550006",),
                 honour_idempotency_token: bool = False) -> None:
        self.account_sid = account_sid or "AC" + secrets.token_hex(16)
        self.auth_token = auth_token or secrets.token_hex(16)
        self.from_numbers = from_numbers
        self.honour_idempotency_token = honour_idempotency_token
        self.messages: list[dict[str, Any]] = []
        self.requests: list[TwilioRequest] = []
        self._failures: list[_Answer] = []
        self._answers_by_token: dict[str, _Answer] = {}
        self._lock = threading.Lock()
        self._server: LocalServer | None = None

    @property
    def from_number(self) -> str:
        return self.from_numbers[0]

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the fake first (with FakeTwilio() as ...)"
        return self._server.root_url

    def __enter__(self) -> FakeTwilio:
        fake = self

        class Handler(_TwilioHandler):
            twilio = fake

        self._server = LocalServer(Handler, "fake-twilio")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self._server is not None
        self._server.stop()

    def fail_next(self, status: int, code: int | None = None, message: str | None = None
                  ) -> None:
        """Answer the next message creation with `status` and Twilio's error body."""
        code = code if code is not None else {429: 20429, 503: 20503}.get(status, 20500)
        with self._lock:
            self._failures.append(_Answer(status, _error(
                status, code, message or f"injected failure {status}")))

    def create(self, request: TwilioRequest, account_sid: str) -> _Answer:
        with self._lock:
            self.requests.append(request)
            if not self._authenticated(request):
                return _Answer(401, {**_error(401, 20003, "Authenticate"),
                                     "detail": "Your AccountSid or AuthToken was incorrect."})
            if account_sid != self.account_sid:
                return _Answer(404, _error(
                    404, 20404, f"The requested resource {request.path} was not found"))
            token = request.headers.get("i-twilio-idempotency-token")
            if self.honour_idempotency_token and token in self._answers_by_token:
                return self._answers_by_token[token]
            if self._failures:
                return self._failures.pop(0)
            answer = self._validate(request.form) or self._created(request.form)
            if self.honour_idempotency_token and token and answer.status == 201:
                self._answers_by_token[token] = answer
            return answer

    def get(self, request: TwilioRequest, account_sid: str, sid: str) -> _Answer:
        with self._lock:
            self.requests.append(request)
            if not self._authenticated(request):
                return _Answer(401, _error(401, 20003, "Authenticate"))
            for message in self.messages:
                if message["sid"] == sid and account_sid == self.account_sid:
                    return _Answer(200, message)
            return _Answer(404, _error(
                404, 20404, f"The requested resource {request.path} was not found"))

    def _authenticated(self, request: TwilioRequest) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return request.headers.get("authorization") == f"Basic {expected}"

    def _validate(self, form: dict[str, str]) -> _Answer | None:
        to, sender, body = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        if not to:
            return _Answer(400, _error(400, 21604, "A 'To' phone number is required."))
        if not E164.fullmatch(to):
            return _Answer(400, _error(400, 21211, f"Invalid 'To' Phone Number: {to}"))
        if to in MAGIC_TO:
            code, message = MAGIC_TO[to]
            return _Answer(400, _error(400, code, message))
        if sender not in self.from_numbers:
            return _Answer(400, _error(400, 21606, f"The From phone number {sender} is not a "
                                       "valid, SMS-capable inbound phone number or short code "
                                       "for your account."))
        if not body:
            return _Answer(400, _error(400, 21602, "Message body is required."))
        if len(body) > 1600:
            return _Answer(400, _error(400, 21617, "The concatenated message body exceeds "
                                       "the 1600 character limit."))
        return None

    def _created(self, form: dict[str, str]) -> _Answer:
        sid = "SM" + secrets.token_hex(16)
        now = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
        message = {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": form["Body"],
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form["From"],
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": str(segments(form["Body"])),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {
                "media": f"{API}/Accounts/{self.account_sid}/Messages/{sid}/Media.json"},
            "to": form["To"],
            "uri": f"{API}/Accounts/{self.account_sid}/Messages/{sid}.json",
        }
        self.messages.append(message)
        return _Answer(201, message)


def segments(body: str) -> int:
    """How many SMS parts the body takes: GSM-7 (160, or 153 per part when split) unless a
    character needs UCS-2 (70, or 67)."""
    if set(body) <= _GSM7 | _GSM7_EXTENDED:
        septets = len(body) + sum(1 for ch in body if ch in _GSM7_EXTENDED)
        return 1 if septets <= 160 else math.ceil(septets / 153)
    units = len(body.encode("utf-16-le")) // 2
    return 1 if units <= 70 else math.ceil(units / 67)


def _error(status: int, code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}


_CREATE = re.compile(rf"{API}/Accounts/([^/]+)/Messages\.json")
_FETCH = re.compile(rf"{API}/Accounts/([^/]+)/Messages/([^/]+)\.json")


class _TwilioHandler(BaseHTTPRequestHandler):
    twilio: FakeTwilio
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        request = self._request()
        match = _CREATE.fullmatch(request.path)
        if match is None:
            self._answer(_Answer(404, _error(404, 20404, "Not found")))
            return
        self._answer(self.twilio.create(request, match.group(1)))

    def do_GET(self) -> None:
        request = self._request()
        match = _FETCH.fullmatch(request.path)
        if match is None:
            self._answer(_Answer(404, _error(404, 20404, "Not found")))
            return
        self._answer(self.twilio.get(request, match.group(1), match.group(2)))

    def _request(self) -> TwilioRequest:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        form = {key: values[0] for key, values in parse_qs(raw, keep_blank_values=True).items()}
        headers = {name.lower(): value for name, value in self.headers.items()}
        return TwilioRequest(self.command, self.path.split("?")[0], headers, form)

    def _answer(self, answer: _Answer) -> None:
        payload = json.dumps(answer.body).encode()
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        if answer.status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="Twilio API"')
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read `requests`, not stderr
