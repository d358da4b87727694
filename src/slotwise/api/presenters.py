"""Domain objects → response bodies (the schemas in `schemas/` give their OpenAPI shape)."""

from __future__ import annotations

from typing import Any

from slotwise.domain.booking import Booking, Hold
from slotwise.domain.model import Block, Resource, Schedule, Service


def resource(r: Resource) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, "kind": r.kind.value, "timezone": r.timezone,
            "location_id": r.location_id, "capacity": r.capacity, "tags": list(r.tags),
            "buffer_before_min": r.buffer_before_min, "buffer_after_min": r.buffer_after_min,
            "requires_approval": r.requires_approval, "created_at": r.created_at}


def schedule(s: Schedule, resource_zone: str) -> dict[str, Any]:
    return {
        "resource_id": s.resource_id,
        "timezone": s.timezone or resource_zone,
        "weekly": [{"days": list(w.days), "start": w.start, "end": w.end} for w in s.weekly],
        "overrides": [
            {"date": o.day.isoformat(), "closed": True} if o.closed else
            {"date": o.day.isoformat(), "hours": [{"start": a, "end": b} for a, b in o.hours]}
            for o in s.overrides
        ],
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
             "tags": list(r.tags), "min_capacity": r.min_capacity}
            for r in s.requirements
        ],
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
    }
