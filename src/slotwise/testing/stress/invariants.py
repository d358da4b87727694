"""What must hold after any load or fault, read from the database directly.

- no two active allocations of different sessions overlap on one resource;
- every booking a client was told about (201, or 200 on reschedule/cancel) is stored, in the
  state it was last told (or, where answers overlapped in time or a call got no answer, one of
  the states those calls could have left);
- every stored booking has its `booking.created` outbox event, a cancelled one its
  `booking.cancelled`, a booking moved by n answered reschedules at least n
  `booking.rescheduled`;
- a series a client was told about is stored whole;
- no 5xx answer (503s excepted, and counted, where a database outage was deliberate).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, true
from sqlalchemy.engine import Engine

from slotwise.domain import events
from slotwise.store.database import make_engine
from slotwise.store.tables import allocations, bookings, outbox
from slotwise.testing.stress.clients import Answer

ACTIVE_STATUSES = {"pending", "confirmed"}


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class InvariantReport:
    title: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append(Check(name, ok, detail))

    def table(self) -> str:
        width = max((len(c.name) for c in self.checks), default=10)
        lines = [f"invariants — {self.title}: {'all hold' if self.ok else 'VIOLATED'}"]
        lines += [f"  {'ok  ' if c.ok else 'FAIL'}  {c.name:<{width}}  {c.detail}"
                  for c in self.checks]
        return "\n".join(lines)


@dataclass(frozen=True)
class State:
    """What a booking's row should say: cancelled or not, and (when known) its start."""

    cancelled: bool
    start: str | None

    def matches(self, stored: State) -> bool:
        return self.cancelled == stored.cancelled and self.start in (None, stored.start)


def _z(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def overlapping_allocations(engine: Engine, org_ids: Collection[str] | None = None,
                            limit: int = 5) -> tuple[int, list[Any]]:
    a, b = allocations.alias("a"), allocations.alias("b")
    clash = and_(true() if org_ids is None else a.c.org_id.in_(org_ids),
                 a.c.org_id == b.c.org_id, a.c.resource_id == b.c.resource_id,
                 a.c.id < b.c.id, a.c.active.is_(True), b.c.active.is_(True),
                 a.c.session_key != b.c.session_key,
                 a.c.blocked_start < b.c.blocked_end, b.c.blocked_start < a.c.blocked_end)
    with engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(a).join(b, clash)).scalar()
        sample = connection.execute(
            select(a.c.resource_id, a.c.booking_id, b.c.booking_id).select_from(a)
            .join(b, clash).limit(limit)).all()
    return int(count or 0), list(sample)


def _told_states(answers: Iterable[Answer]) -> dict[str, list[tuple[float, float, State]]]:
    told: dict[str, list[tuple[float, float, State]]] = defaultdict(list)
    for answer in answers:
        for booking in answer.told_bookings():
            state = State(booking["status"] not in ACTIVE_STATUSES, booking["start"])
            told[booking["id"]].append((answer.started, answer.finished, state))
    return told


def _unknown_states(answers: Iterable[Answer]) -> dict[str, list[State]]:
    """States a call with no (or a 5xx) answer may have left its booking in."""
    unknown: dict[str, list[State]] = defaultdict(list)
    for answer in answers:
        call = answer.call
        if call.booking_id is None or (answer.status is not None and answer.status < 500):
            continue
        if call.action == "cancel":
            unknown[call.booking_id].append(State(True, None))
        elif call.action == "reschedule" and call.body is not None:
            unknown[call.booking_id].append(State(False, call.body["start"]))
    return unknown


def _acceptable(told: list[tuple[float, float, State]], unknown: list[State]) -> list[State]:
    last_started, last_finished, last = max(told, key=lambda t: t[1])
    concurrent = [s for started, finished, s in told
                  if started <= last_finished and finished >= last_started]
    return [last, *concurrent, *unknown]


