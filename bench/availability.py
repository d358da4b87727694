"""Availability speed, measured: the engine alone, then the HTTP endpoint on SQLite and
PostgreSQL, with this machine's ceilings measured in the same run.

    .venv/bin/python bench/availability.py            # the full run (several minutes)
    .venv/bin/python bench/availability.py --quick    # fewer repetitions
    .venv/bin/python bench/availability.py --only a,c --backends sqlite --profile

Scenarios (bench/scenarios.py): (a) one resource, 30 days, 500 bookings; (b) a team of
50 x 20 x 5 with 5,000 bookings over 14 days; (c) 1,000 resources "any of" over 7 days;
(d) the growth curve: bookings and window doubling together.

Engine figures are medians of many `find_slots` calls on a `SlotRequest` built directly.
HTTP figures are the median and 95th percentile of sequential
`GET /v1/services/{id}/availability` calls to a real `slotwise serve` subprocess with the
scenario seeded (bench/seed.py). The ceilings beside them: a no-op engine call, an empty
Python loop over as many items as the scenario has intervals, building the answer's Slot
objects, and `GET /healthz` and an authenticated one-row `GET /v1/services/{id}` over the same
HTTP stack. Medians and ratios are from one run; the machine is noisy.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import math
import os
import platform
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import scenarios as sc
from seed import Seeded, seed, server

from slotwise.app.availability import slot_request
from slotwise.app.clock import FrozenClock
from slotwise.bootstrap import build
from slotwise.engine import schedule as schedule_module
from slotwise.engine.availability import Slot, SlotRequest, find_slots
from slotwise.engine.intervals import TimeRange
from slotwise.engine.schedule import open_windows
from slotwise.settings import Settings
from slotwise.store.uow import SqlUnitOfWorkFactory
from slotwise.testing.databases import fresh_postgres_database


def _iso(t: object) -> str:
    return t.isoformat().replace("+00:00", "Z")  # type: ignore[attr-defined]


# ------------------------------------------------------------------ timing


def timed_runs(fn: Callable[[], object], budget_s: float, min_runs: int, max_runs: int,
               setup: Callable[[], object] | None = None) -> list[float]:
    """Seconds per call: at least `min_runs` calls, more while the budget lasts; `setup`
    runs before each call, untimed."""
    out: list[float] = []
    spent = 0.0
    while len(out) < max_runs and (len(out) < min_runs or spent < budget_s):
        if setup is not None:
            setup()
        started = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - started
        out.append(elapsed)
        spent += elapsed
    return out


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def p95_ms(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)] * 1000


@dataclass
class Config:
    quick: bool
    engine_budget_s: float
    http_requests: int

    @classmethod
    def of(cls, quick: bool) -> Config:
        return cls(quick, 1.0 if quick else 4.0, 20 if quick else 60)


# ------------------------------------------------------------------ engine


def interval_count(request: SlotRequest, window: TimeRange) -> int:
    """Open windows plus busy ranges the engine looks at for `window` (its input size)."""
    reach = TimeRange(window.start, window.end + request.duration)
    n = 0
    for cal in request.calendars.values():
        if cal.schedule is not None:
            n += len(open_windows(cal.schedule, reach))
        n += sum(1 for b in cal.busy if b.range.start < reach.end and b.range.end > reach.start)
    return n


def forget_windows() -> None:
    """Empty the engine's memory of expanded schedules (when it has one), so that a timed
    call pays for expanding every distinct schedule as a first request would."""
    remembered = getattr(schedule_module, "_remembered_windows", None)
    if remembered is not None:
        remembered.cache_clear()


@dataclass
class EngineFigures:
    slots: int
    intervals: int
    median_ms: float  # cold: expanded schedules forgotten before each call
    warm_ms: float  # the same call repeated, expansions remembered
    runs: int
    noop_ms: float
    loop_ms: float
    build_ms: float


def engine_figures(request: SlotRequest, window: TimeRange, cfg: Config) -> EngineFigures:
    slots = find_slots(request, window)
    samples = timed_runs(lambda: find_slots(request, window), cfg.engine_budget_s, 5, 2000,
                         setup=forget_windows)
    warm = timed_runs(lambda: find_slots(request, window), cfg.engine_budget_s / 2, 5, 2000)
    before_now = TimeRange(request.now - timedelta(hours=2), request.now - timedelta(hours=1))
    noop = timed_runs(lambda: find_slots(request, before_now), 0.05, 200, 2000)
    n = interval_count(request, window)
    items = range(n)

    def empty_loop() -> None:
        for _ in items:
            pass

    loop = timed_runs(empty_loop, 0.05, 200, 5000)
    starts = [(s.start, s.end, s.resource_ids) for s in slots]
    build = timed_runs(lambda: [Slot(a, b, c) for a, b, c in starts], 0.05, 200, 5000)
    return EngineFigures(len(slots), n, median_ms(samples), median_ms(warm), len(samples),
                         median_ms(noop),
                         median_ms(loop), median_ms(build))


def profile_engine(request: SlotRequest, window: TimeRange, top: int = 12) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(3):
        find_slots(request, window)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.strip_dirs().sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def fit_exponent(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of log(time) over log(size)."""
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(t) for _, t in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return (sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
            / sum((x - mx) ** 2 for x in xs))


