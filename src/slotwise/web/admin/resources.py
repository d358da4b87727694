"""Resources: list, create, edit; the weekly hours and per-date overrides; the calendar
connections and their health. Owners and admins only."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from slotwise.app.calendar_connections import lag_seconds
from slotwise.app.catalog import ResourceFields
from slotwise.domain.errors import DomainError
from slotwise.domain.model import WEEKDAYS, Resource, ResourceKind
from slotwise.web.admin import forms
from slotwise.web.admin.session import Admin, AdminRoute, Form, SetupAdmin, render, text, use_cases

router = APIRouter(route_class=AdminRoute)

RULE_FIELDS = ("min_notice_min", "max_advance_days", "max_per_day", "max_per_week")


def _values(resource: Resource | None) -> dict[str, Any]:
    if resource is None:
        return {"name": "", "kind": "practitioner", "timezone": "", "capacity": "1",
                "tags": "", "buffer_before_min": "0", "buffer_after_min": "0",
                "requires_approval": False, **dict.fromkeys(RULE_FIELDS, "")}
    return {"name": resource.name, "kind": resource.kind.value,
            "timezone": resource.timezone, "capacity": str(resource.capacity),
            "tags": ", ".join(resource.tags),
            "buffer_before_min": str(resource.buffer_before_min),
            "buffer_after_min": str(resource.buffer_after_min),
            "requires_approval": resource.requires_approval,
            **{f: "" if getattr(resource, f) is None else str(getattr(resource, f))
               for f in RULE_FIELDS}}


def _posted_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {name: text(form, name) for name in _values(None)}
    values["requires_approval"] = forms.checked(form, "requires_approval")
    return values


def _changes(form: FormData) -> dict[str, Any]:
    name = forms.required(form, "name")
    return {"name": name, "kind": forms.kind(text(form, "kind")),
            "capacity": forms.integer(form, "capacity", 1),
            "tags": forms.tags(text(form, "tags")),
            "buffer_before_min": forms.integer(form, "buffer_before_min", 0),
            "buffer_after_min": forms.integer(form, "buffer_after_min", 0),
            "requires_approval": forms.checked(form, "requires_approval"),
            **{f: forms.optional_int(form, f) for f in RULE_FIELDS}}


@router.get("/resources")
def resources(request: Request, admin: SetupAdmin) -> HTMLResponse:
    found = use_cases(request).catalog.list_resources(admin.principal, None, 500)
    return render(request, admin, "resources.html", active="resources", resources=found)


def _form(request: Request, admin: Admin, resource: Resource | None, values: dict[str, Any],
          error: forms.Reason | None = None, status_code: int = 200) -> HTMLResponse:
    return render(request, admin, "resource_form.html", active="resources", resource=resource,
                  values=values, kinds=[k.value for k in ResourceKind], error=error,
                  status_code=status_code)


@router.get("/resources/new")
def new_resource(request: Request, admin: SetupAdmin) -> HTMLResponse:
    return _form(request, admin, None, _values(None))


@router.post("/resources/new")
def create_resource(request: Request, admin: SetupAdmin, form: Form) -> Response:
    app = use_cases(request)
    try:
        changes = _changes(form)
        resource = app.catalog.create_resource(admin.principal, ResourceFields(
            timezone=text(form, "timezone") or None, **changes))
    except DomainError as error:
        return _form(request, admin, None, _posted_values(form), forms.reason(error), 422)
    return RedirectResponse(f"/admin/resources/{resource.id}", status_code=303)


@router.get("/resources/{resource_id}")
def resource_page(request: Request, admin: SetupAdmin, resource_id: str) -> HTMLResponse:
    return _show(request, admin, resource_id)


def _show(request: Request, admin: Admin, resource_id: str, error: forms.Reason | None = None,
          status_code: int = 200, values: dict[str, Any] | None = None) -> HTMLResponse:
    app = use_cases(request)
    try:
        resource = app.catalog.get_resource(admin.principal, resource_id)
    except DomainError as failure:
        return render(request, admin, "failed.html", active="resources", status_code=404,
                      error="action", detail=failure.detail, back_to="/admin/resources")
    schedule = app.catalog.get_schedule(admin.principal, resource_id)
    now = app.clock.now()
    connections = [(c, lag_seconds(c, now))
                   for c in app.calendars.list(admin.principal, resource_id)]
    return render(request, admin, "resource.html", active="resources", resource=resource,
                  values=values or _values(resource), kinds=[k.value for k in ResourceKind],
                  schedule=schedule, hours=forms.weekly_hours(schedule), weekdays=WEEKDAYS,
                  overrides=sorted(schedule.overrides, key=lambda o: o.day),
                  connections=connections, error=error, status_code=status_code)


@router.post("/resources/{resource_id}")
def update_resource(request: Request, admin: SetupAdmin, form: Form, resource_id: str
                    ) -> Response:
    app = use_cases(request)
    try:
        changes = _changes(form)
        if text(form, "timezone"):
            changes["timezone"] = text(form, "timezone")
        app.catalog.update_resource(admin.principal, resource_id, changes)
    except DomainError as error:
        return _show(request, admin, resource_id, forms.reason(error), 422, _posted_values(form))
    return RedirectResponse(f"/admin/resources/{resource_id}?saved=1", status_code=303)


@router.post("/resources/{resource_id}/schedule")
def put_weekly(request: Request, admin: SetupAdmin, form: Form, resource_id: str
               ) -> Response:
    app = use_cases(request)
    try:
        current = app.catalog.get_schedule(admin.principal, resource_id)
        zone = text(form, "schedule_timezone") or None
        app.catalog.put_schedule(admin.principal, replace(
            current, weekly=forms.weekly(form), timezone=zone))
    except DomainError as error:
        return _show(request, admin, resource_id, forms.reason(error), 422)
    return RedirectResponse(f"/admin/resources/{resource_id}?saved=1#hours",
                            status_code=303)


@router.post("/resources/{resource_id}/overrides")
def add_override(request: Request, admin: SetupAdmin, form: Form, resource_id: str
                 ) -> Response:
    app = use_cases(request)
    try:
        added = forms.override(form)
        current = app.catalog.get_schedule(admin.principal, resource_id)
        kept = tuple(o for o in current.overrides if o.day != added.day)
        app.catalog.put_schedule(admin.principal, replace(current, overrides=(*kept, added)))
    except DomainError as error:
        return _show(request, admin, resource_id, forms.reason(error), 422)
    return RedirectResponse(f"/admin/resources/{resource_id}?saved=1#overrides",
                            status_code=303)


@router.post("/resources/{resource_id}/overrides/{day}/delete")
def delete_override(request: Request, admin: SetupAdmin, form: Form, resource_id: str,
                    day: str) -> Response:
    app = use_cases(request)
    try:
        current = app.catalog.get_schedule(admin.principal, resource_id)
        kept = tuple(o for o in current.overrides if o.day.isoformat() != day)
        app.catalog.put_schedule(admin.principal, replace(current, overrides=kept))
    except DomainError as error:
        return _show(request, admin, resource_id, forms.reason(error), 422)
    return RedirectResponse(f"/admin/resources/{resource_id}?saved=1#overrides",
                            status_code=303)
