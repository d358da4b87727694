"""A real `slotwise serve` subprocess for black-box tests: a free port, a clean environment
(only the SLOTWISE_ settings given), its log in a file, stopped with SIGTERM afterwards."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

SLOTWISE = Path(sys.executable).parent / "slotwise"
STARTUP_TIMEOUT_S = 60.0


class ServerFailed(RuntimeError):
    """The server exited or did not answer /healthz in time; the message holds its log."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def slotwise_serve(settings: Mapping[str, str], workdir: Path, *, port: int | None = None
                   ) -> Iterator[str]:
    """Run `slotwise serve` with `settings` (SLOTWISE_* variables) from `workdir` (no stray
    .env, no default SQLite file); yields its base URL once /healthz answers."""
    port = port or free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("SLOTWISE_")}
    env.update({"SLOTWISE_LOG_JSON": "false", **settings})
    log_path = workdir / "server.log"
    base_url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(SLOTWISE), "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_healthy(process, base_url, log_path)
            yield base_url
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


def _wait_until_healthy(process: subprocess.Popen[bytes], base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerFailed(f"slotwise serve exited with {process.returncode}:\n"
                               f"{log_path.read_text(errors='replace')}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise ServerFailed(f"slotwise serve did not answer /healthz within "
                       f"{STARTUP_TIMEOUT_S:.0f} s:\n{log_path.read_text(errors='replace')}")
