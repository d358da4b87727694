"""Paying at the venue, behind the `PaymentGateway` port.

Nothing goes through a provider, so nothing will ever confirm the payment: every payment this
gateway makes has ``settles_later`` set and the app confirms its booking at once instead of
leaving it pending. Its status stays ``requires_payment`` (the money is due at the venue).
"""

from __future__ import annotations

from collections.abc import Mapping

from slotwise.domain.payments import (
    BadSignature,
    Payment,
    PaymentEvent,
    PaymentRequest,
    PaymentStatus,
    Refund,
    RefundStatus,
)


class PayOnSite:
    name = "on_site"

    def create(self, request: PaymentRequest) -> Payment:
        """The id is derived from the idempotency key, so the same key gives the same payment
        with no state kept here."""
        return self._payment(f"onsite_{request.idempotency_key}", request.amount_minor,
                             request.currency, {"booking_id": request.booking_id,
                                                "org_id": request.org_id})

    def get(self, external_id: str) -> Payment:
        """What this gateway knows, which is nothing beyond the id: the amount lives with the
        booking (0 here), and the status is always ``requires_payment``."""
        return self._payment(external_id, 0, "", {})

    def cancel(self, external_id: str) -> None:
        """Nothing to cancel: no money was taken or reserved."""

    def refund(self, external_id: str, amount_minor: int, idempotency_key: str) -> Refund:
        """Records that nothing went back through a gateway: a refund of 0. Whatever was paid
        at the venue is returned there."""
        return Refund(f"onsite_refund_{idempotency_key}", 0, RefundStatus.SUCCEEDED)

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> PaymentEvent:
        raise BadSignature("paying at the venue has no webhooks")

    def _payment(self, external_id: str, amount_minor: int, currency: str,
                 data: dict[str, str]) -> Payment:
        return Payment(gateway=self.name, external_id=external_id, amount_minor=amount_minor,
                       currency=currency, status=PaymentStatus.REQUIRES_PAYMENT,
                       client_secret=None, data=data, settles_later=True)
