"""A local HTTP server that records the webhooks posted to it and answers as told.

    with WebhookReceiver(statuses=[500, 500, 200]) as receiver:
        poster.post(receiver.url("/hooks"), body, {}, secret="whsec")   # → 500
        ...
        [first, *_] = receiver.wait_for(3)
        verify("whsec", first.headers["slotwise-signature"], first.body, now=time.time())

The statuses are answered in order, the last one from then on; `delay_s` holds every answer
back that long (to test a poster's timeout).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any

from slotwise.testing.fakes.http import LocalServer


@dataclass(frozen=True)
class ReceivedWebhook:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    status: int  # what the receiver answered


class WebhookReceiver:
    def __init__(self, statuses: Sequence[int] = (200,), *, delay_s: float = 0) -> None:
        if not statuses:
            raise ValueError("at least one status to answer with")
        self.received: list[ReceivedWebhook] = []
        self.delay_s = delay_s
        self._statuses = list(statuses)
        self._changed = threading.Condition()
        self._server: LocalServer | None = None

    def url(self, path: str = "/") -> str:
        assert self._server is not None, "start the receiver first (with WebhookReceiver() as ...)"
        return f"{self._server.root_url}{path}"

    def respond_with(self, *statuses: int) -> None:
        """Answer the next requests with these statuses, the last one from then on."""
        with self._changed:
            self._statuses = list(statuses)

    def wait_for(self, count: int, timeout_s: float = 5) -> list[ReceivedWebhook]:
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"{len(self.received)} of {count} webhooks after {timeout_s} s")
                self._changed.wait(left)
            return self.received[:count]

    def __enter__(self) -> WebhookReceiver:
        receiver = self

        class Handler(_ReceiverHandler):
            owner = receiver

        self._server = LocalServer(Handler, "webhook-receiver")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self._server is not None
        self._server.stop()

    def _receive(self, method: str, path: str, headers: dict[str, str], body: bytes) -> int:
        with self._changed:
            status = self._statuses.pop(0) if len(self._statuses) > 1 else self._statuses[0]
            self.received.append(ReceivedWebhook(method, path, headers, body, status))
            self._changed.notify_all()
            return status


class _ReceiverHandler(BaseHTTPRequestHandler):
    owner: WebhookReceiver
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        status = self.owner._receive(self.command, self.path, headers, body)
        if self.owner.delay_s:
            time.sleep(self.owner.delay_s)
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read `received`, not stderr
