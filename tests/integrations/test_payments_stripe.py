"""StripeGateway over real HTTP against the local fake Stripe: intents, refunds, idempotency,
error translation and webhook verification (signed locally exactly as Stripe signs)."""

import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import stripe

from slotwise.domain.payments import (
    BadSignature,
    Payment,
    PaymentEventKind,
    PaymentRejected,
    PaymentRequest,
    PaymentStatus,
    PaymentUnavailable,
    RefundStatus,
)
from slotwise.integrations.payments.stripe import StripeGateway
from slotwise.testing.fakes.stripe import FakeStripe, event_body, sign


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe() as server:
        yield server


@pytest.fixture
def gateway(fake: FakeStripe) -> Iterator[StripeGateway]:
    # No network retries unless a test asks: each injected failure reaches the adapter.
    gw = StripeGateway(fake.api_key, fake.webhook_secret, api_base=fake.url,
                       max_network_retries=0)
    yield gw
    gw.close()


def payment_request(*, booking_id: str = "bk_1", amount_minor: int = 4_500,
                    key: str = "booking:bk_1:1", email: str | None = "ada@example.org"
                    ) -> PaymentRequest:
    return PaymentRequest(booking_id=booking_id, org_id="org_1", amount_minor=amount_minor,
                          currency="eur", description="Massage, 60 min",
                          customer_email=email, idempotency_key=key)


def paid(gateway: StripeGateway, fake: FakeStripe, **kw) -> Payment:
    payment = gateway.create(payment_request(**kw))
    fake.succeed(payment.external_id)
    return payment


def test_create_starts_an_intent_the_browser_can_confirm(gateway, fake):
    payment = gateway.create(payment_request())
    assert payment.gateway == "stripe"
    assert payment.external_id.startswith("pi_")
    assert payment.client_secret.startswith(f"{payment.external_id}_secret_")
    assert (payment.amount_minor, payment.currency, payment.status) == (
        4_500, "eur", PaymentStatus.REQUIRES_PAYMENT)
    assert payment.settles_later is False
    assert payment.data["metadata"] == {"booking_id": "bk_1", "org_id": "org_1"}
    sent = fake.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/v1/payment_intents")
    assert sent.params == {
        "amount": "4500", "currency": "eur", "description": "Massage, 60 min",
        "metadata": {"booking_id": "bk_1", "org_id": "org_1"},
        "automatic_payment_methods": {"enabled": "true"}, "receipt_email": "ada@example.org",
    }
    assert sent.headers["idempotency-key"] == "booking:bk_1:1"
    assert sent.headers["authorization"] == "Bearer sk_test_fake"


def test_create_without_an_email_sends_no_receipt_address(gateway, fake):
    gateway.create(payment_request(email=None))
    assert "receipt_email" not in fake.requests[-1].params


def test_the_same_idempotency_key_gives_the_same_intent(gateway, fake):
    first = gateway.create(payment_request(key="k1"))
    again = gateway.create(payment_request(key="k1"))
    other = gateway.create(payment_request(key="k2"))
    assert again == first
    assert other.external_id != first.external_id
    assert len([r for r in fake.requests if r.path == "/v1/payment_intents"]) == 3


def test_a_key_reused_with_other_parameters_is_rejected(gateway):
    gateway.create(payment_request(key="k1"))
    with pytest.raises(PaymentRejected) as err:
        gateway.create(payment_request(key="k1", amount_minor=9_900))
    assert isinstance(err.value.__cause__, stripe.IdempotencyError)


def test_get_follows_the_intent_through_failure_and_success(gateway, fake):
    payment = gateway.create(payment_request())
    assert gateway.get(payment.external_id).status is PaymentStatus.REQUIRES_PAYMENT
    fake.fail(payment.external_id)
    failed = gateway.get(payment.external_id)
    assert failed.status is PaymentStatus.FAILED
    assert failed.data["last_payment_error"] == "card_declined"
    fake.succeed(payment.external_id)
    done = gateway.get(payment.external_id)
    assert (done.status, done.refunded_minor) == (PaymentStatus.SUCCEEDED, 0)
    assert done.data["latest_charge"].startswith("ch_")


def test_get_of_an_unknown_intent_is_rejected_with_stripes_code(gateway):
    with pytest.raises(PaymentRejected) as err:
        gateway.get("pi_missing")
    assert err.value.code == "resource_missing"


def test_cancel_is_idempotent(gateway, fake):
    payment = gateway.create(payment_request())
    gateway.cancel(payment.external_id)
    gateway.cancel(payment.external_id)
    assert gateway.get(payment.external_id).status is PaymentStatus.CANCELLED
    assert fake.intent(payment.external_id)["status"] == "canceled"