# ------------------------------------------------------------------ HTTP


@dataclass
class HttpFigures:
    slots: int
    p50_ms: float
    p95_ms: float
    requests: int


def http_figures(client: httpx.Client, seeded: Seeded, window: TimeRange, cfg: Config,
                 requests: int | None = None) -> HttpFigures:
    path = f"/v1/services/{seeded.measured}/availability"
    params = {"start": _iso(window.start), "end": _iso(window.end)}
    count = 0

    def call() -> None:
        nonlocal count
        response = client.get(path, params=params, headers=seeded.org.headers)
        response.raise_for_status()
        count = len(response.json()["slots"])

    for _ in range(3):
        call()
    samples = timed_runs(call, 0.0, requests or cfg.http_requests, requests or cfg.http_requests)
    return HttpFigures(count, median_ms(samples), p95_ms(samples), len(samples))


def http_ceiling(client: httpx.Client, seeded: Seeded, cfg: Config) -> dict[str, HttpFigures]:
    out = {}
    for name, path, headers in (
        ("GET /healthz", "/healthz", {}),
        ("GET /v1/services/{id}", f"/v1/services/{seeded.measured}", seeded.org.headers),
    ):
        def call(path: str = path, headers: dict[str, str] = headers) -> None:
            client.get(path, headers=headers).raise_for_status()

        for _ in range(5):
            call()
        n = cfg.http_requests * 2
        samples = timed_runs(call, 0.0, n, n)
        out[name] = HttpFigures(0, median_ms(samples), p95_ms(samples), n)
    return out


# ------------------------------------------------------------------ in process


@dataclass
class Split:
    search_ms: float  # the use case: one transaction, loading, engine
    load_ms: float  # slot_request: service, resources, busy time, schedules
    engine_ms: float  # find_slots on what was loaded


def in_process_split(url: str, seeded: Seeded, scenario: sc.Scenario, window: TimeRange,
                     cfg: Config, profile: bool) -> tuple[Split, str]:
    """The server's work without HTTP, against the same database, split into its parts."""
    container = build(Settings(database_url=url, database_pool_size=2),
                      clock=FrozenClock(scenario.now))
    try:
        uow_factory = SqlUnitOfWorkFactory(container.engine)
        search = container.use_cases.search
        org_id, service_id = seeded.org.id, seeded.measured

        def load() -> SlotRequest:
            with uow_factory() as uow:
                service = uow.services.get(org_id, service_id)
                assert service is not None
                return slot_request(uow, service, scenario.now, window)

        budget = cfg.engine_budget_s / 2
        total = timed_runs(lambda: search(org_id, service_id, window.start, window.end),
                           budget, 5, 500)
        loading = timed_runs(load, budget, 5, 500)
        request = load()
        engine = timed_runs(lambda: find_slots(request, window), budget, 5, 500)
        report = ""
        if profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(3):
                search(org_id, service_id, window.start, window.end)
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("cumulative") \
                .print_stats(18)
            report = out.getvalue()
        return Split(median_ms(total), median_ms(loading), median_ms(engine)), report
    finally:
        container.close()


# ------------------------------------------------------------------ the run

LETTERS = {"a": "single", "b": "team", "c": "any_of", "d": "growth"}


def _row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                     enumerate(zip(cells, widths, strict=True)))


def _table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print(_row(header, widths))
    print(_row(["-" * w for w in widths], widths))
    for r in rows:
        print(_row(r, widths))
    print()


