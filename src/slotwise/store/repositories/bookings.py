"""Customers, bookings with their allocations, and recurring series."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError

from slotwise.domain.booking import Booking, BookingStatus
from slotwise.domain.errors import OverlapRefused
from slotwise.domain.ids import new_id
from slotwise.domain.meetings import Meeting
from slotwise.domain.model import Allocation, BookedTime, BookingFilter, Customer, Series
from slotwise.store.guard import is_overlap_refusal
from slotwise.store.tables import allocations, bookings, customers, series
from slotwise.store.types import PerDialect, epoch, from_epoch, one_of, one_of_param

# Buffers are at most a day (validated), so an allocation starts at most this long before its
# booking.
_MAX_BUFFER_S = 24 * 60 * 60


class SqlCustomers:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def by_email(self, org_id: str, email: str) -> Customer | None:
        query = select(customers).where(customers.c.org_id == org_id,
                                        customers.c.email == email)
        row = self._c.execute(query).mappings().first()
        return _customer(row) if row else None

    def count_no_show(self, org_id: str, customer_id: str) -> None:
        self._c.execute(update(customers).where(customers.c.org_id == org_id,
                                                customers.c.id == customer_id)
                        .values(no_shows=customers.c.no_shows + 1))

    def upsert(self, customer: Customer) -> Customer:
        # One statement: INSERT … ON CONFLICT DO UPDATE is atomic against a concurrent
        # first booking by the same new customer, on both dialects.
        return _customer(self._c.execute(_UPSERT(self._c), _customer_values(customer))
                         .mappings().one())


def _upsert(postgresql: bool) -> Any:
    """Built once per dialect: building it per call cost a tenth of a booking's CPU."""
    dialect_insert: Any = pg_insert if postgresql else sqlite_insert
    new = dialect_insert(customers).values({c.name: bindparam(c.name) for c in customers.c})
    return new.on_conflict_do_update(
        index_elements=[customers.c.org_id, customers.c.email],
        set_={"name": new.excluded.name,
              "phone": func.coalesce(new.excluded.phone, customers.c.phone),
              "timezone": func.coalesce(new.excluded.timezone, customers.c.timezone),
              "locale": func.coalesce(new.excluded.locale, customers.c.locale)},
    ).returning(*customers.c)


_UPSERT = PerDialect(_upsert)


def _customer_values(c: Customer) -> dict[str, object]:
    return {"id": c.id, "org_id": c.org_id, "name": c.name, "email": c.email, "phone": c.phone,
            "timezone": c.timezone, "locale": c.locale, "no_shows": c.no_shows}


def _customer(row: RowMapping) -> Customer:
    return Customer(id=row["id"], org_id=row["org_id"], name=row["name"], email=row["email"],
                    phone=row["phone"], timezone=row["timezone"], locale=row["locale"],
                    no_shows=row["no_shows"])


