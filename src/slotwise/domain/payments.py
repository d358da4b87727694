"""Payments: the gateway port, what goes through it, and its errors.

Amounts are integer minor units of ``currency`` (ISO 4217, lower case: ``"eur"``).
Adapters translate their vendor's errors at the boundary, keeping the cause (``__cause__``):

    DomainError
    └── PaymentError
        ├── PaymentUnavailable    retry later: network, timeout, rate limit, the gateway's 5xx
        ├── PaymentRejected       permanent: card declined, invalid request, bad credentials
        └── BadSignature          a webhook whose signature (or age) does not verify

A payment that settles later (``Payment.settles_later``, e.g. paid at the venue) confirms its
booking at once: nothing will ever arrive from a gateway to confirm it.

What the app stores about a booking's money (``BookingPayment``, ``BookingRefund``,
``BookingFee``) is kept apart from what a gateway answers (``Payment``, ``Refund``): the
stored rows are the app's record, changed only in its own transactions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from slotwise.domain.errors import DomainError


class PaymentError(DomainError):
    pass


class PaymentUnavailable(PaymentError):
    """The gateway could not answer now; the same call (same idempotency key) may succeed."""


class PaymentRejected(PaymentError):
    """The gateway refused; retrying the same call will not help. ``code`` is the gateway's
    reason when it gave one (``"card_declined"``)."""

    def __init__(self, detail: str, code: str | None = None) -> None:
        super().__init__(detail)
        self.code = code


class BadSignature(PaymentError):
    pass


class PaymentStatus(StrEnum):
    REQUIRES_PAYMENT = "requires_payment"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


PAID = frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED,
                  PaymentStatus.REFUNDED})
# Nothing was taken and something may still be: what cancelling an intent is for.
UNPAID = frozenset({PaymentStatus.REQUIRES_PAYMENT, PaymentStatus.PROCESSING,
                    PaymentStatus.FAILED})


class PaymentMode(StrEnum):
    """How a service is paid: ``none`` (nothing is taken), ``full`` (the price, online, before
    the booking is confirmed), ``deposit`` (the service's deposit online, the rest at the
    venue), ``on_site`` (all of it at the venue; the booking is confirmed at once)."""

    NONE = "none"
    FULL = "full"
    DEPOSIT = "deposit"
    ON_SITE = "on_site"


class PaymentKind(StrEnum):
    FULL = "full"
    DEPOSIT = "deposit"


class RefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class PaymentEventKind(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """``idempotency_key`` makes ``create`` safe to retry: derive it from the booking (and the
    attempt), never at random per call."""

    booking_id: str
    org_id: str
    amount_minor: int
    currency: str
    description: str
    customer_email: str | None
    idempotency_key: str

    def __post_init__(self) -> None:
        if self.amount_minor <= 0:
            raise ValueError("a payment needs a positive amount")
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.islower():
            raise ValueError(f"currency must be an ISO 4217 code in lower case: {self.currency!r}")


@dataclass(frozen=True, slots=True)
class Payment:
    """A payment as the gateway last told it. ``client_secret`` lets the customer's browser
    complete it (None when nothing is paid online); ``data`` keeps the gateway's own fields
    worth storing (JSON-safe); ``refunded_minor`` is what has been refunded so far."""

    gateway: str
    external_id: str
    amount_minor: int
    currency: str
    status: PaymentStatus
    client_secret: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    refunded_minor: int = 0
    settles_later: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "gateway": self.gateway,
            "external_id": self.external_id,
            "amount_minor": self.amount_minor,
            "currency": self.currency,
            "status": self.status.value,
            "client_secret": self.client_secret,
            "data": dict(self.data),
            "refunded_minor": self.refunded_minor,
            "settles_later": self.settles_later,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Payment:
        return cls(
            gateway=str(data["gateway"]),
            external_id=str(data["external_id"]),
            amount_minor=int(data["amount_minor"]),
            currency=str(data["currency"]),
            status=PaymentStatus(data["status"]),
            client_secret=data.get("client_secret"),
            data=dict(data.get("data") or {}),
            refunded_minor=int(data.get("refunded_minor", 0)),
            settles_later=bool(data.get("settles_later", False)),
        )


@dataclass(frozen=True, slots=True)
class Refund:
    external_id: str
    amount_minor: int
    status: RefundStatus


@dataclass(frozen=True, slots=True)
class PaymentEvent:
    """A verified webhook, reduced to what the app acts on.

    ``external_id`` is the payment's id (for a refund too); ``event_id`` lets a handler drop a
    delivery it has seen (gateways deliver at least once); ``created`` orders events that
    arrive out of order (a late ``failed`` must not undo ``succeeded``). ``amount_minor`` is
    the amount received for ``succeeded``, the total refunded so far for ``refunded``, the
    payment's amount otherwise. ``booking_id`` and ``org_id`` come from the payment's metadata
    when the gateway echoes it; otherwise find the payment by ``external_id``."""

    kind: PaymentEventKind
    external_id: str
    event_id: str
    amount_minor: int
    created: datetime
    booking_id: str | None = None
    org_id: str | None = None
    type: str = ""  # the gateway's own event type, for logs


class PaymentGateway(Protocol):
    """One payment provider. Every call may raise ``PaymentUnavailable`` (retry later, with the
    same idempotency key) or ``PaymentRejected`` (do not retry)."""

    name: str

    def create(self, request: PaymentRequest) -> Payment:
        """Start a payment. Idempotent by ``request.idempotency_key``: the same key returns the
        same payment (within the gateway's key lifetime, 24 h for Stripe)."""
        ...

    def get(self, external_id: str) -> Payment:
        """The payment's current state (a read; safe to repeat)."""
        ...

    def cancel(self, external_id: str) -> None:
        """Cancel a payment that has not succeeded. Idempotent: cancelling a cancelled payment
        does nothing. Raises ``PaymentRejected`` if it has already succeeded (refund it)."""
        ...

    def refund(self, external_id: str, amount_minor: int, idempotency_key: str) -> Refund:
        """Refund ``amount_minor`` of a succeeded payment. Idempotent by ``idempotency_key``:
        the same key refunds once and returns the same refund; a new key refunds again."""
        ...

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> PaymentEvent:
        """Verify and read a webhook delivery (``body`` exactly as received). Raises
        ``BadSignature`` unless it verifies; event types the app does not act on come back as
        kind ``ignored``. Pure: the same delivery gives the same event."""
        ...


@dataclass(frozen=True, slots=True)
class BookingPayment:
    """The app's record of what a booking pays through a gateway. ``external_id`` is None
    until the ``payments.create`` job has started the payment at the gateway;
    ``last_event_at`` is the newest webhook event applied (older ones never undo it).
    Currencies are ISO 4217 in upper case, as prices are; gateways get them in lower case."""

    id: str
    org_id: str
    booking_id: str
    gateway: str
    kind: PaymentKind
    amount_minor: int
    currency: str
    status: PaymentStatus
    created_at: datetime
    updated_at: datetime
    external_id: str | None = None
    refunded_minor: int = 0
    client_secret: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    last_event_at: datetime | None = None

    @property
    def settles_later(self) -> bool:
        return bool(self.data.get("settles_later"))

    @property
    def paid_minor(self) -> int:
        """What was taken and not given back (0 unless it succeeded)."""
        if self.status not in PAID:
            return 0
        return max(0, self.amount_minor - self.refunded_minor)


@dataclass(frozen=True, slots=True)
class BookingRefund:
    """A refund the app decided (a cancellation, a payment that arrived after its booking
    gave up). ``key`` is the gateway's idempotency key and unique: deciding the same refund
    twice writes one row."""

    id: str
    org_id: str
    booking_id: str
    payment_id: str
    amount_minor: int
    currency: str
    reason: str
    key: str
    status: RefundStatus
    created_at: datetime
    updated_at: datetime
    external_id: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class BookingFee:
    """A late-cancellation or no-show fee (``kind`` ``late_cancel`` or ``no_show``): the fee
    the policy states, and ``due_minor``, what is still to collect once what the customer
    paid and keeps paid is counted. One of each kind per booking."""

    org_id: str
    booking_id: str
    kind: str
    amount_minor: int
    due_minor: int
    currency: str
    created_at: datetime
