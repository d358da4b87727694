"""Set up what can be booked: locations, resources, their schedules and blocks, services."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from dataclasses import fields as dataclass_fields
from datetime import datetime
from typing import Any, Protocol

from slotwise.app.accounts import require_admin, slugify
from slotwise.app.conflicts import ConflictDetector
from slotwise.app.policies import check_resource_money, check_service_money
from slotwise.app.scheduling import profile, requirements, validate_schedule
from slotwise.domain.conflicts import ConflictCause
from slotwise.domain.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from slotwise.domain.ids import new_id
from slotwise.domain.model import (
    Block,
    Location,
    NotificationSchedule,
    Price,
    Principal,
    Resource,
    ResourceKind,
    Schedule,
    SequenceRule,
    Service,
    ServiceRequirement,
)
from slotwise.domain.payments import PaymentMode
from slotwise.domain.ports import Clock, UnitOfWork, UnitOfWorkFactory
from slotwise.engine.policies import Deposit, Policy
from slotwise.engine.pools import role_pools


@dataclass(frozen=True, slots=True)
class ResourceFields:
    name: str
    kind: ResourceKind
    timezone: str | None = None
    location_id: str | None = None
    capacity: int = 1
    tags: tuple[str, ...] = ()
    buffer_before_min: int = 0
    buffer_after_min: int = 0
    requires_approval: bool = False
    min_notice_min: int | None = None
    max_advance_days: int | None = None
    max_per_day: int | None = None
    max_per_week: int | None = None
    deposit: Deposit | None = None
    cancellation_policy: Policy | None = None


@dataclass(frozen=True, slots=True)
class LocationFields:
    name: str
    timezone: str
    buffer_before_min: int = 0
    buffer_after_min: int = 0
    requires_approval: bool = False
    min_notice_min: int | None = None
    max_advance_days: int | None = None
    max_per_day: int | None = None
    max_per_week: int | None = None
    cancellation_policy: Policy | None = None


@dataclass(frozen=True, slots=True)
class ServiceFields:
    name: str
    duration_min: int
    requirements: tuple[ServiceRequirement, ...]
    slug: str | None = None
    step_min: int | None = None
    buffer_before_min: int = 0
    buffer_after_min: int = 0
    min_notice_min: int = 0
    max_advance_days: int = 365
    capacity: int = 1
    price: Price | None = None
    requires_approval: bool = False
    max_per_day: int | None = None
    max_per_week: int | None = None
    sequence_rules: tuple[SequenceRule, ...] = ()
    meeting_provider: str | None = None
    approval_after_no_shows: int | None = None
    payment: PaymentMode = PaymentMode.NONE
    deposit: Deposit | None = None
    cancellation_policy: Policy | None = None
    notifications: NotificationSchedule = field(default_factory=NotificationSchedule)


class _HasRules(Protocol):
    @property
    def min_notice_min(self) -> int | None: ...
    @property
    def max_advance_days(self) -> int | None: ...
    @property
    def max_per_day(self) -> int | None: ...
    @property
    def max_per_week(self) -> int | None: ...


def check_rules(subject: _HasRules) -> None:
    """Refuse rules that contradict each other (a 422 naming the field)."""
    notice, horizon = subject.min_notice_min, subject.max_advance_days
    if notice is not None and horizon is not None and notice >= horizon * 24 * 60:
        raise InvalidInput("the minimum notice reaches beyond the booking horizon: nothing "
                           "could ever be booked", ("body", "min_notice_min"))
    per_day, per_week = subject.max_per_day, subject.max_per_week
    if per_day is not None and per_week is not None and per_week < per_day:
        raise InvalidInput("the weekly limit is below the daily limit",
                           ("body", "max_per_week"))


def check_requirements(requirements: Sequence[ServiceRequirement]) -> None:
    if all(r.optional for r in requirements):
        raise InvalidInput("at least one requirement must not be optional",
                           ("body", "requirements"))
    for i, r in enumerate(requirements):
        if r.mode == "all" and r.count != 1:
            raise InvalidInput('a requirement with mode "all" takes every resource of its '
                               "pool; leave count out", ("body", "requirements", i, "count"))


class Catalog:
    """``meeting_providers``: the names a service may choose, those this server has set up.
    ``online_payments``: whether a gateway takes payments online (else services paid in
    full or by deposit, and resources' deposits, are refused). ``conflicts`` flags the
    bookings a new block or new hours land on (they stay booked)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, *,
                 meeting_providers: Iterable[str] = (), online_payments: bool = False,
                 conflicts: ConflictDetector | None = None) -> None:
        self._uow = uow
        self._clock = clock
        self._conflicts = conflicts or ConflictDetector()
        self._meeting_providers = frozenset(meeting_providers)
        self._online = online_payments

    def create_location(self, principal: Principal, fields: LocationFields) -> Location:
        require_admin(principal)
        check_rules(fields)
        location = Location(id=new_id("location"), org_id=principal.org_id,
                            created_at=self._clock.now(),
                            **{f.name: getattr(fields, f.name) for f in dataclass_fields(fields)})
        with self._uow(write=True) as uow:
            uow.locations.add(location)
            uow.commit()
        return location

    def get_location(self, principal: Principal, location_id: str) -> Location:
        with self._uow() as uow:
            return _location(uow, principal.org_id, location_id)

    def list_locations(self, principal: Principal) -> list[Location]:
        with self._uow() as uow:
            return uow.locations.list(principal.org_id)

    def update_location(self, principal: Principal, location_id: str,
                        changes: dict[str, Any]) -> Location:
        require_admin(principal)
        with self._uow(write=True) as uow:
            updated = replace(_location(uow, principal.org_id, location_id), **changes)
            check_rules(updated)
            uow.locations.update(updated)
            uow.commit()
        return updated

    def put_location_schedule(self, principal: Principal, spec: Schedule) -> Schedule:
        require_admin(principal)
        validate_schedule(spec)
        stored = replace(spec, org_id=principal.org_id, updated_at=self._clock.now())
        with self._uow(write=True) as uow:
            _location(uow, principal.org_id, spec.location_id or "")
            uow.locations.put_schedule(stored)
            uow.commit()
        return stored

    def get_location_schedule(self, principal: Principal, location_id: str) -> Schedule | None:
        """The location's opening hours, or None: always open."""
        with self._uow() as uow:
            _location(uow, principal.org_id, location_id)
            return uow.locations.schedules(principal.org_id, [location_id]).get(location_id)

    def create_resource(self, principal: Principal, fields: ResourceFields) -> Resource:
        require_admin(principal)
        check_rules(fields)
        check_resource_money(fields.deposit, online=self._online)
        with self._uow(write=True) as uow:
            zone = self._resource_zone(uow, principal.org_id, fields.timezone, fields.location_id)
            resource = Resource(
                id=new_id("resource"), org_id=principal.org_id, name=fields.name,
                kind=fields.kind, timezone=zone, created_at=self._clock.now(),
                location_id=fields.location_id, capacity=fields.capacity,
                tags=tuple(dict.fromkeys(fields.tags)),
                buffer_before_min=fields.buffer_before_min,
                buffer_after_min=fields.buffer_after_min,
                requires_approval=fields.requires_approval,
                min_notice_min=fields.min_notice_min, max_advance_days=fields.max_advance_days,
                max_per_day=fields.max_per_day, max_per_week=fields.max_per_week,
                deposit=fields.deposit, cancellation_policy=fields.cancellation_policy,
            )
            uow.resources.add(resource)
            uow.commit()
        return resource

    def get_resource(self, principal: Principal, resource_id: str) -> Resource:
        with self._uow() as uow:
            return _resource(uow, principal.org_id, resource_id)

    def list_resources(self, principal: Principal, after: str | None, limit: int
                       ) -> list[Resource]:
        with self._uow() as uow:
            return uow.resources.list(principal.org_id, after=after, limit=limit)

    def update_resource(self, principal: Principal, resource_id: str,
                        changes: dict[str, Any]) -> Resource:
        require_admin(principal)
        with self._uow(write=True) as uow:
            current = _resource(uow, principal.org_id, resource_id)
            if "location_id" in changes and changes["location_id"] is not None:
                _location(uow, principal.org_id, changes["location_id"])
            if "tags" in changes:
                changes["tags"] = tuple(dict.fromkeys(changes["tags"]))
            updated = replace(current, **changes)
            check_rules(updated)
            if "deposit" in changes:
                check_resource_money(updated.deposit, online=self._online)
            uow.resources.update(updated)
            uow.commit()
        return updated

    def delete_resource(self, principal: Principal, resource_id: str) -> None:
        """Archive the resource (history keeps it); refused while bookings still need it."""
        require_admin(principal)
        now = self._clock.now()
        with self._uow(write=True) as uow:
            _resource(uow, principal.org_id, resource_id)
            if uow.bookings.has_future(principal.org_id, resource_id, now):
                raise Conflict("the resource has upcoming bookings; cancel or move them first")
            uow.resources.archive(principal.org_id, resource_id, now)
            uow.commit()

    def put_schedule(self, principal: Principal, spec: Schedule) -> Schedule:
        require_admin(principal)
        validate_schedule(spec)
        now = self._clock.now()
        stored = replace(spec, org_id=principal.org_id, updated_at=now)
        with self._uow(write=True) as uow:
            _resource(uow, principal.org_id, spec.resource_id)
            uow.schedules.put(stored)
            # The hours apply to new bookings; those they no longer cover are flagged.
            self._conflicts.recheck(uow, org_id=principal.org_id,
                                    resource_ids=[spec.resource_id], now=now)
            self._conflicts.flag_closed(uow, org_id=principal.org_id,
                                        resource_id=spec.resource_id, now=now)
            uow.commit()
        return stored

    def get_schedule(self, principal: Principal, resource_id: str) -> Schedule:
        with self._uow() as uow:
            _resource(uow, principal.org_id, resource_id)
            found = uow.schedules.get(principal.org_id, resource_id)
        return found or Schedule(resource_id=resource_id, org_id=principal.org_id,
                                 timezone=None)

    def add_block(self, principal: Principal, resource_id: str, start: datetime,
                  end: datetime, title: str | None) -> Block:
        now = self._clock.now()
        block = Block(id=new_id("block"), org_id=principal.org_id, resource_id=resource_id,
                      start=start, end=end, title=title, created_at=now)
        with self._uow(write=True) as uow:
            _resource(uow, principal.org_id, resource_id)
            uow.blocks.add(block)
            # Blocks do not refuse bookings: one already there is flagged, not cancelled.
            self._conflicts.flag(uow, org_id=principal.org_id, resource_ids=[resource_id],
                                 start=start, end=end, cause=ConflictCause.BLOCK,
                                 cause_ref=block.id, now=now)
            uow.commit()
        return block

    def delete_block(self, principal: Principal, resource_id: str, block_id: str) -> None:
        with self._uow(write=True) as uow:
            block = uow.blocks.get(principal.org_id, block_id)
            if block is None or block.resource_id != resource_id:
                raise NotFound("no such block")
            if block.connection_id is not None:
                # The next sync would bring it back: it changes in its own calendar only.
                raise Conflict(f"this block is busy time from calendar connection "
                               f"{block.connection_id}; change it in that calendar")
            uow.blocks.delete(principal.org_id, block_id)
            self._conflicts.recheck(uow, org_id=principal.org_id, resource_ids=[resource_id],
                                    now=self._clock.now())
            uow.commit()

    def create_service(self, principal: Principal, fields: ServiceFields) -> Service:
        require_admin(principal)
        check_rules(fields)
        check_requirements(fields.requirements)
        self._check_meeting_provider(fields.meeting_provider)
        with self._uow(write=True) as uow:
            _check_references(uow, principal.org_id, fields.requirements,
                              fields.sequence_rules)
            service = Service(
                id=new_id("service"), org_id=principal.org_id, name=fields.name,
                slug=self._free_slug(uow, principal.org_id, fields.slug, fields.name),
                duration_min=fields.duration_min,
                step_min=fields.step_min or fields.duration_min,
                requirements=fields.requirements, created_at=self._clock.now(),
                buffer_before_min=fields.buffer_before_min,
                buffer_after_min=fields.buffer_after_min,
                min_notice_min=fields.min_notice_min, max_advance_days=fields.max_advance_days,
                capacity=fields.capacity, price=fields.price,
                requires_approval=fields.requires_approval, max_per_day=fields.max_per_day,
                max_per_week=fields.max_per_week, sequence_rules=fields.sequence_rules,
                meeting_provider=fields.meeting_provider,
                approval_after_no_shows=fields.approval_after_no_shows, payment=fields.payment,
                deposit=fields.deposit, cancellation_policy=fields.cancellation_policy,
                notifications=fields.notifications,
            )
            check_service_money(service, online=self._online)
            uow.services.add(service)
            uow.commit()
        return service

    def update_service(self, principal: Principal, service_id: str,
                       changes: dict[str, Any]) -> Service:
        """Change some of a service's fields; its bookings keep their times and resources."""
        require_admin(principal)
        if "meeting_provider" in changes:
            self._check_meeting_provider(changes["meeting_provider"])
        with self._uow(write=True) as uow:
            current = uow.services.get(principal.org_id, service_id)
            if current is None:
                raise NotFound("no such service")
            if "slug" in changes and changes["slug"] != current.slug:
                changes["slug"] = self._free_slug(uow, principal.org_id, changes["slug"],
                                                  current.name)
            updated = replace(current, **changes)
            check_rules(updated)
            check_requirements(updated.requirements)
            # A gateway removed from the settings blocks changing the mode, not other fields.
            check_service_money(updated, online=self._online or "payment" not in changes)
            _check_references(uow, principal.org_id, updated.requirements,
                              updated.sequence_rules, self_id=service_id)
            uow.services.update(updated)
            uow.commit()
        return updated

    def get_service(self, principal: Principal, service_id: str) -> Service:
        with self._uow() as uow:
            service = uow.services.get(principal.org_id, service_id)
        if service is None:
            raise NotFound("no such service")
        return service

    def list_services(self, org_id: str) -> list[Service]:
        with self._uow() as uow:
            return uow.services.list(org_id)

    def team(self, org_id: str, service_id: str | None = None) -> list[Resource]:
        """The resources a service (or, without `service_id`, any service of the
        organisation) can draw on, by name: what a public page may name and let people
        choose. Unknown service → NotFound."""
        with self._uow() as uow:
            services = uow.services.list(org_id)
            if service_id is not None:
                services = [s for s in services if s.id == service_id]
                if not services:
                    raise NotFound("no such service")
            resources = uow.resources.list(org_id)
            profiles = [profile(r) for r in resources]
            pooled = {rid for s in services
                      for role in role_pools(requirements(s), profiles, None)
                      for rid in role.resource_ids}
            return sorted((r for r in resources if r.id in pooled),
                          key=lambda r: (r.name.casefold(), r.id))

    def _check_meeting_provider(self, name: str | None) -> None:
        if name is not None and name not in self._meeting_providers:
            offered = ", ".join(sorted(self._meeting_providers)) or "none"
            raise InvalidInput(f"meeting provider {name!r} is not set up on this server "
                               f"(set up: {offered})", ("body", "meeting_provider"))

    def _resource_zone(self, uow: UnitOfWork, org_id: str, zone: str | None,
                       location_id: str | None) -> str:
        if zone is not None:
            if location_id is not None:
                _location(uow, org_id, location_id)
            return zone
        if location_id is not None:
            return _location(uow, org_id, location_id).timezone
        org = uow.organisations.get(org_id)
        if org is None:
            raise NotFound("no such organisation")
        return org.timezone

    @staticmethod
    def _free_slug(uow: UnitOfWork, org_id: str, wanted: str | None, name: str) -> str:
        if wanted is not None:
            if uow.services.by_slug(org_id, wanted) is not None:
                raise AlreadyExists("a service with that slug exists")
            return wanted
        base = slugify(name)
        slug, n = base, 1
        while uow.services.by_slug(org_id, slug) is not None:
            n += 1
            slug = f"{base}-{n}"
        return slug


