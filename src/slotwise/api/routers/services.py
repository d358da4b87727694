from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from slotwise.api import presenters
from slotwise.api.auth import CurrentPrincipal
from slotwise.api.deps import App
from slotwise.api.errors import ERROR_RESPONSES
from slotwise.api.routers.payments import MONEY_FIELDS, money_fields
from slotwise.api.schemas.bookings import AvailabilityOut
from slotwise.api.schemas.catalog import (
    RequirementIn,
    SequenceRuleIn,
    ServiceIn,
    ServiceOut,
    ServicePage,
    ServicePatch,
)
from slotwise.api.schemas.common import Instant, Zone, utc_text
from slotwise.app.catalog import ServiceFields
from slotwise.app.container import UseCases
from slotwise.domain.errors import InvalidInput
from slotwise.domain.model import (
    NotificationSchedule,
    Price,
    ResourceKind,
    SequenceRule,
    ServiceRequirement,
)
from slotwise.engine.availability import Slot

router = APIRouter(prefix="/v1", tags=["services"], responses=ERROR_RESPONSES)

MAX_WINDOW = timedelta(days=62)


def _requirements(body: list[RequirementIn]) -> tuple[ServiceRequirement, ...]:
    return tuple(
        ServiceRequirement(
            kind=ResourceKind(r.kind), count=r.count,
            resource_ids=tuple(dict.fromkeys(r.resource_ids))
            if r.resource_ids is not None else None,
            tags=tuple(dict.fromkeys(r.tags)), min_capacity=r.min_capacity,
            optional=r.optional, mode=r.mode, weights=tuple(sorted(r.weights.items())),
        )
        for r in body
    )


def _sequence_rules(body: list[SequenceRuleIn]) -> tuple[SequenceRule, ...]:
    return tuple(SequenceRule(r.service_id, r.within_min, r.direction) for r in body)


@router.post("/services", status_code=201, response_model=ServiceOut)
def create_service(body: ServiceIn, who: CurrentPrincipal, app: App) -> dict[str, Any]:
    fields = ServiceFields(
        name=body.name, slug=body.slug, duration_min=body.duration_min, step_min=body.step_min,
        buffer_before_min=body.buffer_before_min, buffer_after_min=body.buffer_after_min,
        min_notice_min=body.min_notice_min, max_advance_days=body.max_advance_days,
        capacity=body.capacity,
        price=Price(body.price.amount, body.price.currency) if body.price else None,
        requirements=_requirements(body.requirements),
        requires_approval=body.requires_approval, max_per_day=body.max_per_day,
        max_per_week=body.max_per_week, sequence_rules=_sequence_rules(body.sequence_rules),
        meeting_provider=body.meeting_provider,
        approval_after_no_shows=body.approval_after_no_shows,
        **money_fields(body.model_dump(exclude_unset=True, include=set(MONEY_FIELDS))),
        notifications=(body.notifications.schedule() if body.notifications
                       else NotificationSchedule()),
    )
    return presenters.service(app.catalog.create_service(who, fields))


_SERVICE_NOT_NULL = ("name", "slug", "duration_min", "step_min", "buffer_before_min",
                     "buffer_after_min", "min_notice_min", "max_advance_days", "capacity",
                     "requirements", "requires_approval", "sequence_rules", "payment")


@router.patch("/services/{service_id}", response_model=ServiceOut)
def update_service(service_id: str, body: ServicePatch, who: CurrentPrincipal,
                   app: App) -> dict[str, Any]:
    """Change some fields. An explicit null on a required field leaves it unchanged; on
    `price`, a limit, `deposit` or `cancellation_policy` it removes it. Existing bookings
    keep their times, resources and (when they have a payment) the policy they were booked
    under."""
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items()
               if not (k in _SERVICE_NOT_NULL and v is None)}
    if "requirements" in changes:
        changes["requirements"] = _requirements(body.requirements or [])
    if "sequence_rules" in changes:
        changes["sequence_rules"] = _sequence_rules(body.sequence_rules or [])
    if "price" in changes:
        changes["price"] = Price(body.price.amount, body.price.currency) if body.price else None
    changes.update(money_fields(changes))
    if "notifications" in changes:
        changes["notifications"] = (body.notifications.schedule() if body.notifications
                                    else NotificationSchedule())
    return presenters.service(app.catalog.update_service(who, service_id, changes))


@router.get("/services", response_model=ServicePage)
def list_services(who: CurrentPrincipal, app: App) -> dict[str, Any]:
    return {"items": [presenters.service(s) for s in app.catalog.list_services(who.org_id)],
            "next_cursor": None}


@router.get("/services/{service_id}", response_model=ServiceOut)
def get_service(service_id: str, who: CurrentPrincipal, app: App) -> dict[str, Any]:
    return presenters.service(app.catalog.get_service(who, service_id))


def check_window(start: datetime, end: datetime) -> None:
    if end <= start:
        raise InvalidInput("end must be after start", ("query", "end"))
    if end - start > MAX_WINDOW:
        raise InvalidInput("the window may span at most 62 days", ("query", "end"))


def availability_answer(app: UseCases, org_id: str, org_zone: str, service_id: str,
                        start: datetime, end: datetime, resource_id: str | None,
                        timezone: str | None) -> JSONResponse:
    check_window(start, end)
    slots = app.search(org_id, service_id, start, end, resource_id)
    return _answer(service_id, timezone or org_zone, slots)


def _answer(service_id: str, timezone: str, slots: list[Slot]) -> JSONResponse:
    """The ``AvailabilityOut`` body, serialised here: hundreds of slots through the response
    model (validate, then serialise each instant, in another threadpool hop) cost more than
    the engine's search. Same JSON; tests/api/test_availability.py holds it to the model."""
    text: dict[datetime, str] = {}  # a slot's end is usually another slot's start

    def utc(t: datetime) -> str:
        found = text.get(t)
        if found is None:
            found = text[t] = utc_text(t)
        return found

    return JSONResponse({"service_id": service_id, "timezone": timezone,
                         "slots": [{"start": utc(s.start), "end": utc(s.end)} for s in slots]})


@router.get("/services/{service_id}/availability", response_model=AvailabilityOut)
def availability(service_id: str, who: CurrentPrincipal, app: App,
                 start: Annotated[Instant, Query()],
                 end: Annotated[Instant, Query()],
                 resource_id: str | None = None,
                 timezone: Annotated[Zone | None, Query()] = None) -> JSONResponse:
    check_window(start, end)
    # The organisation's zone comes from the search's own transaction, not one of its own.
    slots, org_zone = app.search.with_org_zone(who.org_id, service_id, start, end, resource_id)
    return _answer(service_id, timezone or org_zone, slots)
