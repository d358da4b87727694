"""A local HTTP server for a fake: a request handler class served on 127.0.0.1 (a free port)
by a daemon thread, until stopped."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LocalServer:
    """`port` 0: a free one (`port` then tells which); a given port serves there again."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], name: str, port: int = 0) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        # A short poll: shutdown() waits for the loop to notice, 0.5 s by default.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True, name=name)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def root_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
