"""Load generators: many concurrent asyncio clients, every answer recorded.

A `Call` is one request to make; an `Answer` is what came back (or that nothing did: a
transport error or a deliberate disconnect leaves `status` None). Invariant checks read the
answers afterwards, so every 201 a client saw can be looked for in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import statistics
import time
from collections import Counter
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")


def run_load(coroutine: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, also from a thread whose event loop is already running: Playwright's
    sync API keeps one running in pytest's main thread once a browser test has run there."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as own_thread:
        return own_thread.submit(asyncio.run, coroutine).result()


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # What the call does to which booking, for the invariant checker: "book", "reschedule"
    # (body["start"] is the new start), "cancel"; `booking_id` for the last two.
    action: str = "book"
    booking_id: str | None = None


@dataclass
class Answer:
    call: Call
    status: int | None  # None: no answer (transport error, disconnect)
    started: float  # time.monotonic()
    finished: float
    body: Any = None
    error: str | None = None

    @property
    def latency_s(self) -> float:
        return self.finished - self.started

    def told_bookings(self) -> list[dict[str, Any]]:
        """The bookings this answer told its client about (a series: every occurrence)."""
        if self.status not in (200, 201) or not isinstance(self.body, dict):
            return []
        if "status" not in self.body or "start" not in self.body:
            return []
        occurrences = self.body.get("occurrences")
        return list(occurrences) if occurrences else [self.body]


class _Connection:
    """One keep-alive HTTP/1.1 connection on asyncio streams: the load generator's transport.

    httpx costs about 2 ms of CPU per request on this machine (measured: ~360 requests/s for
    one client against an endpoint that answers in 0.8 ms by curl) and would cap every
    figure on the client's side; writing the request and reading the answer by hand costs a
    small fraction of that. Enough HTTP for our own server: Content-Length or chunked answers.
    """

    def __init__(self, host: str, port: int, timeout_s: float) -> None:
        self._host, self._port, self._timeout_s = host, port, timeout_s
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self._host, self._port)
        return self._streams

    async def request(self, call: Call) -> tuple[int, bytes]:
        reader, writer = await self.open()
        body = json.dumps(call.body).encode() if call.body is not None else b""
        head = [f"{call.method} {call.path} HTTP/1.1", f"Host: {self._host}:{self._port}",
                f"Content-Length: {len(body)}",
                *(["Content-Type: application/json"] if call.body is not None else []),
                *(f"{k}: {v}" for k, v in call.headers.items()), "", ""]
        try:
            writer.write("\r\n".join(head).encode() + body)
            return await asyncio.wait_for(self._answer(reader), self._timeout_s)
        except BaseException:
            self.close()  # a half-read answer would poison the next request
            raise

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[int, bytes]:
        lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {k.strip().lower(): v.strip()
                   for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        if headers.get("transfer-encoding", "").lower() == "chunked":
            content = b""
            while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                content += (await reader.readexactly(size + 2))[:-2]
            await reader.readuntil(b"\r\n")
        else:
            content = await reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, content

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


async def run_calls(base_url: str, calls: Sequence[Call], clients: int,
                    timeout_s: float = 60.0, pace_s: float = 0.0) -> list[Answer]:
    """Make every call with `clients` concurrent clients, each on its own keep-alive
    connection, taking the next call when its previous one is answered (and at least
    `pace_s` after it started its previous one); answers in the order the calls were given."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    answers: list[Answer | None] = [None] * len(calls)
    cursor = iter(range(len(calls)))

    async def one_client() -> None:
        connection = _Connection(host, port, timeout_s)
        try:
            for index in cursor:
                answer = answers[index] = await _answer(connection, calls[index])
                await asyncio.sleep(max(0.0, answer.started + pace_s - time.monotonic()))
        finally:
            connection.close()

    await asyncio.gather(*(one_client() for _ in range(min(clients, len(calls)))))
    return [a for a in answers if a is not None]


async def _answer(connection: _Connection, call: Call) -> Answer:
    started = time.monotonic()
    try:
        status, content = await connection.request(call)
    except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as error:
        return Answer(call, None, started, time.monotonic(), error=type(error).__name__)
    return Answer(call, status, started, time.monotonic(), _decode_bytes(content))


def _decode_bytes(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return content.decode(errors="replace")


async def run_at_once(base_url: str, calls: Sequence[Call],
                      timeout_s: float = 60.0) -> list[Answer]:
    """Every call on its own connection, released together (connections opened first).

    On the same hand-written transport as `run_calls`: httpx's pool, with a few hundred
    requests in flight at once, spent 5.5 s of the client's CPU on 180 of them, and every
    burst's latency measured the client instead of the server."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    connections = [_Connection(host, port, timeout_s) for _ in calls]
    try:
        # Open the connections before the requests, so that they leave as close together
        # as the event loop allows.
        await asyncio.gather(*(connection.open() for connection in connections))
        return list(await asyncio.gather(*(
            _answer(connection, call) for connection, call in zip(connections, calls,
                                                                  strict=True))))
    finally:
        for connection in connections:
            connection.close()


async def disconnect_after_sending(base_url: str, call: Call, *, partial: bool = False,
                                   linger_s: float = 0.0) -> Answer:
    """Send `call` on a raw connection and close it without reading the answer.

    `partial` closes after half the body (the server never sees a whole request); otherwise
    the whole request is sent and the connection closed after `linger_s`, mid-processing."""
    parts = urlsplit(base_url)
    body = json.dumps(call.body).encode()
    head = [f"{call.method} {call.path} HTTP/1.1", f"Host: {parts.netloc}",
            "Content-Type: application/json", f"Content-Length: {len(body)}",
            *(f"{k}: {v}" for k, v in call.headers.items()), "", ""]
    payload = "\r\n".join(head).encode() + (body[: len(body) // 2] if partial else body)
    started = time.monotonic()
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(payload)
        await writer.drain()
        if linger_s:
            await asyncio.sleep(linger_s)
    finally:
        writer.close()
        with contextlib.suppress(OSError):  # the server may have reset it first
            await writer.wait_closed()
    del reader
    return Answer(call, None, started, time.monotonic(), error="disconnected")


@dataclass
class LoadFigures:
    answers: int
    elapsed_s: float
    created: int
    p50_ms: float
    p99_ms: float
    statuses: dict[str, int]

    @property
    def answers_per_s(self) -> float:
        return self.answers / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def bookings_per_s(self) -> float:
        return self.created / self.elapsed_s if self.elapsed_s else 0.0


def percentile_ms(samples: Sequence[float], q: float) -> float:
    if not samples:
        return math.nan
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))] * 1000


def status_histogram(answers: Sequence[Answer]) -> dict[str, int]:
    counts = Counter(str(a.status) if a.status is not None else (a.error or "none")
                     for a in answers)
    return dict(sorted(counts.items()))


def figures(answers: Sequence[Answer], elapsed_s: float) -> LoadFigures:
    latencies = [a.latency_s for a in answers if a.status is not None]
    return LoadFigures(
        answers=len(answers), elapsed_s=elapsed_s,
        created=sum(1 for a in answers if a.status == 201),
        p50_ms=statistics.median(latencies) * 1000 if latencies else math.nan,
        p99_ms=percentile_ms(latencies, 0.99), statuses=status_histogram(answers))
