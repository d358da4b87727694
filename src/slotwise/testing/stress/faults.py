"""Faults under load: a worker killed with SIGKILL, PostgreSQL restarted, Redis stopped, and
clients that hang up mid-request. Each runs a booking load, injects its fault while the load
runs, then proves the system serves again (a fresh booking succeeds without manual repair)
and hands back the answers for the invariant checker.

The server runs on the real clock here (holds must be able to expire), so the slots are in
the weeks after the real "now".
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import httpx

from slotwise.testing import api
from slotwise.testing.stress.clients import (
    Answer,
    Call,
    disconnect_after_sending,
    run_calls,
    run_load,
)
from slotwise.testing.stress.scenarios import (
    ScenarioResult,
    book_call,
    monday_after,
    one_resource_service,
    organisation,
    weekday_starts,
)
from slotwise.testing.stress.servers import PrivatePostgres, PrivateRedis, Server

RECOVERY_TIMEOUT_S = 60.0


def _load(org: api.Org, service_id: str, starts: Sequence[str], attempts: int,
          seed: int) -> list[Call]:
    order = [starts[i % len(starts)] for i in range(attempts)]
    random.Random(seed).shuffle(order)
    return [book_call(org, service_id, s, key=f"k-{secrets.token_hex(6)}") for s in order]


def _under_fault(base_url: str, calls: Sequence[Call], clients: int,
                 fault: Callable[[], None], after_s: float, pace_s: float = 0.0
                 ) -> tuple[list[Answer], float, tuple[float, float]]:
    """Run the calls (each client starting one at most every `pace_s`); `after_s` into the
    load run `fault` (in a thread: it may block). Returns the answers, the load's seconds,
    and the fault's monotonic window."""

    async def run() -> tuple[list[Answer], tuple[float, float]]:
        load = asyncio.create_task(run_calls(base_url, calls, clients, pace_s=pace_s))
        await asyncio.sleep(after_s)
        began = time.monotonic()
        await asyncio.to_thread(fault)
        window = (began, time.monotonic())
        return await load, window

    started = time.perf_counter()
    answers, window = run_load(run())
    return answers, time.perf_counter() - started, window


def serves_again(org: api.Org, service_id: str, start: str,
                 timeout_s: float = RECOVERY_TIMEOUT_S) -> tuple[float | None, list[int]]:
    """Seconds until a fresh booking at `start` is a 201 (None: never within the timeout),
    and the statuses seen on the way (None for no answer is recorded as 0)."""
    began = time.monotonic()
    seen: list[int] = []
    email = f"again-{secrets.token_hex(4)}@example.com"
    while time.monotonic() - began < timeout_s:
        try:
            response = org.post("/v1/bookings", {"service_id": service_id, "start": start,
                                                 "customer": {"name": "Again", "email": email}})
            seen.append(response.status_code)
            if response.status_code == 201:
                return time.monotonic() - began, seen
        except httpx.TransportError:
            seen.append(0)
        time.sleep(0.2)
    return None, seen


def _outage_counts(answers: Sequence[Answer], window: tuple[float, float],
                   grace_s: float = 5.0) -> dict[str, int]:
    during = [a for a in answers
              if a.finished >= window[0] and a.started <= window[1] + grace_s]
    return {"answers near the fault": len(during),
            "503": sum(1 for a in answers if a.status == 503),
            "other 5xx": sum(1 for a in answers if a.status and a.status >= 500
                             and a.status != 503),
            "no answer": sum(1 for a in answers if a.status is None)}


def _starts(slots: int, weeks: int) -> list[str]:
    return weekday_starts(monday_after(datetime.now(UTC), weeks), slots)


def _recovery(result: ScenarioResult, org: api.Org, service_id: str, start: str) -> None:
    seconds, seen = serves_again(org, service_id, start)
    result.notes["recovered after s"] = None if seconds is None else round(seconds, 2)
    result.check("serves again without repair (a fresh booking is a 201)",
                 seconds is not None,
                 f"after {seconds:.2f} s" if seconds is not None else f"never; saw {seen[-5:]}")