class SqlBookings:
    """`lock_rows`: a writer's reads of one booking lock its row until the transaction ends
    (PostgreSQL), so a job confirming a booking and a customer cancelling it cannot both
    write what each read: the second waits and reads the first's result. (SQLite
    serialises writers already.)"""

    def __init__(self, connection: Connection, *, lock_rows: bool = False) -> None:
        self._c = connection
        self._lock = lock_rows and connection.dialect.name == "postgresql"

    def add(self, booking: Booking, blocked: Sequence[tuple[str, datetime, datetime]],
            session_key: str) -> None:
        self._c.execute(_INSERT_BOOKING, {
            "id": booking.id, "org_id": booking.org_id, "service_id": booking.service_id,
            "customer_id": booking.customer.id, "created_at": booking.created_at,
            "manage_token_hash": booking.manage_token_hash, **_mutable_values(booking)})
        self._allocate(booking, blocked, session_key)

    def get(self, org_id: str, booking_id: str) -> Booking | None:
        found = self._select(and_(bookings.c.org_id == org_id, bookings.c.id == booking_id),
                             lock=self._lock)
        return found[0] if found else None

    def by_manage_token(self, booking_id: str, token_hash: str) -> Booking | None:
        found = self._select(and_(bookings.c.id == booking_id,
                                  bookings.c.manage_token_hash == token_hash), lock=self._lock)
        return found[0] if found else None

    def list(self, org_id: str, query: BookingFilter) -> builtins.list[Booking]:
        where = [bookings.c.org_id == org_id]
        if query.start is not None:
            where.append(bookings.c.end_at > query.start)
        if query.end is not None:
            where.append(bookings.c.start_at < query.end)
        if query.status is not None:
            where.append(bookings.c.status == query.status)
        if query.resource_id is not None:
            where.append(bookings.c.id.in_(
                select(allocations.c.booking_id)
                .where(allocations.c.org_id == org_id,
                       allocations.c.resource_id == query.resource_id)))
        if query.after is not None:
            start, last_id = query.after
            where.append(or_(bookings.c.start_at > start,
                             and_(bookings.c.start_at == start, bookings.c.id > last_id)))
        return self._select(and_(*where), limit=query.limit)

    def update(self, booking: Booking) -> None:
        self._c.execute(update(bookings)
                        .where(bookings.c.org_id == booking.org_id, bookings.c.id == booking.id)
                        .values(**_mutable_values(booking)))
        if not booking.status.holds_resources:
            self._c.execute(update(allocations)
                            .where(allocations.c.org_id == booking.org_id,
                                   allocations.c.booking_id == booking.id)
                            .values(active=False))

    def move(self, booking: Booking, blocked: Sequence[tuple[str, datetime, datetime]],
             session_key: str) -> None:
        self._c.execute(delete(allocations).where(allocations.c.org_id == booking.org_id,
                                                  allocations.c.booking_id == booking.id))
        self._c.execute(update(bookings)
                        .where(bookings.c.org_id == booking.org_id, bookings.c.id == booking.id)
                        .values(**_mutable_values(booking)))
        self._allocate(booking, blocked, session_key)

    def swap_resource(self, booking: Booking, from_resource_id: str, to_resource_id: str,
                      blocked_start: datetime, blocked_end: datetime) -> None:
        self._c.execute(update(bookings)
                        .where(bookings.c.org_id == booking.org_id, bookings.c.id == booking.id)
                        .values(**_mutable_values(booking)))
        # An UPDATE is guarded like an INSERT (the exclusion constraint; SQLite's trigger
        # on UPDATE): a concurrent booking of `to_resource_id` makes this refuse.
        try:
            self._c.execute(update(allocations)
                            .where(allocations.c.org_id == booking.org_id,
                                   allocations.c.booking_id == booking.id,
                                   allocations.c.resource_id == from_resource_id,
                                   allocations.c.active.is_(True))
                            .values(resource_id=to_resource_id,
                                    blocked_start=epoch(blocked_start),
                                    blocked_end=epoch(blocked_end)))
        except IntegrityError as error:
            if is_overlap_refusal(error):
                raise OverlapRefused([to_resource_id]) from error
            raise

    def busy(self, org_id: str, resource_ids: Sequence[str], start: datetime, end: datetime
             ) -> builtins.list[Allocation]:
        found = self._c.execute(_BUSY(self._c), {
            "org_id": org_id, "resource_ids": list(resource_ids),
            "start": epoch(start), "end": epoch(end)})
        # Thousands of rows per search: plain tuples, fetched at once (not row mappings).
        return [Allocation(id=aid, org_id=org_id, booking_id=booking_id, resource_id=rid,
                           blocked_start=from_epoch(lo), blocked_end=from_epoch(hi), active=True,
                           booked_start=booked_start, booked_end=booked_end)
                for aid, booking_id, rid, lo, hi, booked_start, booked_end in found.all()]

    def booked(self, org_id: str, resource_ids: Sequence[str], start: datetime, end: datetime
               ) -> builtins.list[BookedTime]:
        """Live bookings on those resources that start in ``[start, end)``."""
        if not resource_ids:
            return []
        query = (select(allocations.c.resource_id, allocations.c.booking_id,
                        allocations.c.session_key, bookings.c.start_at, bookings.c.end_at)
                 .join(bookings, bookings.c.id == allocations.c.booking_id)
                 .where(*self._booked_where(org_id, resource_ids, start, end)))
        return [BookedTime(rid, booking_id, key, start_at, end_at)
                for rid, booking_id, key, start_at, end_at in self._c.execute(query).all()]

    def _booked_where(self, org_id: str, resource_ids: Sequence[str], start: datetime,
                      end: datetime) -> builtins.list[ColumnElement[bool]]:
        return [allocations.c.org_id == org_id,
                one_of(self._c, allocations.c.resource_id, resource_ids),
                allocations.c.active.is_(True),
                # the allocation's range holds the booking's: an indexed pre-filter
                allocations.c.blocked_end > epoch(start),
                allocations.c.blocked_start < epoch(end) + _MAX_BUFFER_S,
                bookings.c.start_at >= start, bookings.c.start_at < end]

    def booked_seconds(self, org_id: str, resource_ids: Sequence[str], start: datetime,
                       end: datetime) -> dict[str, int]:
        """Per resource, the seconds of the rows ``booked`` returns, summed in the database."""
        if not resource_ids:
            return {}
        length = type_coerce(bookings.c.end_at, BigInteger) - type_coerce(bookings.c.start_at,
                                                                          BigInteger)
        query = (select(allocations.c.resource_id, func.sum(length))
                 .join(bookings, bookings.c.id == allocations.c.booking_id)
                 .where(*self._booked_where(org_id, resource_ids, start, end))
                 .group_by(allocations.c.resource_id))
        return {rid: int(total) for rid, total in self._c.execute(query).all()}

    def pending_past(self, now: datetime, limit: int) -> builtins.list[Booking]:
        """Pending bookings of every organisation whose deadline has passed (the lifecycle's
        periodic sweep)."""
        # Skip rows another writer holds (a job confirming one): the next pass sees them.
        return self._select(and_(bookings.c.status == BookingStatus.PENDING.value,
                                 bookings.c.pending_until.is_not(None),
                                 bookings.c.pending_until < now), limit=limit,
                            lock=self._lock, skip_locked=True)

    def confirmed_ended_before(self, instant: datetime, limit: int
                               ) -> builtins.list[Booking]:
        return self._select(and_(bookings.c.status == BookingStatus.CONFIRMED.value,
                                 bookings.c.end_at < instant), limit=limit)

    def has_future(self, org_id: str, resource_id: str, now: datetime) -> bool:
        query = (select(allocations.c.id)
                 .where(allocations.c.org_id == org_id,
                        allocations.c.resource_id == resource_id,
                        allocations.c.active.is_(True),
                        allocations.c.blocked_end > epoch(now))
                 .limit(1))
        return self._c.execute(query).first() is not None

    def of_service(self, org_id: str, service_id: str, start: datetime, end: datetime
                   ) -> builtins.list[Booking]:
        live = [s.value for s in BookingStatus if s.holds_resources]
        return self._select(and_(bookings.c.org_id == org_id,
                                 bookings.c.service_id == service_id,
                                 bookings.c.status.in_(live),
                                 bookings.c.start_at >= start, bookings.c.start_at < end))

    def _allocate(self, booking: Booking, blocked: Sequence[tuple[str, datetime, datetime]],
                  session_key: str) -> None:
        rows = [
            {"id": new_id("allocation"), "org_id": booking.org_id, "booking_id": booking.id,
             "resource_id": resource_id, "session_key": session_key, "blocked_start": epoch(start),
             "blocked_end": epoch(end), "active": booking.status.holds_resources}
            for resource_id, start, end in blocked
        ]
        # No savepoint: a refusal ends the writer's attempt, which rolls back (see ports).
        try:
            self._c.execute(_INSERT_ALLOCATIONS, rows[0] if len(rows) == 1 else rows)
        except IntegrityError as error:
            if is_overlap_refusal(error):
                raise OverlapRefused([r[0] for r in blocked]) from error
            raise

    def _select(self, where: object, limit: int | None = None, *, lock: bool = False,
                skip_locked: bool = False) -> builtins.list[Booking]:
        query = (select(bookings, customers.c.name.label("customer_name"),
                        customers.c.email.label("customer_email"),
                        customers.c.phone.label("customer_phone"),
                        customers.c.timezone.label("customer_timezone"),
                        customers.c.locale.label("customer_locale"),
                        customers.c.no_shows.label("customer_no_shows"))
                 .join(customers, customers.c.id == bookings.c.customer_id)
                 .where(where)  # type: ignore[arg-type]
                 .order_by(bookings.c.start_at, bookings.c.id))
        if limit is not None:
            query = query.limit(limit)
        if lock:
            query = query.with_for_update(of=bookings, skip_locked=skip_locked)
        return [_booking(row) for row in self._c.execute(query).mappings()]