def run_engine(scenarios: list[sc.Scenario], cfg: Config, profile: bool
               ) -> dict[str, EngineFigures]:
    print("== Engine: find_slots on a SlotRequest built directly (median of many calls)\n")
    figures: dict[str, EngineFigures] = {}
    rows = []
    for s in scenarios:
        if s.name == "growth":
            continue
        f = engine_figures(sc.engine_request(s), s.window(), cfg)
        figures[s.name] = f
        target = f"{s.target_ms:g}" if s.target_ms is not None else "-"
        verdict = ("met" if s.target_ms is not None and f.median_ms <= s.target_ms else
                   f"{f.median_ms / s.target_ms:.1f}x over" if s.target_ms else "-")
        rows.append([s.title, str(f.slots), str(f.intervals), f"{f.median_ms:.2f}",
                     f"{f.warm_ms:.2f}", str(f.runs), target, verdict,
                     f"{f.noop_ms * 1000:.1f}",
                     f"{f.loop_ms * 1000:.0f}", f"{f.build_ms * 1000:.0f}"])
    if rows:
        _table(["scenario", "slots", "intervals", "median ms", "warm ms", "runs", "target ms", "",
                "no-op call us", "empty loop us", "build slots us"], rows)
    growth = next((s for s in scenarios if s.name == "growth"), None)
    if growth is not None:
        request = sc.engine_request(growth)
        points: list[tuple[int, float]] = []
        rows = []
        for days in sc.GROWTH_DAYS:
            window = growth.window(days)
            f = engine_figures(request, window, cfg)
            figures[f"growth-{days:g}"] = f
            points.append((f.intervals, f.median_ms))
            rows.append([f"{days:g} d", str(sc.busy_in(growth, window)), str(f.intervals),
                         str(f.slots), f"{f.median_ms:.2f}", f"{f.warm_ms:.2f}",
                         f"{f.median_ms / f.intervals * 1000:.2f}",
                         f"{f.loop_ms / f.intervals * 1000:.3f}"])
        print(f"-- {growth.title}: window and bookings doubling\n")
        _table(["window", "bookings", "intervals", "slots", "median ms", "warm ms", "us/interval",
                "empty loop us/interval"], rows)
        exponent = fit_exponent(points)
        n0, n1 = points[0][0], points[-1][0]
        nlogn = math.log((n1 * math.log(n1)) / (n0 * math.log(n0))) / math.log(n1 / n0)
        print(f"fitted growth exponent (time ~ intervals^k): k = {exponent:.2f} "
              f"(n log n over this range would be k = {nlogn:.2f}; linear k = 1)\n")
    if profile:
        for s in scenarios:
            window = s.window()
            print(f"-- cProfile of find_slots, {s.title} (3 calls, cumulative)\n")
            print(profile_engine(sc.engine_request(s), window))
    return figures


def run_http(scenarios: list[sc.Scenario], backends: list[str], cfg: Config,
             engine: dict[str, EngineFigures], profile: bool) -> None:
    print("== HTTP: GET /v1/services/{id}/availability on a live `slotwise serve`, "
          f"{cfg.http_requests} sequential requests each\n")
    for backend in backends:
        with ExitStack() as stack:
            if backend == "sqlite":
                tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
                url = f"sqlite:///{tmp / 'bench.db'}"
            else:
                url = stack.enter_context(fresh_postgres_database("slotwise_bench"))
            now = _iso(scenarios[0].now)
            base = stack.enter_context(server(url, now))
            client = stack.enter_context(httpx.Client(base_url=base, timeout=120.0))
            seeded: dict[str, Seeded] = {}
            for s in scenarios:
                started = time.perf_counter()
                seeded[s.name] = seed(s, client, url)
                print(f"[{backend}] seeded {s.name}: {len(s.resources)} resources, "
                      f"{len(s.bookings)} bookings in {time.perf_counter() - started:.1f} s")
            print(f"\n-- {backend}: one database holding every scenario's organisation\n")
            ceiling = http_ceiling(client, seeded[scenarios[0].name], cfg)
            rows = [[name, "", f"{f.p50_ms:.2f}", f"{f.p95_ms:.2f}", "", "", "", ""]
                    for name, f in ceiling.items()]
            reports = []
            for s in scenarios:
                windows = ([(f"{s.title[:9]} {d:g} d", s.window(d), f"growth-{d:g}")
                            for d in sc.GROWTH_DAYS] if s.name == "growth"
                           else [(s.title, s.window(), s.name)])
                for label, window, key in windows:
                    f = http_figures(client, seeded[s.name], window, cfg)
                    want = engine.get(key)
                    check = "" if want is None else ("=" if want.slots == f.slots
                                                     else f"!= engine {want.slots}")
                    split, report = in_process_split(url, seeded[s.name], s, window, cfg,
                                                     profile and s.name != "growth")
                    if report:
                        reports.append((s.title, report))
                    target = "15" if s.name == "single" else ""
                    rows.append([label, f"{f.slots} {check}", f"{f.p50_ms:.2f}",
                                 f"{f.p95_ms:.2f}", target, f"{split.search_ms:.2f}",
                                 f"{split.load_ms:.2f}", f"{split.engine_ms:.2f}"])
            _table(["request", "slots", "p50 ms", "p95 ms", "target p50", "in-process ms",
                    "of it loading", "engine"], rows)
            for title, report in reports:
                print(f"-- cProfile of the search use case in process, {backend}, {title}\n")
                print(report)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--only", default="a,b,c,d", help="scenarios to run, e.g. a,c")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--no-http", action="store_true", help="the engine only")
    parser.add_argument("--profile", action="store_true",
                        help="print cProfile summaries of the engine and the use case")
    args = parser.parse_args(argv)
    cfg = Config.of(args.quick)
    print(f"slotwise availability bench — Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, {platform.machine()}, "
          f"{time.strftime('%Y-%m-%d %H:%M')}, {'quick' if args.quick else 'full'} run, "
          f"load average {os.getloadavg()[0]:.1f}\n")
    makers = {"single": sc.single, "team": sc.team, "any_of": sc.any_of, "growth": sc.growth}
    scenarios = [makers[LETTERS[x.strip()]]() for x in args.only.split(",")]
    engine = run_engine(scenarios, cfg, args.profile)
    if not args.no_http:
        run_http(scenarios, [b.strip() for b in args.backends.split(",")], cfg, engine,
                 args.profile)
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (1 min) on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
