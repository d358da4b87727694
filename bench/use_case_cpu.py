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
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event, text

from slotwise.api.app import create_app
from slotwise.app.bookings import BookingRequest, CustomerDetails
from slotwise.app.clock import FrozenClock
from slotwise.bootstrap import Container, build
from slotwise.domain.errors import SlotUnavailable
from slotwise.settings import Settings
from slotwise.testing import api
from slotwise.testing.stress import scenarios as sc
from slotwise.testing.stress.servers import (
    PrivatePostgres,
    PrivateRedis,
    private_postgres_database,
)

BOOKED = 100  # the calendar's bookings: 100 one-hour starts, back to back on weekdays


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


def statements_of(container: Container, call: Callable[[int], object], n: int) -> int:
    with counted_statements(container) as sent:
        call(n)
    return len(sent)


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
    with TestClient(create_app(container.use_cases)) as client:
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
    with container.engine.connect() as connection:
        rows.append(("one SELECT 1 through SQLAlchemy (ceiling)", "1", cpu_per_call(
            lambda _: connection.execute(text("SELECT 1")).scalar(), calls, batches)))
        raw = connection.connection.driver_connection
        assert raw is not None
        rows.append(("one SELECT 1 through psycopg (ceiling)", "1", cpu_per_call(
            lambda _: raw.execute("SELECT 1").fetchone(), calls, batches)))
    statement = rows[2][2]
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