def _mutable_values(b: Booking) -> dict[str, object]:
    return {"status": b.status.value, "start_at": b.start, "end_at": b.end,
            "resource_ids": list(b.resource_ids), "series_id": b.series_id, "notes": b.notes,
            "cancel_reason": b.cancel_reason, "updated_at": b.updated_at,
            "awaiting": list(b.awaiting), "pending_until": b.pending_until,
            "meeting": b.meeting.to_json() if b.meeting else None, "sequence": b.sequence,
            "failure_reason": b.failure_reason}


def _booking(row: RowMapping) -> Booking:
    customer = Customer(id=row["customer_id"], org_id=row["org_id"], name=row["customer_name"],
                        email=row["customer_email"], phone=row["customer_phone"],
                        timezone=row["customer_timezone"], locale=row["customer_locale"],
                        no_shows=row["customer_no_shows"])
    return Booking(
        id=row["id"], org_id=row["org_id"], service_id=row["service_id"], customer=customer,
        status=BookingStatus(row["status"]), start=row["start_at"], end=row["end_at"],
        resource_ids=tuple(row["resource_ids"]), created_at=row["created_at"],
        updated_at=row["updated_at"], series_id=row["series_id"], notes=row["notes"],
        cancel_reason=row["cancel_reason"], manage_token_hash=row["manage_token_hash"],
        awaiting=tuple(row["awaiting"] or ()), pending_until=row["pending_until"],
        meeting=Meeting.from_json(row["meeting"]) if row["meeting"] else None,
        sequence=row["sequence"], failure_reason=row["failure_reason"],
    )


