"""Public booking pages: an organisation's services and team, a service's month and day
view, hold → details → booking, the confirmation with its .ics, and the embeddable widget.

Every step is a plain GET link or POST form (htmx only swaps the day's slots in place), and
every step calls the same use cases as `/v1/public/...`. Route order matters: `/embed.js`
and the three-segment paths come before `/{org_slug}/{service_slug}`, and this router is
mounted last so `/{org_slug}` never shadows another page.
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel.numbers import get_currency_precision
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import EmailStr, TypeAdapter, ValidationError

from slotwise.app.bookings import BookingRequest, CustomerDetails
from slotwise.app.container import UseCases
from slotwise.domain.errors import Conflict, InvalidInput, NotFound
from slotwise.domain.model import Organisation, Service
from slotwise.web import public_calendar as cal
from slotwise.web.templating import STATIC, Pages

router = APIRouter(include_in_schema=False)

_EMAIL: TypeAdapter[str] = TypeAdapter(EmailStr)
_PHONE = re.compile(r"^\+?[0-9 ()./-]{3,40}$")


async def _use_cases(request: Request) -> UseCases:
    # A coroutine: FastAPI would run a sync dependency on the thread pool (see api.deps).
    found: UseCases = request.app.state.use_cases
    return found


App = Annotated[UseCases, Depends(_use_cases)]


def _pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


class View:
    """What a visitor is looking at, carried through every link and form: zone, team member
    and embedding."""

    def __init__(self, request: Request, org: Organisation) -> None:
        q = request.query_params
        self.org = org
        self.tz_given = bool(q.get("tz"))
        self.tz = cal.valid_zone(q.get("tz"), org.timezone)
        self.resource = q.get("resource") or None
        self.embed = q.get("embed") == "1"

    def query(self, **extra: Any) -> str:
        params: dict[str, Any] = {"tz": self.tz}
        if self.resource:
            params["resource"] = self.resource
        if self.embed:
            params["embed"] = "1"
        params.update({k: v for k, v in extra.items() if v is not None})
        return urlencode(params)

    def midnight(self, day: date) -> datetime:
        return cal.local_midnight(day, self.tz)

    def local_day(self, instant: datetime) -> date:
        return instant.astimezone(ZoneInfo(self.tz)).date()

    @staticmethod
    def price(service: Service) -> Decimal | None:
        """The service's price in major units (the API counts minor units)."""
        if service.price is None:
            return None
        digits = get_currency_precision(service.price.currency)
        return Decimal(service.price.amount).scaleb(-digits)

    def service_url(self, service: Service, **extra: Any) -> str:
        return f"/{self.org.slug}/{service.slug}?{self.query(**extra)}"

    def slots_url(self, service: Service, day: date) -> str:
        return f"/{self.org.slug}/{service.slug}/slots?{self.query(day=day.isoformat())}"


def _not_found(request: Request) -> HTMLResponse:
    return _pages(request).render(request, "public/not_found.html", status_code=404)


def _service(app: UseCases, org_id: str, slug: str) -> Service:
    for service in app.catalog.list_services(org_id):
        if service.slug == slug:
            return service
    raise NotFound("no such service")


@functools.cache
def _embed_js() -> str:
    return (STATIC / "embed.js").read_text(encoding="utf-8")


@router.get("/embed.js")
def embed_js() -> Response:
    return Response(_embed_js(), media_type="text/javascript",
                    headers={"Cache-Control": "public, max-age=3600"})


@router.get("/{org_slug}", response_class=HTMLResponse)
def organisation(org_slug: str, request: Request, app: App) -> HTMLResponse:
    try:
        org = app.accounts.organisation_by_slug(org_slug)
    except NotFound:
        return _not_found(request)
    view = View(request, org)
    services = app.catalog.list_services(org.id)
    members: dict[str, Any] = {}
    for service in services:
        for r in app.catalog.team(org.id, service.id):
            if r.kind.value == "practitioner":
                members.setdefault(r.id, {"resource": r, "services": []})["services"].append(
                    service)
    return _pages(request).render(request, "public/organisation.html", org=org, view=view,
                                  services=services, team=list(members.values()))


