"""What cancelling (or not turning up) costs: the quote a customer sees before cancelling, the
refund and late fee cancelling applies, and the no-show fee.

The policy is the one agreed at booking time when the booking has a payment (stored with it),
else the one in force now (`policies.booking_policy`). What was paid is the payment's amount
net of refunds once it has succeeded, else 0; a deposit alone refunds a share of the deposit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from slotwise.app.manage import find_booking
from slotwise.app.payment_state import request_refund
from slotwise.app.policies import booking_policy
from slotwise.domain.booking import Booking
from slotwise.domain.errors import InvalidTransition
from slotwise.domain.payments import BookingFee, BookingPayment
from slotwise.domain.ports import Clock, UnitOfWork, UnitOfWorkFactory
from slotwise.engine.policies import Policy, Quote, no_show_fee_minor, policy_from_json, quote

LATE_CANCEL, NO_SHOW = "late_cancel", "no_show"


@dataclass(frozen=True, slots=True)
class Terms:
    """A booking's money terms: its policy, price and what was paid (``currency`` None when
    the service has no price and nothing was paid)."""

    policy: Policy
    price_minor: int
    paid_minor: int
    currency: str | None
    payment: BookingPayment | None


@dataclass(frozen=True, slots=True)
class CancellationQuote:
    booking: Booking
    terms: Terms
    quote: Quote


class CancellationTerms:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def quote(self, org_id: str | None, booking_id: str,
              manage_token: str | None = None) -> CancellationQuote:
        """What cancelling now would refund and cost; a booking that cannot be cancelled
        (no longer pending or confirmed) → `InvalidTransition`."""
        now = self._clock.now()
        with self._uow() as uow:
            booking = find_booking(uow, org_id, booking_id, manage_token)
            return self._quote(uow, booking, now)

    def apply(self, uow: UnitOfWork, booking: Booking, now: datetime) -> CancellationQuote:
        """In the cancelling transaction (``booking`` as it was before): decide the refund
        (a row and its job; idempotency key the booking id + ``:cancel``) and record a late
        fee still to collect."""
        found = self._quote(uow, booking, now)
        terms, q = found.terms, found.quote
        if terms.payment is not None and q.refund_minor > 0:
            request_refund(uow, terms.payment, q.refund_minor, "cancel", f"{booking.id}:cancel",
                           now)
        if q.fee_minor > 0 and terms.currency is not None:
            uow.payments.add_fee(BookingFee(
                org_id=booking.org_id, booking_id=booking.id, kind=LATE_CANCEL,
                amount_minor=q.fee_minor, due_minor=q.charge_minor, currency=terms.currency,
                created_at=now))
        return found

    def no_show(self, uow: UnitOfWork, booking: Booking, now: datetime) -> None:
        """`Lifecycle.mark`'s hook: record the policy's no-show fee and what of it is still
        due once what the customer paid (and keeps) is counted. Once per booking."""
        terms = _terms(uow, booking)
        fee = no_show_fee_minor(terms.policy, terms.price_minor)
        if fee > 0 and terms.currency is not None:
            uow.payments.add_fee(BookingFee(
                org_id=booking.org_id, booking_id=booking.id, kind=NO_SHOW, amount_minor=fee,
                due_minor=max(0, fee - terms.paid_minor), currency=terms.currency,
                created_at=now))

    def _quote(self, uow: UnitOfWork, booking: Booking, now: datetime) -> CancellationQuote:
        if not booking.status.holds_resources:
            raise InvalidTransition(f"a {booking.status.value} booking cannot be cancelled")
        terms = _terms(uow, booking)
        return CancellationQuote(booking, terms, quote(
            terms.policy, price_minor=terms.price_minor, paid_minor=terms.paid_minor,
            start=booking.start, now=now))


def _terms(uow: UnitOfWork, booking: Booking) -> Terms:
    payment = uow.payments.for_booking(booking.org_id, booking.id)
    if payment is not None and "policy" in payment.data:
        policy = policy_from_json(payment.data["policy"])
        price_minor = int(payment.data.get("price_minor", payment.amount_minor))
        return Terms(policy, price_minor, payment.paid_minor, payment.currency, payment)
    service = uow.services.get(booking.org_id, booking.service_id)
    price = service.price if service is not None else None
    return Terms(booking_policy(uow, service, booking), price.amount if price else 0, 0,
                 price.currency if price else None, payment)
