"""Cancellation policies: how much of what was paid comes back, and what a late cancellation
or a no-show costs. Money is in integer minor units (cents); nothing here reads the clock.

A policy is a list of refund tiers — "at least ``min_notice_h`` hours before the start, refund
``refund_pct`` % of what was paid" — plus an optional late-cancellation fee and no-show fee.
The tier with the most notice that the cancellation still meets applies; a cancellation at
exactly a tier's boundary meets it. Less notice than every tier, or a cancellation at or after
the start, refunds nothing. Tiers must refund more (or the same) the earlier one cancels.

Rounding: a percentage of an amount is floored to the minor unit, so a refund never exceeds
what was paid and a fee or deposit never exceeds what the policy states.

Which policy applies to a booking (``effective_policy``), one precedence, no merging:

1. the service's policy, when the service has one;
2. else the strictest of its resources' policies (``strictest``);
3. else the location's policy;
4. else the organisation's default (``FLEXIBLE`` unless the organisation chose another).

"Strictest" is a total order: every candidate's refund is read at notice 0 and at every tier
boundary of every candidate (the refund only changes there), from the shortest notice up; the
first notice where two policies differ decides, lower refund being stricter — so a policy that
never refunds more than another is always at least as strict. Equal refunds: one with a late
fee, then one with a no-show fee, is stricter; a remaining tie keeps the first given.

JSON (``policy_from_json`` / ``policy_to_json``)::

    {"preset": "moderate"}
    {"name": "custom", "tiers": [{"min_notice_h": 48, "refund_pct": 100}, ...],
     "late_cancel_fee": {"amount_minor": 1500} | {"pct": 50} | null,
     "no_show_fee": {"amount_minor": 1500} | {"pct": 100} | null}

``policy_to_json`` always writes the full form, so a stored policy does not change when a
preset is redefined. A deposit is ``{"amount_minor": 2000}`` or ``{"pct": 20}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

__all__ = [
    "FLEXIBLE",
    "MODERATE",
    "PRESETS",
    "STRICT",
    "Deposit",
    "Fee",
    "Policy",
    "PolicyError",
    "Quote",
    "RefundTier",
    "check_deposit",
    "check_policy_price",
    "custom",
    "deposit_from_json",
    "deposit_to_json",
    "effective_policy",
    "no_show_fee_minor",
    "policy_from_json",
    "policy_to_json",
    "quote",
    "refund_pct_at",
    "strictest",
]

Loc = tuple[str | int, ...]


class PolicyError(ValueError):
    """A policy, fee or deposit that cannot be used; ``loc`` is the path of the bad field
    (``("tiers", 1, "refund_pct")``), ``field_path`` the same as text (``tiers[1].refund_pct``)."""

    def __init__(self, loc: Sequence[str | int], message: str) -> None:
        self.loc: Loc = tuple(loc)
        self.message = message
        super().__init__(f"{self.field_path}: {message}" if self.loc else message)

    @property
    def field_path(self) -> str:
        text = ""
        for part in self.loc:
            text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
        return text

    def within(self, *prefix: str | int) -> PolicyError:
        """The same error, seen from a container (its path prefixed)."""
        return PolicyError((*prefix, *self.loc), self.message)


def _check_pct(value: int, loc: Loc) -> None:
    if not 0 <= value <= 100:
        raise PolicyError(loc, f"must be between 0 and 100, not {value}")


@dataclass(frozen=True, slots=True)
class RefundTier:
    """Cancelling at least ``min_notice_h`` hours before the start refunds ``refund_pct`` %."""

    min_notice_h: int
    refund_pct: int

    def __post_init__(self) -> None:
        if self.min_notice_h < 0:
            raise PolicyError(("min_notice_h",), "must not be negative")
        _check_pct(self.refund_pct, ("refund_pct",))


@dataclass(frozen=True, slots=True)
class _Share:
    """Exactly one of a fixed amount (minor units) and a percentage of the price."""

    amount_minor: int | None = None
    pct: int | None = None

    def __post_init__(self) -> None:
        if (self.amount_minor is None) == (self.pct is None):
            raise PolicyError((), "give exactly one of amount_minor and pct")
        if self.amount_minor is not None and self.amount_minor < 0:
            raise PolicyError(("amount_minor",), "must not be negative")
        if self.pct is not None:
            _check_pct(self.pct, ("pct",))

    def amount_for(self, price_minor: int) -> int:
        """The amount for that price: the percentage floored, never more than the price (a
        fixed amount above the price is refused up front by the ``check_*`` helpers)."""
        if self.pct is not None:
            return price_minor * self.pct // 100
        assert self.amount_minor is not None
        return min(self.amount_minor, price_minor)

    def over_price(self, price_minor: int) -> bool:
        return self.amount_minor is not None and self.amount_minor > price_minor


@dataclass(frozen=True, slots=True)
class Fee(_Share):
    """A late-cancellation or no-show fee."""


@dataclass(frozen=True, slots=True)
class Deposit(_Share):
    """What is taken at booking time, the rest being due later (at the venue)."""


@dataclass(frozen=True, slots=True)
class Policy:
    """Refund tiers (kept sorted, most notice first), fees and a name to show."""

    name: str
    tiers: tuple[RefundTier, ...] = ()
    late_cancel_fee: Fee | None = None
    no_show_fee: Fee | None = None

    def __post_init__(self) -> None:
        ordered = sorted(enumerate(self.tiers), key=lambda it: it[1].min_notice_h)
        for (_, less), (i, more) in pairwise(ordered):
            if more.min_notice_h == less.min_notice_h:
                raise PolicyError(("tiers", i, "min_notice_h"),
                                  f"two tiers start at {more.min_notice_h} h")
            if more.refund_pct < less.refund_pct:
                raise PolicyError(
                    ("tiers", i, "refund_pct"),
                    f"refunds {more.refund_pct} % with {more.min_notice_h} h notice, less than "
                    f"the {less.refund_pct} % with {less.min_notice_h} h")
        # Frozen, but normalised once here so every reader can rely on the order.
        object.__setattr__(self, "tiers", tuple(t for _, t in reversed(ordered)))


FLEXIBLE = Policy("flexible", (RefundTier(24, 100),))
MODERATE = Policy("moderate", (RefundTier(120, 100), RefundTier(24, 50)))
STRICT = Policy("strict", (RefundTier(336, 50),))
PRESETS: Mapping[str, Policy] = {p.name: p for p in (FLEXIBLE, MODERATE, STRICT)}


def custom(tiers: Iterable[RefundTier], *, late_cancel_fee: Fee | None = None,
           no_show_fee: Fee | None = None, name: str = "custom") -> Policy:
    return Policy(name, tuple(tiers), late_cancel_fee, no_show_fee)


def check_policy_price(policy: Policy, price_minor: int) -> None:
    """Refuse fixed fees above a known price."""
    for field in ("late_cancel_fee", "no_show_fee"):
        fee: Fee | None = getattr(policy, field)
        if fee is not None and fee.over_price(price_minor):
            raise PolicyError((field, "amount_minor"),
                              f"{fee.amount_minor} is more than the price {price_minor}")


def check_deposit(deposit: Deposit, price_minor: int) -> None:
    """Refuse a fixed deposit above the price (a percentage cannot be)."""
    if deposit.over_price(price_minor):
        raise PolicyError(("amount_minor",),
                          f"a deposit of {deposit.amount_minor} is more than the price "
                          f"{price_minor}")


def _tier_for(policy: Policy, notice: timedelta) -> RefundTier | None:
    if notice <= timedelta(0):
        return None
    return next((t for t in policy.tiers if notice >= timedelta(hours=t.min_notice_h)), None)


def refund_pct_at(policy: Policy, notice: timedelta) -> int:
    """The refund percentage for a cancellation ``notice`` before the start (0 at or after it)."""
    tier = _tier_for(policy, notice)
    return tier.refund_pct if tier else 0


@dataclass(frozen=True, slots=True)
class Quote:
    """What cancelling now means. ``refund_minor`` is ``refund_pct`` % of what was paid,
    floored. ``fee_minor`` is the late-cancellation fee as the policy states it (0 unless
    ``late``); ``charge_minor`` is what is still to collect for it, since what the customer
    paid and does not get back counts towards the fee."""

    refund_minor: int
    refund_pct: int
    fee_minor: int
    charge_minor: int
    late: bool
    tier: RefundTier | None
    hours_before: float
    reason: str


def quote(policy: Policy, *, price_minor: int, paid_minor: int, start: datetime,
          now: datetime) -> Quote:
    """Quote a cancellation at ``now`` of a booking starting at ``start`` (aware datetimes),
    priced ``price_minor``, of which ``paid_minor`` was paid (net of earlier refunds; a deposit
    alone refunds a share of the deposit).

    Late means the refund is 0: less notice than any refunding tier, or at or after the
    start. Only then does the late-cancellation fee apply."""
    if price_minor < 0:
        raise PolicyError(("price_minor",), "must not be negative")
    if paid_minor < 0:
        raise PolicyError(("paid_minor",), "must not be negative")
    notice = start - now
    hours = notice.total_seconds() / 3600
    tier = _tier_for(policy, notice)
    pct = tier.refund_pct if tier else 0
    refund = paid_minor * pct // 100
    late = pct == 0
    fee = 0
    if late and policy.late_cancel_fee is not None:
        fee = policy.late_cancel_fee.amount_for(price_minor)
    charge = max(0, fee - (paid_minor - refund))
    if notice <= timedelta(0):
        why = "at or after the start: no refund"
    elif tier is None:
        why = f"{_span(notice)} before the start, " + (
            f"less than {policy.tiers[-1].min_notice_h} h notice: no refund" if policy.tiers
            else "no refunds")
    else:
        why = (f"{_span(notice)} before the start, at least {tier.min_notice_h} h notice: "
               f"{pct} % refund")
    if fee:
        why += f"; late-cancellation fee {fee}"
    return Quote(refund, pct, fee, charge, late, tier, hours, f"{policy.name}: {why}")


def _span(notice: timedelta) -> str:
    # Floored to the minute: 23 h 59 min 59 s must not read as "24 h" next to a 24 h tier.
    hours, minutes = divmod(int(notice.total_seconds()) // 60, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def no_show_fee_minor(policy: Policy, price_minor: int) -> int:
    """The no-show fee for that price (0 without one)."""
    return policy.no_show_fee.amount_for(price_minor) if policy.no_show_fee else 0


def _strictness(policy: Policy, notices_h: Sequence[int]) -> tuple[Any, ...]:
    return (tuple(refund_pct_at(policy, timedelta(hours=h)) if h else
                  refund_pct_at(policy, timedelta.resolution) for h in notices_h),
            policy.late_cancel_fee is None, policy.no_show_fee is None)


def strictest(policies: Sequence[Policy]) -> Policy:
    """The strictest of ``policies`` (at least one), in the module's total order."""
    if not policies:
        raise ValueError("strictest of no policies")
    notices = sorted({0} | {t.min_notice_h for p in policies for t in p.tiers})
    return min(policies, key=lambda p: _strictness(p, notices))  # min keeps the first of ties