@router.get("/{org_slug}/bookings/{booking_id}.ics")
def booking_ics(org_slug: str, booking_id: str, request: Request, app: App,
                token: str = "") -> Response:
    try:
        org = app.accounts.organisation_by_slug(org_slug)
        if app.bookings.get(None, booking_id, manage_token=token).org_id != org.id:
            raise NotFound("no such booking")
        body = app.bookings.ics(booking_id, token)
    except NotFound:
        return _not_found(request)
    return Response(body, media_type="text/calendar", headers={
        "Content-Disposition": f'attachment; filename="{booking_id}.ics"'})


@router.get("/{org_slug}/bookings/{booking_id}", response_class=HTMLResponse)
def confirmation(org_slug: str, booking_id: str, request: Request, app: App,
                 token: str = "") -> HTMLResponse:
    try:
        org = app.accounts.organisation_by_slug(org_slug)
        booking = app.bookings.get(None, booking_id, manage_token=token)
        if booking.org_id != org.id:
            raise NotFound("no such booking")
    except NotFound:
        return _not_found(request)
    view = View(request, org)
    services = {s.id: s for s in app.catalog.list_services(org.id)}
    names = {r.id: r.name for r in app.catalog.team(org.id)}
    token_q = urlencode({"token": token})
    return _pages(request).render(
        request, "public/confirmation.html", org=org, view=view, booking=booking,
        service=services.get(booking.service_id),
        resources=[names.get(rid, "") for rid in booking.resource_ids],
        self_url=f"/{org.slug}/bookings/{booking.id}?{token_q}&{view.query()}",
        ics_url=f"/{org.slug}/bookings/{booking.id}.ics?{token_q}",
        manage_url=f"/manage/{booking.id}?{token_q}")


def _month_context(app: UseCases, org: Organisation, service: Service, view: View,
                   locale: str, month: date | None, day: date | None) -> dict[str, Any]:
    """One search for the whole month (in the visitor's zone), grouped by local day; the
    chosen day (else the first with free slots) and its slots."""
    now_local = app.clock.now().astimezone(ZoneInfo(view.tz)).date()
    first = month or (day.replace(day=1) if day else now_local.replace(day=1))
    start = cal.local_midnight(first, view.tz)
    end = cal.local_midnight(cal.add_months(first, 1), view.tz)
    slots = app.search(org.id, service.id, start, end, view.resource)
    days = cal.by_local_day(slots, view.tz)
    if day is None or day.replace(day=1) != first:
        day = min(days) if days else None
    return {"month": cal.month_view(first, locale), "days": days, "day": day,
            "slots": days.get(day, []) if day else [], "today": now_local}


def _team_choices(app: UseCases, org: Organisation, service: Service) -> list[Any]:
    return [r for r in app.catalog.team(org.id, service.id) if r.kind.value == "practitioner"]


def _service_page(request: Request, app: UseCases, org: Organisation, service: Service,
                  view: View, *, day: date | None = None, month: date | None = None,
                  status_code: int = 200, message: str | None = None) -> HTMLResponse:
    pages = _pages(request)
    team = _team_choices(app, org, service)
    if view.resource not in {r.id for r in team}:
        view.resource = None  # not someone this service can be booked with: anyone
    context = _month_context(app, org, service, view, pages.locale(request), month, day)
    return pages.render(
        request, "public/service.html", status_code=status_code, org=org, service=service,
        view=view, team=team,
        zones=cal.zone_choices(view.tz, org.timezone), message=message, **context)


@router.get("/{org_slug}/{service_slug}/slots", response_class=HTMLResponse)
def day_slots(org_slug: str, service_slug: str, request: Request, app: App,
              day: str = "") -> HTMLResponse:
    """The day's slots alone (`#slots`): what htmx swaps in, and what live updates
    re-fetch."""
    try:
        org = app.accounts.organisation_by_slug(org_slug)
        service = _service(app, org.id, service_slug)
        view = View(request, org)
        chosen = cal.parse_day(day)
        if chosen is None:
            raise NotFound("no such day")
        start, end = cal.day_window(chosen, view.tz)
        slots = app.search(org.id, service.id, start, end, view.resource)
    except NotFound:
        return _not_found(request)
    return _pages(request).render(request, "public/_slots.html", org=org, service=service,
                                  view=view, day=chosen, slots=slots)


