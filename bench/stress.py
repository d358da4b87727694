"""Booking under stress, measured beside this machine's ceilings, with the invariants checked
after every run (issue 4).

    .venv/bin/python bench/stress.py                 # the full run (many minutes here)
    .venv/bin/python bench/stress.py --quick         # smaller loads
    .venv/bin/python bench/stress.py --only throughput,contention --processes 1,2 --clients 64

Parts (--only): `ceilings` (pgbench on an exclusion-constrained table: the database's limit),
`throughput` (bookings/s and p50/p99 through HTTP with 1, 2 and 4 server processes, without
and with contention, each beside the minimal ASGI endpoint's figures for the same load and
worker count: the Python stack's limit, and the stack's floor, bench/stack_floor.py: the same
insert through FastAPI, a sync route and SQLAlchemy, nothing else; with `--jobs external`, then
the time one `slotwise worker` takes to do the lifecycle's work the load left), `contention`
(10,000 attempts on 100 slots on 4 processes), `scenarios` (reschedule storm,
cancel-and-rebook, multi-resource, series against singles, one Idempotency-Key twenty times
at once), `lane` (10,000 refusals on 100 taken slots through slotwise and through
bench/refusal_lane.py, alternately: what rewriting the refusal path would buy at most).
Everything runs on a private PostgreSQL
cluster (initdb in a temporary directory), so nothing else on the machine is disturbed and
nothing disturbs it but the machine's own load. Medians and ratios are from one run; the
machine is noisy: the load average is printed at the start and the end.

Targets: HTTP throughput ≥ 30 % of the ASGI ceiling, without and with contention; p99 ≤ 100 ms
at 64 clients; 10,000 attempts on 100 slots resolved in ≤ 15 s with exactly 100 winners.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from slotwise.testing.stress import scenarios as sc
from slotwise.testing.stress.clients import Call, LoadFigures, figures, run_calls, run_load
from slotwise.testing.stress.invariants import InvariantReport
from slotwise.testing.stress.servers import (
    PrivatePostgres,
    PrivateRedis,
    Server,
    WorkerProcess,
    free_port,
    private_postgres_database,
)

BENCH = Path(__file__).resolve().parent
PGBENCH_SCRIPT = BENCH / "pgbench_exclusion.sql"
TABLE = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
DROP TABLE IF EXISTS bench_allocations;
CREATE TABLE bench_allocations (
    id bigserial PRIMARY KEY, resource_id int NOT NULL,
    blocked_start bigint NOT NULL, blocked_end bigint NOT NULL, active bool NOT NULL,
    EXCLUDE USING gist (resource_id WITH =, int8range(blocked_start, blocked_end) WITH &&)
        WHERE (active));
"""
P99_TARGET_MS = 100.0
SHARE_TARGET = 0.30
RESOLVE_TARGET_S = 15.0
CONTENDERS_PER_SLOT = 8


@dataclass
class Config:
    quick: bool
    processes: list[int]
    clients: int
    attempts: int  # per throughput run
    pgbench_s: int
    contention_attempts: int
    contention_slots: int
    redis_url: str | None  # the holds' Redis (production); None: SQL holds
    jobs: str  # "external": the lifecycle's jobs wait for `slotwise worker`; "embedded"

    def server(self, url: str, processes: int, *, rush_lane: bool = True) -> Server:
        return Server(url, workers=processes, now=sc.PINNED_NOW, pool_size=10,
                      redis_url=self.redis_url, extra_env={
                          "SLOTWISE_JOBS": self.jobs,
                          "SLOTWISE_RUSH_LANE": "true" if rush_lane else "false"})


def table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "  ".join(f"{c:<{w}}" for c, w in zip(cells, widths, strict=True))

    print(line(header))
    print(line(["-" * w for w in widths]))
    for row in rows:
        print(line(row))
    print()


def reports_printed(reports: list[InvariantReport]) -> None:
    for report in reports:
        print(report.table())
        print()


# ------------------------------------------------------------------ ceilings


@dataclass
class PgbenchFigures:
    tps: float
    p50_ms: float
    p99_ms: float
    inserted: int


