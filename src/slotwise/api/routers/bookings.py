from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from slotwise.api import cursors, presenters
from slotwise.api.auth import CurrentPrincipal
from slotwise.api.deps import App
from slotwise.api.errors import ERROR_RESPONSES
from slotwise.api.metrics import metrics
from slotwise.api.routers.payments import booking_answer, with_money
from slotwise.api.schemas.bookings import (
    BookedOut,
    BookingIn,
    BookingOut,
    BookingPage,
    CancelIn,
    HoldExtendIn,
    HoldIn,
    HoldOut,
    HoldPage,
    PublicBookingIn,
    RescheduleIn,
    Status,
)
from slotwise.api.schemas.common import Instant
from slotwise.app.bookings import Booked, BookingRequest, CustomerDetails, Recurrence
from slotwise.domain.booking import BookingStatus
from slotwise.domain.errors import Conflict, SeriesUnavailable
from slotwise.domain.model import BookingFilter

router = APIRouter(prefix="/v1", tags=["bookings"], responses=ERROR_RESPONSES)


@router.post("/holds", status_code=201, response_model=HoldOut)
def place_hold(body: HoldIn, who: CurrentPrincipal, app: App) -> dict[str, Any]:
    resource_ids = tuple(dict.fromkeys(body.resource_ids)) if body.resource_ids else None
    hold = app.place_hold(who.org_id, body.service_id, body.start, resource_ids, body.ttl_s)
    return presenters.hold(hold)


@router.get("/holds", response_model=HoldPage)
def list_holds(who: CurrentPrincipal, app: App,
               limit: Annotated[int, Query(ge=1, le=500)] = 50,
               cursor: str | None = None) -> dict[str, Any]:
    """The organisation's live holds by start (any hold: the API's, the public pages',
    waitlist offers'), paged by `next_cursor`."""
    after = None
    if cursor:
        position = cursors.decode(app.cursor_secret, cursor)
        after = (datetime.fromisoformat(position[0]), position[1])
    found = app.holds.live(who.org_id, limit=limit + 1, after=after)
    items = found[:limit]
    next_cursor = None
    if len(found) > limit and items:
        last = items[-1]
        next_cursor = cursors.encode(app.cursor_secret, [last.start.isoformat(), last.id])
    return {"items": [presenters.hold(h) for h in items], "next_cursor": next_cursor}


@router.delete("/holds/{hold_id}", status_code=204, response_class=Response)
def release_hold(hold_id: str, who: CurrentPrincipal, app: App) -> Response:
    app.release_hold(who.org_id, hold_id)
    return Response(status_code=204)


@router.post("/holds/{hold_id}/extend", response_model=HoldOut)
def extend_hold(hold_id: str, body: HoldExtendIn, who: CurrentPrincipal,
                app: App) -> dict[str, Any]:
    """Keep a live hold `ttl_s` seconds from now; a hold that is not live → 404."""
    return presenters.hold(app.extend_hold(who.org_id, hold_id, body.ttl_s))


def booking_request(body: PublicBookingIn, service_id: str,
                    resource_ids: list[str] | None = None) -> BookingRequest:
    return BookingRequest(
        service_id=service_id, start=body.start,
        customer=CustomerDetails(name=body.customer.name, email=body.customer.email,
                                 phone=body.customer.phone, timezone=body.customer.timezone),
        hold_id=body.hold_id,
        resource_ids=tuple(dict.fromkeys(resource_ids)) if resource_ids else None,
        recurrence=(Recurrence(body.recurrence.rrule, body.recurrence.timezone)
                    if body.recurrence else None),
        notes=body.notes,
    )


def booked_answer(booked: Booked) -> dict[str, Any]:
    answers = [{**presenters.booking(b),
                "payment": presenters.payment(booked.payments[b.id])
                if b.id in booked.payments else None,
                "fees": []} for b in booked.occurrences]  # a new booking has no fees yet
    answer = dict(answers[0])
    if booked.booking.series_id is not None:
        answer["occurrences"] = answers
    return answer


