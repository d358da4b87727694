"""Paying at the venue: the booking confirms at once, nothing moves through a gateway."""

import pytest

from slotwise.domain.payments import (
    BadSignature,
    Payment,
    PaymentGateway,
    PaymentRequest,
    PaymentStatus,
    RefundStatus,
)
from slotwise.integrations.payments.on_site import PayOnSite


def payment_request(*, key: str = "booking:bk_1:1") -> PaymentRequest:
    return PaymentRequest(booking_id="bk_1", org_id="org_1", amount_minor=4_500,
                          currency="eur", description="Massage, 60 min",
                          customer_email=None, idempotency_key=key)


def test_a_pay_on_site_payment_settles_later_so_the_booking_confirms_now():
    gateway: PaymentGateway = PayOnSite()
    payment = gateway.create(payment_request())
    assert payment.settles_later is True
    assert (payment.gateway, payment.status, payment.client_secret) == (
        "on_site", PaymentStatus.REQUIRES_PAYMENT, None)
    assert (payment.amount_minor, payment.currency) == (4_500, "eur")
    assert payment.data == {"booking_id": "bk_1", "org_id": "org_1"}


def test_the_same_key_gives_the_same_payment():
    gateway = PayOnSite()
    assert gateway.create(payment_request(key="k")) == gateway.create(payment_request(key="k"))
    assert gateway.create(payment_request(key="j")).external_id != gateway.create(
        payment_request(key="k")).external_id


def test_get_still_says_payment_is_due_at_the_venue():
    gateway = PayOnSite()
    payment = gateway.create(payment_request())
    again = gateway.get(payment.external_id)
    assert (again.external_id, again.status, again.settles_later) == (
        payment.external_id, PaymentStatus.REQUIRES_PAYMENT, True)


def test_cancel_and_refund_move_no_money():
    gateway = PayOnSite()
    payment = gateway.create(payment_request())
    gateway.cancel(payment.external_id)
    gateway.cancel(payment.external_id)
    refund = gateway.refund(payment.external_id, 4_500, "refund:bk_1")
    assert (refund.amount_minor, refund.status) == (0, RefundStatus.SUCCEEDED)
    assert refund == gateway.refund(payment.external_id, 4_500, "refund:bk_1")


def test_there_are_no_webhooks_to_trust():
    with pytest.raises(BadSignature, match="no webhooks"):
        PayOnSite().parse_webhook(b"{}", {"Stripe-Signature": "t=1,v1=00"})


def test_the_payment_round_trips_through_json():
    payment = PayOnSite().create(payment_request())
    assert Payment.from_json(payment.to_json()) == payment


@pytest.mark.parametrize(("amount", "currency"), [(0, "eur"), (-1, "eur"), (100, "EUR"),
                                                  (100, "euro")])
def test_a_request_needs_a_positive_amount_and_a_lower_case_iso_currency(amount, currency):
    with pytest.raises(ValueError):  # noqa: PT011
        PaymentRequest(booking_id="b", org_id="o", amount_minor=amount, currency=currency,
                       description="", customer_email=None, idempotency_key="k")
