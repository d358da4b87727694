"""The CPU one booking attempt costs in process, without HTTP: `BookSlot` called directly on a
calendar of 100 bookings, on a private PostgreSQL and Redis (holds in Redis). Through HTTP the
machine's noise (±20 % from run to run here) hides changes of a few percent; CPU time per call
in one process hides much less of it.

    .venv/bin/python bench/use_case_cpu.py [--calls 400] [--batches 5]

Printed per kind of attempt: the statements it sends (cursor executions, so `BEGIN`, `COMMIT`
and `ROLLBACK` are not among them) and its CPU time per call (the median of the batches'
means). Beside them, the statement's own ceiling measured in the same process: one
`SELECT 1` through SQLAlchemy over the same pool, and one through the bare psycopg
connection. A call costing N such statements' CPU does that much work in Python around them.

Then where a rush's 409 spends the rest of a server's CPU, short of uvicorn and the sockets:
the bearer token's authentication alone, and the whole request through the ASGI application
in this process (FastAPI, its middleware, authentication, two hand-overs to the thread pool
and back, the problem answer), one request at a time, then 16 at once (a server process's
share of 64 clients on 4 processes) on one request thread and on the default 4, with the rush
lane off. Then the same 409 answered by the rush lane (app/rush.py: two statements on async
psycopg, before FastAPI), one at a time and 16 at once. This process has both cores to
itself; a server process shares them with three others, PostgreSQL and the clients, so its
threads meet less often on the GIL than here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, text

from slotwise.api.app import create_app
from slotwise.app.bookings import BookingRequest, CustomerDetails
from slotwise.app.clock import FrozenClock
from slotwise.bootstrap import Container, build
from slotwise.domain.errors import SlotUnavailable
from slotwise.settings import Settings
from slotwise.store.rush_reads import PostgresRushReads
from slotwise.testing import api
from slotwise.testing.stress import scenarios as sc
from slotwise.testing.stress.servers import (
    PrivatePostgres,
    PrivateRedis,
    private_postgres_database,
)

BOOKED = 100  # the calendar's bookings: 100 one-hour starts, back to back on weekdays
IN_FLIGHT = 16  # requests at once through the ASGI app: 64 clients over 4 server processes
REQUEST_THREADS = 4  # SLOTWISE_REQUEST_THREADS' default
# A batch's event loop opens the lane's pool anew (a server's opens once): these rounds of
# requests let it grow to what the batch's callers at once need before the clock starts.
WARM_ROUNDS = 8


def cpu_per_call(call: Callable[[int], object], calls: int, batches: int) -> float:
    """Median over `batches` of the mean CPU seconds per call (`call` gets a running number)."""
    means = []
    n = 0
    for _ in range(batches):
        started = time.process_time()
        for _ in range(calls):
            call(n)
            n += 1
        means.append((time.process_time() - started) / calls)
    return statistics.median(means)


@contextmanager
def counted_statements(container: Container) -> Iterator[list[str]]:
    sent: list[str] = []

    def count(*args: Any) -> None:
        sent.append(args[2])

    event.listen(container.engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(container.engine, "before_cursor_execute", count)


@contextmanager
def counted_lane_statements(reads: PostgresRushReads) -> Iterator[list[str]]:
    """The rush lane's statements (async psycopg: SQLAlchemy's events never see them)."""
    sent: list[str] = []
    send = reads._all

    async def counting(sql: str, parameters: dict[str, Any]) -> list[Any]:
        sent.append(sql)
        return await send(sql, parameters)

    reads._all = counting  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        del reads._all


def statements_of(container: Container, call: Callable[[int], object], n: int) -> int:
    with counted_statements(container) as sent:
        call(n)
    return len(sent)


async def asgi_post(app: FastAPI, path: str, body: dict[str, Any],
                    headers: dict[str, str]) -> int:
    """One POST through the ASGI application, as uvicorn would call it; the status."""
    raw = json.dumps(body).encode()
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1),
             "server": ("127.0.0.1", 80), "state": {},
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
             + [(b"content-type", b"application/json"),
                (b"content-length", str(len(raw)).encode())]}
    messages = [{"type": "http.request", "body": raw, "more_body": False}]
    status = 0

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # the client stays connected until the answer
        raise AssertionError("unreachable")

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def asgi_cpu_per_request(app: FastAPI, request: Callable[[int], tuple[str, dict[str, Any]]],
                         headers: dict[str, str], expected: int, *, in_flight: int,
                         threads: int, calls: int, batches: int,
                         lane: PostgresRushReads | None = None) -> float:
    """As `cpu_per_call`, for requests through the ASGI app, `in_flight` at once on
    `threads` request threads; with the rush lane's reads `lane` open (else it is off)."""

    async def batch(first: int) -> None:
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        numbers = iter(range(first, first + calls))
        if lane is not None:
            await lane.open()  # in this batch's event loop, as the lifespan would
            for _ in range(WARM_ROUNDS):  # its pool opens connections while callers wait
                await asyncio.gather(*(asgi_post(app, *request(n), headers)
                                       for n in range(-in_flight, 0)))

        async def client() -> None:
            for n in numbers:
                status = await asgi_post(app, *request(n), headers)
                if status != expected:
                    raise AssertionError(f"answered {status}, not {expected}")

        started = time.process_time()
        await asyncio.gather(*(client() for _ in range(in_flight)))
        spent.append(time.process_time() - started)
        if lane is not None:
            await lane.close()

    spent: list[float] = []
    for b in range(batches):
        asyncio.run(batch(b * calls))
    return statistics.median(seconds / calls for seconds in spent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=400, help="calls per batch")
    parser.add_argument("--batches", type=int, default=5)
    args = parser.parse_args()
    with PrivatePostgres() as pg, PrivateRedis() as redis, \
            private_postgres_database(pg) as url:
        now = datetime.fromisoformat(sc.PINNED_NOW.replace("Z", "+00:00"))
        container = build(Settings(database_url=url, redis_url=redis.url,
                                   password_hash_time_cost=1, password_hash_memory_kib=1024),
                          clock=FrozenClock(now), migrate=True)
        try:
            measure(container, args.calls, args.batches)
        finally:
            container.close()


