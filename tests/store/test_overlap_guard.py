"""The database refuses overlapping active allocations by itself: these tests write with raw
SQL around the application and see the write refused, on SQLite and on PostgreSQL."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError
from tests.store.conftest import T

from slotwise.store.guard import is_overlap_refusal


def _allocate(c: Connection, ids: dict[str, str], start: int, end: int, *,
              resource: str = "res", active: bool = True, session: str | None = None) -> str:
    alloc_id = f"alc_{secrets.token_hex(6)}"
    c.execute(text(
        "INSERT INTO allocations (id, org_id, booking_id, resource_id, session_key, "
        "blocked_start, blocked_end, active) VALUES (:id, :org, :bk, :res, :session, :s, :e, "
        ":active)"),
        {"id": alloc_id, "org": ids["org"], "bk": ids["bk"], "res": ids[resource],
         "session": session or alloc_id, "s": T + start, "e": T + end, "active": active})
    return alloc_id


def _refused(engine: Engine, write: object) -> IntegrityError:
    with pytest.raises(IntegrityError) as caught, engine.begin() as c:
        write(c)  # type: ignore[operator]
    assert is_overlap_refusal(caught.value)
    return caught.value


def test_an_overlapping_insert_is_refused(engine: Engine, world: dict[str, str]) -> None:
    with engine.begin() as c:
        _allocate(c, world, 0, 3600)
    _refused(engine, lambda c: _allocate(c, world, 1800, 5400))
    _refused(engine, lambda c: _allocate(c, world, -60, 60))
    _refused(engine, lambda c: _allocate(c, world, 600, 1200))  # inside
    _refused(engine, lambda c: _allocate(c, world, -600, 4200))  # around


def test_touching_ranges_and_other_resources_are_allowed(engine: Engine,
                                                         world: dict[str, str]) -> None:
    with engine.begin() as c:
        _allocate(c, world, 0, 3600)
        _allocate(c, world, 3600, 7200)  # half-open: touching is not overlapping
        _allocate(c, world, -3600, 0)
        _allocate(c, world, 0, 3600, resource="res2")


def test_inactive_allocations_do_not_block(engine: Engine, world: dict[str, str]) -> None:
    with engine.begin() as c:
        _allocate(c, world, 0, 3600, active=False)
        _allocate(c, world, 0, 3600)
    _refused(engine, lambda c: _allocate(c, world, 0, 3600))


def test_reactivating_an_overlapping_allocation_is_refused(engine: Engine,
                                                           world: dict[str, str]) -> None:
    with engine.begin() as c:
        _allocate(c, world, 0, 3600)
        dormant = _allocate(c, world, 1800, 5400, active=False)
    _refused(engine, lambda c: c.execute(
        text("UPDATE allocations SET active = true WHERE id = :id"), {"id": dormant}))


def test_moving_an_allocation_onto_another_is_refused(engine: Engine,
                                                      world: dict[str, str]) -> None:
    with engine.begin() as c:
        _allocate(c, world, 0, 3600)
        later = _allocate(c, world, 7200, 10800)
        elsewhere = _allocate(c, world, 0, 3600, resource="res2")
    _refused(engine, lambda c: c.execute(
        text("UPDATE allocations SET blocked_start = :s, blocked_end = :e WHERE id = :id"),
        {"s": T + 3000, "e": T + 6600, "id": later}))
    _refused(engine, lambda c: c.execute(
        text("UPDATE allocations SET resource_id = :r WHERE id = :id"),
        {"r": world["res"], "id": elsewhere}))


def test_seats_of_one_session_share_a_resource_but_other_sessions_cannot(
        engine: Engine, world: dict[str, str]) -> None:
    with engine.begin() as c:
        _allocate(c, world, 0, 3600, session="class@0")
        _allocate(c, world, 0, 3600, session="class@0")
    _refused(engine, lambda c: _allocate(c, world, 1800, 5400, session="class@1800"))
    _refused(engine, lambda c: _allocate(c, world, 0, 3600))


def test_an_empty_range_is_refused(engine: Engine, world: dict[str, str]) -> None:
    with pytest.raises(IntegrityError), engine.begin() as c:
        _allocate(c, world, 3600, 3600)


def test_live_holds_cannot_overlap_either(engine: Engine, world: dict[str, str]) -> None:
    def hold(c: Connection, start: int, end: int, live: bool = True) -> None:
        hold_id = f"hld_{secrets.token_hex(6)}"
        c.execute(text(
            "INSERT INTO holds (id, org_id, service_id, start_at, end_at, expires_at, status, "
            "created_at) VALUES (:id, :org, :svc, :s, :e, :x, 'active', 0)"),
            {"id": hold_id, "org": world["org"], "svc": world["svc"], "s": T + start,
             "e": T + end, "x": T + 99999})
        c.execute(text(
            "INSERT INTO held_resources (hold_id, resource_id, org_id, blocked_start, "
            "blocked_end, expires_at, live) VALUES (:id, :res, :org, :s, :e, :x, :live)"),
            {"id": hold_id, "res": world["res"], "org": world["org"], "s": T + start,
             "e": T + end, "x": T + 99999, "live": live})

    with engine.begin() as c:
        hold(c, 0, 3600)
        hold(c, 0, 3600, live=False)
    _refused(engine, lambda c: hold(c, 1800, 5400))
