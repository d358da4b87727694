"""The acceptance suite's server: a real `slotwise serve` subprocess, one per backend.

Each backend (SQLite in a temp file, PostgreSQL in a fresh database dropped afterwards) gets its
own server with the clock pinned at `NOW`; the tests drive it over HTTP only. An unreachable
PostgreSQL fails the run.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from slotwise.testing.databases import PostgresUnavailable, fresh_postgres_database

NOW = "2027-03-01T12:00:00Z"  # a Monday; US daylight saving time starts 2027-03-14
SLOTWISE = Path(sys.executable).parent / "slotwise"
STARTUP_TIMEOUT_S = 60.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server_database_url(request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, empty database for one server (the server migrates it itself)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('accept-sqlite') / 'slotwise.db'}"
        return
    with ExitStack() as stack:
        try:
            url = stack.enter_context(fresh_postgres_database("slotwise_accept"))
        except PostgresUnavailable as error:
            pytest.fail(str(error))
        yield url


@pytest.fixture(scope="module")
def server(server_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`slotwise serve` on a free port with the clock pinned; yields its base URL."""
    workdir = tmp_path_factory.mktemp("accept-server")  # no stray .env, no default SQLite file
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("SLOTWISE_")}
    env.update(SLOTWISE_DATABASE_URL=server_database_url, SLOTWISE_NOW=NOW,
               SLOTWISE_LOG_JSON="false")
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
            pytest.fail(f"slotwise serve exited with {process.returncode}:\n"
                        f"{log_path.read_text(errors='replace')}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"slotwise serve did not answer /healthz within {STARTUP_TIMEOUT_S:.0f} s:\n"
                f"{log_path.read_text(errors='replace')}")


@pytest.fixture(scope="module")
def http(server: str) -> Iterator[httpx.Client]:
    """A plain HTTP client of the running server (no credentials)."""
    with httpx.Client(base_url=server, timeout=30.0) as client:
        yield client
