"""Money settings of the catalog: cancellation policies, deposits and payment modes — read from
request JSON, checked against prices, and resolved for one booking.

Which payment a booking takes (``amount_due``), one precedence:

1. a service with ``payment: full`` takes its whole price online;
2. otherwise the largest deposit that applies, read against the service's price: the
   service's own (``payment: deposit``, which requires one) and those of the booking's
   resources (a resource's deposit applies whatever the service's mode, ``full`` aside);
3. otherwise nothing is taken online (``on_site`` is then all due at the venue).

Nothing is taken from a service without a price (or priced 0), and a deposit never exceeds
the price. Which cancellation policy applies is `engine.policies.effective_policy`: the
service's, else the strictest of the resources', else the location's, else flexible.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from slotwise.domain.booking import Booking
from slotwise.domain.errors import InvalidInput
from slotwise.domain.model import Resource, Service
from slotwise.domain.payments import PaymentKind, PaymentMode
from slotwise.domain.ports import UnitOfWork
from slotwise.engine.policies import (
    Deposit,
    Policy,
    PolicyError,
    check_deposit,
    check_policy_price,
    deposit_from_json,
    effective_policy,
    policy_from_json,
    strictest,
)

ONLINE_MODES = (PaymentMode.FULL, PaymentMode.DEPOSIT)
NO_GATEWAY = "no online payment gateway configured"


def policy_input(value: Mapping[str, Any] | None, *loc: str | int) -> Policy | None:
    """A policy from its JSON (None stays None); a bad field is a 422 at ``loc`` + its path."""
    if value is None:
        return None
    try:
        return policy_from_json(value)
    except PolicyError as error:
        raise InvalidInput(error.message, (*loc, *error.loc)) from error


def deposit_input(value: Mapping[str, Any] | None, *loc: str | int) -> Deposit | None:
    if value is None:
        return None
    try:
        return deposit_from_json(value)
    except PolicyError as error:
        raise InvalidInput(error.message, (*loc, *error.loc)) from error


def check_service_money(service: Service, *, online: bool) -> None:
    """Refuse what could never be paid as configured (a 422 naming the field): an online or
    on-site payment without a price, a deposit mode without a deposit, a deposit or fee above
    the price, an online mode with no gateway to take it."""
    price = service.price.amount if service.price else 0
    if service.payment is not PaymentMode.NONE and price <= 0:
        raise InvalidInput(f"payment {service.payment.value!r} needs a price above 0",
                           ("body", "payment"))
    if service.payment is PaymentMode.DEPOSIT and service.deposit is None:
        raise InvalidInput("payment 'deposit' needs a deposit", ("body", "deposit"))
    if service.deposit is not None:
        if service.payment is not PaymentMode.DEPOSIT:
            raise InvalidInput("a service's deposit applies only with payment 'deposit'",
                               ("body", "deposit"))
        try:
            check_deposit(service.deposit, price)
        except PolicyError as error:
            raise InvalidInput(error.message, ("body", "deposit", *error.loc)) from error
    if service.cancellation_policy is not None and service.price is not None:
        try:
            check_policy_price(service.cancellation_policy, price)
        except PolicyError as error:
            raise InvalidInput(error.message,
                               ("body", "cancellation_policy", *error.loc)) from error
    if service.payment in ONLINE_MODES and not online:
        raise InvalidInput(NO_GATEWAY, ("body", "payment"))


def check_resource_money(deposit: Deposit | None, *, online: bool) -> None:
    if deposit is not None and not online:
        raise InvalidInput(NO_GATEWAY, ("body", "deposit"))


def amount_due(service: Service, resources: Iterable[Resource]
               ) -> tuple[PaymentKind, int] | None:
    """What a booking of ``service`` on ``resources`` pays online before it is confirmed, by
    the module's precedence; None when nothing is."""
    if service.price is None or service.price.amount <= 0:
        return None
    price = service.price.amount
    if service.payment is PaymentMode.FULL:
        return PaymentKind.FULL, price
    deposits = [r.deposit for r in resources if r.deposit is not None]
    if service.payment is PaymentMode.DEPOSIT and service.deposit is not None:
        deposits.append(service.deposit)
    amount = max((d.amount_for(price) for d in deposits), default=0)
    return (PaymentKind.DEPOSIT, amount) if amount > 0 else None


def booking_policy(uow: UnitOfWork, service: Service | None, booking: Booking) -> Policy:
    """The policy in force for the booking now: `effective_policy` over its service (None:
    gone), its resources and their locations (several locations: the strictest of theirs)."""
    resources = uow.resources.many(booking.org_id, booking.resource_ids)
    location_ids = sorted({r.location_id for r in resources.values() if r.location_id})
    locations = uow.locations.many(booking.org_id, location_ids)
    location_policies = [loc.cancellation_policy for loc in locations.values()
                         if loc.cancellation_policy is not None]
    return effective_policy(
        service.cancellation_policy if service is not None else None,
        [resources[rid].cancellation_policy for rid in booking.resource_ids if rid in resources],
        strictest(location_policies) if location_policies else None)
