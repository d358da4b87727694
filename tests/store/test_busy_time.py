"""`busy_time` reads a window's allocations, blocks and live SQL holds in one statement: what
it returns, and what it leaves out, on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, Engine, event, text

from slotwise.store.database import make_engine
from slotwise.store.types import from_epoch
from slotwise.store.uow import SqlUnitOfWork

T = 1_800_000_000  # an epoch second; ranges below are offsets from it


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    built = make_engine(database_url)
    yield built
    built.dispose()


@pytest.fixture
def ids(engine: Engine) -> dict[str, str]:
    """An organisation with two rooms, a service and a booking (10:00–11:00 of T's day)."""
    made = {k: f"{k}_{secrets.token_hex(6)}" for k in ("org", "res", "res2", "cus", "svc", "bk")}
    with engine.begin() as c:
        c.execute(text("INSERT INTO organisations (id, slug, name, timezone, created_at) "
                       "VALUES (:org, :org, 'Raw', 'UTC', 0)"), made)
        for rid in ("res", "res2"):
            c.execute(text(
                "INSERT INTO resources (id, org_id, name, kind, timezone, capacity, tags, "
                "buffer_before_min, buffer_after_min, requires_approval, created_at) VALUES "
                f"(:{rid}, :org, 'R', 'room', 'UTC', 1, '[]', 0, 0, false, 0)"), made)
        c.execute(text("INSERT INTO customers (id, org_id, name, email) "
                       "VALUES (:cus, :org, 'C', 'c@example.com')"), made)
        c.execute(text(
            "INSERT INTO services (id, org_id, name, slug, duration_min, step_min, "
            "buffer_before_min, buffer_after_min, min_notice_min, max_advance_days, capacity, "
            "created_at) VALUES (:svc, :org, 'S', :svc, 60, 60, 0, 0, 0, 365, 1, 0)"), made)
        c.execute(text(
            "INSERT INTO bookings (id, org_id, service_id, customer_id, status, start_at, "
            "end_at, resource_ids, created_at, updated_at) VALUES "
            "(:bk, :org, :svc, :cus, 'confirmed', :s, :e, '[]', 0, 0)"),
            {**made, "s": T + 100, "e": T + 200})
    return made


def _allocation(c: Connection, ids: dict[str, str], start: int, end: int, *,
                resource: str = "res", active: bool = True) -> None:
    c.execute(text(
        "INSERT INTO allocations (id, org_id, booking_id, resource_id, session_key, "
        "blocked_start, blocked_end, active) VALUES (:id, :org, :bk, :res, :id, :s, :e, :a)"),
        {"id": f"alc_{secrets.token_hex(6)}", "org": ids["org"], "bk": ids["bk"],
         "res": ids[resource], "s": T + start, "e": T + end, "a": active})


def _block(c: Connection, ids: dict[str, str], start: int, end: int) -> str:
    block_id = f"blk_{secrets.token_hex(6)}"
    c.execute(text("INSERT INTO blocks (id, org_id, resource_id, start_at, end_at, created_at) "
                   "VALUES (:id, :org, :res, :s, :e, 0)"),
              {"id": block_id, "org": ids["org"], "res": ids["res"], "s": T + start,
               "e": T + end})
    return block_id


def _hold(c: Connection, ids: dict[str, str], start: int, end: int, *, expires: int,
          live: bool = True) -> str:
    hold_id = f"hld_{secrets.token_hex(6)}"
    c.execute(text(
        "INSERT INTO holds (id, org_id, service_id, start_at, end_at, expires_at, status, "
        "created_at) VALUES (:id, :org, :svc, :s, :e, :x, :status, 0)"),
        {"id": hold_id, "org": ids["org"], "svc": ids["svc"], "s": T + start, "e": T + end,
         "x": T + expires, "status": "active" if live else "released"})
    c.execute(text(
        "INSERT INTO held_resources (hold_id, resource_id, org_id, blocked_start, blocked_end, "
        "expires_at, live) VALUES (:id, :res, :org, :s, :e, :x, :live)"),
        {"id": hold_id, "res": ids["res"], "org": ids["org"], "s": T + start, "e": T + end,
         "x": T + expires, "live": live})
    return hold_id


def at(offset: int) -> datetime:
    return from_epoch(T + offset)


def test_the_window_s_allocations_blocks_and_live_holds_in_one_statement(
        engine: Engine, ids: dict[str, str]) -> None:
    with engine.begin() as c:
        _allocation(c, ids, 90, 210)  # the booking, widened by buffers
        _allocation(c, ids, 300, 400, active=False)  # a cancelled one's
        _allocation(c, ids, 90, 210, resource="res2")  # another resource, not asked for
        _allocation(c, ids, 5000, 6000)  # outside the window
        block = _block(c, ids, 250, 260)
        held = _hold(c, ids, 400, 500, expires=1000)
        _hold(c, ids, 600, 700, expires=50)  # expired by `now`
        _hold(c, ids, 800, 900, expires=1000, live=False)  # released
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute",
                 lambda *args: statements.append(args[2]))
    with SqlUnitOfWork(engine) as uow:
        found = uow.busy_time(ids["org"], [ids["res"]], at(0), at(1000), at(60))
    assert [s for s in statements if s.startswith("SELECT")] == statements[-1:]
    assert sorted((b.kind, b.source_id, b.start, b.end, b.booked_start, b.booked_end)
                  for b in found) == sorted([
        ("booking", ids["bk"], at(90), at(210), at(100), at(200)),
        ("block", block, at(250), at(260), None, None),
        ("hold", held, at(400), at(500), None, None),
    ])
    assert {b.resource_id for b in found} == {ids["res"]}
    assert all(b.start.tzinfo is UTC for b in found)


def test_no_resources_reads_nothing(engine: Engine, ids: dict[str, str]) -> None:
    with SqlUnitOfWork(engine) as uow:
        assert uow.busy_time(ids["org"], [], at(0), at(1000), at(0)) == []