def pgbench(pg: PrivatePostgres, database: str, *, clients: int, seconds: int,
            contended: bool) -> PgbenchFigures:
    with psycopg.connect(pg.url(database).replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(TABLE)
    resources, slots = (1, 100) if contended else (1_000_000, 1_000_000)
    with tempfile.TemporaryDirectory(prefix="pgbench-") as logs:
        completed = subprocess.run(
            ["pgbench", "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres", "-n",
             "-f", str(PGBENCH_SCRIPT), "-c", str(clients), "-j", str(min(clients, 4)),
             "-T", str(seconds), "-D", f"resources={resources}", "-D", f"slots={slots}",
             "-l", "--log-prefix", f"{logs}/tx", database],
            capture_output=True, text=True)
        if completed.returncode != 0:
            raise RuntimeError(f"pgbench failed:\n{completed.stdout}\n{completed.stderr}")
        latencies_ms = []
        for log in Path(logs).iterdir():
            for line in log.read_text().splitlines():
                latencies_ms.append(int(line.split()[2]) / 1000)
    tps = float(re.search(r"tps = ([\d.]+)", completed.stdout).group(1))  # type: ignore[union-attr]
    with psycopg.connect(pg.url(database).replace("+psycopg", "")) as conn:
        inserted = conn.execute("SELECT count(*) FROM bench_allocations").fetchone()[0]  # type: ignore[index]
    latencies_ms.sort()
    return PgbenchFigures(tps, latencies_ms[len(latencies_ms) // 2],
                          latencies_ms[int(len(latencies_ms) * 0.99)], inserted)


class CeilingServer:
    """bench/ceiling_asgi.py (or, `floor`, bench/stack_floor.py; or another bench app's
    factory) under uvicorn with `workers` processes."""

    def __init__(self, database_url: str, workers: int, *, floor: bool = False,
                 app: str | None = None, extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "CEILING_DATABASE_URL": database_url.replace("+psycopg", ""),
               "FLOOR_DATABASE_URL": database_url, **(extra_env or {})}
        app = app or ("stack_floor:create" if floor else "ceiling_asgi:create")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--app-dir", str(BENCH), app,
             "--factory", "--workers", str(workers), "--port", str(self.port),
             "--no-access-log", "--log-level", "warning"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base_url, timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"{app} did not start")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


def _served(url: str, processes: int) -> Iterator[CeilingServer]:
    """The ceiling, then the stack's floor, each up only while it is measured."""
    for floor in (False, True):
        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(TABLE)
        server = CeilingServer(url, processes, floor=floor)
        try:
            yield server
        finally:
            server.close()


def ceiling_load(base_url: str, *, attempts: int, clients: int, contended: bool
                 ) -> LoadFigures:
    if contended:
        bodies = [{"resource": 1, "slot": i // CONTENDERS_PER_SLOT} for i in range(attempts)]
    else:
        bodies = [{"resource": 1000 + i % clients, "slot": i // clients}
                  for i in range(attempts)]
    calls = [Call("POST", "/", body) for body in bodies]
    started = time.perf_counter()
    answers = run_load(run_calls(base_url, calls, clients))
    return figures(answers, time.perf_counter() - started)


# ------------------------------------------------------------------ parts


def part_ceilings(pg: PrivatePostgres, cfg: Config) -> None:
    print(f"== Ceiling 1: pgbench, {PGBENCH_SCRIPT.name} (advisory lock + guarded insert), "
          f"{cfg.clients} clients, {cfg.pgbench_s} s each\n")
    with private_postgres_database(pg) as url:
        database = url.rsplit("/", 1)[1]
        rows = []
        for contended in (False, True):
            f = pgbench(pg, database, clients=cfg.clients, seconds=cfg.pgbench_s,
                        contended=contended)
            rows.append(["contended (1 resource, 100 slots)" if contended
                         else "no contention", f"{f.tps:,.0f}", f"{f.p50_ms:.1f}",
                         f"{f.p99_ms:.1f}", f"{f.inserted:,}"])
    table(["load", "tx/s", "p50 ms", "p99 ms", "rows inserted"], rows)


def part_throughput(pg: PrivatePostgres, cfg: Config, reports: list[InvariantReport]) -> None:
    print(f"== Throughput: POST /v1/bookings, {cfg.attempts} attempts at {cfg.clients} "
          f"clients; contended = {CONTENDERS_PER_SLOT} clients per start of one resource.\n"
          "   Ceiling 2 beside each: bench/ceiling_asgi.py, same uvicorn, same workers, same "
          "client, same load shape.\n")
    rows: list[list[str]] = []
    drains: list[list[str]] = []
    for processes in cfg.processes:
        with private_postgres_database(pg) as url:
            ceilings, floors = ({c: ceiling_load(server.base_url, attempts=cfg.attempts,
                                                 clients=cfg.clients, contended=c)
                                 for c in (False, True)}
                                for server in _served(url, processes))
        with private_postgres_database(pg) as url, \
                cfg.server(url, processes) as server:
            for contended in (False, True):
                result = sc.booking_load(server.base_url, attempts=cfg.attempts,
                                         clients=cfg.clients, contended=contended,
                                         contenders_per_slot=CONTENDERS_PER_SLOT)
                f = figures(result.answers, result.elapsed_s)
                c, floor = ceilings[contended], floors[contended]
                share = f.answers_per_s / c.answers_per_s if c.answers_per_s else 0.0
                rows.append([str(processes), "contended" if contended else "none",
                             f"{f.bookings_per_s:.1f}", f"{f.answers_per_s:.1f}",
                             f"{f.p50_ms:.0f}", f"{f.p99_ms:.0f}",
                             f"{c.answers_per_s:.0f}", f"{c.p99_ms:.0f}",
                             f"{floor.answers_per_s:.0f}",
                             f"{floor.answers_per_s / c.answers_per_s:.0%}",
                             f"{share:.1%} {'ok' if share >= SHARE_TARGET else 'MISSED'}",
                             f"{'ok' if f.p99_ms <= P99_TARGET_MS else 'MISSED'}",
                             str(f.statuses)])
                reports.append(result.report(url))
            if cfg.jobs == "external":
                drains.append([str(processes), *map(str, drained_by_a_worker(server, url))])
    table(["procs", "contention", "bookings/s", "answers/s", "p50 ms", "p99 ms",
           "ceiling ans/s", "ceiling p99", "floor ans/s", "floor share", "share (≥30%)",
           "p99≤100ms", "statuses"], rows)
    if drains:
        print("   What the loads left to the lifecycle (confirmations, webhooks, the outbox "
              "relay),\n   done afterwards by one `slotwise worker` on this machine:\n")
        table(["procs", "outbox events", "drained in s", "events/s"],
              [[p, e, f"{float(t):.1f}", f"{int(e) / float(t):.1f}"] for p, e, t in drains])


UNDONE = """
SELECT (SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')
          AND (scheduled_at IS NULL OR scheduled_at <= now())),
       (SELECT count(*) FROM outbox WHERE published_at IS NULL)
"""
def drained_by_a_worker(server: Server, url: str, timeout_s: float = 600.0
                        ) -> tuple[int, float]:
    """Start one `slotwise worker` on what the load left (unpublished outbox events, and the
    jobs their reactions defer) and wait until it is all done: (events, seconds)."""
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        events = (conn.execute(UNDONE).fetchone() or (0, 0))[1]
        started = time.perf_counter()
        with WorkerProcess(server):
            while time.perf_counter() - started < timeout_s:
                if conn.execute(UNDONE).fetchone() == (0, 0):
                    break
                time.sleep(0.2)
            else:
                raise RuntimeError(f"the worker did not drain the backlog in {timeout_s:.0f} s")
        return events, time.perf_counter() - started


def part_contention(pg: PrivatePostgres, cfg: Config, reports: list[InvariantReport]) -> None:
    processes = max(cfg.processes)
    print(f"== {cfg.contention_attempts:,} attempts on {cfg.contention_slots} slots, "
          f"{processes} processes, {cfg.clients} clients\n")
    with private_postgres_database(pg) as url, \
            cfg.server(url, processes) as server:
        result = sc.attempts_on_slots(server.base_url, attempts=cfg.contention_attempts,
                                      slots=cfg.contention_slots, clients=cfg.clients)
        f = figures(result.answers, result.elapsed_s)
        winners = result.notes["winners"]
        ok_time = result.elapsed_s <= RESOLVE_TARGET_S
        table(["resolved in s", "target ≤ s", "winners", "answers/s", "p50 ms", "p99 ms",
               "statuses"],
              [[f"{result.elapsed_s:.1f} {'ok' if ok_time else 'MISSED'}",
                f"{RESOLVE_TARGET_S:.0f}",
                f"{winners} {'ok' if winners == cfg.contention_slots else 'WRONG'}",
                f"{f.answers_per_s:.1f}", f"{f.p50_ms:.0f}", f"{f.p99_ms:.0f}",
                str(f.statuses)]])
        reports.append(result.report(url))


def part_scenarios(pg: PrivatePostgres, cfg: Config, reports: list[InvariantReport]) -> None:
    processes = max(cfg.processes)
    print(f"== Scenarios on {processes} processes\n")
    small = cfg.quick
    runs: list[Callable[[str], sc.ScenarioResult]] = [
        lambda b: sc.reschedule_storm(b, bookings=20 if small else 60,
                                      free=10 if small else 30, rounds=3),
        lambda b: sc.cancel_and_rebook(b, bookings=15 if small else 40, contenders=4),
        lambda b: sc.multi_resource(b, practitioners=6, rooms=2, slots=10 if small else 30,
                                    attempts_per_slot=6),
        lambda b: sc.series_against_singles(b, series=8, count=4),
        lambda b: sc.idempotency_burst(b, copies=20, rounds=3 if small else 10),
    ]
    rows = []
    with private_postgres_database(pg) as url, \
            cfg.server(url, processes) as server:
        for run in runs:
            result = run(server.base_url)
            f = figures(result.answers, result.elapsed_s)
            rows.append([result.name, f"{result.elapsed_s:.1f}", f"{f.p50_ms:.0f}",
                         f"{f.p99_ms:.0f}", str(f.statuses)])
            reports.append(result.report(url))
    table(["scenario", "load s", "p50 ms", "p99 ms", "statuses"], rows)


def part_lane(pg: PrivatePostgres, cfg: Config) -> None:
    """The same refusals through slotwise with its rush lane, without it, and through
    bench/refusal_lane.py, alternately."""
    processes, attempts = max(cfg.processes), cfg.contention_attempts
    print(f"== The rush lane: {attempts:,} refusals on 100 taken slots, {processes} "
          f"processes, {cfg.clients} clients, alternately through slotwise with its rush "
          "lane,\n   without it (SLOTWISE_RUSH_LANE=false: every refusal takes the full "
          "path), and through bench/refusal_lane.py\n   (its upper bound: the same reads and "
          "engine with no rules, no catalog check, no fallback)\n")
    if cfg.redis_url is None:
        print("   (needs holds in Redis: skipped with --holds sql)\n")
        return
    with private_postgres_database(pg) as url, cfg.server(url, processes) as server, \
            sc.organisation(server.base_url) as org:
        _, service_id = sc.one_resource_service(org)
        starts = sc.weekday_starts(sc.FIRST_DAY, 100)
        booked = run_load(run_calls(server.base_url,
                                    [sc.book_call(org, service_id, s) for s in starts], 8))
        assert {a.status for a in booked} == {201}, "every start is booked first"
        order = [starts[i % len(starts)] for i in range(attempts)]
        random.Random(3).shuffle(order)
        calls = [sc.book_call(org, service_id, start) for start in order]
        full_path = cfg.server(url, processes, rush_lane=False)
        lane = CeilingServer(url, processes, app="refusal_lane:create", extra_env={
            "LANE_DATABASE_URL": url, "LANE_REDIS_URL": cfg.redis_url,
            "SLOTWISE_NOW": sc.PINNED_NOW})
        try:
            full_path.start()
            targets = {"slotwise": server.base_url, "slotwise, lane off": full_path.base_url,
                       "bench refusal lane": lane.base_url}
            for base_url in targets.values():  # warm: plans, prepared statements, the rush
                run_load(run_calls(base_url, calls[:400], cfg.clients))
            rows = []
            alternatives: dict[str, dict[str, object]] = {}
            for _ in range(2):
                for name, base_url in targets.items():
                    started = time.perf_counter()
                    answers = run_load(run_calls(base_url, calls, cfg.clients))
                    f = figures(answers, time.perf_counter() - started)
                    rows.append([name, f"{f.elapsed_s:.1f}", f"{f.answers_per_s:.0f}",
                                 f"{f.p50_ms:.0f}", f"{f.p99_ms:.0f}", str(f.statuses)])
                    alternatives[name] = {
                        a.call.body["start"]: a.body.get("alternatives")  # type: ignore[index]
                        for a in answers if isinstance(a.body, dict)}
        finally:
            lane.close()
            full_path.stop()
    table(["answered by", "resolved in s", "answers/s", "p50 ms", "p99 ms", "statuses"], rows)
    for name in ("slotwise, lane off", "bench refusal lane"):
        same = sum(alternatives["slotwise"].get(start) == found
                   for start, found in alternatives[name].items())
        print(f"   the same alternatives from slotwise and {name}, per taken start: {same} of "
              f"{len(alternatives[name])}")
    print()


PARTS = ["ceilings", "throughput", "contention", "scenarios", "lane"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller loads")
    parser.add_argument("--only", default=",".join(PARTS),
                        help=f"comma-separated parts of {PARTS}")
    parser.add_argument("--processes", default="1,2,4", help="server processes to measure")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--attempts", type=int, help="attempts per throughput run")
    parser.add_argument("--holds", choices=["redis", "sql"], default="redis",
                        help="where holds live: a private Redis (production), or SQL")
    parser.add_argument("--jobs", choices=["external", "embedded"], default="external",
                        help="external (production): the server processes only serve, the "
                             "lifecycle's jobs wait for a `slotwise worker` started after "
                             "the load; embedded: the server processes run them too")
    args = parser.parse_args()
    cfg = Config(
        quick=args.quick, processes=[int(p) for p in args.processes.split(",")],
        clients=args.clients,
        attempts=args.attempts or (400 if args.quick else 1500),
        pgbench_s=5 if args.quick else 10,
        contention_attempts=2_000 if args.quick else 10_000, contention_slots=100,
        redis_url=None, jobs=args.jobs)
    parts = args.only.split(",")
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}; choose from {PARTS}")
    print(f"slotwise stress bench — Python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at the start; "
          f"{'quick' if cfg.quick else 'full'} run; holds in {args.holds}; jobs {args.jobs}\n")
    reports: list[InvariantReport] = []
    started = time.perf_counter()
    with PrivatePostgres(max_connections=300) as pg, contextlib.ExitStack() as stack:
        if args.holds == "redis":
            cfg.redis_url = stack.enter_context(PrivateRedis()).url
        if "ceilings" in parts:
            part_ceilings(pg, cfg)
        if "throughput" in parts:
            part_throughput(pg, cfg, reports)
        if "contention" in parts:
            part_contention(pg, cfg, reports)
        if "scenarios" in parts:
            part_scenarios(pg, cfg, reports)
        if "lane" in parts:
            part_lane(pg, cfg)
    if reports:
        print("== Invariants, read from the database after each run\n")
        reports_printed(reports)
        broken = [r.title for r in reports if not r.ok]
        print(f"invariants: {len(reports) - len(broken)} of {len(reports)} runs hold"
              + (f"; VIOLATED in {broken}" if broken else ""))
    print(f"total {time.perf_counter() - started:.0f} s; load average at the end: "
          f"{os.getloadavg()[0]:.1f} (1 min)")
    if any(not r.ok for r in reports):
        sys.exit(1)


if __name__ == "__main__":
    main()