def _check_references(uow: UnitOfWork, org_id: str,
                      requirements: Sequence[ServiceRequirement],
                      rules: Sequence[SequenceRule], self_id: str | None = None) -> None:
    """Ids a service names must be the caller's: else 404, as everywhere."""
    named = {rid for r in requirements for rid in (*(r.resource_ids or ()),
                                                   *(w for w, _ in r.weights))}
    found = uow.resources.many(org_id, sorted(named))
    for i, r in enumerate(requirements):
        for rid in (*(r.resource_ids or ()), *(w for w, _ in r.weights)):
            if rid not in found:
                raise NotFound(f"no such resource {rid} (requirements[{i}])")
    for i, rule in enumerate(rules):
        if rule.other_service_id != self_id and uow.services.get(
                org_id, rule.other_service_id) is None:
            raise NotFound(f"no such service {rule.other_service_id} (sequence_rules[{i}])")


def _resource(uow: UnitOfWork, org_id: str, resource_id: str) -> Resource:
    found = uow.resources.get(org_id, resource_id)
    if found is None:
        raise NotFound("no such resource")
    return found


def _location(uow: UnitOfWork, org_id: str, location_id: str) -> Location:
    found = uow.locations.get(org_id, location_id)
    if found is None:
        raise NotFound("no such location")
    return found


