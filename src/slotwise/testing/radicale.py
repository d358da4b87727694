"""A real CalDAV server for tests: Radicale in a subprocess on 127.0.0.1, on a free port, with
its storage in a temporary folder removed afterwards.

    with RadicaleServer(users={"alice": "secret"}) as radicale:
        radicale.url                      # http://127.0.0.1:PORT/
        radicale.calendar_url("alice", "work")  # where MKCALENDAR puts alice's "work"

Accounts are checked against a plain htpasswd file (so a wrong password is a real 401);
Radicale's default rights let each user reach only their own collections.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import httpx

START_TIMEOUT_S = 20.0


class RadicaleServer:
    def __init__(self, users: dict[str, str] | None = None) -> None:
        self.users = dict(users) if users is not None else {"alice": "secret"}
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def calendar_url(self, user: str, name: str) -> str:
        return f"{self.url}{user}/{name}/"

    def start(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="slotwise-radicale-")
        root = Path(self._folder.name)
        htpasswd = root / "users"
        htpasswd.write_text("".join(f"{u}:{p}\n" for u, p in self.users.items()))
        self.port = _free_port()
        self._log = (root / "radicale.log").open("wb")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", "",
             "--server-hosts", f"127.0.0.1:{self.port}",
             "--auth-type", "htpasswd", "--auth-htpasswd-filename", str(htpasswd),
             "--auth-htpasswd-encryption", "plain",
             "--auth-delay", "0",  # a wrong password answers at once: auth tests stay fast
             "--storage-filesystem-folder", str(root / "collections")],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            self._wait_until_answering()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _wait_until_answering(self) -> None:
        assert self._process is not None
        assert self._folder is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                log = (Path(self._folder.name) / "radicale.log").read_text(errors="replace")
                raise RuntimeError(f"radicale exited with {self._process.returncode}:\n{log}")
            try:
                httpx.get(self.url, timeout=1.0)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"radicale did not answer on {self.url} in {START_TIMEOUT_S} s")


def _free_port() -> int:
    # The port may be taken again before Radicale binds it; on loopback in tests that is rare
    # enough, and start() then fails loudly rather than hanging.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