def test_a_succeeded_payment_cannot_be_cancelled(gateway, fake):
    payment = paid(gateway, fake)
    with pytest.raises(PaymentRejected, match="succeeded") as err:
        gateway.cancel(payment.external_id)
    assert err.value.code == "payment_intent_unexpected_state"


def test_partial_then_full_refunds_and_a_replayed_key_refunds_once(gateway, fake):
    payment = paid(gateway, fake)
    refund = gateway.refund(payment.external_id, 1_500, "refund:bk_1:1")
    assert refund.external_id.startswith("re_")
    assert (refund.amount_minor, refund.status) == (1_500, RefundStatus.SUCCEEDED)
    assert gateway.refund(payment.external_id, 1_500, "refund:bk_1:1") == refund
    partly = gateway.get(payment.external_id)
    assert (partly.status, partly.refunded_minor) == (PaymentStatus.PARTIALLY_REFUNDED, 1_500)
    gateway.refund(payment.external_id, 3_000, "refund:bk_1:2")
    whole = gateway.get(payment.external_id)
    assert (whole.status, whole.refunded_minor) == (PaymentStatus.REFUNDED, 4_500)
    sent = next(r for r in fake.requests if r.path == "/v1/refunds")
    assert sent.params == {"payment_intent": payment.external_id, "amount": "1500"}


def test_refunding_more_than_is_left_or_an_unpaid_intent_is_rejected(gateway, fake):
    payment = paid(gateway, fake)
    gateway.refund(payment.external_id, 4_000, "r1")
    with pytest.raises(PaymentRejected) as err:
        gateway.refund(payment.external_id, 501, "r2")
    assert err.value.code == "amount_too_large"
    unpaid = gateway.create(payment_request(key="other"))
    with pytest.raises(PaymentRejected) as err:
        gateway.refund(unpaid.external_id, 100, "r3")
    assert err.value.code == "payment_intent_unexpected_state"
    with pytest.raises(ValueError, match="positive"):
        gateway.refund(payment.external_id, 0, "r4")


@pytest.mark.parametrize(
    ("status", "error_type", "expected", "cause"),
    [
        (402, None, PaymentRejected, stripe.CardError),
        (400, None, PaymentRejected, stripe.InvalidRequestError),
        (401, "invalid_request_error", PaymentRejected, stripe.AuthenticationError),
        (429, None, PaymentUnavailable, stripe.RateLimitError),
        (500, None, PaymentUnavailable, stripe.APIError),
        (503, None, PaymentUnavailable, stripe.APIError),
        (409, "idempotency_error", PaymentUnavailable, stripe.APIError),
    ],
)
def test_stripe_errors_become_retry_later_or_permanent_keeping_the_cause(
        gateway, fake, status, error_type, expected, cause):
    fake.fail_next(status, error_type)
    with pytest.raises(expected) as err:
        gateway.create(payment_request())
    assert type(err.value.__cause__) is cause
    # An error before the endpoint ran is not stored under the key: the retry goes through.
    assert gateway.create(payment_request()).status is PaymentStatus.REQUIRES_PAYMENT


def test_a_declined_card_keeps_stripes_code(gateway, fake):
    fake.fail_next(402)
    with pytest.raises(PaymentRejected) as err:
        gateway.create(payment_request())
    assert err.value.code == "card_declined"
    assert "declined" in err.value.detail


def test_a_wrong_api_key_is_rejected(fake):
    gateway = StripeGateway("sk_test_wrong", fake.webhook_secret, api_base=fake.url,
                            max_network_retries=0)
    with pytest.raises(PaymentRejected) as err:
        gateway.create(payment_request())
    assert isinstance(err.value.__cause__, stripe.AuthenticationError)
    gateway.close()


def test_a_dropped_connection_or_a_closed_port_is_unavailable(gateway, fake):
    fake.drop_next()
    with pytest.raises(PaymentUnavailable) as err:
        gateway.get("pi_any")
    assert isinstance(err.value.__cause__, stripe.APIConnectionError)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    nowhere = StripeGateway(fake.api_key, fake.webhook_secret, api_base=closed,
                            max_network_retries=0, timeout_s=2)
    with pytest.raises(PaymentUnavailable):
        nowhere.get("pi_any")
    nowhere.close()


def test_stripes_own_retry_reuses_the_idempotency_key(fake):
    gateway = StripeGateway(fake.api_key, fake.webhook_secret, api_base=fake.url,
                            max_network_retries=1)
    fake.fail_next(500)
    payment = gateway.create(payment_request(key="retry-me"))
    tries = [r for r in fake.requests if r.path == "/v1/payment_intents"]
    assert len(tries) == 2
    assert {r.headers["idempotency-key"] for r in tries} == {"retry-me"}
    assert payment.status is PaymentStatus.REQUIRES_PAYMENT
    gateway.close()


