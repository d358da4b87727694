"""Faults under load, one command: a server worker killed with SIGKILL, PostgreSQL restarted,
Redis stopped, clients hanging up mid-request (issue 4).

    .venv/bin/python bench/faults.py                   # every fault
    .venv/bin/python bench/faults.py --only kill,postgres --workers 4 --clients 64

Each fault runs on `slotwise serve --workers N` over a private PostgreSQL cluster and a
private redis-server (temporary directories, free ports): restarting them disturbs nothing
else on the machine. The server runs on the real clock so that holds expire. After each
fault: the invariants (read from the database), whether and how fast a fresh booking
succeeds again without repair, and the answers near the fault — 503s during the deliberate
database outage are counted, never hidden; any other 5xx is a failure.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable

from slotwise.testing.stress import faults
from slotwise.testing.stress.clients import figures
from slotwise.testing.stress.invariants import InvariantReport
from slotwise.testing.stress.scenarios import ScenarioResult
from slotwise.testing.stress.servers import (
    PrivatePostgres,
    PrivateRedis,
    Server,
    private_postgres_database,
)

FAULTS = ["kill", "postgres", "redis", "disconnect"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=",".join(FAULTS), help=f"comma-separated of {FAULTS}")
    parser.add_argument("--workers", type=int, default=2, help="server processes (≥ 2)")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--attempts", type=int, default=400, help="bookings per fault's load")
    args = parser.parse_args()
    chosen = args.only.split(",")
    if set(chosen) - set(FAULTS) or args.workers < 2:
        parser.error(f"choose faults from {FAULTS}; --workers must be at least 2")
    print(f"slotwise fault bench — Python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}; {args.workers} server processes, "
          f"{args.clients} clients, {args.attempts} attempts per fault\n")
    load = {"attempts": args.attempts, "slots": max(10, args.attempts // 10),
            "clients": args.clients}
    rows: list[list[str]] = []
    reports: list[InvariantReport] = []
    started = time.perf_counter()
    with PrivatePostgres(max_connections=300) as pg, PrivateRedis() as redis, \
            private_postgres_database(pg) as url, \
            Server(url, workers=args.workers, redis_url=redis.url, pool_size=10) as server:
        runs: dict[str, tuple[Callable[[], ScenarioResult], bool]] = {
            "kill": (lambda: faults.kill_worker(server, **load), False),
            "postgres": (lambda: faults.restart_postgres(server, pg, **load), True),
            "redis": (lambda: faults.stop_redis(server, redis, **load), False),
            "disconnect": (lambda: faults.disconnecting_clients(
                server, attempts=args.attempts, disconnects=max(20, args.attempts // 4),
                slots=load["slots"], clients=args.clients), False),
        }
        for name in chosen:
            run, outage = runs[name]
            result = run()
            report = result.report(url, outage_503_allowed=outage)
            reports.append(report)
            f = figures(result.answers, result.elapsed_s)
            recovered = result.notes.get("recovered after s")
            rows.append([result.name, f"{result.elapsed_s:.1f}", str(f.statuses),
                         str(f.statuses.get("503", 0)),
                         str(result.notes.get("other 5xx", "-")),
                         "never" if recovered is None else f"{recovered:.2f}",
                         "hold" if report.ok else "VIOLATED"])
            notes = {k: v for k, v in result.notes.items() if k != "recovered after s"}
            if notes:
                print(f"{result.name}: {notes}")
    widths = [max(len(r[i]) for r in [*rows, HEADER]) for i in range(len(HEADER))]
    for row in [HEADER, ["-" * w for w in widths], *rows]:
        print("  ".join(f"{c:<{w}}" for c, w in zip(row, widths, strict=True)))
    print()
    for report in reports:
        print(report.table())
        print()
    print(f"total {time.perf_counter() - started:.0f} s; load average at the end: "
          f"{os.getloadavg()[0]:.1f}")
    if any(not r.ok for r in reports):
        sys.exit(1)


HEADER = ["fault", "load s", "answers", "503", "other 5xx", "serves again after s",
          "invariants"]

if __name__ == "__main__":
    main()
