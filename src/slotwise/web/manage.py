"""The customer's pages, reached from the links in their messages: manage a booking
(`/manage/{booking_id}?token=`: see it, cancel after seeing the refund, reschedule to a
free slot) and a waitlist offer (`/waitlist/{entry_id}?token=`: accept it).

Every page works without JavaScript (links and forms); htmx swaps the reschedule page's
slots in place. A wrong or lapsed token is a 404 page that says nothing of what exists.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlencode
from zoneinfo import ZoneInfo, available_timezones

from babel.numbers import get_currency_precision
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from slotwise.app.cancellation import CancellationQuote
from slotwise.app.container import UseCases
from slotwise.app.manage import BookingDetails
from slotwise.domain.errors import InvalidTransition, NotFound, SlotUnavailable
from slotwise.web.templating import Pages

router = APIRouter(include_in_schema=False)

ZONES = sorted(available_timezones())


def _app(request: Request) -> UseCases:
    found: UseCases = request.app.state.use_cases
    return found


def _pages(request: Request) -> Pages:
    found: Pages = request.app.state.pages
    return found


async def _form(request: Request) -> dict[str, str]:
    """The url-encoded form's fields, first value each (no multipart: these forms have no
    files)."""
    parsed = parse_qs((await request.body()).decode(), keep_blank_values=True)
    return {key: values[0] for key, values in parsed.items()}


def not_found(request: Request) -> HTMLResponse:
    return _pages(request).render(request, "manage/not_found.html", status_code=404)


def _zone(request: Request, *fallbacks: str | None) -> str:
    """`?tz=` when it names an IANA zone, else the first fallback given."""
    wanted = request.query_params.get("tz")
    if wanted in ZONES:
        return str(wanted)
    return next((z for z in fallbacks if z in ZONES), "UTC")


def _amount(minor: int, currency: str | None) -> Decimal:
    digits = get_currency_precision(currency) if currency else 2
    return Decimal(minor).scaleb(-digits)


def _link(path: str, **query: str | None) -> str:
    given = {k: v for k, v in query.items() if v}
    return f"{path}?{urlencode(given)}" if given else path


def _booking_context(details: BookingDetails, token: str, zone: str) -> dict[str, Any]:
    booking = details.booking
    base = f"/manage/{booking.id}"
    return {"details": details, "booking": booking, "service": details.service,
            "org": details.organisation, "token": token, "zone": zone, "zones": ZONES,
            "cancellable": booking.status.holds_resources,
            "links": {"self": _link(base, token=token, tz=zone),
                      "cancel": _link(f"{base}/cancel", token=token, tz=zone),
                      "reschedule": _link(f"{base}/reschedule", token=token, tz=zone)}}


@router.get("/manage/{booking_id}", response_class=HTMLResponse)
async def booking_page(booking_id: str, request: Request, token: str = "") -> Response:
    app = _app(request)
    try:
        details = await run_in_threadpool(app.bookings.details, booking_id, token)
    except NotFound:
        return not_found(request)
    zone = _zone(request, details.booking.customer.timezone, details.organisation.timezone)
    return _pages(request).render(
        request, "manage/booking.html", **_booking_context(details, token, zone),
        moved=request.query_params.get("moved") == "1")


@router.get("/manage/{booking_id}/cancel", response_class=HTMLResponse)
async def cancel_page(booking_id: str, request: Request, token: str = "") -> Response:
    app = _app(request)
    try:
        details = await run_in_threadpool(app.bookings.details, booking_id, token)
        found = await run_in_threadpool(app.cancellation.quote, None, booking_id, token)
    except NotFound:
        return not_found(request)
    except InvalidTransition:
        return RedirectResponse(_link(f"/manage/{booking_id}", token=token), 303)
    zone = _zone(request, details.booking.customer.timezone, details.organisation.timezone)
    return _pages(request).render(
        request, "manage/cancel.html", **_booking_context(details, token, zone),
        **_quote_context(found))


def _quote_context(found: CancellationQuote) -> dict[str, Any]:
    """What cancelling gives back and costs, for the cancel and cancelled pages."""
    terms, quote = found.terms, found.quote
    currency = terms.currency
    return {"currency": currency, "paid": _amount(terms.paid_minor, currency),
            "refund": _amount(quote.refund_minor, currency), "refund_pct": quote.refund_pct,
            "charge": _amount(quote.charge_minor, currency), "late": quote.late}


@router.post("/manage/{booking_id}/cancel", response_class=HTMLResponse)
async def cancel(booking_id: str, request: Request) -> Response:
    app = _app(request)
    form = await _form(request)
    token = form.get("token", "")
    try:
        found = await run_in_threadpool(app.cancellation.quote, None, booking_id, token)
        await run_in_threadpool(app.cancel, None, booking_id, form.get("reason") or None,
                                manage_token=token)
        details = await run_in_threadpool(app.bookings.details, booking_id, token)
    except NotFound:
        return not_found(request)
    except InvalidTransition:
        return RedirectResponse(_link(f"/manage/{booking_id}", token=token), 303)
    zone = _zone(request, details.booking.customer.timezone, details.organisation.timezone)
    return _pages(request).render(
        request, "manage/cancelled.html", **_booking_context(details, token, zone),
        **_quote_context(found))


def _day(request: Request, booking_start: datetime, zone: str) -> date:
    try:
        return date.fromisoformat(request.query_params.get("day", ""))
    except ValueError:
        return booking_start.astimezone(ZoneInfo(zone)).date()


async def _reschedule(request: Request, booking_id: str, token: str, zone: str | None,
                      day: date | None, status_code: int = 200, **extra: Any) -> Response:
    app = _app(request)
    try:
        details = await run_in_threadpool(app.bookings.details, booking_id, token)
    except NotFound:
        return not_found(request)
    zone = zone or _zone(request, details.booking.customer.timezone,
                         details.organisation.timezone)
    day = day or _day(request, details.booking.start, zone)
    local = ZoneInfo(zone)
    # The local day's bounds, as instants: 23 or 25 hours long on a DST change day.
    start = datetime.combine(day, time(0), local).astimezone(ZoneInfo("UTC"))
    end = datetime.combine(day + timedelta(days=1), time(0), local).astimezone(
        ZoneInfo("UTC"))
    slots = []
    if details.booking.status.holds_resources:
        slots = await run_in_threadpool(app.reschedule.options, booking_id, start, end,
                                        manage_token=token)
    base = f"/manage/{booking_id}/reschedule"
    return _pages(request).render(
        request, "manage/reschedule.html", status_code=status_code,
        **_booking_context(details, token, zone), day=day, slots=slots,
        day_start=start,
        previous_day=_link(base, token=token, tz=zone, day=(day - timedelta(days=1)).isoformat()),
        next_day=_link(base, token=token, tz=zone, day=(day + timedelta(days=1)).isoformat()),
        **{"problem": None, **extra})


@router.get("/manage/{booking_id}/reschedule", response_class=HTMLResponse)
async def reschedule_page(booking_id: str, request: Request, token: str = "") -> Response:
    return await _reschedule(request, booking_id, token, None, None)


@router.post("/manage/{booking_id}/reschedule", response_class=HTMLResponse)
async def reschedule(booking_id: str, request: Request) -> Response:
    app = _app(request)
    form = await _form(request)
    token, zone = form.get("token", ""), form.get("tz") if form.get("tz") in ZONES else None
    try:
        start = datetime.fromisoformat(form.get("start", ""))
        if start.tzinfo is None:
            raise ValueError("a start needs its offset")
    except ValueError:
        return await _reschedule(request, booking_id, token, zone, None, 422,
                                 problem="choose")
    try:
        await run_in_threadpool(app.reschedule, None, booking_id, start, manage_token=token)
    except NotFound:
        return not_found(request)
    except (SlotUnavailable, InvalidTransition):
        day = start.astimezone(ZoneInfo(zone or "UTC")).date() if zone else None
        return await _reschedule(request, booking_id, token, zone, day, 409, problem="taken")
    return RedirectResponse(_link(f"/manage/{booking_id}", token=token, tz=zone, moved="1"),
                            303)


@router.get("/waitlist/{entry_id}", response_class=HTMLResponse)
async def offer_page(entry_id: str, request: Request, token: str = "") -> Response:
    app = _app(request)
    try:
        entry, service, org = await run_in_threadpool(app.waitlist.offered, entry_id, token)
    except NotFound:
        return not_found(request)
    zone = _zone(request, entry.customer.timezone, org.timezone)
    return _pages(request).render(
        request, "manage/offer.html", entry=entry, service=service, org=org, token=token,
        zone=zone, zones=ZONES, self_link=_link(f"/waitlist/{entry_id}", token=token, tz=zone))


@router.post("/waitlist/{entry_id}/accept", response_class=HTMLResponse)
async def accept_offer(entry_id: str, request: Request) -> Response:
    app = _app(request)
    form = await _form(request)
    try:
        booked = await run_in_threadpool(app.waitlist.accept, entry_id, form.get("token", ""))
    except (NotFound, InvalidTransition, SlotUnavailable):
        return not_found(request)
    return RedirectResponse(_link(f"/manage/{booked.booking.id}", token=booked.manage_token,
                                  tz=form.get("tz") if form.get("tz") in ZONES else None),
                            303)
