"""Money in the API: cancellation policies and deposits (catalog fields), a booking's payment
and fees, the cancellation quote. Policy and deposit values are checked by
`engine.policies`, whose errors name the bad field (422)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from slotwise.api.schemas.common import Body

PaymentModeName = Literal["none", "full", "deposit", "on_site"]
PAYMENT_DESCRIPTION = (
    '"none": nothing is taken; "full": the price online before the booking is confirmed; '
    '"deposit": the service\'s deposit online, the rest at the venue; "on_site": all at the '
    "venue (confirmed at once). A resource's deposit applies too (see docs/payments.md).")


class ShareIn(Body):
    """Exactly one of a fixed amount (minor units) and a percentage (0–100) of the price."""

    amount_minor: int | None = Field(default=None, le=10**12,
                                     description="≥ 0, in minor units")
    pct: int | None = Field(default=None, description="0–100")


class ShareOut(TypedDict, total=False):
    """The one of the two that is set (as it was given)."""

    amount_minor: int
    pct: int


class TierIn(Body):
    min_notice_h: int = Field(le=10 * 365 * 24,
                              description="cancelling at least this many hours before the "
                                          "start (≥ 0) ...")
    refund_pct: int = Field(description="... refunds this share (0–100) of what was paid")


class TierOut(BaseModel):
    min_notice_h: int
    refund_pct: int


class PolicyIn(Body):
    """A preset (`{"preset": "moderate"}`: flexible 100 % from 24 h; moderate 100 % from 5
    days, 50 % from 24 h; strict 50 % from 14 days) or custom tiers and fees. Tiers may not
    start at the same notice, and must refund at least as much the earlier one cancels."""

    preset: Literal["flexible", "moderate", "strict"] | None = None
    name: str | None = Field(default=None, max_length=100)
    tiers: list[TierIn] | None = Field(default=None, max_length=20)
    late_cancel_fee: ShareIn | None = Field(
        default=None, description="charged when a cancellation refunds nothing")
    no_show_fee: ShareIn | None = None


class PolicyOut(BaseModel):
    """Always the full form (a preset is stored as its tiers)."""

    name: str
    tiers: list[TierOut]
    late_cancel_fee: ShareOut | None = None
    no_show_fee: ShareOut | None = None


class PaymentOut(BaseModel):
    """What the booking pays through a gateway. The customer's browser completes an online
    payment with `client_secret` (null until the gateway has started it, moments after the
    booking; null in lists)."""

    status: Literal["requires_payment", "processing", "succeeded", "failed", "cancelled",
                    "refunded", "partially_refunded"]
    kind: Literal["full", "deposit"]
    amount: int = Field(description="minor units")
    currency: str
    gateway: str
    refunded: int = Field(default=0, description="minor units refunded so far")
    settles_later: bool = Field(default=False, description="due at the venue")
    client_secret: str | None = None


class FeeOut(BaseModel):
    kind: Literal["late_cancel", "no_show"]
    amount: int = Field(description="the fee the policy states (minor units)")
    due: int = Field(description="what is still to collect once what was paid and kept "
                                 "counts")
    currency: str


class MoneyOut(BaseModel):
    amount: int
    currency: str | None


class RefundQuoteOut(MoneyOut):
    pct: int


class FeeQuoteOut(MoneyOut):
    charge: int = Field(description="what would still be collected for the fee")


class CancellationQuoteOut(BaseModel):
    booking_id: str
    policy: PolicyOut
    paid: MoneyOut
    refund: RefundQuoteOut
    fee: FeeQuoteOut
    late: bool = Field(description="nothing is refunded (the late-cancellation fee applies)")
    hours_before: float
    reason: str


class WebhookOut(BaseModel):
    received: bool = True
    outcome: Literal["applied", "stale", "duplicate", "ignored"]