@router.post("/{org_slug}/{service_slug}/hold", response_class=HTMLResponse)
def hold(org_slug: str, service_slug: str, request: Request, app: App,
         start: Annotated[str, Form()], day: Annotated[str, Form()] = "") -> HTMLResponse:
    try:
        org = app.accounts.organisation_by_slug(org_slug)
        service = _service(app, org.id, service_slug)
    except NotFound:
        return _not_found(request)
    view = View(request, org)
    try:
        at = datetime.fromisoformat(start)
        if at.tzinfo is None:
            raise ValueError(start)
        held = app.place_hold(org.id, service.id, at,
                              (view.resource,) if view.resource else None)
    except (ValueError, Conflict, NotFound):
        return _service_page(request, app, org, service, view, day=cal.parse_day(day),
                             status_code=409, message="gone")
    return _details(request, app, org, service, view, hold_id=held.id, start=held.start,
                    end=held.end, expires_at=held.expires_at, values={}, errors={})


def _details(request: Request, app: UseCases, org: Organisation, service: Service,
             view: View, *, hold_id: str, start: datetime, end: datetime,
             expires_at: datetime, values: dict[str, str], errors: dict[str, str],
             status_code: int = 200) -> HTMLResponse:
    remaining_s = max(0, int((expires_at - app.clock.now()).total_seconds()))
    return _pages(request).render(
        request, "public/details.html", status_code=status_code, org=org, service=service,
        view=view, hold_id=hold_id, start=start, end=end, expires_at=expires_at,
        remaining_s=remaining_s, values=values, errors=errors)


def _check(name: str, email: str, phone: str, notes: str) -> dict[str, str]:
    """Field → message key (the template words it) for each bad field."""
    errors = {}
    if not name.strip() or len(name) > 200:
        errors["name"] = "name"
    try:
        _EMAIL.validate_python(email.strip())
    except ValidationError:
        errors["email"] = "email"
    if phone.strip() and not _PHONE.match(phone.strip()):
        errors["phone"] = "phone"
    if len(notes) > 5000:
        errors["notes"] = "notes"
    return errors


@router.post("/{org_slug}/{service_slug}/book", response_model=None)
def book(org_slug: str, service_slug: str, request: Request, app: App,
         hold_id: Annotated[str, Form()], start: Annotated[str, Form()],
         end: Annotated[str, Form()], expires_at: Annotated[str, Form()],
         name: Annotated[str, Form()] = "", email: Annotated[str, Form()] = "",
         phone: Annotated[str, Form()] = "", notes: Annotated[str, Form()] = ""
         ) -> Response:
    try:
        org = app.accounts.organisation_by_slug(org_slug)
        service = _service(app, org.id, service_slug)
        at, until, expiry = (datetime.fromisoformat(x) for x in (start, end, expires_at))
    except (NotFound, ValueError):
        return _not_found(request)
    view = View(request, org)
    values = {"name": name, "email": email, "phone": phone, "notes": notes}
    errors = _check(name, email, phone, notes)
    if not errors:
        try:
            booked = app.book(org.id, BookingRequest(
                service_id=service.id, start=at,
                customer=CustomerDetails(name=name.strip(), email=email.strip(),
                                         phone=phone.strip() or None, timezone=view.tz),
                hold_id=hold_id, notes=notes.strip() or None))
        except Conflict:
            return _service_page(request, app, org, service, view,
                                 day=at.astimezone(ZoneInfo(view.tz)).date(),
                                 status_code=409, message="gone")
        except InvalidInput as error:
            errors["form"] = str(error)
        else:
            token = urlencode({"token": booked.manage_token})
            return RedirectResponse(
                f"/{org.slug}/bookings/{booked.booking.id}?{token}&{view.query()}",
                status_code=303)
    return _details(request, app, org, service, view, hold_id=hold_id, start=at, end=until,
                    expires_at=expiry, values=values, errors=errors, status_code=422)


@router.get("/{org_slug}/{service_slug}/hold")
@router.get("/{org_slug}/{service_slug}/book")
def back_to_service(org_slug: str, service_slug: str, request: Request) -> RedirectResponse:
    """A reload or language switch on a form's answer: back to the service's days."""
    query = request.url.query
    return RedirectResponse(f"/{org_slug}/{service_slug}{'?' + query if query else ''}",
                            status_code=303)


@router.get("/{org_slug}/{service_slug}", response_class=HTMLResponse)
def service_page(org_slug: str, service_slug: str, request: Request, app: App,
                 month: str = "", day: str = "") -> HTMLResponse:
    try:
        org = app.accounts.organisation_by_slug(org_slug)
        service = _service(app, org.id, service_slug)
        return _service_page(request, app, org, service, View(request, org),
                             day=cal.parse_day(day), month=cal.parse_month(month))
    except NotFound:
        return _not_found(request)

