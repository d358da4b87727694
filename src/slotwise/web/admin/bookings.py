"""The bookings board (the landing page): a day or a week per resource, in the
organisation's zone, with the actions staff take on a booking."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from slotwise.app.container import UseCases
from slotwise.domain.booking import Booking, BookingStatus
from slotwise.domain.errors import DomainError
from slotwise.domain.model import BookingFilter
from slotwise.web.admin import forms
from slotwise.web.admin.session import (
    Admin,
    AdminRoute,
    CurrentAdmin,
    Form,
    render,
    text,
    use_cases,
)

router = APIRouter(route_class=AdminRoute)

APPROVAL = "approval"
LIMIT = 500


def local_midnight(day: date, zone: str) -> datetime:
    """The instant the local `day` starts in `zone` (fold 0 when midnight repeats)."""
    return datetime.combine(day, time(0), ZoneInfo(zone))


def parse_day(value: str | None, today: date) -> date:
    if not value:
        return today
    try:
        return date.fromisoformat(value)
    except ValueError:
        return today


def actions(booking: Booking, now: datetime) -> list[str]:
    """What can be done to the booking now, in the order the page offers it."""
    found = []
    if booking.status is BookingStatus.PENDING and APPROVAL in booking.awaiting:
        found += ["approve", "decline"]
    if booking.status.holds_resources:
        found += ["reschedule", "cancel"]
    if booking.status in (BookingStatus.CONFIRMED, BookingStatus.COMPLETED) \
            and booking.start <= now:
        found.append("no_show")
    return found


def _board(app: UseCases, admin: Admin, day: date, days: int) -> dict[str, Any]:
    zone = admin.org.timezone
    start, end = local_midnight(day, zone), local_midnight(day + timedelta(days=days), zone)
    bookings = app.bookings.list(admin.principal.org_id,
                                 BookingFilter(start=start, end=end, limit=LIMIT))
    resources = app.catalog.list_resources(admin.principal, None, LIMIT)
    services = {s.id: s for s in app.catalog.list_services(admin.principal.org_id)}
    # (resource id, local date) → its bookings, by start
    cells: dict[tuple[str, date], list[Booking]] = defaultdict(list)
    for booking in bookings:
        local = booking.start.astimezone(ZoneInfo(zone)).date()
        for resource_id in booking.resource_ids:
            cells[(resource_id, local)].append(booking)
    now = app.clock.now()
    # Local dates with their midnights: the `date_in` filter formats instants.
    return {"day": day, "day_start": start,
            "days": [(d, local_midnight(d, zone))
                     for d in (day + timedelta(days=i) for i in range(days))],
            "resources": resources, "services": services, "cells": cells,
            "actions": {b.id: actions(b, now) for b in bookings}, "zone": zone,
            "count": len(bookings)}


@router.get("/bookings")
def board(request: Request, admin: CurrentAdmin, date: str | None = None,
          view: str = "day") -> HTMLResponse:
    app = use_cases(request)
    today = app.clock.now().astimezone(ZoneInfo(admin.org.timezone)).date()
    day = parse_day(date, today)
    week = view == "week"
    if week:
        day -= timedelta(days=day.weekday())
    step = timedelta(days=7 if week else 1)
    here = f"/admin/bookings?date={day.isoformat()}" + ("&view=week" if week else "")
    return render(request, admin, "bookings.html", active="bookings", week=week, here=here,
                  previous=day - step, following=day + step, today=today,
                  **_board(app, admin, day, 7 if week else 1))


def _act(request: Request, admin: Admin, form_next: str, run: Callable[[], object]
         ) -> Response:
    return forms.act(request, admin, run, active="bookings", back_to=form_next)


@router.post("/bookings/{booking_id}/cancel")
def cancel(request: Request, admin: CurrentAdmin, form: Form, booking_id: str) -> Response:
    app, org = use_cases(request), admin.principal.org_id
    reason = text(form, "reason") or None
    return _act(request, admin, text(form, "next"), lambda: app.cancel(org, booking_id, reason))


@router.post("/bookings/{booking_id}/approve")
def approve(request: Request, admin: CurrentAdmin, form: Form, booking_id: str) -> Response:
    app, org = use_cases(request), admin.principal.org_id
    return _act(request, admin, text(form, "next"),
                lambda: app.lifecycle.approve(org, booking_id))


@router.post("/bookings/{booking_id}/decline")
def decline(request: Request, admin: CurrentAdmin, form: Form, booking_id: str) -> Response:
    app, org = use_cases(request), admin.principal.org_id
    reason = text(form, "reason") or None
    return _act(request, admin, text(form, "next"),
                lambda: app.lifecycle.decline(org, booking_id, reason))


@router.post("/bookings/{booking_id}/no-show")
def no_show(request: Request, admin: CurrentAdmin, form: Form, booking_id: str) -> Response:
    app, org = use_cases(request), admin.principal.org_id
    return _act(request, admin, text(form, "next"),
                lambda: app.lifecycle.mark(org, booking_id, BookingStatus.NO_SHOW))


@router.get("/bookings/{booking_id}/reschedule")
def reschedule_page(request: Request, admin: CurrentAdmin, booking_id: str,
                    date: str | None = None) -> Response:
    """The booking's service's free starts on a local date, each a button that moves it."""
    app, org, zone = use_cases(request), admin.principal.org_id, admin.org.timezone
    try:
        booking = app.bookings.get(org, booking_id)
        service = app.catalog.get_service(admin.principal, booking.service_id)
        day = parse_day(date, booking.start.astimezone(ZoneInfo(zone)).date())
        slots = app.search(org, booking.service_id, local_midnight(day, zone),
                           local_midnight(day + timedelta(days=1), zone))
    except DomainError as error:
        return render(request, admin, "failed.html", active="bookings", status_code=404,
                      error="action", detail=error.detail, back_to="/admin/bookings")
    return render(request, admin, "reschedule.html", active="bookings", booking=booking,
                  service=service, day=day, day_start=local_midnight(day, zone), slots=slots,
                  zone=zone,
                  previous=day - timedelta(days=1), following=day + timedelta(days=1))


@router.post("/bookings/{booking_id}/reschedule")
def reschedule(request: Request, admin: CurrentAdmin, form: Form, booking_id: str
               ) -> Response:
    app, org = use_cases(request), admin.principal.org_id

    def run() -> None:
        try:
            start = datetime.fromisoformat(text(form, "start"))
        except ValueError:
            raise forms.FormInvalid("start", "choose a start from the list") from None
        app.reschedule(org, booking_id, start)
    return _act(request, admin, text(form, "next"), run)
