"""`busy_time` reads a window's allocations, blocks and live SQL holds in one statement: what
it returns, and what it leaves out, on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, event, text
from tests.store.conftest import T

from slotwise.domain.model import BusyRange
from slotwise.store.types import from_epoch
from slotwise.store.uow import SqlUnitOfWork


def _allocation(c: Connection, world: dict[str, str], start: int, end: int, *,
                resource: str = "res", active: bool = True) -> None:
    c.execute(text(
        "INSERT INTO allocations (id, org_id, booking_id, resource_id, session_key, "
        "blocked_start, blocked_end, active) VALUES (:id, :org, :bk, :res, :id, :s, :e, :a)"),
        {"id": f"alc_{secrets.token_hex(6)}", "org": world["org"], "bk": world["bk"],
         "res": world[resource], "s": T + start, "e": T + end, "a": active})


def _block(c: Connection, world: dict[str, str], start: int, end: int) -> str:
    block_id = f"blk_{secrets.token_hex(6)}"
    c.execute(text("INSERT INTO blocks (id, org_id, resource_id, start_at, end_at, created_at) "
                   "VALUES (:id, :org, :res, :s, :e, 0)"),
              {"id": block_id, "org": world["org"], "res": world["res"], "s": T + start,
               "e": T + end})
    return block_id


def _hold(c: Connection, world: dict[str, str], start: int, end: int, *, expires: int,
          live: bool = True) -> str:
    hold_id = f"hld_{secrets.token_hex(6)}"
    c.execute(text(
        "INSERT INTO holds (id, org_id, service_id, start_at, end_at, expires_at, status, "
        "created_at) VALUES (:id, :org, :svc, :s, :e, :x, :status, 0)"),
        {"id": hold_id, "org": world["org"], "svc": world["svc"], "s": T + start, "e": T + end,
         "x": T + expires, "status": "active" if live else "released"})
    c.execute(text(
        "INSERT INTO held_resources (hold_id, resource_id, org_id, blocked_start, blocked_end, "
        "expires_at, live) VALUES (:id, :res, :org, :s, :e, :x, :live)"),
        {"id": hold_id, "res": world["res"], "org": world["org"], "s": T + start, "e": T + end,
         "x": T + expires, "live": live})
    return hold_id


def at(offset: int) -> datetime:
    return from_epoch(T + offset)


def test_the_window_s_allocations_blocks_and_live_holds_in_one_statement(
        engine: Engine, world: dict[str, str]) -> None:
    with engine.begin() as c:
        _allocation(c, world, 90, 210)  # the booking, widened by buffers
        _allocation(c, world, 300, 400, active=False)  # a cancelled one's
        _allocation(c, world, 90, 210, resource="res2")  # another resource, not asked for
        _allocation(c, world, 5000, 6000)  # outside the window
        block = _block(c, world, 250, 260)
        held = _hold(c, world, 400, 500, expires=1000)
        _hold(c, world, 600, 700, expires=50)  # expired by `now`
        _hold(c, world, 800, 900, expires=1000, live=False)  # released
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute",
                 lambda *args: statements.append(args[2]))
    with SqlUnitOfWork(engine) as uow:
        found = uow.busy_time(world["org"], [world["res"]], at(0), at(1000), at(60))
    assert [s for s in statements if s.startswith("SELECT")] == statements[-1:]
    assert sorted((b.kind, b.source_id, b.start, b.end, b.booked_start, b.booked_end)
                  for b in found) == sorted([
        ("booking", world["bk"], at(90), at(210), at(100), at(200)),
        ("block", block, at(250), at(260), None, None),
        ("hold", held, at(400), at(500), None, None),
    ])
    assert {b.resource_id for b in found} == {world["res"]}
    assert all(b.start.tzinfo is UTC for b in found)


def test_no_resources_reads_nothing(engine: Engine, world: dict[str, str]) -> None:
    with SqlUnitOfWork(engine) as uow:
        assert uow.busy_time(world["org"], [], at(0), at(1000), at(0)) == []


def test_a_row_read_again_is_the_same_object_and_a_changed_row_is_read_anew(
        engine: Engine, world: dict[str, str]) -> None:
    """Each distinct row becomes its BusyRange once per process: the next read of the same
    row hands back that object. A row whose values changed is another row, read afresh."""
    with engine.begin() as c:
        _allocation(c, world, 90, 210)

    def read() -> list[BusyRange]:
        with SqlUnitOfWork(engine) as uow:
            return uow.busy_time(world["org"], [world["res"]], at(0), at(1000), at(60))

    first, again = read(), read()
    assert len(first) == 1 and again[0] is first[0]
    with engine.begin() as c:
        c.execute(text("UPDATE allocations SET blocked_end = :e WHERE booking_id = :bk"),
                  {"e": T + 240, "bk": world["bk"]})
    moved = read()
    assert [(b.start, b.end) for b in moved] == [(at(90), at(240))]
    assert (first[0].start, first[0].end) == (at(90), at(210))  # the old one is untouched
