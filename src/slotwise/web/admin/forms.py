"""Reading the admin forms into the use cases' inputs. A field that cannot be read raises
FormInvalid (an InvalidInput naming it, as the use cases do for values they refuse) whose
message the page translates; the use cases' own reasons stay English (see `reason`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from slotwise.domain.errors import DomainError, InvalidInput
from slotwise.domain.model import (
    WEEKDAYS,
    DateOverride,
    Price,
    ResourceKind,
    Schedule,
    ServiceRequirement,
    WeeklyRule,
)
from slotwise.engine.policies import Deposit, Policy, PolicyError, RefundTier
from slotwise.web.admin.session import Admin, back, render, text


class FormInvalid(InvalidInput):
    """A form field the admin pages cannot read. `message` is an English msgid of admin.po
    (`%(field)s` stands for the form field's name, other `params` for their values); the page
    translates it when rendering. `detail` is the same text in English."""

    def __init__(self, name: str, message: str, **params: str) -> None:
        self.message = message
        self.params = {"field": name, **params}
        super().__init__(message % self.params, ("form", name))


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a form was refused, as a page shows it: `message` % `params` in the page's
    language when `message` is set, else `detail` as it is."""

    detail: str
    message: str = ""
    params: dict[str, str] = field(default_factory=dict)


def reason(error: DomainError) -> Reason:
    """The admin forms' own reasons are translated; a use case's `detail` is shown as it is,
    in English (the domain's errors are written once, for the API's problem documents)."""
    if isinstance(error, FormInvalid):
        return Reason(error.detail, error.message, error.params)
    return Reason(error.detail)


def act(request: Request, admin: Admin, run: Callable[[], object], *, active: str,
        back_to: str) -> Response:
    """Run an admin action: back to `back_to` when done, a 409 page saying why when the use
    case refuses."""
    try:
        run()
    except DomainError as error:
        return render(request, admin, "failed.html", active=active, status_code=409,
                      error="action", detail=reason(error), back_to=back_to)
    return back(back_to)


REQUIREMENT_ROWS = 3
_RANGE = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})\s*$")


def optional_int(form: FormData, name: str) -> int | None:
    value = text(form, name)
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise FormInvalid(name, "%(field)s: a whole number") from None


def integer(form: FormData, name: str, default: int) -> int:
    found = optional_int(form, name)
    return default if found is None else found


def checked(form: FormData, name: str) -> bool:
    return form.get(name) is not None


def tags(value: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in value.split(",") if t.strip())


def required(form: FormData, name: str) -> str:
    value = text(form, name)
    if not value:
        raise FormInvalid(name, "%(field)s: required")
    return value


def kind(value: str, name: str = "kind") -> ResourceKind:
    try:
        return ResourceKind(value)
    except ValueError:
        raise FormInvalid(name, "%(field)s: choose a kind") from None


def ranges(value: str, name: str) -> tuple[tuple[str, str], ...]:
    """`09:00-12:00, 13:00-17:00` → (("09:00", "12:00"), ("13:00", "17:00"))."""
    found = []
    for part in value.split(","):
        if not part.strip():
            continue
        match = _RANGE.match(part)
        if match is None:
            raise FormInvalid(name,
                              "%(field)s: write hours as 09:00-17:00, separated by commas")
        start, end = (t.zfill(5) for t in match.groups())
        found.append((start, end))
    return tuple(found)


def weekly_hours(schedule: Schedule) -> dict[str, str]:
    """The weekly rules as one text per weekday, the editor's fields."""
    per_day: dict[str, list[str]] = {day: [] for day in WEEKDAYS}
    for rule in schedule.weekly:
        for day in rule.days:
            per_day[day].append(f"{rule.start}-{rule.end}")
    return {day: ", ".join(sorted(hours)) for day, hours in per_day.items()}


def weekly(form: FormData) -> tuple[WeeklyRule, ...]:
    return tuple(WeeklyRule(days=(day,), start=start, end=end) for day in WEEKDAYS
                 for start, end in ranges(text(form, f"hours_{day}"), f"hours_{day}"))


def override(form: FormData) -> DateOverride:
    from datetime import date

    try:
        day = date.fromisoformat(text(form, "date"))
    except ValueError:
        raise FormInvalid("date", "date: choose a date") from None
    hours = ranges(text(form, "hours"), "hours")
    closed = checked(form, "closed")
    if closed == bool(hours):
        raise FormInvalid("hours", "hours: give either hours or closed, not both nor neither")
    return DateOverride(day=day, hours=hours, closed=closed)


def requirements(form: FormData) -> tuple[ServiceRequirement, ...]:
    found = []
    for i in range(REQUIREMENT_ROWS):
        chosen = text(form, f"req_{i}_kind")
        if not chosen:
            continue
        found.append(ServiceRequirement(
            kind=kind(chosen, f"req_{i}_kind"), count=integer(form, f"req_{i}_count", 1),
            tags=tags(text(form, f"req_{i}_tags"))))
    if not found:
        raise FormInvalid("req_0_kind", "requirements: choose at least one kind of resource")
    return tuple(found)


def price(form: FormData) -> Price | None:
    amount, currency = text(form, "price_amount"), text(form, "price_currency").upper()
    if not amount:
        return None
    try:
        minor = int((Decimal(amount.replace(",", ".")) * 100).to_integral_exact())
    except (InvalidOperation, ValueError):
        raise FormInvalid("price_amount", "price_amount: an amount like 45.00") from None
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise FormInvalid("price_currency",
                          "price_currency: a three-letter currency code like EUR")
    return Price(amount=minor, currency=currency)


def deposit(form: FormData) -> Deposit | None:
    pct = optional_int(form, "deposit_pct")
    try:
        return None if pct is None else Deposit(pct=pct)
    except PolicyError as error:
        raise FormInvalid("deposit_pct", "deposit_pct: %(reason)s",
                          reason=error.message) from None


def policy(form: FormData) -> Policy | None:
    """`48:100, 24:50`: cancelling at least 48 h before refunds 100 %, 24 h before 50 %."""
    name, spec = text(form, "policy_name"), text(form, "policy_tiers")
    if not name and not spec:
        return None
    tiers = []
    for part in spec.split(","):
        if not part.strip():
            continue
        hours, _, pct = part.partition(":")
        try:
            tiers.append(RefundTier(min_notice_h=int(hours), refund_pct=int(pct)))
        except (ValueError, PolicyError):
            raise FormInvalid("policy_tiers",
                              "policy_tiers: write hours:percent, like 48:100, 24:50") from None
    try:
        return Policy(name=name or "Policy", tiers=tuple(tiers))
    except PolicyError as error:
        raise FormInvalid("policy_tiers", "policy_tiers: %(reason)s", reason=str(error)) from None


def policy_tiers(found: Policy | None) -> str:
    if found is None:
        return ""
    return ", ".join(f"{t.min_notice_h}:{t.refund_pct}" for t in found.tiers)
