"""Reading the setup forms into the use cases' inputs. A field that cannot be read raises
InvalidInput naming it, as the use cases do for values they refuse."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from starlette.datastructures import FormData

from slotwise.domain.errors import InvalidInput
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
from slotwise.web.admin.session import text

REQUIREMENT_ROWS = 3
_RANGE = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})\s*$")


def optional_int(form: FormData, name: str) -> int | None:
    value = text(form, name)
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(f"{name}: a whole number", ("form", name)) from None


def integer(form: FormData, name: str, default: int) -> int:
    found = optional_int(form, name)
    return default if found is None else found


def checked(form: FormData, name: str) -> bool:
    return form.get(name) is not None


def tags(value: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in value.split(",") if t.strip())


def kind(value: str, name: str = "kind") -> ResourceKind:
    try:
        return ResourceKind(value)
    except ValueError:
        raise InvalidInput(f"{name}: choose a kind", ("form", name)) from None


def ranges(value: str, name: str) -> tuple[tuple[str, str], ...]:
    """`09:00-12:00, 13:00-17:00` → (("09:00", "12:00"), ("13:00", "17:00"))."""
    found = []
    for part in value.split(","):
        if not part.strip():
            continue
        match = _RANGE.match(part)
        if match is None:
            raise InvalidInput(f"{name}: write hours as 09:00-17:00, separated by commas",
                               ("form", name))
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
        raise InvalidInput("date: choose a date", ("form", "date")) from None
    hours = ranges(text(form, "hours"), "hours")
    closed = checked(form, "closed")
    if closed == bool(hours):
        raise InvalidInput("hours: give either hours or closed, not both nor neither",
                           ("form", "hours"))
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
        raise InvalidInput("requirements: choose at least one kind of resource",
                           ("form", "req_0_kind"))
    return tuple(found)


def price(form: FormData) -> Price | None:
    amount, currency = text(form, "price_amount"), text(form, "price_currency").upper()
    if not amount:
        return None
    try:
        minor = int((Decimal(amount.replace(",", ".")) * 100).to_integral_exact())
    except (InvalidOperation, ValueError):
        raise InvalidInput("price_amount: an amount like 45.00",
                           ("form", "price_amount")) from None
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise InvalidInput("price_currency: a three-letter currency code like EUR",
                           ("form", "price_currency"))
    return Price(amount=minor, currency=currency)


def deposit(form: FormData) -> Deposit | None:
    pct = optional_int(form, "deposit_pct")
    try:
        return None if pct is None else Deposit(pct=pct)
    except PolicyError as error:
        raise InvalidInput(f"deposit_pct: {error.message}", ("form", "deposit_pct")) from None


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
            raise InvalidInput("policy_tiers: write hours:percent, like 48:100, 24:50",
                               ("form", "policy_tiers")) from None
    try:
        return Policy(name=name or "Policy", tiers=tuple(tiers))
    except PolicyError as error:
        raise InvalidInput(f"policy_tiers: {error}", ("form", "policy_tiers")) from None


def policy_tiers(found: Policy | None) -> str:
    if found is None:
        return ""
    return ", ".join(f"{t.min_notice_h}:{t.refund_pct}" for t in found.tiers)