def effective_policy(service_policy: Policy | None, resource_policies: Sequence[Policy | None],
                     location_policy: Policy | None, default: Policy = FLEXIBLE) -> Policy:
    """The policy a booking gets, by the module's precedence (service, strictest resource,
    location, default); resources without a policy of their own are skipped."""
    if service_policy is not None:
        return service_policy
    own = [p for p in resource_policies if p is not None]
    if own:
        return strictest(own)
    return location_policy if location_policy is not None else default


def _int(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    # bool is an int to Python but never a count of hours or cents.
    if not isinstance(value, int) or isinstance(value, bool):
        raise PolicyError((key,), "must be an integer")
    return value


def _object(value: Any, loc: Loc, allowed: Iterable[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PolicyError(loc, "must be an object")
    for key in value:
        if key not in allowed:
            raise PolicyError((*loc, str(key)), "unknown field")
    return value


def _share_from_json(value: Any, loc: Loc) -> tuple[int | None, int | None]:
    data = _object(value, loc, ("amount_minor", "pct"))
    try:
        amount = _int(data, "amount_minor") if "amount_minor" in data else None
        pct = _int(data, "pct") if "pct" in data else None
        # Validated here with the caller's path rather than by the constructor with none.
        _Share(amount, pct)
    except PolicyError as e:
        raise e.within(*loc) from None
    return amount, pct


def _fee_from_json(value: Any, loc: Loc) -> Fee | None:
    return None if value is None else Fee(*_share_from_json(value, loc))


def deposit_from_json(value: Any) -> Deposit:
    return Deposit(*_share_from_json(value, ()))


def deposit_to_json(deposit: Deposit) -> dict[str, int]:
    return _share_to_json(deposit)


def _share_to_json(share: _Share) -> dict[str, int]:
    if share.pct is not None:
        return {"pct": share.pct}
    assert share.amount_minor is not None
    return {"amount_minor": share.amount_minor}


def policy_from_json(value: Any) -> Policy:
    """Read either form of the module docstring; raises ``PolicyError`` at the bad field."""
    data = _object(value, (), ("preset", "name", "tiers", "late_cancel_fee", "no_show_fee"))
    if "preset" in data:
        extra = next((k for k in data if k != "preset"), None)
        if extra is not None:
            raise PolicyError((extra,), "a preset takes no other fields")
        preset = PRESETS.get(data["preset"]) if isinstance(data["preset"], str) else None
        if preset is None:
            raise PolicyError(("preset",), f"must be one of {', '.join(PRESETS)}")
        return preset
    name = data.get("name", "custom")
    if not isinstance(name, str) or not name:
        raise PolicyError(("name",), "must be a non-empty string")
    raw_tiers = data.get("tiers")
    if not isinstance(raw_tiers, list):
        raise PolicyError(("tiers",), "must be a list of tiers")
    tiers = []
    for i, raw in enumerate(raw_tiers):
        loc: Loc = ("tiers", i)
        tier = _object(raw, loc, ("min_notice_h", "refund_pct"))
        try:
            tiers.append(RefundTier(_int(tier, "min_notice_h"), _int(tier, "refund_pct")))
        except PolicyError as e:
            raise e.within(*loc) from None
    return Policy(name, tuple(tiers), _fee_from_json(data.get("late_cancel_fee"),
                                                     ("late_cancel_fee",)),
                  _fee_from_json(data.get("no_show_fee"), ("no_show_fee",)))


def policy_to_json(policy: Policy) -> dict[str, Any]:
    """The full form (never ``preset``): what was agreed stays what was agreed."""
    return {
        "name": policy.name,
        "tiers": [{"min_notice_h": t.min_notice_h, "refund_pct": t.refund_pct}
                  for t in policy.tiers],
        "late_cancel_fee": _share_to_json(policy.late_cancel_fee)
        if policy.late_cancel_fee else None,
        "no_show_fee": _share_to_json(policy.no_show_fee) if policy.no_show_fee else None,
    }
