"""How a booking's payment changes state, shared by the payment jobs, the webhook receiver
and the reactions to bookings that give up (`app.payments`): deciding a refund, recording a
payment that succeeded, and applying a verified webhook event at most once without ever
letting an older event undo a newer state."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from slotwise.app.lifecycle import fail_closed, satisfy
from slotwise.domain.booking import Booking, BookingStatus
from slotwise.domain.ids import new_id
from slotwise.domain.jobs import JobSpec
from slotwise.domain.payments import (
    PAID,
    BookingPayment,
    BookingRefund,
    PaymentEvent,
    PaymentEventKind,
    PaymentStatus,
    RefundStatus,
)
from slotwise.domain.ports import UnitOfWork

PAYMENT = "payment"  # the gate's name in a booking's `awaiting`
CREATE, CANCEL, REFUND = "payments.create", "payments.cancel", "payments.refund"


def job(task: str, org_id: str, **args: str) -> JobSpec:
    return JobSpec(task=task, args={"org_id": org_id, **args}, org_id=org_id)


def request_refund(uow: UnitOfWork, payment: BookingPayment, amount_minor: int, reason: str,
                   key: str, now: datetime) -> BookingRefund | None:
    """Decide a refund in this transaction: a row and the `payments.refund` job that makes it.
    ``key`` (the gateway's idempotency key) makes deciding it twice write nothing more."""
    if amount_minor <= 0 or payment.settles_later:
        return None
    refund = BookingRefund(
        id=new_id("refund"), org_id=payment.org_id, booking_id=payment.booking_id,
        payment_id=payment.id, amount_minor=amount_minor, currency=payment.currency,
        reason=reason, key=key, status=RefundStatus.PENDING, created_at=now, updated_at=now)
    if not uow.payments.add_refund(refund):
        return None
    uow.jobs.defer(job(REFUND, payment.org_id, refund_id=refund.id))
    return refund


def waits_for_payment(booking: Booking) -> bool:
    return booking.status is BookingStatus.PENDING and PAYMENT in booking.awaiting


def paid_status(payment: BookingPayment) -> PaymentStatus:
    if payment.refunded_minor >= payment.amount_minor > 0:
        return PaymentStatus.REFUNDED
    if payment.refunded_minor > 0:
        return PaymentStatus.PARTIALLY_REFUNDED
    return PaymentStatus.SUCCEEDED


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return max(x for x in (a, b) if x is not None) if a or b else None


def succeeded(uow: UnitOfWork, payment: BookingPayment, now: datetime,
              event_at: datetime | None = None) -> None:
    """The money arrived: confirm the booking waiting for it, or refund it in full when the
    booking has already given up (failed, cancelled)."""
    paid = replace(payment, status=PaymentStatus.SUCCEEDED, updated_at=now,
                   last_event_at=_later(payment.last_event_at, event_at))
    paid = replace(paid, status=paid_status(paid))
    uow.payments.update(paid)
    booking = uow.bookings.get(payment.org_id, payment.booking_id)
    if booking is None:
        return
    if waits_for_payment(booking):
        satisfy(uow, booking, PAYMENT, now)
    elif not booking.status.holds_resources:
        request_refund(uow, paid, paid.paid_minor, "released", f"{booking.id}:released", now)


def payment_of(uow: UnitOfWork, gateway: str, event: PaymentEvent) -> BookingPayment | None:
    """By the gateway's id; else by the booking the event's metadata names, for a webhook that
    overtook the job storing that id."""
    found = uow.payments.by_external(gateway, event.external_id, lock=True)
    if found is not None or not (event.org_id and event.booking_id):
        return found
    found = uow.payments.for_booking(event.org_id, event.booking_id, lock=True)
    if found is None or found.gateway != gateway or found.external_id is not None:
        return None
    return replace(found, external_id=event.external_id)


def judge(payment: BookingPayment, event: PaymentEvent) -> str:
    older = payment.last_event_at is not None and event.created < payment.last_event_at
    match event.kind:
        case PaymentEventKind.SUCCEEDED:
            return "stale" if payment.status in PAID else "applied"
        case PaymentEventKind.FAILED | PaymentEventKind.CANCELLED:
            final = payment.status in PAID or payment.status is PaymentStatus.CANCELLED
            return "stale" if final or older else "applied"
        case PaymentEventKind.REFUNDED:
            return "stale" if event.amount_minor <= payment.refunded_minor else "applied"
    return "ignored"


def apply_event(uow: UnitOfWork, payment: BookingPayment, event: PaymentEvent,
           now: datetime) -> None:
    if event.kind is PaymentEventKind.SUCCEEDED:
        succeeded(uow, payment, now, event.created)
        return
    seen = replace(payment, last_event_at=_later(payment.last_event_at, event.created),
                   updated_at=now)
    if event.kind is PaymentEventKind.REFUNDED:
        seen = replace(seen, refunded_minor=event.amount_minor)
        uow.payments.update(replace(seen, status=paid_status(seen))
                            if seen.status in PAID else seen)
        return
    failed = event.kind is PaymentEventKind.FAILED
    uow.payments.update(replace(seen, status=PaymentStatus.FAILED if failed
                                else PaymentStatus.CANCELLED))
    booking = uow.bookings.get(payment.org_id, payment.booking_id)
    if booking is not None and waits_for_payment(booking):
        fail_closed(uow, booking, "the payment failed" if failed
                    else "the payment was cancelled", now)
