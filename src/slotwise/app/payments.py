"""Payments in the booking flow: the payment gate, the jobs that talk to the gateway, the
webhooks that answer, and what a booking that gives up does to its payment.

A booking that must pay online (`policies.amount_due`) is written `pending`, awaiting
"payment", with a payment row and a `payments.create` job in its own transaction. The job
starts the payment at the gateway outside any transaction (idempotency key: the booking id)
and stores its id and client secret, which the customer's browser uses to pay. The gateway's
webhook then confirms the booking (`satisfy`) or fails it closed (`fail_closed`), releasing
the slot; a booking still unpaid at its deadline is failed by the fixer
(`app/fixer.py`).
A booking that fails or is cancelled while unpaid has its payment cancelled (a job, from the
relay); money that arrives after its booking gave up is refunded in full.

Webhooks are applied at most once (their event ids are kept) and never let an older event
undo a newer state: a payment that succeeded stays succeeded whatever arrives later, and a
failure or cancellation older than the last event applied is ignored. Paying at the venue
writes a payment row that settles later and never holds the booking back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from slotwise.app.lifecycle import fail_closed
from slotwise.app.payment_state import (
    CANCEL,
    CREATE,
    PAYMENT,
    apply_event,
    job,
    judge,
    paid_status,
    payment_of,
    request_refund,
    succeeded,
    waits_for_payment,
)
from slotwise.app.policies import amount_due, booking_policy
from slotwise.domain import events
from slotwise.domain.booking import Booking
from slotwise.domain.errors import NotFound
from slotwise.domain.ids import new_id
from slotwise.domain.model import Location, OutboxEvent, Resource, Service
from slotwise.domain.payments import (
    PAID,
    UNPAID,
    BookingFee,
    BookingPayment,
    PaymentEventKind,
    PaymentGateway,
    PaymentKind,
    PaymentMode,
    PaymentRejected,
    PaymentRequest,
    PaymentStatus,
    PaymentUnavailable,
    RefundStatus,
)
from slotwise.domain.ports import Clock, UnitOfWork, UnitOfWorkFactory
from slotwise.engine.policies import policy_to_json

__all__ = ["PAYMENT", "BookingMoney", "PaymentGate", "PaymentReactor", "Payments"]


class PaymentGate:
    """Holds a booking until its online payment succeeds, `deadline` at most. Also records,
    for a service paid at the venue, a payment that settles later (the booking is confirmed
    at once)."""

    name = PAYMENT

    def __init__(self, online: PaymentGateway | None, on_site: PaymentGateway,
                 deadline: timedelta) -> None:
        self._online = online
        self._on_site = on_site
        self.deadline: timedelta | None = deadline

    def needed(self, service: Service, resources: Mapping[str, Resource],
               locations: Mapping[str, Location]) -> bool:
        if amount_due(service, resources.values()) is None:
            return False
        if self._online is None:  # the catalog refuses this; settings may have changed since
            raise PaymentUnavailable("no online payment gateway configured")
        return True

    def open(self, uow: UnitOfWork, service: Service, booking: Booking, now: datetime) -> None:
        """Write the payment and defer the job that starts it at the gateway."""
        assert self._online is not None
        assert service.price is not None
        due = amount_due(service, uow.resources.many(booking.org_id,
                                                     booking.resource_ids).values())
        assert due is not None
        kind, amount = due
        payment = _new_payment(uow, service, booking, self._online.name, kind, amount, now)
        uow.payments.add(payment)
        uow.jobs.defer(job(CREATE, payment.org_id, payment_id=payment.id))

    def record(self, uow: UnitOfWork, service: Service, booking: Booking,
               now: datetime) -> None:
        """Pay on site: the whole price due at the venue, recorded with the booking."""
        if service.payment is not PaymentMode.ON_SITE or service.price is None:
            return
        made = self._on_site.create(PaymentRequest(
            booking_id=booking.id, org_id=booking.org_id, amount_minor=service.price.amount,
            currency=service.price.currency.lower(), description=service.name,
            customer_email=booking.customer.email, idempotency_key=booking.id))
        payment = _new_payment(uow, service, booking, made.gateway, PaymentKind.FULL,
                               service.price.amount, now)
        uow.payments.add(replace(payment, external_id=made.external_id,
                                 data={**payment.data, "settles_later": made.settles_later}))


def _new_payment(uow: UnitOfWork, service: Service, booking: Booking, gateway: str,
                 kind: PaymentKind, amount: int, now: datetime) -> BookingPayment:
    assert service.price is not None
    # The policy agreed at booking time goes with the payment: cancelling later applies it.
    policy = policy_to_json(booking_policy(uow, service, booking))
    return BookingPayment(
        id=new_id("payment"), org_id=booking.org_id, booking_id=booking.id, gateway=gateway,
        kind=kind, amount_minor=amount, currency=service.price.currency,
        status=PaymentStatus.REQUIRES_PAYMENT, created_at=now, updated_at=now,
        data={"policy": policy, "price_minor": service.price.amount})


@dataclass(frozen=True, slots=True)
class BookingMoney:
    """What a booking pays (None: nothing through a gateway) and the fees recorded on it."""

    payment: BookingPayment | None = None
    fees: tuple[BookingFee, ...] = field(default=())


class Payments:
    """The payment jobs' handlers, the webhook receiver and reads for the API."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock,
                 gateways: Mapping[str, PaymentGateway]) -> None:
        self._uow = uow
        self._clock = clock
        self._gateways = dict(gateways)

    def money(self, org_id: str, booking_ids: list[str]) -> dict[str, BookingMoney]:
        with self._uow() as uow:
            found = uow.payments.for_bookings(org_id, booking_ids)
            fees: dict[str, list[BookingFee]] = {}
            for fee in uow.payments.fees(org_id, booking_ids):
                fees.setdefault(fee.booking_id, []).append(fee)
        return {b: BookingMoney(found.get(b), tuple(fees.get(b, ()))) for b in booking_ids}

    def start(self, org_id: str, payment_id: str) -> None:
        """`payments.create`. Idempotent: the gateway call's idempotency key is the booking id
        (a retry gets the same payment back), and a payment that already has its gateway id,
        or whose booking no longer waits for it, is not started again."""
        with self._uow() as uow:
            payment = uow.payments.get(org_id, payment_id)
            if payment is None or payment.external_id is not None:
                return
            booking = uow.bookings.get(org_id, payment.booking_id)
            service = uow.services.get(org_id, booking.service_id) if booking else None
        if booking is None or not waits_for_payment(booking):
            self._update(org_id, payment_id, lambda p: replace(
                p, status=PaymentStatus.CANCELLED) if p.external_id is None
                and p.status in UNPAID else None)
            return
        try:
            made = self._gateway(payment.gateway).create(PaymentRequest(
                booking_id=booking.id, org_id=org_id, amount_minor=payment.amount_minor,
                currency=payment.currency.lower(),
                description=f"{service.name if service else 'Booking'}, "
                            f"{events.iso(booking.start)}",
                customer_email=booking.customer.email, idempotency_key=booking.id))
        except PaymentRejected as error:
            self._refused(org_id, payment_id, error)
            return
        now = self._clock.now()
        with self._uow(write=True) as uow:
            current = uow.payments.get(org_id, payment_id, lock=True)
            if current is None or current.external_id not in (None, made.external_id):
                return
            uow.payments.update(replace(
                current, external_id=made.external_id,
                client_secret=current.client_secret or made.client_secret,
                data={**current.data, "gateway": made.data}, updated_at=now))
            booking = uow.bookings.get(org_id, current.booking_id)
            # The booking gave up while the gateway was asked: cancel what was just started.
            if (booking is None or not waits_for_payment(booking)) and \
                    current.status in UNPAID:
                uow.jobs.defer(job(CANCEL, org_id, payment_id=payment_id))
            uow.commit()

    def _refused(self, org_id: str, payment_id: str, error: PaymentRejected) -> None:
        now = self._clock.now()
        with self._uow(write=True) as uow:
            payment = uow.payments.get(org_id, payment_id, lock=True)
            if payment is None or payment.status not in UNPAID:
                return
            uow.payments.update(replace(payment, status=PaymentStatus.FAILED, updated_at=now,
                                        data={**payment.data, "error": error.detail,
                                              "error_code": error.code}))
            booking = uow.bookings.get(org_id, payment.booking_id)
            if booking is not None and waits_for_payment(booking):
                fail_closed(uow, booking, "the payment could not be started", now)
            uow.commit()

    def cancel(self, org_id: str, payment_id: str) -> None:
        """`payments.cancel`: cancel an unpaid payment whose booking gave up. Idempotent:
        cancelling at the gateway is, and a payment that is cancelled or paid is left alone
        (one that turns out paid is recorded as if its webhook had come: refunded in full)."""
        with self._uow() as uow:
            payment = uow.payments.get(org_id, payment_id)
        if payment is None or payment.external_id is None or payment.status not in UNPAID:
            return  # not started: `start` cancels what it starts for a booking that gave up
        gateway = self._gateway(payment.gateway)
        try:
            gateway.cancel(payment.external_id)
        except PaymentRejected:
            current = gateway.get(payment.external_id)
            if current.status in PAID:
                now = self._clock.now()
                with self._uow(write=True) as uow:
                    locked = uow.payments.get(org_id, payment_id, lock=True)
                    if locked is not None and locked.status not in PAID:
                        succeeded(uow, locked, now)
                        uow.commit()
                return
            raise
        self._update(org_id, payment_id, lambda p: replace(
            p, status=PaymentStatus.CANCELLED) if p.status in UNPAID else None)

    def refund(self, org_id: str, refund_id: str) -> None:
        """`payments.refund`. Idempotent: the gateway refunds once per the refund's key, and a
        refund no longer pending is not sent again; what was refunded is a maximum (never a
        sum), so this and the gateway's `refunded` webhook never count a refund twice."""
        with self._uow() as uow:
            refund = uow.payments.get_refund(org_id, refund_id)
            payment = uow.payments.get(org_id, refund.payment_id) if refund else None
        if refund is None or payment is None or refund.status is not RefundStatus.PENDING:
            return
        if payment.external_id is None:
            raise RuntimeError(f"payment {payment.id} was refunded before it was started")
        now = self._clock.now()
        try:
            made = self._gateway(payment.gateway).refund(payment.external_id,
                                                         refund.amount_minor, refund.key)
        except PaymentRejected as error:
            with self._uow(write=True) as uow:
                locked = uow.payments.get_refund(org_id, refund_id, lock=True)
                if locked is not None and locked.status is RefundStatus.PENDING:
                    uow.payments.update_refund(replace(locked, status=RefundStatus.FAILED,
                                                       error=error.detail, updated_at=now))
                    uow.commit()
            return
        with self._uow(write=True) as uow:
            locked = uow.payments.get_refund(org_id, refund_id, lock=True)
            if locked is None or locked.status is not RefundStatus.PENDING:
                return
            uow.payments.update_refund(replace(locked, status=made.status,
                                               external_id=made.external_id, updated_at=now))
            current = uow.payments.get(org_id, payment.id, lock=True)
            if current is not None and made.status is RefundStatus.SUCCEEDED:
                done = sum(r.amount_minor for r in uow.payments.refunds(org_id, current.id)
                           if r.status is RefundStatus.SUCCEEDED or r.id == refund_id)
                refunded = replace(current, refunded_minor=max(current.refunded_minor, done),
                                   updated_at=now)
                if refunded.status in PAID:
                    refunded = replace(refunded, status=paid_status(refunded))
                uow.payments.update(refunded)
            uow.commit()

    def receive(self, gateway_name: str, body: bytes, headers: Mapping[str, str]) -> str:
        """A webhook delivery: verified (`BadSignature` otherwise, and nothing changes), then
        applied once. Returns what became of it: ``applied``, ``stale`` (older than what is
        known, or changes nothing), ``duplicate`` (seen before), ``ignored`` (an event type
        or payment this app does not act on)."""
        gateway = self._gateways.get(gateway_name)
        if gateway is None or gateway_name != gateway.name:
            raise NotFound("no such payment gateway")
        event = gateway.parse_webhook(body, headers)
        if event.kind is PaymentEventKind.IGNORED:
            return "ignored"
        now = self._clock.now()
        with self._uow(write=True) as uow:
            payment = payment_of(uow, gateway.name, event)
            if payment is None:
                return "ignored"
            outcome = judge(payment, event)
            if not uow.payments.seen(payment.org_id, gateway.name, event, outcome, now):
                return "duplicate"
            if outcome == "applied":
                apply_event(uow, payment, event, now)
            uow.commit()
        return outcome

    def _gateway(self, name: str) -> PaymentGateway:
        gateway = self._gateways.get(name)
        if gateway is None:
            raise PaymentUnavailable(f"the payment gateway {name!r} is not configured")
        return gateway

    def _update(self, org_id: str, payment_id: str,
                change: Callable[[BookingPayment], BookingPayment | None]) -> None:
        now = self._clock.now()
        with self._uow(write=True) as uow:
            payment = uow.payments.get(org_id, payment_id, lock=True)
            changed = change(payment) if payment is not None else None
            if changed is not None:
                uow.payments.update(replace(changed, updated_at=now))
                uow.commit()


class PaymentReactor:
    """On a booking that gave up (failed, cancelled, declined): cancel its unpaid online
    payment (a job) and drop what was due at the venue. A booking that failed or was
    declined after it was paid (it still waited for an approval or a link) is refunded in
    full; a cancelled one was refunded by its policy when it was cancelled."""

    TYPES = (events.BOOKING_FAILED, events.BOOKING_CANCELLED, events.BOOKING_DECLINED)

    def react(self, uow: UnitOfWork, event: OutboxEvent, now: datetime) -> None:
        if event.type not in self.TYPES:
            return
        payment = uow.payments.for_booking(event.org_id, event.aggregate_id)
        if payment is None:
            return
        if payment.status in PAID and event.type != events.BOOKING_CANCELLED:
            reason = event.type.removeprefix("booking.")
            request_refund(uow, payment, payment.paid_minor, reason,
                           f"{payment.booking_id}:{reason}", now)
            return
        if payment.status not in UNPAID:
            return
        if payment.settles_later:
            uow.payments.update(replace(payment, status=PaymentStatus.CANCELLED,
                                        updated_at=now))
            return
        uow.jobs.defer(job(CANCEL, payment.org_id, payment_id=payment.id))