def kill_worker(server: Server, *, attempts: int = 200, slots: int = 20, clients: int = 16,
                holds: int = 5, hold_ttl_s: int = 2, after_s: float = 0.5) -> ScenarioResult:
    """SIGKILL one worker while bookings and short holds are under way. Afterwards the
    supervisor has a new worker, and the held slots can be booked once the holds expire."""
    with organisation(server.base_url) as org:
        _, service_id = one_resource_service(org)
        starts = _starts(slots + holds + 1, weeks=2)
        calls = _load(org, service_id, starts[:slots], attempts, seed=11)
        held = starts[slots:slots + holds]
        hold_calls = [Call("POST", "/v1/holds", {"service_id": service_id, "start": s,
                                                 "ttl_s": hold_ttl_s}, dict(org.headers),
                           action="hold") for s in held]
        calls = calls[: len(calls) // 2] + hold_calls + calls[len(calls) // 2:]
        killed: list[int] = []
        answers, elapsed, window = _under_fault(server.base_url, calls, clients,
                                                lambda: killed.append(server.kill_worker()),
                                                after_s)
        result = ScenarioResult(f"kill -9 of worker {killed[0]} under load", answers, elapsed,
                                notes=_outage_counts(answers, window))
        server.wait_ready()
        result.check("the supervisor replaced the worker",
                     killed[0] not in server.worker_pids()
                     and len(server.worker_pids()) == server.workers,
                     f"workers now {server.worker_pids()}")
        _recovery(result, org, service_id, starts[-1])
        # The killed worker's requests had claimed their Idempotency-Keys; a client retrying
        # one meets "in flight" until the claim is abandoned (app/idempotency.py: 60 s).
        unanswered = [a.call for a in answers if a.status is None]
        retried = run_load(run_calls(server.base_url, unanswered, clients))
        result.answers += retried
        result.notes["retries of unanswered keys still in flight"] = sum(
            1 for a in retried if a.status == 409
            and str(a.body.get("type", "")).endswith("idempotency-in-flight"))
        time.sleep(hold_ttl_s + 1)
        expired = [api.book(org, service_id, s)["status"] for s in held]
        result.check("expired holds are reclaimed (their slots book)", len(expired) == holds,
                     f"{len(expired)} of {holds} held slots booked after expiry")
        return result


def restart_postgres(server: Server, pg: PrivatePostgres, *, attempts: int = 200,
                     slots: int = 20, clients: int = 16, down_s: float = 1.0,
                     after_s: float = 2.0) -> ScenarioResult:
    """Stop PostgreSQL (fast: sessions are cut), keep it down `down_s`, start it again. The
    load is paced to run on for about as long again after the restart, so bookings are made
    before, refused with 503 during, and made again after the outage."""
    with organisation(server.base_url) as org:
        _, service_id = one_resource_service(org)
        starts = _starts(slots + 1, weeks=3)
        calls = _load(org, service_id, starts[:slots], attempts, seed=12)
        pace_s = (2 * after_s + 2 * down_s) * clients / attempts
        answers, elapsed, window = _under_fault(server.base_url, calls, clients,
                                                lambda: pg.restart(down_s), after_s, pace_s)
        result = ScenarioResult(f"PostgreSQL restarted under load (down {down_s:.1f} s)",
                                answers, elapsed, notes=_outage_counts(answers, window))
        served = [a for a in answers if a.status in (201, 409)]
        result.check("answered before and after the outage",
                     any(a.finished < window[0] for a in served)
                     and any(a.started > window[1] for a in served),
                     f"{sum(a.finished < window[0] for a in served)} before, "
                     f"{sum(a.started > window[1] for a in served)} after")
        _recovery(result, org, service_id, starts[-1])
        return result


def stop_redis(server: Server, redis: PrivateRedis, *, attempts: int = 200, slots: int = 20,
               clients: int = 16, after_s: float = 0.5) -> ScenarioResult:
    """Stop the server's Redis (its holds) under load: hold writes fall back to SQL, bookings
    go on, `/readyz` says `degraded` (still 200: the process serves safely) until Redis is
    back, then `ok` again."""
    with organisation(server.base_url) as org:
        _, service_id = one_resource_service(org)
        starts = _starts(slots + 1, weeks=4)
        calls = _load(org, service_id, starts[:slots], attempts, seed=13)
        answers, elapsed, window = _under_fault(server.base_url, calls, clients, redis.stop,
                                                after_s)
        result = ScenarioResult("Redis stopped under load", answers, elapsed,
                                notes=_outage_counts(answers, window))
        down = _readiness(server.base_url)
        _recovery(result, org, service_id, starts[-1])
        redis.start()
        deadline = time.monotonic() + RECOVERY_TIMEOUT_S
        up = _readiness(server.base_url)
        while time.monotonic() < deadline and up != (200, "ok"):
            time.sleep(0.2)
            up = _readiness(server.base_url)
        result.notes["/readyz with Redis down"] = f"{down[0]} {down[1]}"
        result.check("/readyz says degraded (200) while Redis is down", down == (200, "degraded"),
                     f"/readyz {down} while down")
        result.check("/readyz is ok again once Redis is back", up == (200, "ok"),
                     f"/readyz {up} after")
        return result


def _readiness(base_url: str) -> tuple[int, str]:
    answer = httpx.get(f"{base_url}/readyz", timeout=10)
    return answer.status_code, str(answer.json().get("status"))


def disconnecting_clients(server: Server, *, attempts: int = 150, disconnects: int = 40,
                          slots: int = 15, clients: int = 16) -> ScenarioResult:
    """Clients that hang up: some after half the body, some right after the whole request,
    some a few milliseconds into its processing; all with Idempotency-Keys, beside a normal
    load on the same slots. A retry of each hung-up request then gets a real answer."""
    with organisation(server.base_url) as org:
        _, service_id = one_resource_service(org)
        starts = _starts(slots + 1, weeks=5)
        calls = _load(org, service_id, starts[:slots], attempts, seed=14)
        rng = random.Random(15)
        hang_ups = _load(org, service_id, starts[:slots], disconnects, seed=16)

        async def run() -> list[Answer]:
            loaded = asyncio.create_task(run_calls(server.base_url, calls, clients))
            cut = [disconnect_after_sending(server.base_url, call, partial=i % 3 == 0,
                                            linger_s=rng.choice([0.0, 0.005, 0.02, 0.05]))
                   for i, call in enumerate(hang_ups)]
            gone = await asyncio.gather(*cut)
            return [*await loaded, *gone]

        started = time.perf_counter()
        answers = run_load(run())
        elapsed = time.perf_counter() - started
        result = ScenarioResult(f"{disconnects} clients hanging up mid-request", answers, elapsed)
        time.sleep(1.0)  # let the server finish what the hung-up clients started
        retries = run_load(run_calls(server.base_url, hang_ups, clients))
        stuck = [a for a in retries if a.status == 409
                 and str(a.body.get("type", "")).endswith("idempotency-in-flight")]
        result.answers += retries
        result.check("retries of hung-up requests are answered (no key stuck in flight)",
                     not stuck, f"{len(stuck)} of {len(retries)} still in flight")
        _recovery(result, org, service_id, starts[-1])
        return result

