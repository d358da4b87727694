"""Public booking: no auth; organisations and services by slug, bookings by manage token."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from slotwise.api import presenters
from slotwise.api.deps import App
from slotwise.api.errors import ERROR_RESPONSES
from slotwise.api.routers.bookings import booked_answer, booking_request, counted
from slotwise.api.routers.payments import booking_answer
from slotwise.api.routers.services import availability_answer
from slotwise.api.schemas.bookings import (
    AvailabilityOut,
    BookingOut,
    CancelIn,
    HoldOut,
    PublicBookedOut,
    PublicBookingIn,
    RescheduleIn,
)
from slotwise.api.schemas.catalog import PriceOut
from slotwise.api.schemas.common import Body, Instant, Zone
from slotwise.domain.errors import NotFound

router = APIRouter(prefix="/v1/public", tags=["public"], responses=ERROR_RESPONSES)

Token = Annotated[str, Query(min_length=1, max_length=200, description="the manage token")]


class PublicServiceOut(BaseModel):
    id: str
    slug: str
    name: str
    duration_min: int
    capacity: int
    price: PriceOut | None


class PublicServices(BaseModel):
    org: dict[str, str]
    items: list[PublicServiceOut]


class PublicHoldIn(Body):
    start: Instant
    resource_ids: list[str] | None = Field(default=None, min_length=1, max_length=50)


class TeamMemberOut(BaseModel):
    id: str
    name: str
    kind: str


class PublicTeam(BaseModel):
    items: list[TeamMemberOut]


@router.get("/bookings/{booking_id}", response_model=BookingOut)
def get_booking(booking_id: str, token: Token, app: App) -> dict[str, Any]:
    return booking_answer(app, app.bookings.get(None, booking_id, manage_token=token))


@router.get("/bookings/{booking_id}/ics", response_class=Response,
            responses={200: {"content": {"text/calendar": {}}}})
def booking_ics(booking_id: str, token: Token, app: App) -> Response:
    """The booking as an iCalendar file for the customer's own calendar."""
    return Response(app.bookings.ics(booking_id, token), media_type="text/calendar",
                    headers={"Content-Disposition":
                             f'attachment; filename="{booking_id}.ics"'})


@router.post("/bookings/{booking_id}/cancel", response_model=BookingOut)
def cancel(booking_id: str, token: Token, app: App,
           body: CancelIn | None = None) -> dict[str, Any]:
    reason = body.reason if body else None
    return booking_answer(app, app.cancel(None, booking_id, reason, manage_token=token))


@router.post("/bookings/{booking_id}/reschedule", response_model=BookingOut)
def reschedule(booking_id: str, token: Token, body: RescheduleIn,
               app: App) -> dict[str, Any]:
    return booking_answer(app, app.reschedule(None, booking_id, body.start, manage_token=token))


@router.get("/{org_slug}/services", response_model=PublicServices)
def services(org_slug: str, app: App) -> dict[str, Any]:
    org = app.accounts.organisation_by_slug(org_slug)
    items = [
        {"id": s.id, "slug": s.slug, "name": s.name, "duration_min": s.duration_min,
         "capacity": s.capacity,
         "price": {"amount": s.price.amount, "currency": s.price.currency} if s.price else None}
        for s in app.catalog.list_services(org.id)
    ]
    return {"org": {"slug": org.slug, "name": org.name, "timezone": org.timezone},
            "items": items}


@router.get("/{org_slug}/services/{service_slug}/availability",
            response_model=AvailabilityOut)
def availability(org_slug: str, service_slug: str, app: App,
                 start: Annotated[Instant, Query()],
                 end: Annotated[Instant, Query()],
                 resource_id: str | None = None,
                 timezone: Annotated[Zone | None, Query()] = None) -> JSONResponse:
    org = app.accounts.organisation_by_slug(org_slug)
    service = service_by_slug(app, org.id, service_slug)
    return availability_answer(app, org.id, org.timezone, service.id, start, end, resource_id,
                               timezone)


@router.get("/{org_slug}/team", response_model=PublicTeam)
def team(org_slug: str, app: App, service: str | None = None) -> dict[str, Any]:
    """The resources the organisation's services (or the service of slug `service`) can
    draw on: what `resource_id` may name in availability and `resource_ids` in a hold."""
    org = app.accounts.organisation_by_slug(org_slug)
    service_id = service_by_slug(app, org.id, service).id if service else None
    return {"items": [{"id": r.id, "name": r.name, "kind": r.kind.value}
                      for r in app.catalog.team(org.id, service_id)]}


@router.post("/{org_slug}/services/{service_slug}/holds", status_code=201,
             response_model=HoldOut)
def place_hold(org_slug: str, service_slug: str, body: PublicHoldIn,
               app: App) -> dict[str, Any]:
    """Hold a start while the customer fills in their details (the default TTL); book it
    with `hold_id`. 409 with alternatives when the start is not offered."""
    org = app.accounts.organisation_by_slug(org_slug)
    service = service_by_slug(app, org.id, service_slug)
    resource_ids = tuple(dict.fromkeys(body.resource_ids)) if body.resource_ids else None
    return presenters.hold(app.place_hold(org.id, service.id, body.start, resource_ids))


@router.post("/{org_slug}/services/{service_slug}/bookings", status_code=201,
             response_model=PublicBookedOut, response_model_exclude_unset=True)
def book(org_slug: str, service_slug: str, body: PublicBookingIn, app: App,
         request: Request) -> dict[str, Any]:
    org = app.accounts.organisation_by_slug(org_slug)
    service = service_by_slug(app, org.id, service_slug)
    with counted(request, "public"):
        booked = app.book(org.id, booking_request(body, service.id))
    return {**booked_answer(booked), "manage_token": booked.manage_token}


def service_by_slug(app: App, org_id: str, slug: str) -> Any:
    for service in app.catalog.list_services(org_id):
        if service.slug == slug:
            return service
    raise NotFound("no such service")