def test_a_succeeded_webhook_names_the_payment_and_its_booking(gateway, fake):
    payment = gateway.create(payment_request())
    body = fake.succeed(payment.external_id)
    event = gateway.parse_webhook(body, fake.headers_for(body))
    sent = json.loads(body)
    assert event.kind is PaymentEventKind.SUCCEEDED
    assert (event.external_id, event.event_id, event.amount_minor) == (
        payment.external_id, sent["id"], 4_500)
    assert (event.booking_id, event.org_id, event.type) == (
        "bk_1", "org_1", "payment_intent.succeeded")
    assert event.created == datetime.fromtimestamp(sent["created"], UTC)


def test_failed_cancelled_and_refunded_webhooks(gateway, fake):
    failing = gateway.create(payment_request(key="a"))
    body = fake.fail(failing.external_id)
    failed = gateway.parse_webhook(body, fake.headers_for(body))
    assert (failed.kind, failed.external_id) == (PaymentEventKind.FAILED, failing.external_id)
    gateway.cancel(failing.external_id)
    body = fake.last_event("payment_intent.canceled")
    assert gateway.parse_webhook(body, fake.headers_for(body)).kind is PaymentEventKind.CANCELLED
    payment = paid(gateway, fake, key="b")
    gateway.refund(payment.external_id, 1_000, "r1")
    gateway.refund(payment.external_id, 500, "r2")
    body = fake.last_event("charge.refunded")
    refunded = gateway.parse_webhook(body, fake.headers_for(body))
    assert (refunded.kind, refunded.external_id, refunded.amount_minor, refunded.booking_id) == (
        PaymentEventKind.REFUNDED, payment.external_id, 1_500, "bk_1")


@pytest.mark.parametrize("event_type", ["charge.succeeded", "customer.created", "refund.created"])
def test_events_the_app_does_not_act_on_are_ignored(gateway, fake, event_type):
    body = event_body(event_type, {"id": "obj_1", "object": "thing"})
    event = gateway.parse_webhook(body, fake.headers_for(body))
    assert (event.kind, event.type) == (PaymentEventKind.IGNORED, event_type)


def test_a_tampered_body_is_refused(gateway, fake):
    payment = gateway.create(payment_request())
    body = fake.succeed(payment.external_id)
    headers = fake.headers_for(body)
    tampered = body.replace(b'"amount": 4500', b'"amount": 1')
    assert tampered != body
    with pytest.raises(BadSignature):
        gateway.parse_webhook(tampered, headers)
    assert gateway.parse_webhook(body, headers).amount_minor == 4_500


def test_a_wrong_secret_a_missing_header_or_garbage_is_refused(gateway, fake):
    body = event_body("payment_intent.succeeded", {"id": "pi_1", "object": "payment_intent"})
    with pytest.raises(BadSignature):
        gateway.parse_webhook(body, fake.headers_for(body, secret="whsec_other"))
    with pytest.raises(BadSignature):
        gateway.parse_webhook(body, {})
    with pytest.raises(BadSignature):
        gateway.parse_webhook(body, {"Stripe-Signature": "nonsense"})
    with pytest.raises(BadSignature):
        gateway.parse_webhook(b"not json", fake.headers_for(b"not json"))


def test_a_stale_delivery_is_refused_and_a_recent_one_accepted(gateway, fake):
    body = event_body("payment_intent.canceled", {"id": "pi_1", "object": "payment_intent",
                                                  "amount": 100, "metadata": {}})
    now = int(time.time())
    with pytest.raises(BadSignature, match="tolerance"):
        gateway.parse_webhook(body, fake.headers_for(body, timestamp=now - 301))
    assert gateway.parse_webhook(body, fake.headers_for(body, timestamp=now - 290)).kind is (
        PaymentEventKind.CANCELLED)


def test_the_signature_header_is_found_whatever_its_case(gateway, fake):
    body = event_body("payment_intent.canceled", {"id": "pi_1", "object": "payment_intent"})
    header = sign(body, fake.webhook_secret)
    event = gateway.parse_webhook(body, {"stripe-signature": header})
    assert (event.external_id, event.amount_minor, event.booking_id) == ("pi_1", 0, None)


def test_a_payment_survives_a_json_round_trip(gateway, fake):
    payment = paid(gateway, fake)
    stored = json.loads(json.dumps(gateway.get(payment.external_id).to_json()))
    assert Payment.from_json(stored) == gateway.get(payment.external_id)
