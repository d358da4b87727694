"""The query plans of an availability search, on SQLite and PostgreSQL.

    .venv/bin/python bench/explain.py [--scenario b] [--backends sqlite,postgresql]

Seeds one scenario of bench/scenarios.py (through the in-process API and the store, as the
benchmark does) into a fresh database per backend, beside a neighbour organisation (the growth
scenario), runs the availability use case once with
every SQL statement captured, and prints each statement's plan: `EXPLAIN QUERY PLAN` on
SQLite, `EXPLAIN (ANALYZE, BUFFERS)` on PostgreSQL (after `ANALYZE`, as autovacuum would
have). The busy-time queries (allocations, blocks, held resources) must use an index that
bounds the scan by the window, and fetch only the window's rows.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import scenarios as sc
from fastapi.testclient import TestClient
from seed import seed
from sqlalchemy import Engine, event, insert, select

from slotwise.api.app import create_app
from slotwise.app.clock import FrozenClock
from slotwise.bootstrap import build
from slotwise.engine.intervals import TimeRange
from slotwise.settings import Settings
from slotwise.store.tables import allocations, bookings
from slotwise.testing.databases import fresh_postgres_database

LETTERS = {"a": sc.single, "b": sc.team, "c": sc.any_of, "d": sc.growth}


def _add_history(engine: Engine, org_id: str, copies: int) -> None:
    """Copies of the organisation's bookings (and their allocations) shifted back by whole
    multiples of their own span: the past a long-lived resource accumulates."""
    with engine.begin() as connection:
        found = connection.execute(select(bookings).where(bookings.c.org_id == org_id)).all()
        allocated = connection.execute(
            select(allocations).where(allocations.c.org_id == org_id)).all()
        span = max(b.end_at for b in found) - min(b.start_at for b in found)
        for k in range(1, copies + 1):
            shift = k * (span + timedelta(days=1))
            connection.execute(insert(bookings), [
                {**b._asdict(), "id": f"{b.id}_h{k}", "start_at": b.start_at - shift,
                 "end_at": b.end_at - shift} for b in found])
            seconds = int(shift.total_seconds())
            connection.execute(insert(allocations), [
                {**a._asdict(), "id": f"{a.id}_h{k}", "booking_id": f"{a.booking_id}_h{k}",
                 "session_key": f"{a.session_key}_h{k}",
                 "blocked_start": a.blocked_start - seconds,
                 "blocked_end": a.blocked_end - seconds} for a in allocated])


def explain(backend: str, url: str, scenario: sc.Scenario, window: TimeRange,
            history: int) -> None:
    settings = Settings(database_url=url, password_hash_time_cost=1,
                        password_hash_memory_kib=1024)
    container = build(settings, migrate=True, clock=FrozenClock(scenario.now))
    try:
        with TestClient(create_app(container.use_cases)) as client:
            # A neighbour organisation first, so that the tables are shared as in production
            # (with one organisation, "org_id = ?" selects every row and plans differ).
            seed(sc.growth(), client, url)
            seeded = seed(scenario, client, url)
        engine = container.engine
        if history:
            started = time.perf_counter()
            _add_history(engine, seeded.org.id, history)
            print(f"[{backend}] history: {history} earlier copies of the bookings "
                  f"in {time.perf_counter() - started:.0f} s")
        if backend == "postgresql":
            with engine.begin() as connection:
                connection.exec_driver_sql("ANALYZE")
        captured: list[tuple[str, Any]] = []
        took: list[float] = []  # seconds per captured statement: execution, before any fetch

        def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
                    _many: bool) -> None:
            if statement.lstrip().upper().startswith("SELECT"):
                captured.append((statement, parameters))
                took.append(time.perf_counter())

        def done(_conn: Any, _cursor: Any, statement: str, _parameters: Any, _context: Any,
                 _many: bool) -> None:
            if statement.lstrip().upper().startswith("SELECT"):
                took[-1] = time.perf_counter() - took[-1]

        def search() -> list[Any]:
            return container.use_cases.search(seeded.org.id, seeded.measured, window.start,
                                              window.end)

        search()  # warm: connection pool, statement caches
        event.listen(engine, "before_cursor_execute", capture)
        event.listen(engine, "after_cursor_execute", done)
        try:
            slots = search()
        finally:
            event.remove(engine, "before_cursor_execute", capture)
            event.remove(engine, "after_cursor_execute", done)
        print(f"== {backend}: {scenario.title}, queried for {window.start:%Y-%m-%d %H:%M} .. "
              f"{window.end:%Y-%m-%d %H:%M} UTC: {len(slots)} slots, "
              f"{len(captured)} SELECT statements\n")
        for (statement, parameters), seconds in zip(captured, took, strict=True):
            text = " ".join(statement.split())
            if not any(f"FROM {t} " in text + " " for t in
                       ("allocations", "blocks", "held_resources")):
                print(f"-- [{seconds * 1000:.2f} ms] {text[:150]}"
                      f"{'...' if len(text) > 150 else ''}\n")
                continue
            print(f"-- [{seconds * 1000:.2f} ms] {text}\n")
            with engine.connect() as connection:
                if backend == "postgresql":
                    plan = [row[0] for row in connection.exec_driver_sql(
                        "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)]
                    _print_plan(plan)
                    if any("Seq Scan" in line for line in plan):
                        # A table this small is read whole faster than through an index; show
                        # the index plan the planner turns to as the table grows.
                        connection.exec_driver_sql("SET enable_seqscan = off")
                        print("    -- the same with enable_seqscan = off:")
                        _print_plan([row[0] for row in connection.exec_driver_sql(
                            "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)])
                        connection.exec_driver_sql("RESET enable_seqscan")
                else:
                    _print_plan([row[-1] for row in connection.exec_driver_sql(
                        "EXPLAIN QUERY PLAN " + statement, parameters)])
            print()
    finally:
        container.close()


def _print_plan(lines: list[str]) -> None:
    for line in lines:
        # The pool's ids make unreadable lines; they say nothing about the plan.
        print("   ", re.sub(r"'\{[^}]*\}'", "'{...}'", line))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="b", choices=sorted(LETTERS))
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--offset-days", type=float, default=6.0,
                        help="where the queried window starts, in days after the scenario's")
    parser.add_argument("--days", type=float, default=1.0, help="the queried window's length")
    parser.add_argument("--history", type=int, default=0,
                        help="add this many earlier copies of the scenario's bookings")
    args = parser.parse_args()
    scenario = LETTERS[args.scenario]()
    start = scenario.start + timedelta(days=args.offset_days)
    window = TimeRange(start, start + timedelta(days=args.days))
    for backend in args.backends.split(","):
        with ExitStack() as stack:
            if backend == "sqlite":
                tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
                url = f"sqlite:///{tmp / 'explain.db'}"
            else:
                url = stack.enter_context(fresh_postgres_database("slotwise_explain"))
            explain(backend, url, scenario, window, args.history)


if __name__ == "__main__":
    main()
