"""The organisation's live holds (visitors filling in the details form, API clients, waitlist
offers), each with the time it has left; staff may release one, which frees its time."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from slotwise.web.admin import forms
from slotwise.web.admin.session import (
    AdminRoute,
    CurrentAdmin,
    Form,
    render,
    use_cases,
)

router = APIRouter(route_class=AdminRoute)
SHOWN = 200  # live holds are short-lived: more at once than this is not a page's job


@router.get("/holds")
def holds(request: Request, admin: CurrentAdmin) -> HTMLResponse:
    app = use_cases(request)
    org_id = admin.principal.org_id
    found = app.holds.live(org_id, limit=SHOWN)
    now = app.clock.now()
    services = {s.id: s for s in app.catalog.list_services(org_id)}
    resources = {r.id: r for r in app.catalog.list_resources(admin.principal, None, 500)}
    left_s = {h.id: max(0, int((h.expires_at - now).total_seconds())) for h in found}
    return render(request, admin, "holds.html", active="holds", holds=found,
                  services=services, resources=resources, left_s=left_s)


@router.post("/holds/{hold_id}/release")
def release(request: Request, admin: CurrentAdmin, form: Form, hold_id: str) -> Response:
    return forms.act(request, admin,
                     lambda: use_cases(request).holds.release(admin.principal.org_id, hold_id),
                     active="holds", back_to="/admin/holds")
