"""Plays the webhook route that receives Microsoft Graph's calls in tests:

    with GraphWebhookEndpoint() as endpoint:
        calendar.watch(calendar_id, endpoint.url, token, ttl)   # the handshake is echoed
        graph.notify(subscription_id)
        parse_graph_notifications(endpoint.received[0])
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from slotwise.testing.fakes.graph_wire import Answer, read_body, send_answer
from slotwise.testing.fakes.http import LocalServer


class GraphWebhookEndpoint:
    """Plays the webhook route in tests: echoes `validationToken` as text/plain (unless
    `echo_validation` is off) and records the notification bodies POSTed to it."""

    def __init__(self) -> None:
        self.echo_validation = True
        self.received: list[bytes] = []
        self._server: LocalServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start the endpoint first"
        return f"{self._server.root_url}/hooks/microsoft"

    def __enter__(self) -> Self:
        self._server = LocalServer(_endpoint_handler(self), "graph-webhook")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def _endpoint_handler(endpoint: GraphWebhookEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = read_body(self)
            query = parse_qs(urlsplit(self.path).query)
            if "validationToken" in query:
                token = query["validationToken"][0] if endpoint.echo_validation else "nope"
                send_answer(self, Answer(200, token.encode(), "text/plain; charset=utf-8"))
                return
            endpoint.received.append(raw)
            send_answer(self, Answer(202))

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
