"""Waitlist entries."""

from __future__ import annotations

import builtins
import time
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, RowMapping

from slotwise.domain.model import Customer
from slotwise.domain.waitlist import EntryState, WaitlistEntry
from slotwise.store.tables import customers, waitlist_entries

_w = waitlist_entries.c


class SqlWaitlist:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, entry: WaitlistEntry) -> None:
        self._c.execute(insert(waitlist_entries).values(
            id=entry.id, org_id=entry.org_id, service_id=entry.service_id,
            customer_id=entry.customer.id, created_at=entry.created_at,
            line=time.time_ns() // 1000, **_mutable(entry)))

    def get(self, org_id: str, entry_id: str) -> WaitlistEntry | None:
        found = self._select(_w.org_id == org_id, _w.id == entry_id)
        return found[0] if found else None

    def by_id(self, entry_id: str) -> WaitlistEntry | None:
        found = self._select(_w.id == entry_id)
        return found[0] if found else None

    def update(self, entry: WaitlistEntry) -> None:
        self._c.execute(update(waitlist_entries)
                        .where(_w.org_id == entry.org_id, _w.id == entry.id)
                        .values(**_mutable(entry)))

    def list(self, org_id: str, service_id: str | None, state: EntryState | None,
             limit: int) -> builtins.list[WaitlistEntry]:
        where = [_w.org_id == org_id]
        if service_id is not None:
            where.append(_w.service_id == service_id)
        if state is not None:
            where.append(_w.state == state.value)
        return self._select(*where, limit=limit)

    def waiting_for(self, org_id: str, service_id: str, start: datetime, end: datetime,
                    limit: int) -> builtins.list[WaitlistEntry]:
        return self._select(_w.org_id == org_id, _w.service_id == service_id,
                            _w.state == EntryState.WAITING.value,
                            _w.range_start < end, _w.range_end > start, limit=limit)

    def lapsed_offers(self, now: datetime, limit: int) -> builtins.list[WaitlistEntry]:
        return self._select(_w.state == EntryState.OFFERED.value, _w.offer_expires_at < now,
                            limit=limit)

    def _select(self, *where: object, limit: int | None = None
                ) -> builtins.list[WaitlistEntry]:
        query = (select(waitlist_entries, customers.c.name.label("customer_name"),
                        customers.c.email.label("customer_email"),
                        customers.c.phone.label("customer_phone"),
                        customers.c.timezone.label("customer_timezone"),
                        customers.c.locale.label("customer_locale"))
                 .join(customers, customers.c.id == _w.customer_id)
                 .where(*where)  # type: ignore[arg-type]
                 .order_by(_w.line, _w.id))
        if limit is not None:
            query = query.limit(limit)
        return [_entry(row) for row in self._c.execute(query).mappings()]


def _mutable(e: WaitlistEntry) -> dict[str, object]:
    return {"range_start": e.range_start, "range_end": e.range_end,
            "resource_ids": list(e.resource_ids) if e.resource_ids is not None else None,
            "state": e.state.value, "offer_start": e.offer_start,
            "offer_hold_id": e.offer_hold_id, "offer_expires_at": e.offer_expires_at,
            "booking_id": e.booking_id, "updated_at": e.updated_at}


def _entry(row: RowMapping) -> WaitlistEntry:
    customer = Customer(id=row["customer_id"], org_id=row["org_id"], name=row["customer_name"],
                        email=row["customer_email"], phone=row["customer_phone"],
                        timezone=row["customer_timezone"], locale=row["customer_locale"])
    return WaitlistEntry(
        id=row["id"], org_id=row["org_id"], service_id=row["service_id"], customer=customer,
        range_start=row["range_start"], range_end=row["range_end"],
        state=EntryState(row["state"]), created_at=row["created_at"],
        updated_at=row["updated_at"],
        resource_ids=tuple(row["resource_ids"]) if row["resource_ids"] is not None else None,
        offer_start=row["offer_start"], offer_hold_id=row["offer_hold_id"],
        offer_expires_at=row["offer_expires_at"], booking_id=row["booking_id"])
