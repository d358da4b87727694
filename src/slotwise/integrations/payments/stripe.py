"""Stripe behind the `PaymentGateway` port: PaymentIntents, refunds and signed webhooks.

One PaymentIntent per payment, confirmed by the customer's browser with its client secret
(automatic payment methods). Its ``metadata`` carries ``booking_id`` and ``org_id`` so that a
webhook finds its booking; Stripe copies it onto the charge, so refunds carry it too.

Stripe's errors become the port's at this boundary, keeping the cause: no answer, a rate
limit or a 5xx is ``PaymentUnavailable`` (retry with the same idempotency key); anything else
Stripe refuses (declined card, invalid request, bad key, key reused with other parameters)
is ``PaymentRejected`` with Stripe's error code.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import stripe
from stripe.params import PaymentIntentCreateParams

from slotwise.domain.payments import (
    BadSignature,
    Payment,
    PaymentError,
    PaymentEvent,
    PaymentEventKind,
    PaymentRejected,
    PaymentRequest,
    PaymentStatus,
    PaymentUnavailable,
    Refund,
    RefundStatus,
)

_EVENT_KINDS = {
    "payment_intent.succeeded": PaymentEventKind.SUCCEEDED,
    "payment_intent.payment_failed": PaymentEventKind.FAILED,
    "payment_intent.canceled": PaymentEventKind.CANCELLED,
    "charge.refunded": PaymentEventKind.REFUNDED,
}
_REFUND_STATUSES = {"succeeded": RefundStatus.SUCCEEDED, "failed": RefundStatus.FAILED,
                    "canceled": RefundStatus.FAILED}


class StripeGateway:
    """``api_base`` points the client elsewhere than api.stripe.com (a local fake in tests).
    Network retries are Stripe's own (same idempotency key, exponential back-off, honouring
    ``Stripe-Should-Retry``); ``timeout_s`` bounds each attempt, since the client's default
    is 80 s. Webhooks older than ``webhook_tolerance_s`` are refused (replays)."""

    name = "stripe"

    def __init__(self, api_key: str, webhook_secret: str, *, api_base: str | None = None,
                 timeout_s: float = 10.0, max_network_retries: int = 2,
                 webhook_tolerance_s: int = 300) -> None:
        # requests, stripe's own default: its HTTPXClient sends bodies as httpx's deprecated
        # `data=` (a DeprecationWarning per POST on httpx 0.28).
        self._http = stripe.RequestsClient(timeout=timeout_s)
        self._client = stripe.StripeClient(
            api_key, base_addresses={"api": api_base} if api_base else None,
            http_client=self._http, max_network_retries=max_network_retries)
        self._webhook_secret = webhook_secret
        self._tolerance_s = webhook_tolerance_s

    def close(self) -> None:
        self._http.close()  # type: ignore[no-untyped-call]

    def create(self, request: PaymentRequest) -> Payment:
        params: PaymentIntentCreateParams = {
            "amount": request.amount_minor,
            "currency": request.currency,
            "description": request.description,
            "metadata": {"booking_id": request.booking_id, "org_id": request.org_id},
            "automatic_payment_methods": {"enabled": True},
        }
        if request.customer_email:
            params["receipt_email"] = request.customer_email
        try:
            intent = self._client.v1.payment_intents.create(
                params=params, options={"idempotency_key": request.idempotency_key})
        except stripe.StripeError as e:
            raise _translate(e) from e
        return _payment(intent)

    def get(self, external_id: str) -> Payment:
        try:
            intent = self._client.v1.payment_intents.retrieve(
                external_id, params={"expand": ["latest_charge"]})
        except stripe.StripeError as e:
            raise _translate(e) from e
        return _payment(intent)

    def cancel(self, external_id: str) -> None:
        try:
            self._client.v1.payment_intents.cancel(external_id)
            return
        except stripe.InvalidRequestError as e:
            if e.code != "payment_intent_unexpected_state":
                raise _translate(e) from e
            refused = e
        except stripe.StripeError as e:
            raise _translate(e) from e
        # Refused for its state: already cancelled is what was asked (idempotent); any other
        # state (succeeded, refunded) is permanent.
        current = self.get(external_id)
        if current.status is not PaymentStatus.CANCELLED:
            raise PaymentRejected(
                f"payment {external_id} is {current.status.value}: it cannot be cancelled",
                code=refused.code) from refused

    def refund(self, external_id: str, amount_minor: int, idempotency_key: str) -> Refund:
        if amount_minor <= 0:
            raise ValueError("a refund needs a positive amount")
        try:
            refund = self._client.v1.refunds.create(
                params={"payment_intent": external_id, "amount": amount_minor},
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as e:
            raise _translate(e) from e
        return Refund(refund.id, refund.amount,
                      _REFUND_STATUSES.get(refund.status or "", RefundStatus.PENDING))

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> PaymentEvent:
        signature = next((v for k, v in headers.items() if k.lower() == "stripe-signature"),
                         None)
        try:
            event = self._client.construct_event(body, signature, self._webhook_secret,
                                                 tolerance=self._tolerance_s)
        except stripe.SignatureVerificationError as e:
            raise BadSignature(f"Stripe webhook refused: {e.user_message or e}") from e
        except (ValueError, KeyError) as e:  # signed, yet not an event: treat as forged
            raise BadSignature("Stripe webhook body is not an event") from e
        obj: dict[str, Any] = event.data.object.to_dict()
        kind = _EVENT_KINDS.get(event.type, PaymentEventKind.IGNORED)
        metadata = obj.get("metadata") or {}
        if kind is PaymentEventKind.REFUNDED:
            external_id, amount = obj.get("payment_intent") or "", obj.get("amount_refunded", 0)
        elif kind is PaymentEventKind.SUCCEEDED:
            external_id, amount = obj["id"], obj.get("amount_received") or obj.get("amount", 0)
        else:
            external_id, amount = obj.get("id", ""), obj.get("amount", 0)
        return PaymentEvent(
            kind=kind, external_id=str(external_id), event_id=event.id,
            amount_minor=int(amount or 0), created=datetime.fromtimestamp(event.created, UTC),
            booking_id=metadata.get("booking_id"), org_id=metadata.get("org_id"),
            type=event.type,
        )


def _payment(intent: stripe.PaymentIntent) -> Payment:
    charge = intent.latest_charge
    refunded = charge.amount_refunded if isinstance(charge, stripe.Charge) else 0
    error = intent.last_payment_error
    return Payment(
        gateway=StripeGateway.name,
        external_id=intent.id,
        amount_minor=intent.amount,
        currency=intent.currency,
        status=_status(intent, refunded),
        client_secret=intent.client_secret,
        data={
            "status": intent.status,
            "latest_charge": charge.id if isinstance(charge, stripe.Charge) else charge,
            "last_payment_error": error.code if error is not None else None,
            "metadata": intent.metadata.to_dict() if intent.metadata else {},
        },
        refunded_minor=refunded,
    )


def _status(intent: stripe.PaymentIntent, refunded_minor: int) -> PaymentStatus:
    match intent.status:
        case "succeeded" if refunded_minor >= intent.amount_received > 0:
            return PaymentStatus.REFUNDED
        case "succeeded" if refunded_minor > 0:
            return PaymentStatus.PARTIALLY_REFUNDED
        case "succeeded":
            return PaymentStatus.SUCCEEDED
        case "canceled":
            return PaymentStatus.CANCELLED
        case "processing" | "requires_capture":
            return PaymentStatus.PROCESSING
        # After a declined attempt Stripe waits for another payment method; the customer
        # may still try again with the same client secret.
        case "requires_payment_method" if intent.last_payment_error is not None:
            return PaymentStatus.FAILED
        case _:
            return PaymentStatus.REQUIRES_PAYMENT


def _translate(error: stripe.StripeError) -> PaymentError:
    status = error.http_status
    message = error.user_message or str(error) or type(error).__name__
    if isinstance(error, stripe.APIConnectionError | stripe.RateLimitError) or (
            status is None or status >= 500 or status == 409):
        # 409: a request with the same idempotency key is still running at Stripe.
        return PaymentUnavailable(f"Stripe unavailable: {message}")
    return PaymentRejected(f"Stripe refused: {message}", code=error.code)
