"""Processes the stress harness drives: `slotwise serve`, and private PostgreSQL and Redis.

The private instances live in a temporary directory on a free port, so stopping or restarting
them under load never disturbs the shared services or tests running beside them.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

SLOTWISE = Path(sys.executable).parent / "slotwise"
STARTUP_TIMEOUT_S = 60.0


class ServiceMissing(RuntimeError):
    """A program the harness needs (PostgreSQL's binaries, redis-server) is not installed."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def children_of(pid: int) -> list[int]:
    """Live pids whose parent is `pid`, read from /proc (a killed child its parent has not
    reaped yet is a zombie, not a worker)."""
    found = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            text = Path(stat).read_text()
        except OSError:
            continue  # the process ended while we looked
        # The command name is in parentheses and may contain spaces: split after it.
        fields = text.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.split("/")[2]))
    return sorted(found)


def terminate(process: subprocess.Popen[bytes], timeout_s: float = 20) -> None:
    """SIGTERM and wait; SIGKILL if it does not stop in time."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout_s)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class Server:
    """`slotwise serve --workers N` on a free port, clock pinned when `now` is given."""

    def __init__(self, database_url: str, *, workers: int = 1, now: str | None = None,
                 redis_url: str | None = None, pool_size: int = 5,
                 extra_env: dict[str, str] | None = None) -> None:
        self.database_url = database_url
        self.workers = workers
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._dir = Path(tempfile.mkdtemp(prefix="slotwise-stress-"))
        self.log_path = self._dir / "server.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLOTWISE_")}
        env.update(SLOTWISE_DATABASE_URL=database_url, SLOTWISE_LOG_JSON="false",
                   SLOTWISE_LOG_LEVEL="WARNING", SLOTWISE_DATABASE_POOL_SIZE=str(pool_size),
                   # Argon2 at its lowest cost: signing up is not what is measured.
                   SLOTWISE_PASSWORD_HASH_TIME_COST="1",
                   SLOTWISE_PASSWORD_HASH_MEMORY_KIB="1024")
        if now is not None:
            env["SLOTWISE_NOW"] = now
        if redis_url is not None:
            env["SLOTWISE_REDIS_URL"] = redis_url
        env.update(extra_env or {})
        self._env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(SLOTWISE), "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 "--workers", str(self.workers)],
                cwd=self._dir, env=self._env, stdout=log, stderr=subprocess.STDOUT)
        self.wait_ready()
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
        """Wait until /readyz answers 200 (and, with several workers, all of them are up)."""
        assert self.process is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"slotwise serve exited with {self.process.returncode}:\n"
                                   f"{self.log()}")
            try:
                ready = httpx.get(f"{self.base_url}/readyz", timeout=2.0).status_code == 200
            except httpx.TransportError:
                ready = False
            if ready and len(self.worker_pids()) >= (self.workers if self.workers > 1 else 0):
                return
            time.sleep(0.1)
        raise RuntimeError(f"slotwise serve was not ready within {timeout_s:.0f} s:\n"
                           f"{self.log()}")

    def worker_pids(self) -> list[int]:
        """The uvicorn worker processes (none of its own with a single worker: the supervisor
        serves itself). multiprocessing's resource tracker is not a worker."""
        assert self.process is not None
        if self.workers == 1:
            return []
        return [pid for pid in children_of(self.process.pid)
                if "resource_tracker" not in _cmdline(pid)]

    def serving_pids(self) -> list[int]:
        assert self.process is not None
        return self.worker_pids() or [self.process.pid]

    def kill_worker(self) -> int:
        """SIGKILL one worker (the supervisor starts a new one); returns its pid."""
        pids = self.worker_pids()
        if not pids:
            raise RuntimeError("a single-process server has no worker to kill apart from itself")
        os.kill(pids[0], signal.SIGKILL)
        return pids[0]

    def stop(self) -> None:
        if self.process is not None:
            terminate(self.process)
        self.process = None
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class WorkerProcess:
    """`slotwise worker` with the same environment as a `Server` (PostgreSQL only)."""

    def __init__(self, server: Server, extra_env: dict[str, str] | None = None) -> None:
        self._env = {**server._env, **(extra_env or {})}
        self._dir = Path(tempfile.mkdtemp(prefix="slotwise-worker-"))
        self.log_path = self._dir / "worker.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen([str(SLOTWISE), "worker"], cwd=self._dir,
                                            env=self._env, stdout=log, stderr=subprocess.STDOUT)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no shutdown, whatever job it was running stays `doing`."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=20)

    def stop(self) -> None:
        if self.process is not None:
            terminate(self.process)
        self.process = None
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> WorkerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def postgres_bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise ServiceMissing("PostgreSQL binaries not found (/usr/lib/postgresql/*/bin/initdb)")
    return Path(found[-1]).parent


class PrivatePostgres:
    """A throwaway PostgreSQL cluster: initdb in a temp dir, trust auth, a free port.

    PostgreSQL refuses to run as root, so as root it runs as the `postgres` user."""

    def __init__(self, *, max_connections: int = 200) -> None:
        self.bindir = postgres_bindir()
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="slotwise-pg-"))
        self.data = self.dir / "data"
        self.max_connections = max_connections
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            self._as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.dir, "postgres", "postgres")

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as_user, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> PrivatePostgres:
        if not self.data.exists():
            self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
                      "--auth=trust", "-E", "UTF8", "--no-sync")
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                   f"-c max_connections={self.max_connections} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l",
                  str(self.dir / "postgres.log"), "-o", options, "-w", "-t", "60", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w",
                  "stop")

    def restart(self, down_s: float = 0.0) -> None:
        """Stop (fast: clients are disconnected), stay down `down_s`, start again."""
        self.stop()
        time.sleep(down_s)
        self.start()

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already down
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PrivatePostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


class PrivateRedis:
    """A throwaway redis-server without persistence on a free port."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceMissing("redis-server not found")
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> PrivateRedis:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def restart(self, down_s: float = 0.0) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()

    def __enter__(self) -> PrivateRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def private_postgres_database(pg: PrivatePostgres) -> Iterator[str]:
    """A fresh database on a private cluster (the server migrates it itself)."""
    import psycopg

    name = f"slotwise_stress_{os.getpid()}_{int(time.monotonic() * 1000)}"
    with psycopg.connect(pg.admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg.url(name)
    finally:
        with psycopg.connect(pg.admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