def check_invariants(database_url: str, answers: Sequence[Answer], *, title: str,
                     outage_503_allowed: bool = False,
                     org_ids: Collection[str] | None = None) -> InvariantReport:
    """Check the whole database, or only the organisations `org_ids` (a database other tests
    write to as well, without the application's outbox discipline)."""
    report = InvariantReport(title)
    engine = make_engine(database_url, pool_size=1)
    try:
        _check(engine, answers, report, outage_503_allowed, org_ids)
    finally:
        engine.dispose()
    return report


def _check(engine: Engine, answers: Sequence[Answer], report: InvariantReport,
           outage_503_allowed: bool, org_ids: Collection[str] | None) -> None:
    count, sample = overlapping_allocations(engine, org_ids)
    report.add("no double booking", count == 0,
               f"{count} overlapping active allocation pairs" + (f", e.g. {sample}" if sample
                                                                  else ""))

    told = _told_states(answers)
    unknown = _unknown_states(answers)
    with engine.connect() as connection:
        stored_rows = connection.execute(
            select(bookings.c.id, bookings.c.status, bookings.c.start_at, bookings.c.series_id)
            .where(true() if org_ids is None else bookings.c.org_id.in_(org_ids))).all()
        event_rows = connection.execute(
            select(outbox.c.aggregate_id, outbox.c.type, func.count())
            .where(true() if org_ids is None else outbox.c.org_id.in_(org_ids))
            .group_by(outbox.c.aggregate_id, outbox.c.type)).all()
    stored = {row.id: State(row.status not in ACTIVE_STATUSES, _z(row.start_at))
              for row in stored_rows}

    lost = sorted(set(told) - set(stored))
    report.add("no lost booking (every 201/200 seen is stored)", not lost,
               f"{len(told)} bookings told, {len(lost)} missing" + (f": {lost[:5]}" if lost
                                                                      else ""))
    wrong = []
    for booking_id, states in told.items():
        if booking_id in stored and not any(s.matches(stored[booking_id]) for s in
                                            _acceptable(states, unknown.get(booking_id, []))):
            wrong.append((booking_id, stored[booking_id]))
    report.add("stored state is what the client was last told", not wrong,
               f"{len(wrong)} differ" + (f": {wrong[:3]}" if wrong else ""))

    event_counts: dict[tuple[str, str], int] = {(r[0], r[1]): int(r[2]) for r in event_rows}
    no_created = [b for b in stored if event_counts.get((b, events.BOOKING_CREATED), 0) != 1]
    no_cancelled = [b for b, s in stored.items()
                    if s.cancelled and not event_counts.get((b, events.BOOKING_CANCELLED))]
    moves = Counter(a.call.booking_id for a in answers
                    if a.call.action == "reschedule" and a.status == 200)
    short_moves = [b for b, n in moves.items()
                   if b is not None and event_counts.get((b, events.BOOKING_RESCHEDULED), 0) < n]
    report.add("outbox events for every stored booking",
               not (no_created or no_cancelled or short_moves),
               f"{len(stored)} stored; without exactly one created: {len(no_created)}, "
               f"cancelled without event: {len(no_cancelled)}, answered reschedules without "
               f"event: {len(short_moves)}")

    series_sizes = Counter(row.series_id for row in stored_rows if row.series_id)
    torn = []
    for answer in answers:
        occurrences = answer.body.get("occurrences") if isinstance(answer.body, dict) else None
        if answer.status == 201 and occurrences:
            series_id = answer.body.get("series_id")
            if series_sizes.get(series_id, 0) != len(occurrences):
                torn.append(series_id)
    report.add("series stored whole", not torn,
               f"{len(series_sizes)} series stored, {len(torn)} torn")

    statuses = Counter(a.status for a in answers)
    server_errors = sum(n for s, n in statuses.items() if s is not None and s >= 500)
    outage = statuses.get(503, 0) if outage_503_allowed else 0
    report.add("no 5xx" + (" (503 during the outage excepted)" if outage_503_allowed else ""),
               server_errors - outage == 0,
               f"{server_errors} 5xx of {len(answers)} answers"
               + (f" ({outage} were 503)" if outage_503_allowed else "")
               + (f"; no answer: {statuses[None]}" if statuses.get(None) else ""))