def measure(container: Container, calls: int, batches: int) -> None:
    app = create_app(container.use_cases)
    with TestClient(app) as client:
        org = api.signup(client, timezone="UTC")
        _, service_id = sc.one_resource_service(org)
        starts = sc.weekday_starts(sc.FIRST_DAY, BOOKED + calls * batches + 2)
        for start in starts[:BOOKED]:
            api.book(org, service_id, start)
    instants = [datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(UTC)
                for s in starts]
    book = container.use_cases.book

    def attempt(start: datetime, n: int) -> object:
        return book(org.id, BookingRequest(service_id, start,
                                           CustomerDetails("Bench", f"c{n}@example.com")))

    def refused(start: datetime, n: int) -> None:
        try:
            attempt(start, n)
        except SlotUnavailable:
            return
        raise AssertionError(f"{start} was booked: the bench measures a refusal")

    taken = instants[BOOKED // 2]
    free = iter(instants[BOOKED:])
    # Bookings first: after the first refusal the service is in a rush for 10 s, and a
    # booking in a rush takes the rush's path (a plain read first).
    kinds: list[tuple[str, Callable[[int], object]]] = [
        ("201 (a free start past the calendar's bookings)", lambda n: attempt(next(free), n)),
        ("409 in a rush (a taken start, after a refusal)", lambda n: refused(taken, n)),
    ]
    rows = []
    for label, call in kinds:
        call(-1)  # warms the catalog cache and the prepared statements; a refusal, the rush
        sent = statements_of(container, call, -2)
        rows.append((label, str(sent), cpu_per_call(call, calls, batches)))

    def authenticate(_: int) -> object:
        return container.use_cases.accounts.authenticate(org.token)

    rows.append(("authentication of the bearer token alone", str(statements_of(
        container, authenticate, 0)), cpu_per_call(authenticate, calls, batches)))
    taken_start = taken.isoformat().replace("+00:00", "Z")

    def refusal(n: int) -> tuple[str, dict[str, Any]]:
        return "/v1/bookings", {"service_id": service_id, "start": taken_start,
                                "customer": {"name": "Bench", "email": f"r{n}@example.com"}}

    sent = statements_of(container, lambda n: asyncio.run(
        asgi_post(app, *refusal(n), org.headers)), -3)
    for in_flight, threads in ((1, REQUEST_THREADS), (IN_FLIGHT, 1),
                               (IN_FLIGHT, REQUEST_THREADS)):
        label = (f"the 409 through the ASGI app, {in_flight} at once on {threads} "
                 f"thread{'s' if threads > 1 else ''}")
        rows.append((label, str(sent), asgi_cpu_per_request(
            app, refusal, org.headers, 409, in_flight=in_flight, threads=threads,
            calls=calls, batches=batches)))
    rush = container.use_cases.rush
    assert rush is not None, "PostgreSQL: the rush lane is on"
    reads = rush.reads
    assert isinstance(reads, PostgresRushReads)
    for _ in range(2):  # the first warms the plan; the second: warm-up rounds and one call
        with counted_lane_statements(reads) as lane_sent:
            asgi_cpu_per_request(app, refusal, org.headers, 409, in_flight=1,
                                 threads=REQUEST_THREADS, calls=1, batches=1, lane=reads)
    for in_flight in (1, IN_FLIGHT):
        rows.append((f"the 409 through the rush lane, {in_flight} at once",
                     str(len(lane_sent) // (WARM_ROUNDS + 1)), asgi_cpu_per_request(
                         app, refusal, org.headers, 409, in_flight=in_flight,
                         threads=REQUEST_THREADS, calls=calls, batches=batches, lane=reads)))
    with container.engine.connect() as connection:
        rows.append(("one SELECT 1 through SQLAlchemy (ceiling)", "1", cpu_per_call(
            lambda _: connection.execute(text("SELECT 1")).scalar(), calls, batches)))
        raw = connection.connection.driver_connection
        assert raw is not None
        rows.append(("one SELECT 1 through psycopg (ceiling)", "1", cpu_per_call(
            lambda _: raw.execute("SELECT 1").fetchone(), calls, batches)))
    statement = next(seconds for label, _, seconds in rows if "SQLAlchemy" in label)
    print(f"use case CPU per call, in process, on a calendar of {BOOKED} bookings "
          f"(median of {batches} batches of {calls} calls)\n")
    width = max(len(r[0]) for r in rows)
    print(f"{'call':<{width}}  statements  CPU ms  × one SQLAlchemy SELECT 1")
    print(f"{'-' * width}  ----------  ------  -------------------------")
    for label, statements, seconds in rows:
        print(f"{label:<{width}}  {statements:>10}  {seconds * 1000:6.2f}  "
              f"{seconds / statement:25.1f}")


if __name__ == "__main__":
    main()
