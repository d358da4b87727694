"""Payments: the gateway's webhook, cancellation quotes, and the money a booking answer shows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from slotwise.api import presenters
from slotwise.api.auth import CurrentPrincipal
from slotwise.api.deps import App
from slotwise.api.errors import ERROR_RESPONSES, PROBLEM_JSON
from slotwise.api.schemas.payments import CancellationQuoteOut, WebhookOut
from slotwise.app.cancellation import CancellationQuote
from slotwise.app.container import UseCases
from slotwise.app.policies import deposit_input, policy_input
from slotwise.domain.booking import Booking
from slotwise.domain.payments import PaymentMode

router = APIRouter(prefix="/v1", tags=["payments"], responses=ERROR_RESPONSES)

Token = Annotated[str, Query(min_length=1, max_length=200, description="the manage token")]


MONEY_FIELDS = frozenset({"payment", "deposit", "cancellation_policy"})


def money_fields(given: dict[str, Any]) -> dict[str, Any]:
    """The money fields among a body's fields (as `model_dump(exclude_unset=True)` gives
    them), as domain values; a bad policy or deposit is a 422 naming its field."""
    found: dict[str, Any] = {}
    if given.get("payment") is not None:
        found["payment"] = PaymentMode(given["payment"])
    if "deposit" in given:
        found["deposit"] = deposit_input(given["deposit"], "body", "deposit")
    if "cancellation_policy" in given:
        found["cancellation_policy"] = policy_input(given["cancellation_policy"], "body",
                                                    "cancellation_policy")
    return found


def with_money(app: UseCases, bookings: Sequence[Booking], *, secret: bool = True
               ) -> list[dict[str, Any]]:
    """Booking answers with their `payment` and `fees` (one read for all of them)."""
    if not bookings:
        return []
    money = app.payments.money(bookings[0].org_id, [b.id for b in bookings])
    answers = []
    for b in bookings:
        found = money[b.id]
        answers.append({**presenters.booking(b),
                        "payment": presenters.payment(found.payment, secret=secret)
                        if found.payment is not None else None,
                        "fees": [presenters.fee(f) for f in found.fees]})
    return answers


def booking_answer(app: UseCases, booking: Booking) -> dict[str, Any]:
    return with_money(app, [booking])[0]


def _quote(found: CancellationQuote) -> dict[str, Any]:
    terms, q = found.terms, found.quote
    return {
        "booking_id": found.booking.id,
        "policy": presenters.policy(terms.policy),
        "paid": {"amount": terms.paid_minor, "currency": terms.currency},
        "refund": {"amount": q.refund_minor, "currency": terms.currency, "pct": q.refund_pct},
        "fee": {"amount": q.fee_minor, "charge": q.charge_minor, "currency": terms.currency},
        "late": q.late,
        "hours_before": round(q.hours_before, 2),
        "reason": q.reason,
    }


@router.get("/bookings/{booking_id}/cancellation-quote", response_model=CancellationQuoteOut)
def cancellation_quote(booking_id: str, who: CurrentPrincipal, app: App) -> dict[str, Any]:
    """What cancelling now would refund (through the gateway) and cost, by the booking's
    cancellation policy; cancelling applies exactly this. A booking that is no longer
    pending or confirmed → 409."""
    return _quote(app.cancellation.quote(who.org_id, booking_id))


@router.get("/public/bookings/{booking_id}/cancellation-quote",
            response_model=CancellationQuoteOut, tags=["public"])
def public_cancellation_quote(booking_id: str, token: Token, app: App) -> dict[str, Any]:
    """The same quote for the customer, by the manage token (a wrong token → 404)."""
    return _quote(app.cancellation.quote(None, booking_id, manage_token=token))


@router.post("/payments/stripe/webhook", response_model=WebhookOut, responses={
    400: {"description": "The signature (or its age) does not verify; nothing changed",
          "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}})
async def stripe_webhook(request: Request, app: App) -> dict[str, Any]:
    """Stripe's webhook endpoint (no auth: the `Stripe-Signature` header is verified).
    Event types this app does not act on, and events of payments it does not know, are
    acknowledged and ignored; a redelivered event changes nothing; an event older than the
    payment's state never undoes it (a failure after the success is ignored)."""
    body = await request.body()
    outcome = await run_in_threadpool(app.payments.receive, "stripe", body,
                                      dict(request.headers))
    return {"received": True, "outcome": outcome}