@contextmanager
def counted(request: Request, channel: str, occurrences: int = 1) -> Iterator[None]:
    """Count written and refused bookings for /metrics."""
    try:
        yield
    except SeriesUnavailable:
        metrics(request).bookings_refused.labels("series").inc()
        raise
    except Conflict as error:
        metrics(request).bookings_refused.labels(type(error).__name__).inc()
        raise
    metrics(request).bookings_created.labels(channel).inc(occurrences)


@router.post("/bookings", status_code=201, response_model=BookedOut,
             response_model_exclude_unset=True)
def book(body: BookingIn, who: CurrentPrincipal, app: App, request: Request) -> dict[str, Any]:
    with counted(request, "api"):
        booked = app.book(who.org_id, booking_request(body, body.service_id, body.resource_ids))
    return booked_answer(booked)


@router.get("/bookings", response_model=BookingPage)
def list_bookings(who: CurrentPrincipal, app: App,
                  start: Annotated[Instant | None, Query()] = None,
                  end: Annotated[Instant | None, Query()] = None,
                  resource_id: str | None = None, status: Status | None = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 50,
                  cursor: str | None = None) -> dict[str, Any]:
    after = None
    if cursor:
        position = cursors.decode(app.cursor_secret, cursor)
        after = (datetime.fromisoformat(position[0]), position[1])
    query = BookingFilter(start=start, end=end, resource_id=resource_id, status=status,
                          after=after, limit=limit + 1)
    found = app.bookings.list(who.org_id, query)
    items = found[:limit]
    next_cursor = None
    if len(found) > limit and items:
        last = items[-1]
        next_cursor = cursors.encode(app.cursor_secret, [last.start.isoformat(), last.id])
    return {"items": with_money(app, items, secret=False), "next_cursor": next_cursor}


@router.get("/bookings/{booking_id}", response_model=BookingOut)
def get_booking(booking_id: str, who: CurrentPrincipal, app: App) -> dict[str, Any]:
    return booking_answer(app, app.bookings.get(who.org_id, booking_id))


@router.post("/bookings/{booking_id}/cancel", response_model=BookingOut)
def cancel(booking_id: str, who: CurrentPrincipal, app: App,
           body: CancelIn | None = None) -> dict[str, Any]:
    reason = body.reason if body else None
    return booking_answer(app, app.cancel(who.org_id, booking_id, reason))


@router.post("/bookings/{booking_id}/reschedule", response_model=BookingOut)
def reschedule(booking_id: str, body: RescheduleIn, who: CurrentPrincipal,
               app: App) -> dict[str, Any]:
    return booking_answer(app, app.reschedule(who.org_id, booking_id, body.start))


@router.post("/bookings/{booking_id}/approve", response_model=BookingOut)
def approve(booking_id: str, who: CurrentPrincipal, app: App) -> dict[str, Any]:
    """Approve a booking waiting in `pending` for approval; with nothing else to wait for
    (a payment, a meeting link) it is confirmed. Not waiting for approval → 409."""
    return booking_answer(app, app.lifecycle.approve(who.org_id, booking_id))


@router.post("/bookings/{booking_id}/decline", response_model=BookingOut)
def decline(booking_id: str, who: CurrentPrincipal, app: App,
            body: CancelIn | None = None) -> dict[str, Any]:
    """Refuse a booking waiting for approval: it is cancelled and its slot released."""
    return booking_answer(app, app.lifecycle.decline(who.org_id, booking_id,
                                                     body.reason if body else None))


@router.post("/bookings/{booking_id}/complete", response_model=BookingOut)
def complete(booking_id: str, who: CurrentPrincipal, app: App) -> dict[str, Any]:
    """Mark a started booking `completed` (bookings are also completed by rule after their
    end)."""
    return booking_answer(app, app.lifecycle.mark(who.org_id, booking_id,
                                                  BookingStatus.COMPLETED))


@router.post("/bookings/{booking_id}/no-show", response_model=BookingOut)
def no_show(booking_id: str, who: CurrentPrincipal, app: App) -> dict[str, Any]:
    """Mark a started booking `no_show` (also after the rule completed it); it counts in the
    customer's no-show history, and the policy's no-show fee is recorded in `fees`."""
    return booking_answer(app, app.lifecycle.mark(who.org_id, booking_id,
                                                  BookingStatus.NO_SHOW))
