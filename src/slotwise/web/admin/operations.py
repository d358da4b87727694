"""What runs around the bookings: the waitlist, open conflicts (resolved by picking a
suggestion), failed jobs (retried), and the organisation's settings."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from slotwise.domain.conflicts import ConflictFilter
from slotwise.domain.errors import DomainError
from slotwise.domain.jobs import JobState
from slotwise.engine.zones import accepted_zones
from slotwise.web.admin import forms
from slotwise.web.admin.session import (
    Admin,
    AdminRoute,
    CurrentAdmin,
    Form,
    SetupAdmin,
    render,
    text,
    use_cases,
)

router = APIRouter(route_class=AdminRoute)


@router.get("/waitlist")
def waitlist(request: Request, admin: CurrentAdmin) -> HTMLResponse:
    app = use_cases(request)
    entries = app.waitlist.list(admin.principal.org_id, None, None, limit=200)
    services = {s.id: s for s in app.catalog.list_services(admin.principal.org_id)}
    return render(request, admin, "waitlist.html", active="waitlist", entries=entries,
                  services=services)


@router.get("/conflicts")
def conflicts(request: Request, admin: CurrentAdmin) -> HTMLResponse:
    app = use_cases(request)
    views = app.conflicts.list(admin.principal, ConflictFilter())
    resources = {r.id: r for r in app.catalog.list_resources(admin.principal, None, 500)}
    zone = ZoneInfo(admin.org.timezone)
    local_dates = {v.conflict.id: v.conflict.start.astimezone(zone).date().isoformat()
                   for v in views}
    return render(request, admin, "conflicts.html", active="conflicts", views=views,
                  resources=resources, local_dates=local_dates)


@router.post("/conflicts/{conflict_id}/resolve")
def resolve(request: Request, admin: CurrentAdmin, form: Form, conflict_id: str
            ) -> Response:
    return forms.act(request, admin, lambda: use_cases(request).conflicts.resolve(
        admin.principal, conflict_id, text(form, "suggestion_id")),
        active="conflicts", back_to="/admin/conflicts")


@router.get("/jobs")
def jobs(request: Request, admin: SetupAdmin) -> HTMLResponse:
    found = use_cases(request).jobs.list(admin.principal.org_id, JobState.FAILED, limit=200)
    return render(request, admin, "jobs.html", active="jobs", jobs=found)


@router.post("/jobs/{job_id}/retry")
def retry(request: Request, admin: SetupAdmin, form: Form, job_id: str) -> Response:
    return forms.act(request, admin,
                     lambda: use_cases(request).jobs.retry(admin.principal.org_id, job_id),
                     active="jobs", back_to="/admin/jobs")


def _settings(request: Request, admin: Admin, values: dict[str, str],
              error: forms.Reason | None = None,
              status_code: int = 200) -> HTMLResponse:
    return render(request, admin, "settings.html", active="settings", values=values,
                  zones=accepted_zones(), error=error, status_code=status_code)


@router.get("/settings")
def settings(request: Request, admin: SetupAdmin) -> HTMLResponse:
    return _settings(request, admin, {"name": admin.org.name, "timezone": admin.org.timezone})


@router.post("/settings")
def save_settings(request: Request, admin: SetupAdmin, form: Form) -> Response:
    values = {"name": text(form, "name"), "timezone": text(form, "timezone")}
    try:
        use_cases(request).accounts.update_organisation(admin.principal, **values)
    except DomainError as error:
        return _settings(request, admin, values, forms.reason(error), 422)
    return RedirectResponse("/admin/settings?saved=1", status_code=303)
