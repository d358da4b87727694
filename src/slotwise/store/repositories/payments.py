"""Bookings' payments, refunds and fees, and the webhook events already applied."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, RowMapping

from slotwise.domain.payments import (
    BookingFee,
    BookingPayment,
    BookingRefund,
    PaymentEvent,
    PaymentKind,
    PaymentStatus,
    RefundStatus,
)
from slotwise.store.tables import fees, payment_events, payments, refunds
from slotwise.store.types import one_of

_PAYMENT_MUTABLE = ("external_id", "status", "refunded_minor", "client_secret", "data",
                    "last_event_at", "updated_at")
_REFUND_MUTABLE = ("status", "external_id", "error", "updated_at")


class SqlPayments:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, payment: BookingPayment) -> None:
        self._c.execute(insert(payments).values(
            id=payment.id, org_id=payment.org_id, booking_id=payment.booking_id,
            gateway=payment.gateway, kind=payment.kind.value,
            amount_minor=payment.amount_minor, currency=payment.currency,
            created_at=payment.created_at, **_payment_mutable(payment)))

    def get(self, org_id: str, payment_id: str, *, lock: bool = False
            ) -> BookingPayment | None:
        return self._one(lock, payments.c.org_id == org_id, payments.c.id == payment_id)

    def for_booking(self, org_id: str, booking_id: str, *, lock: bool = False
                    ) -> BookingPayment | None:
        return self._one(lock, payments.c.org_id == org_id,
                         payments.c.booking_id == booking_id)

    def for_bookings(self, org_id: str, booking_ids: Sequence[str]
                     ) -> dict[str, BookingPayment]:
        if not booking_ids:
            return {}
        query = select(payments).where(payments.c.org_id == org_id,
                                       one_of(self._c, payments.c.booking_id, booking_ids))
        return {row["booking_id"]: _payment(row)
                for row in self._c.execute(query).mappings()}

    def by_external(self, gateway: str, external_id: str, *, lock: bool = False
                    ) -> BookingPayment | None:
        return self._one(lock, payments.c.gateway == gateway,
                         payments.c.external_id == external_id)

    def update(self, payment: BookingPayment) -> None:
        self._c.execute(update(payments)
                        .where(payments.c.org_id == payment.org_id,
                               payments.c.id == payment.id)
                        .values(**_payment_mutable(payment)))

    def seen(self, org_id: str, gateway: str, event: PaymentEvent, outcome: str,
             at: datetime) -> bool:
        return self._insert_new(payment_events, ["gateway", "event_id"], {
            "org_id": org_id, "gateway": gateway, "event_id": event.event_id,
            "type": event.type or event.kind.value, "external_id": event.external_id,
            "created": event.created, "outcome": outcome, "received_at": at})

    def add_refund(self, refund: BookingRefund) -> bool:
        return self._insert_new(refunds, ["key"], {
            "id": refund.id, "org_id": refund.org_id, "payment_id": refund.payment_id,
            "booking_id": refund.booking_id, "amount_minor": refund.amount_minor,
            "currency": refund.currency, "reason": refund.reason, "key": refund.key,
            "created_at": refund.created_at, **_refund_mutable(refund)})

    def get_refund(self, org_id: str, refund_id: str, *, lock: bool = False
                   ) -> BookingRefund | None:
        query = select(refunds).where(refunds.c.org_id == org_id, refunds.c.id == refund_id)
        row = self._c.execute(query.with_for_update() if lock else query).mappings().first()
        return _refund(row) if row else None

    def refunds(self, org_id: str, payment_id: str) -> list[BookingRefund]:
        query = (select(refunds)
                 .where(refunds.c.org_id == org_id, refunds.c.payment_id == payment_id)
                 .order_by(refunds.c.created_at, refunds.c.id))
        return [_refund(row) for row in self._c.execute(query).mappings()]

    def update_refund(self, refund: BookingRefund) -> None:
        self._c.execute(update(refunds)
                        .where(refunds.c.org_id == refund.org_id, refunds.c.id == refund.id)
                        .values(**_refund_mutable(refund)))

    def add_fee(self, fee: BookingFee) -> bool:
        return self._insert_new(fees, ["booking_id", "kind"], {
            "org_id": fee.org_id, "booking_id": fee.booking_id, "kind": fee.kind,
            "amount_minor": fee.amount_minor, "due_minor": fee.due_minor,
            "currency": fee.currency, "created_at": fee.created_at})

    def fees(self, org_id: str, booking_ids: Sequence[str]) -> list[BookingFee]:
        if not booking_ids:
            return []
        query = (select(fees)
                 .where(fees.c.org_id == org_id, one_of(self._c, fees.c.booking_id, booking_ids))
                 .order_by(fees.c.id))
        return [BookingFee(org_id=row["org_id"], booking_id=row["booking_id"], kind=row["kind"],
                           amount_minor=row["amount_minor"], due_minor=row["due_minor"],
                           currency=row["currency"], created_at=row["created_at"])
                for row in self._c.execute(query).mappings()]

    def _one(self, lock: bool, *where: ColumnElement[bool]) -> BookingPayment | None:
        query = select(payments).where(*where)
        # FOR UPDATE on PostgreSQL; SQLAlchemy leaves it out on SQLite, whose one writer at a
        # time already serialises these transactions.
        row = self._c.execute(query.with_for_update() if lock else query).mappings().first()
        return _payment(row) if row else None

    def _insert_new(self, table: Table, unique: list[str], values: dict[str, Any]) -> bool:
        """INSERT … ON CONFLICT DO NOTHING: one statement, safe against a concurrent writer of
        the same row (the loser writes nothing and learns it from the row count)."""
        dialect_insert = pg_insert if self._c.dialect.name == "postgresql" else sqlite_insert
        columns = [table.c[name] for name in unique]
        # RETURNING, not the row count: PostgreSQL's driver reports -1 for an INSERT that
        # returns rows (which SQLAlchemy adds for an autoincrement key).
        statement = (dialect_insert(table).values(values)
                     .on_conflict_do_nothing(index_elements=columns).returning(*columns))
        return self._c.execute(statement).first() is not None


def _payment_mutable(p: BookingPayment) -> dict[str, object]:
    return {"external_id": p.external_id, "status": p.status.value,
            "refunded_minor": p.refunded_minor, "client_secret": p.client_secret,
            "data": dict(p.data), "last_event_at": p.last_event_at, "updated_at": p.updated_at}


def _payment(row: RowMapping) -> BookingPayment:
    return BookingPayment(
        id=row["id"], org_id=row["org_id"], booking_id=row["booking_id"],
        gateway=row["gateway"], kind=PaymentKind(row["kind"]),
        amount_minor=row["amount_minor"], currency=row["currency"],
        status=PaymentStatus(row["status"]), created_at=row["created_at"],
        updated_at=row["updated_at"], external_id=row["external_id"],
        refunded_minor=row["refunded_minor"], client_secret=row["client_secret"],
        data=dict(row["data"] or {}), last_event_at=row["last_event_at"])


def _refund_mutable(r: BookingRefund) -> dict[str, object]:
    return {"status": r.status.value, "external_id": r.external_id, "error": r.error,
            "updated_at": r.updated_at}


def _refund(row: RowMapping) -> BookingRefund:
    return BookingRefund(
        id=row["id"], org_id=row["org_id"], booking_id=row["booking_id"],
        payment_id=row["payment_id"], amount_minor=row["amount_minor"],
        currency=row["currency"], reason=row["reason"], key=row["key"],
        status=RefundStatus(row["status"]), created_at=row["created_at"],
        updated_at=row["updated_at"], external_id=row["external_id"], error=row["error"])
