"""The waitlist: join for a service and a time range, list, leave; accept an offer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from slotwise.api.auth import CurrentPrincipal
from slotwise.api.deps import App
from slotwise.api.errors import ERROR_RESPONSES
from slotwise.api.routers.bookings import booked_answer
from slotwise.api.routers.public import service_by_slug
from slotwise.api.schemas.bookings import CustomerIn, PublicBookedOut
from slotwise.api.schemas.waitlist import (
    EntryStateName,
    PublicWaitlistIn,
    WaitlistIn,
    WaitlistOut,
    WaitlistPage,
)
from slotwise.app.bookings import CustomerDetails
from slotwise.app.waitlist import JoinRequest
from slotwise.domain.waitlist import EntryState, WaitlistEntry

router = APIRouter(prefix="/v1", tags=["waitlist"], responses=ERROR_RESPONSES)


def entry_out(e: WaitlistEntry) -> dict[str, Any]:
    c = e.customer
    offer = ({"start": e.offer_start, "expires_at": e.offer_expires_at}
             if e.state is EntryState.OFFERED else None)
    return {"id": e.id, "service_id": e.service_id,
            "customer": {"name": c.name, "email": c.email, "phone": c.phone,
                         "timezone": c.timezone},
            "start": e.range_start, "end": e.range_end,
            "resource_ids": list(e.resource_ids) if e.resource_ids is not None else None,
            "state": e.state.value, "offer": offer, "booking_id": e.booking_id,
            "created_at": e.created_at}


def _customer(body: CustomerIn) -> CustomerDetails:
    return CustomerDetails(name=body.name, email=body.email, phone=body.phone,
                           timezone=body.timezone)


@router.post("/waitlist", status_code=201, response_model=WaitlistOut)
def join(body: WaitlistIn, who: CurrentPrincipal, app: App) -> dict[str, Any]:
    """Put a customer on the waitlist for a service between `start` and `end`. When a slot
    in that range frees up, the first in line gets an exclusive offer, held for a while."""
    resource_ids = tuple(dict.fromkeys(body.resource_ids)) if body.resource_ids else None
    return entry_out(app.waitlist.join(who.org_id, JoinRequest(
        service_id=body.service_id, customer=_customer(body.customer), start=body.start,
        end=body.end, resource_ids=resource_ids)))


@router.get("/waitlist", response_model=WaitlistPage)
def list_entries(who: CurrentPrincipal, app: App, service_id: str | None = None,
                 state: EntryStateName | None = None,
                 limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    """In line order (first joined first)."""
    found = app.waitlist.list(who.org_id, service_id, EntryState(state) if state else None,
                              limit)
    return {"items": [entry_out(e) for e in found], "next_cursor": None}


@router.get("/waitlist/{entry_id}", response_model=WaitlistOut)
def get_entry(entry_id: str, who: CurrentPrincipal, app: App) -> dict[str, Any]:
    return entry_out(app.waitlist.get(who.org_id, entry_id))


@router.delete("/waitlist/{entry_id}", status_code=204, response_class=Response)
def leave(entry_id: str, who: CurrentPrincipal, app: App) -> Response:
    """Take the entry off the waitlist; an offer it holds goes to the next in line."""
    app.waitlist.leave(who.org_id, entry_id)
    return Response(status_code=204)


@router.post("/public/{org_slug}/services/{service_slug}/waitlist", status_code=201,
             response_model=WaitlistOut)
def join_public(org_slug: str, service_slug: str, body: PublicWaitlistIn,
                app: App) -> dict[str, Any]:
    org = app.accounts.organisation_by_slug(org_slug)
    service = service_by_slug(app, org.id, service_slug)
    return entry_out(app.waitlist.join(org.id, JoinRequest(
        service_id=service.id, customer=_customer(body.customer), start=body.start,
        end=body.end)))


@router.post("/public/waitlist/{entry_id}/accept", status_code=201,
             response_model=PublicBookedOut, response_model_exclude_unset=True)
def accept(entry_id: str, app: App,
           token: Annotated[str, Query(min_length=1, max_length=200,
                                       description="the offer's token, from its link")]
           ) -> dict[str, Any]:
    """Book the slot offered to this entry (the link in the offer e-mail). A lapsed offer
    → 409; a wrong token → 404."""
    booked = app.waitlist.accept(entry_id, token)
    return {**booked_answer(booked), "manage_token": booked.manage_token}
