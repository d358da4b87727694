"""Services: list, create, edit with their requirements, rules, approval, price, deposit
and cancellation policy. Owners and admins only."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from slotwise.app.catalog import ServiceFields
from slotwise.domain.errors import DomainError
from slotwise.domain.model import ResourceKind, Service
from slotwise.domain.payments import PaymentMode
from slotwise.web.admin import forms
from slotwise.web.admin.session import Admin, AdminRoute, Form, SetupAdmin, render, text, use_cases

router = APIRouter(route_class=AdminRoute)

INT_FIELDS = ("duration_min", "step_min", "buffer_before_min", "buffer_after_min",
              "min_notice_min", "max_advance_days", "capacity", "max_per_day", "max_per_week")
TEXT_FIELDS = ("name", "slug", *INT_FIELDS, "price_amount", "price_currency", "payment",
               "deposit_pct", "policy_name", "policy_tiers")


def _blank() -> dict[str, Any]:
    values: dict[str, Any] = dict.fromkeys(TEXT_FIELDS, "")
    values.update(duration_min="60", buffer_before_min="0", buffer_after_min="0",
                  min_notice_min="0", max_advance_days="365", capacity="1", payment="none",
                  price_currency="EUR", requires_approval=False,
                  requirements=[{"kind": "practitioner", "count": "1", "tags": ""}])
    return values


def _values(service: Service) -> dict[str, Any]:
    values = _blank()
    values.update({name: "" if getattr(service, name) is None else str(getattr(service, name))
                   for name in INT_FIELDS})
    values.update(name=service.name, slug=service.slug, payment=service.payment.value,
                  requires_approval=service.requires_approval,
                  requirements=[{"kind": r.kind.value, "count": str(r.count),
                                 "tags": ", ".join(r.tags)} for r in service.requirements])
    if service.price is not None:
        values.update(price_amount=str(Decimal(service.price.amount) / 100),
                      price_currency=service.price.currency)
    if service.deposit is not None and service.deposit.pct is not None:
        values["deposit_pct"] = str(service.deposit.pct)
    if service.cancellation_policy is not None:
        values.update(policy_name=service.cancellation_policy.name,
                      policy_tiers=forms.policy_tiers(service.cancellation_policy))
    return values


def _posted(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {name: text(form, name) for name in TEXT_FIELDS}
    values["requires_approval"] = forms.checked(form, "requires_approval")
    values["requirements"] = [
        {"kind": text(form, f"req_{i}_kind"), "count": text(form, f"req_{i}_count"),
         "tags": text(form, f"req_{i}_tags")} for i in range(forms.REQUIREMENT_ROWS)]
    return values


def _fields(form: FormData) -> dict[str, Any]:
    name = forms.required(form, "name")
    duration = forms.integer(form, "duration_min", 0)
    try:
        payment = PaymentMode(text(form, "payment") or "none")
    except ValueError:
        raise forms.FormInvalid("payment", "payment: choose how it is paid") from None
    return {"name": name, "duration_min": duration,
            "requirements": forms.requirements(form),
            "step_min": forms.optional_int(form, "step_min") or duration,
            "buffer_before_min": forms.integer(form, "buffer_before_min", 0),
            "buffer_after_min": forms.integer(form, "buffer_after_min", 0),
            "min_notice_min": forms.integer(form, "min_notice_min", 0),
            "max_advance_days": forms.integer(form, "max_advance_days", 365),
            "capacity": forms.integer(form, "capacity", 1),
            "max_per_day": forms.optional_int(form, "max_per_day"),
            "max_per_week": forms.optional_int(form, "max_per_week"),
            "requires_approval": forms.checked(form, "requires_approval"),
            "price": forms.price(form), "payment": payment, "deposit": forms.deposit(form),
            "cancellation_policy": forms.policy(form)}


def _form(request: Request, admin: Admin, service: Service | None, values: dict[str, Any],
          error: forms.Reason | None = None, status_code: int = 200) -> HTMLResponse:
    rows = list(values["requirements"])
    rows += [{"kind": "", "count": "1", "tags": ""}] * (forms.REQUIREMENT_ROWS - len(rows))
    return render(request, admin, "service_form.html", active="services", service=service,
                  values=values, requirement_rows=rows[:forms.REQUIREMENT_ROWS],
                  kinds=[k.value for k in ResourceKind],
                  payments=[m.value for m in PaymentMode], error=error,
                  status_code=status_code)


@router.get("/services")
def services(request: Request, admin: SetupAdmin) -> HTMLResponse:
    found = use_cases(request).catalog.list_services(admin.principal.org_id)
    return render(request, admin, "services.html", active="services", services=found)


@router.get("/services/new")
def new_service(request: Request, admin: SetupAdmin) -> HTMLResponse:
    return _form(request, admin, None, _blank())


@router.post("/services/new")
def create_service(request: Request, admin: SetupAdmin, form: Form) -> Response:
    app = use_cases(request)
    try:
        fields = _fields(form)
        service = app.catalog.create_service(admin.principal, ServiceFields(
            slug=text(form, "slug") or None, **fields))
    except DomainError as error:
        return _form(request, admin, None, _posted(form), forms.reason(error), 422)
    return RedirectResponse(f"/admin/services/{service.id}?saved=1", status_code=303)


def _service(request: Request, admin: Admin, service_id: str) -> Service | HTMLResponse:
    try:
        return use_cases(request).catalog.get_service(admin.principal, service_id)
    except DomainError as error:
        return render(request, admin, "failed.html", active="services", status_code=404,
                      error="action", detail=error.detail, back_to="/admin/services")


@router.get("/services/{service_id}")
def service_page(request: Request, admin: SetupAdmin, service_id: str) -> HTMLResponse:
    service = _service(request, admin, service_id)
    if isinstance(service, HTMLResponse):
        return service
    return _form(request, admin, service, _values(service))


@router.post("/services/{service_id}")
def update_service(request: Request, admin: SetupAdmin, form: Form, service_id: str
                   ) -> Response:
    service = _service(request, admin, service_id)
    if isinstance(service, HTMLResponse):
        return service
    try:
        changes = _fields(form)
        if text(form, "slug"):
            changes["slug"] = text(form, "slug")
        use_cases(request).catalog.update_service(admin.principal, service_id, changes)
    except DomainError as error:
        return _form(request, admin, service, _posted(form), forms.reason(error), 422)
    return RedirectResponse(f"/admin/services/{service_id}?saved=1", status_code=303)
