"""Domain objects → response bodies (the schemas in `schemas/` give their OpenAPI shape)."""

from __future__ import annotations

from typing import Any

from slotwise.domain.booking import Booking, Hold
from slotwise.domain.model import Block, Location, Resource, Schedule, Service
from slotwise.domain.payments import BookingFee, BookingPayment
from slotwise.engine.policies import Deposit, Policy, deposit_to_json, policy_to_json

_RULES = ("min_notice_min", "max_advance_days", "max_per_day", "max_per_week")


def location(loc: Location) -> dict[str, Any]:
    return {"id": loc.id, "name": loc.name, "timezone": loc.timezone,
            "buffer_before_min": loc.buffer_before_min,
            "buffer_after_min": loc.buffer_after_min,
            "requires_approval": loc.requires_approval,
            **{f: getattr(loc, f) for f in _RULES},
            "cancellation_policy": policy(loc.cancellation_policy)}


def resource(r: Resource) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, "kind": r.kind.value, "timezone": r.timezone,
            "location_id": r.location_id, "capacity": r.capacity, "tags": list(r.tags),
            "buffer_before_min": r.buffer_before_min, "buffer_after_min": r.buffer_after_min,
            "requires_approval": r.requires_approval, **{f: getattr(r, f) for f in _RULES},
            "deposit": deposit(r.deposit), "cancellation_policy": policy(r.cancellation_policy),
            "created_at": r.created_at}


def schedule(s: Schedule, owner_zone: str) -> dict[str, Any]:
    owner = ({"location_id": s.location_id} if s.location_id is not None
             else {"resource_id": s.resource_id})
    return {
        **owner,
        "timezone": s.timezone or owner_zone,
        "weekly": [{"days": list(w.days), "start": w.start, "end": w.end} for w in s.weekly],
        "overrides": [
            {"date": o.day.isoformat(), "closed": True} if o.closed else
            {"date": o.day.isoformat(), "hours": [{"start": a, "end": b} for a, b in o.hours]}
            for o in s.overrides
        ],
        "breaks": [{"days": list(w.days), "start": w.start, "end": w.end} for w in s.breaks],
    }


def block(b: Block) -> dict[str, Any]:
    return {"id": b.id, "resource_id": b.resource_id, "start": b.start, "end": b.end,
            "title": b.title}


def service(s: Service) -> dict[str, Any]:
    return {
        "id": s.id, "name": s.name, "slug": s.slug, "duration_min": s.duration_min,
        "step_min": s.step_min, "buffer_before_min": s.buffer_before_min,
        "buffer_after_min": s.buffer_after_min, "min_notice_min": s.min_notice_min,
        "max_advance_days": s.max_advance_days, "capacity": s.capacity,
        "price": {"amount": s.price.amount, "currency": s.price.currency} if s.price else None,
        "requirements": [
            {"kind": r.kind.value, "count": r.count,
             "resource_ids": list(r.resource_ids) if r.resource_ids is not None else None,
             "tags": list(r.tags), "min_capacity": r.min_capacity, "optional": r.optional,
             "mode": r.mode, "weights": dict(r.weights)}
            for r in s.requirements
        ],
        "requires_approval": s.requires_approval, "max_per_day": s.max_per_day,
        "max_per_week": s.max_per_week, "meeting_provider": s.meeting_provider,
        "approval_after_no_shows": s.approval_after_no_shows,
        "notifications": {"reminders_min": list(s.notifications.reminders_min),
                          "review_after_min": s.notifications.review_after_min,
                          "sms": s.notifications.sms},
        "sequence_rules": [{"service_id": rule.other_service_id, "within_min": rule.within_min,
                            "direction": rule.direction} for rule in s.sequence_rules],
        "payment": s.payment.value, "deposit": deposit(s.deposit),
        "cancellation_policy": policy(s.cancellation_policy),
        "created_at": s.created_at,
    }


def hold(h: Hold) -> dict[str, Any]:
    return {"id": h.id, "service_id": h.service_id, "start": h.start, "end": h.end,
            "resource_ids": list(h.resource_ids), "expires_at": h.expires_at}


def booking(b: Booking) -> dict[str, Any]:
    return {
        "id": b.id, "service_id": b.service_id, "status": b.status.value, "start": b.start,
        "end": b.end, "resource_ids": list(b.resource_ids),
        "customer": {"name": b.customer.name, "email": b.customer.email,
                     "phone": b.customer.phone, "timezone": b.customer.timezone},
        "series_id": b.series_id, "notes": b.notes, "cancel_reason": b.cancel_reason,
        "created_at": b.created_at, "updated_at": b.updated_at,
        "awaiting": list(b.awaiting), "pending_until": b.pending_until,
        # Never the host link: it lets whoever holds it start the meeting as host.
        "meeting": ({"provider": b.meeting.provider, "join_url": b.meeting.join_url,
                     "passcode": b.meeting.passcode} if b.meeting else None),
        "failure_reason": b.failure_reason,
    }


def policy(p: Policy | None) -> dict[str, Any] | None:
    return policy_to_json(p) if p is not None else None


def deposit(d: Deposit | None) -> dict[str, int] | None:
    return deposit_to_json(d) if d is not None else None


def payment(p: BookingPayment, *, secret: bool = True) -> dict[str, Any]:
    """``secret`` False leaves out the client secret (lists: it is for the customer's
    browser, which reads its own booking)."""
    return {"status": p.status.value, "kind": p.kind.value, "amount": p.amount_minor,
            "currency": p.currency, "gateway": p.gateway, "refunded": p.refunded_minor,
            "settles_later": p.settles_later,
            "client_secret": p.client_secret if secret else None}


def fee(f: BookingFee) -> dict[str, Any]:
    return {"kind": f.kind, "amount": f.amount_minor, "due": f.due_minor,
            "currency": f.currency}
