"""A published ICS feed for tests: a real HTTP server on 127.0.0.1 serving one body at `/feed.ics`
with `ETag` and `Last-Modified`, answering a conditional GET that matches with 304.

    with IcsFeedServer(body) as feed:
        IcsSubscription(feed.url)
        feed.publish(new_body)            # a new ETag and Last-Modified
        feed.status = 503                 # every answer fails until reset to 200
        feed.requests                     # how many GETs arrived
        feed.conditional                  # how many of them carried If-None-Match/-Modified-Since
"""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any, Self

from slotwise.testing.fakes.http import LocalServer

FEED_PATH = "/feed.ics"


class IcsFeedServer:
    def __init__(self, body: bytes, *, content_type: str = "text/calendar; charset=utf-8"
                 ) -> None:
        self.content_type = content_type
        self.status = 200
        self.requests = 0
        self.conditional = 0
        self._lock = threading.Lock()
        self._server: LocalServer | None = None
        self.publish(body)

    @property
    def url(self) -> str:
        assert self._server is not None, "not serving"
        return self._server.root_url + FEED_PATH

    def publish(self, body: bytes) -> None:
        """Serve `body` from now on, with a fresh ETag and Last-Modified (whole seconds, as
        HTTP dates have)."""
        with self._lock:
            self.body = body
            self.etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
            self.last_modified = datetime.now(UTC).replace(microsecond=0)

    def __enter__(self) -> Self:
        self._server = LocalServer(_handler_for(self), "ics-feed")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def answer(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.requests += 1
            if_none_match = headers.get("if-none-match")
            if_modified_since = headers.get("if-modified-since")
            if if_none_match or if_modified_since:
                self.conditional += 1
            if self.status != 200:
                return self.status, {}, b"unavailable"
            if path.split("?", 1)[0] != FEED_PATH:
                return 404, {}, b"not found"
            meta = {"ETag": self.etag, "Last-Modified": format_datetime(self.last_modified,
                                                                        usegmt=True)}
            # RFC 9110 13.1.3: If-None-Match wins; If-Modified-Since only without it.
            if if_none_match is not None:
                if self.etag in [tag.strip() for tag in if_none_match.split(",")]:
                    return 304, meta, b""
            elif if_modified_since and _not_after(self.last_modified, if_modified_since):
                return 304, meta, b""
            return 200, {**meta, "Content-Type": self.content_type}, self.body


def _not_after(modified: datetime, header: str) -> bool:
    try:
        return modified <= parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return False


def _handler_for(feed: IcsFeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # http.server dispatches on this name
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, body = feed.answer(self.path, headers)
            try:
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except ConnectionError:
                pass  # the client gave up

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
