"""Stress scenarios against a live `slotwise serve`: each sets up its own organisation over
HTTP, runs its load, and returns every answer plus the checks only it can make.

Organisations are in UTC with resources open 09:00–17:00 on weekdays, so the slots are plain
arithmetic; `first_day` is a Monday after the server's "now".
"""

from __future__ import annotations

import random
import secrets
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from slotwise.testing import api
from slotwise.testing.stress.clients import Answer, Call, run_at_once, run_calls, run_load
from slotwise.testing.stress.invariants import Check, InvariantReport, check_invariants

PINNED_NOW = "2027-03-01T12:00:00Z"  # a Monday
FIRST_DAY = date(2027, 3, 8)  # the Monday after


@dataclass
class ScenarioResult:
    name: str
    answers: list[Answer]
    elapsed_s: float  # the load alone, set-up excluded
    checks: list[Check] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    def check(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append(Check(name, ok, detail))

    def report(self, database_url: str, *, outage_503_allowed: bool = False
               ) -> InvariantReport:
        report = check_invariants(database_url, self.answers, title=self.name,
                                  outage_503_allowed=outage_503_allowed)
        report.checks.extend(self.checks)
        return report


def monday_after(now: datetime, weeks: int = 1) -> date:
    today = now.astimezone(UTC).date()
    return today + timedelta(days=7 * weeks - today.weekday())


def weekday_starts(first_day: date, count: int, *, duration_min: int = 60,
                   opens_h: int = 9, closes_h: int = 17) -> list[str]:
    """The first `count` starts on the grid of weekdays opens_h–closes_h UTC from first_day."""
    starts: list[str] = []
    day = first_day
    per_day = (closes_h - opens_h) * 60 // duration_min
    while len(starts) < count:
        if day.weekday() < 5:
            midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
            for i in range(min(per_day, count - len(starts))):
                start = midnight + timedelta(hours=opens_h, minutes=i * duration_min)
                starts.append(start.strftime("%Y-%m-%dT%H:%M:%SZ"))
        day += timedelta(days=1)
    return starts


def shift(start: str, **delta: float) -> str:
    moved = datetime.fromisoformat(start.replace("Z", "+00:00")) + timedelta(**delta)
    return moved.strftime("%Y-%m-%dT%H:%M:%SZ")


@contextmanager
def organisation(base_url: str) -> Iterator[api.Org]:
    """A new organisation in UTC, signed up over its own HTTP client (closed afterwards)."""
    with httpx.Client(base_url=base_url, timeout=60.0) as client:
        yield api.signup(client, timezone="UTC")


def one_resource_service(org: api.Org, *, kind: str = "practitioner", name: str = "Service",
                         duration_min: int = 60) -> tuple[str, str]:
    """A resource and a service that needs exactly it; (resource id, service id)."""
    res = api.resource(org, name=f"{name} resource", kind=kind)
    svc = api.service(org, name=name, duration_min=duration_min,
                      requirements=[{"kind": kind, "resource_ids": [res["id"]]}])
    return res["id"], svc["id"]


def book_call(org: api.Org, service_id: str, start: str, *, key: str | None = None,
              email: str | None = None, **extra: Any) -> Call:
    headers = dict(org.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    body = {"service_id": service_id, "start": start,
            "customer": {"name": "Stress", "email": email or
                         f"s-{secrets.token_hex(6)}@example.com"}, **extra}
    return Call("POST", "/v1/bookings", body, headers)


def reschedule_call(org: api.Org, booking_id: str, start: str) -> Call:
    return Call("POST", f"/v1/bookings/{booking_id}/reschedule", {"start": start},
                dict(org.headers), action="reschedule", booking_id=booking_id)


def cancel_call(org: api.Org, booking_id: str) -> Call:
    return Call("POST", f"/v1/bookings/{booking_id}/cancel", {"reason": "stress"},
                dict(org.headers), action="cancel", booking_id=booking_id)


def _timed(coroutine: Any) -> tuple[list[Answer], float]:
    started = time.perf_counter()
    answers: list[Answer] = run_load(coroutine)
    return answers, time.perf_counter() - started


def _winners_by(answers: Sequence[Answer]) -> Counter[str]:
    return Counter(a.call.body["start"] for a in answers
                   if a.status == 201 and a.call.body is not None)


def attempts_on_slots(base_url: str, *, attempts: int, slots: int, clients: int,
                      first_day: date = FIRST_DAY, seed: int = 1) -> ScenarioResult:
    """(a) `attempts` bookings by distinct customers on `slots` starts of one resource, in a
    random order: exactly one winner per slot, every other answer a 409."""
    with organisation(base_url) as org:
        _, service_id = one_resource_service(org)
        starts = weekday_starts(first_day, slots)
        order = [starts[i % slots] for i in range(attempts)]
        random.Random(seed).shuffle(order)
        calls = [book_call(org, service_id, start) for start in order]
        answers, elapsed = _timed(run_calls(base_url, calls, clients))
        result = ScenarioResult(f"{attempts} attempts on {slots} slots, {clients} clients",
                                answers, elapsed, notes={"winners": 0})
        winners = _winners_by(answers)
        result.notes["winners"] = sum(winners.values())
        result.check("exactly one winner per slot",
                     set(winners) == set(starts) and set(winners.values()) == {1},
                     f"{sum(winners.values())} winners on {len(winners)} of {slots} slots")
        others = Counter(a.status for a in answers if a.status != 201)
        result.check("every loser is a 409", set(others) <= {409}, f"other answers: {dict(others)}")
        return result


def booking_load(base_url: str, *, attempts: int, clients: int, contended: bool,
                 first_day: date = FIRST_DAY, contenders_per_slot: int = 8) -> ScenarioResult:
    """Throughput: without contention every attempt is a distinct free slot on its own
    resource and service (one per client); with contention `contenders_per_slot` clients race
    for each start of one resource."""
    with organisation(base_url) as org:
        if contended:
            _, service_id = one_resource_service(org)
            starts = weekday_starts(first_day, -(-attempts // contenders_per_slot))
            calls = [book_call(org, service_id, starts[i // contenders_per_slot])
                     for i in range(attempts)]
        else:
            services = [one_resource_service(org, name=f"S{i}")[1] for i in range(clients)]
            starts = weekday_starts(first_day, -(-attempts // clients))
            calls = [book_call(org, services[i % clients], starts[i // clients])
                     for i in range(attempts)]
        answers, elapsed = _timed(run_calls(base_url, calls, clients))
        label = "contended" if contended else "no contention"
        result = ScenarioResult(f"booking load, {label}, {clients} clients", answers, elapsed)
        created = sum(1 for a in answers if a.status == 201)
        unanswered = sum(1 for a in answers if a.status is None)
        if contended:  # every start had contenders: each one booked exactly once
            result.check("every contested start booked once", created == len(starts),
                         f"{created} created on {len(starts)} starts; {unanswered} unanswered")
        else:  # every slot was free: every answer a 201
            answered = attempts - unanswered
            result.check("every attempt on a free slot answered 201", created == answered,
                         f"{created} created of {answered} answered; {unanswered} unanswered")
        return result


def reschedule_storm(base_url: str, *, bookings: int, free: int, rounds: int = 2,
                     first_day: date = FIRST_DAY, seed: int = 2) -> ScenarioResult:
    """(b) `bookings` bookings, then in each round all of them at once asked to move to a
    random other start among their own and `free` empty ones."""
    rng = random.Random(seed)
    with organisation(base_url) as org:
        _, service_id = one_resource_service(org)
        starts = weekday_starts(first_day, bookings + free)
        placed = [api.book(org, service_id, s) for s in starts[:bookings]]
        current = {b["id"]: b["start"] for b in placed}
        answers: list[Answer] = []
        elapsed = 0.0
        for _ in range(rounds):
            calls = [reschedule_call(org, booking_id, rng.choice([s for s in starts if s != at]))
                     for booking_id, at in current.items()]
            round_answers, round_s = _timed(run_at_once(base_url, calls))
            answers += round_answers
            elapsed += round_s
            for answer in round_answers:
                if answer.status == 200 and answer.call.booking_id is not None:
                    current[answer.call.booking_id] = answer.body["start"]
        result = ScenarioResult(f"reschedule storm, {bookings} bookings, {free} free starts",
                                answers, elapsed)
        moved = sum(1 for a in answers if a.status == 200)
        statuses = Counter(a.status for a in answers)
        result.check("reschedules answer 200 or 409", set(statuses) <= {200, 409},
                     f"{dict(statuses)}")
        listed = _active_bookings(org, starts[0], shift(starts[-1], hours=1))
        result.check("no booking lost or duplicated by moves", len(listed) == bookings,
                     f"{len(listed)} active of {bookings}; {moved} moves answered 200")
        return result


def _active_bookings(org: api.Org, start: str, end: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"start": start, "end": end, "limit": 500, **({"cursor": cursor} if cursor
                                                                else {})}
        page = org.get("/v1/bookings", params=params).json()
        items += [b for b in page["items"] if b["status"] in ("pending", "confirmed")]
        cursor = page.get("next_cursor")
        if not cursor:
            return items


def cancel_and_rebook(base_url: str, *, bookings: int, contenders: int = 3,
                      first_day: date = FIRST_DAY, seed: int = 3) -> ScenarioResult:
    """(c) Cancel every booking while `contenders` others per slot try to book it."""
    with organisation(base_url) as org:
        _, service_id = one_resource_service(org)
        starts = weekday_starts(first_day, bookings)
        placed = [api.book(org, service_id, s) for s in starts]
        calls = [cancel_call(org, b["id"]) for b in placed]
        calls += [book_call(org, service_id, s) for s in starts for _ in range(contenders)]
        random.Random(seed).shuffle(calls)
        answers, elapsed = _timed(run_at_once(base_url, calls))
        result = ScenarioResult(f"cancel and rebook, {bookings} slots x {contenders} contenders",
                                answers, elapsed)
        cancels = Counter(a.status for a in answers if a.call.action == "cancel")
        result.check("every cancel answered 200", set(cancels) == {200}, f"{dict(cancels)}")
        winners = _winners_by(answers)
        result.check("at most one rebooking per slot", set(winners.values()) <= {1},
                     f"{sum(winners.values())} slots rebooked of {bookings}")
        return result


def multi_resource(base_url: str, *, practitioners: int = 6, rooms: int = 2, slots: int = 10,
                   attempts_per_slot: int = 6, first_day: date = FIRST_DAY,
                   seed: int = 4) -> ScenarioResult:
    """(d) A service needing a practitioner AND a room, and one needing only a room, race
    for the same starts: each start ends with exactly `rooms` bookings."""
    with organisation(base_url) as org:
        for i in range(practitioners):
            api.resource(org, name=f"P{i}", kind="practitioner")
        for i in range(rooms):
            api.resource(org, name=f"R{i}", kind="room")
        both = api.service(org, name="Session", duration_min=60,
                           requirements=[{"kind": "practitioner"}, {"kind": "room"}])["id"]
        room_only = api.service(org, name="Room hire", duration_min=60,
                                requirements=[{"kind": "room"}])["id"]
        starts = weekday_starts(first_day, slots)
        rng = random.Random(seed)
        calls = [book_call(org, rng.choice([both, room_only]), s)
                 for s in starts for _ in range(attempts_per_slot)]
        rng.shuffle(calls)
        answers, elapsed = _timed(run_at_once(base_url, calls))
        result = ScenarioResult(f"multi-resource, {practitioners} practitioners, {rooms} rooms",
                                answers, elapsed)
        winners = _winners_by(answers)
        expected = min(rooms, attempts_per_slot)
        result.check(f"each start booked exactly {expected} times (rooms are the limit)",
                     all(winners.get(s, 0) == expected for s in starts),
                     f"winners per start: {sorted(Counter(winners.values()).items())}")
        return result


def series_against_singles(base_url: str, *, series: int = 6, count: int = 4,
                           first_day: date = FIRST_DAY, seed: int = 5) -> ScenarioResult:
    """(e) Weekly series (COUNT=`count`) race single bookings on their occurrences: every
    series is stored whole or not at all, and each contested start ends with one booking."""
    with organisation(base_url) as org:
        _, service_id = one_resource_service(org)
        firsts = weekday_starts(first_day, series)
        calls = [book_call(org, service_id, s, recurrence={"rrule": f"FREQ=WEEKLY;COUNT={count}"})
                 for s in firsts]
        occurrences = [shift(s, days=7 * k) for s in firsts for k in range(count)]
        calls += [book_call(org, service_id, s) for s in occurrences[1::2]]
        random.Random(seed).shuffle(calls)
        answers, elapsed = _timed(run_at_once(base_url, calls))
        result = ScenarioResult(f"series against singles, {series} series x {count}", answers,
                                elapsed)
        listed = _active_bookings(org, occurrences[0], shift(max(occurrences), hours=1))
        per_start = Counter(b["start"] for b in listed)
        result.check("each contested start holds exactly one booking",
                     all(per_start.get(s, 0) == 1 for s in occurrences[1::2]),
                     f"bookings per start: {sorted(Counter(per_start.values()).items())}")
        by_series: defaultdict[str, int] = defaultdict(int)
        for b in listed:
            if b.get("series_id"):
                by_series[b["series_id"]] += 1
        won = sum(1 for a in answers if a.status == 201 and a.body.get("occurrences"))
        result.check("series all or nothing", set(by_series.values()) <= {count}
                     and len(by_series) == won,
                     f"{won} series won, {len(by_series)} stored, sizes {set(by_series.values())}")
        return result


def idempotency_burst(base_url: str, *, copies: int = 20, rounds: int = 3,
                      first_day: date = FIRST_DAY) -> ScenarioResult:
    """(f) The same Idempotency-Key and body sent `copies` times at once: exactly one booking;
    every answer the same 201 or a 409 idempotency-in-flight; a later retry replays it."""
    with organisation(base_url) as org:
        _, service_id = one_resource_service(org)
        starts = weekday_starts(first_day, rounds)
        answers: list[Answer] = []
        elapsed = 0.0
        problems: list[str] = []
        for start in starts:
            call = book_call(org, service_id, start, key=f"burst-{secrets.token_hex(8)}")
            round_answers, round_s = _timed(run_at_once(base_url, [call] * copies))
            replay, _ = _timed(run_calls(base_url, [call], 1))
            answers += round_answers + replay
            elapsed += round_s
            created = [a for a in round_answers + replay if a.status == 201]
            in_flight = [a for a in round_answers if a.status == 409
                         and str(a.body.get("type", "")).endswith("idempotency-in-flight")]
            if len(created) + len(in_flight) != copies + 1:
                problems.append(f"{start}: answers {Counter(a.status for a in round_answers)}")
            if len({a.body["id"] for a in created}) != 1 or any(a.body != created[0].body
                                                                for a in created):
                problems.append(f"{start}: 201 bodies differ")
            if replay[0].status != 201:
                problems.append(f"{start}: the later retry got {replay[0].status}")
            if len(_active_bookings(org, start, shift(start, hours=1))) != 1:
                problems.append(f"{start}: not exactly one booking stored")
        result = ScenarioResult(f"same Idempotency-Key x {copies} at once, {rounds} rounds",
                                answers, elapsed)
        result.check("one booking per key; identical 201s or 409 in-flight", not problems,
                     "; ".join(problems) or f"{rounds} keys, {rounds} bookings")
        return result