def _allocation(row: RowMapping) -> Allocation:
    return Allocation(
        id=row["id"], org_id=row["org_id"], booking_id=row["booking_id"],
        resource_id=row["resource_id"], blocked_start=from_epoch(row["blocked_start"]),
        blocked_end=from_epoch(row["blocked_end"]), active=bool(row["active"]),
    )


class SqlSeries:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, s: Series) -> None:
        self._c.execute(insert(series).values(
            id=s.id, org_id=s.org_id, rrule=s.rrule, timezone=s.timezone,
            dtstart_local=s.dtstart_local.strftime("%Y-%m-%dT%H:%M:%S"), created_at=s.created_at,
        ))


def _busy(postgresql: bool) -> Select[Any]:
    a = allocations.c
    return (select(a.id, a.booking_id, a.resource_id, a.blocked_start, a.blocked_end,
                   bookings.c.start_at, bookings.c.end_at)
            .join(bookings, bookings.c.id == a.booking_id)
            .where(a.org_id == bindparam("org_id"),
                   one_of_param(postgresql, a.resource_id, "resource_ids"),
                   a.active.is_(True),
                   a.blocked_start < bindparam("end"),
                   a.blocked_end > bindparam("start"))
            .order_by(a.blocked_start))


_BUSY = PerDialect(_busy)
# Built once: the values come as parameters.
_INSERT_BOOKING = insert(bookings)
_INSERT_ALLOCATIONS = insert(allocations)
