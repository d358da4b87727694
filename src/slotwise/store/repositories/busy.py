"""Resources' busy time in a window, in one statement: active allocations, blocks and the live
holds kept in SQL. Availability reads it for every search and every booking's check; three
statements cost three times the driver's and SQLAlchemy's work per call."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CompoundSelect,
    String,
    bindparam,
    literal_column,
    null,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.engine import Connection

from slotwise.domain.model import BusyRange
from slotwise.store.tables import allocations, blocks, bookings, held_resources
from slotwise.store.types import PerDialect, epoch, from_epoch, one_of_param

# Each distinct row, made a BusyRange once per process: the same bookings answer every search
# and every check of a busy calendar, and turning a row's four instants into datetimes and
# the row into a BusyRange cost more than the statement that read it. A BusyRange is a pure
# function of its row's values, so a remembered one is never stale. Cleared when full.
_MADE: dict[tuple[Any, ...], BusyRange] = {}
MAX_ROWS_MADE = 32_768


class SqlBusyTime:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def read(self, org_id: str, resource_ids: Sequence[str], start: datetime, end: datetime,
             now: datetime) -> list[BusyRange]:
        """What overlaps ``[start, end)`` on those resources; holds live at ``now``."""
        if not resource_ids:
            return []
        found = self._c.execute(_BUSY_TIME(self._c),
                                busy_parameters(org_id, resource_ids, start, end, now))
        return busy_ranges(found.all())


def busy_parameters(org_id: str, resource_ids: Sequence[str], start: datetime,
                    end: datetime, now: datetime) -> dict[str, Any]:
    """The busy-time statement's parameters (`busy_time_statement`)."""
    return {"org_id": org_id, "resource_ids": list(resource_ids), "start": epoch(start),
            "end": epoch(end), "now": epoch(now)}


def busy_ranges(rows: Iterable[Sequence[Any]]) -> list[BusyRange]:
    """The busy-time statement's rows as BusyRanges, each distinct row made once (`_MADE`)."""
    made = []
    for row in rows:
        key = tuple(row)
        busy = _MADE.get(key)
        if busy is None:
            busy = _busy_range(*key)
            if len(_MADE) >= MAX_ROWS_MADE:
                _MADE.clear()
            _MADE[key] = busy
        made.append(busy)
    return made


def _busy_range(kind: str, source_id: str, resource_id: str, start: int, end: int,
                booked_start: int | None, booked_end: int | None) -> BusyRange:
    return BusyRange(kind, source_id, resource_id, from_epoch(start), from_epoch(end),
                     None if booked_start is None else from_epoch(booked_start),
                     None if booked_end is None else from_epoch(booked_end))


def busy_time_statement(postgresql: bool) -> CompoundSelect[Any]:
    a, b, h, booked = allocations.c, blocks.c, held_resources.c, bookings.c
    org = bindparam("org_id", type_=String)
    lo, hi = bindparam("start", type_=BigInteger), bindparam("end", type_=BigInteger)
    # Every branch's columns take the first one's types: epoch seconds throughout (the
    # booking's own range too, NULL for blocks and holds), made datetimes once per distinct row.
    return union_all(
        select(literal_column("'booking'"), a.booking_id, a.resource_id, a.blocked_start,
               a.blocked_end, type_coerce(booked.start_at, BigInteger),
               type_coerce(booked.end_at, BigInteger))
        .join(bookings, booked.id == a.booking_id)
        .where(a.org_id == org, one_of_param(postgresql, a.resource_id, "resource_ids"),
               a.active.is_(True), a.blocked_start < hi, a.blocked_end > lo),
        select(literal_column("'block'"), b.id, b.resource_id, b.start_at, b.end_at, null(),
               null())
        .where(b.org_id == org, one_of_param(postgresql, b.resource_id, "resource_ids"),
               b.start_at < hi, b.end_at > lo),
        select(literal_column("'hold'"), h.hold_id, h.resource_id, h.blocked_start,
               h.blocked_end, null(), null())
        .where(h.org_id == org, one_of_param(postgresql, h.resource_id, "resource_ids"),
               h.live.is_(True), h.expires_at > bindparam("now", type_=BigInteger),
               h.blocked_start < hi, h.blocked_end > lo),
    )


_BUSY_TIME = PerDialect(busy_time_statement)
