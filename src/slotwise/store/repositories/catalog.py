"""Locations, resources, schedules, blocks and services: what can be booked, and when."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, insert, or_, select, update
from sqlalchemy.engine import Connection, RowMapping

from slotwise.domain.model import (
    Block,
    DateOverride,
    Location,
    NotificationSchedule,
    Price,
    Resource,
    ResourceKind,
    Schedule,
    SequenceRule,
    Service,
    ServiceRequirement,
    WeeklyRule,
)
from slotwise.domain.payments import PaymentMode
from slotwise.engine.policies import (
    Deposit,
    Policy,
    deposit_from_json,
    deposit_to_json,
    policy_from_json,
    policy_to_json,
)
from slotwise.store.guard import unique_as_already_exists
from slotwise.store.tables import (
    blocks,
    location_schedules,
    locations,
    resources,
    schedule_overrides,
    schedules,
    sequence_rules,
    service_requirements,
    services,
)
from slotwise.store.types import one_of

_RULES = ("min_notice_min", "max_advance_days", "max_per_day", "max_per_week")
_LOCATION_FIELDS = ("name", "timezone", "buffer_before_min", "buffer_after_min",
                    "requires_approval", *_RULES)


class SqlLocations:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, location: Location) -> None:
        self._c.execute(insert(locations).values(
            id=location.id, org_id=location.org_id, created_at=location.created_at,
            **_location_values(location),
        ))

    def update(self, location: Location) -> None:
        self._c.execute(update(locations)
                        .where(locations.c.org_id == location.org_id,
                               locations.c.id == location.id)
                        .values(**_location_values(location)))

    def get(self, org_id: str, location_id: str) -> Location | None:
        return self.many(org_id, [location_id]).get(location_id)

    def many(self, org_id: str, location_ids: Sequence[str]) -> dict[str, Location]:
        if not location_ids:
            return {}
        query = select(locations).where(locations.c.org_id == org_id,
                                        locations.c.id.in_(list(location_ids)))
        return {row["id"]: _location(row) for row in self._c.execute(query).mappings()}

    def list(self, org_id: str) -> list[Location]:
        query = select(locations).where(locations.c.org_id == org_id).order_by(locations.c.id)
        return [_location(row) for row in self._c.execute(query).mappings()]

    def schedules(self, org_id: str, location_ids: Sequence[str]) -> dict[str, Schedule]:
        """The opening hours of those locations that have any."""
        if not location_ids:
            return {}
        query = select(location_schedules).where(
            location_schedules.c.org_id == org_id,
            location_schedules.c.location_id.in_(list(location_ids)))
        return {
            row["location_id"]: Schedule(
                resource_id="", location_id=row["location_id"], org_id=org_id,
                timezone=row["timezone"], weekly=_weekly(row["weekly"]),
                breaks=_weekly(row["breaks"]),
                overrides=tuple(DateOverride(day=date.fromisoformat(o["day"]),
                                             hours=tuple((h[0], h[1]) for h in o["hours"]),
                                             closed=bool(o["closed"]))
                                for o in row["overrides"]),
                updated_at=row["updated_at"],
            )
            for row in self._c.execute(query).mappings()
        }

    def put_schedule(self, schedule: Schedule) -> None:
        assert schedule.location_id is not None
        self._c.execute(delete(location_schedules).where(
            location_schedules.c.org_id == schedule.org_id,
            location_schedules.c.location_id == schedule.location_id))
        self._c.execute(insert(location_schedules).values(
            location_id=schedule.location_id, org_id=schedule.org_id,
            timezone=schedule.timezone, updated_at=schedule.updated_at,
            weekly=_weekly_rows(schedule.weekly), breaks=_weekly_rows(schedule.breaks),
            overrides=[{"day": o.day.isoformat(), "closed": o.closed,
                        "hours": [list(h) for h in o.hours]} for o in schedule.overrides],
        ))


def _location_values(location: Location) -> dict[str, object]:
    return {**{f: getattr(location, f) for f in _LOCATION_FIELDS},
            "cancellation_policy": _policy_json(location.cancellation_policy)}


def _location(row: RowMapping) -> Location:
    return Location(id=row["id"], org_id=row["org_id"], created_at=row["created_at"],
                    **{f: row[f] for f in _LOCATION_FIELDS if f != "requires_approval"},
                    requires_approval=bool(row["requires_approval"]),
                    cancellation_policy=_policy(row["cancellation_policy"]))


def _policy_json(policy: Policy | None) -> dict[str, object] | None:
    return policy_to_json(policy) if policy is not None else None


def _policy(value: object) -> Policy | None:
    return policy_from_json(value) if value is not None else None


def _deposit_json(deposit: Deposit | None) -> dict[str, int] | None:
    return deposit_to_json(deposit) if deposit is not None else None


def _deposit(value: object) -> Deposit | None:
    return deposit_from_json(value) if value is not None else None


def _weekly(rows: Sequence[dict[str, object]]) -> tuple[WeeklyRule, ...]:
    return tuple(WeeklyRule(days=tuple(w["days"]), start=str(w["start"]),  # type: ignore[arg-type]
                            end=str(w["end"])) for w in rows)


def _weekly_rows(rules: Sequence[WeeklyRule]) -> list[dict[str, object]]:
    return [{"days": list(w.days), "start": w.start, "end": w.end} for w in rules]


class SqlResources:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, resource: Resource) -> None:
        self._c.execute(insert(resources).values(id=resource.id, org_id=resource.org_id,
                                                 created_at=resource.created_at,
                                                 **_resource_values(resource)))

    def get(self, org_id: str, resource_id: str) -> Resource | None:
        query = select(resources).where(resources.c.org_id == org_id,
                                        resources.c.id == resource_id,
                                        resources.c.archived_at.is_(None))
        row = self._c.execute(query).mappings().first()
        return _resource(row) if row else None

    def many(self, org_id: str, resource_ids: Sequence[str]) -> dict[str, Resource]:
        if not resource_ids:
            return {}
        query = select(resources).where(resources.c.org_id == org_id,
                                        one_of(self._c, resources.c.id, resource_ids),
                                        resources.c.archived_at.is_(None))
        return {row["id"]: _resource(row) for row in self._c.execute(query).mappings()}

    def list(self, org_id: str, after: str | None = None, limit: int | None = None
             ) -> builtins.list[Resource]:
        query = (select(resources)
                 .where(resources.c.org_id == org_id, resources.c.archived_at.is_(None))
                 .order_by(resources.c.id))
        if after is not None:
            query = query.where(resources.c.id > after)
        if limit is not None:
            query = query.limit(limit)
        return [_resource(row) for row in self._c.execute(query).mappings()]

    def update(self, resource: Resource) -> None:
        self._c.execute(update(resources)
                        .where(resources.c.org_id == resource.org_id,
                               resources.c.id == resource.id)
                        .values(**_resource_values(resource)))

    def archive(self, org_id: str, resource_id: str, at: datetime) -> None:
        self._c.execute(update(resources)
                        .where(resources.c.org_id == org_id, resources.c.id == resource_id)
                        .values(archived_at=at))


def _resource_values(resource: Resource) -> dict[str, object]:
    return {
        "location_id": resource.location_id, "name": resource.name, "kind": resource.kind.value,
        "timezone": resource.timezone, "capacity": resource.capacity, "tags": list(resource.tags),
        "buffer_before_min": resource.buffer_before_min,
        "buffer_after_min": resource.buffer_after_min,
        "requires_approval": resource.requires_approval,
        **{f: getattr(resource, f) for f in _RULES},
        "deposit": _deposit_json(resource.deposit),
        "cancellation_policy": _policy_json(resource.cancellation_policy),
    }


def _resource(row: RowMapping) -> Resource:
    return Resource(
        id=row["id"], org_id=row["org_id"], name=row["name"], kind=ResourceKind(row["kind"]),
        timezone=row["timezone"], created_at=row["created_at"], location_id=row["location_id"],
        capacity=row["capacity"], tags=tuple(row["tags"]),
        buffer_before_min=row["buffer_before_min"], buffer_after_min=row["buffer_after_min"],
        requires_approval=bool(row["requires_approval"]),
        **{f: row[f] for f in _RULES},
        deposit=_deposit(row["deposit"]),
        cancellation_policy=_policy(row["cancellation_policy"]),
    )


class SqlSchedules:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def get(self, org_id: str, resource_id: str) -> Schedule | None:
        return self.many(org_id, [resource_id]).get(resource_id)

    def many(self, org_id: str, resource_ids: Sequence[str]) -> dict[str, Schedule]:
        if not resource_ids:
            return {}
        heads = self._c.execute(
            select(schedules).where(schedules.c.org_id == org_id,
                                    one_of(self._c, schedules.c.resource_id, resource_ids))
        ).mappings().all()
        overrides: dict[str, list[DateOverride]] = {}
        rows = self._c.execute(
            select(schedule_overrides)
            .where(schedule_overrides.c.org_id == org_id,
                   one_of(self._c, schedule_overrides.c.resource_id, resource_ids))
            .order_by(schedule_overrides.c.day, schedule_overrides.c.id)
        ).mappings()
        for row in rows:
            overrides.setdefault(row["resource_id"], []).append(DateOverride(
                day=date.fromisoformat(row["day"]),
                hours=tuple((h[0], h[1]) for h in row["hours"]),
                closed=bool(row["closed"]),
            ))
        return {
            head["resource_id"]: Schedule(
                resource_id=head["resource_id"], org_id=org_id, timezone=head["timezone"],
                weekly=_weekly(head["weekly"]), breaks=_weekly(head["breaks"]),
                overrides=tuple(overrides.get(head["resource_id"], ())),
                updated_at=head["updated_at"],
            )
            for head in heads
        }

    def put(self, schedule: Schedule) -> None:
        key = (schedules.c.org_id == schedule.org_id,
               schedules.c.resource_id == schedule.resource_id)
        self._c.execute(delete(schedules).where(*key))
        self._c.execute(delete(schedule_overrides).where(
            schedule_overrides.c.org_id == schedule.org_id,
            schedule_overrides.c.resource_id == schedule.resource_id))
        self._c.execute(insert(schedules).values(
            resource_id=schedule.resource_id, org_id=schedule.org_id,
            timezone=schedule.timezone, updated_at=schedule.updated_at,
            weekly=_weekly_rows(schedule.weekly), breaks=_weekly_rows(schedule.breaks),
        ))
        if schedule.overrides:
            self._c.execute(insert(schedule_overrides), [
                {"org_id": schedule.org_id, "resource_id": schedule.resource_id,
                 "day": o.day.isoformat(), "closed": o.closed,
                 "hours": [list(h) for h in o.hours]}
                for o in schedule.overrides
            ])


class SqlBlocks:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, block: Block) -> None:
        self._c.execute(insert(blocks).values(
            id=block.id, org_id=block.org_id, resource_id=block.resource_id,
            start_at=block.start, end_at=block.end, title=block.title,
            created_at=block.created_at,
        ))

    def get(self, org_id: str, block_id: str) -> Block | None:
        query = select(blocks).where(blocks.c.org_id == org_id, blocks.c.id == block_id)
        row = self._c.execute(query).mappings().first()
        return _block(row) if row else None

    def delete(self, org_id: str, block_id: str) -> None:
        self._c.execute(delete(blocks).where(blocks.c.org_id == org_id, blocks.c.id == block_id))


def _block(row: RowMapping) -> Block:
    return Block(id=row["id"], org_id=row["org_id"], resource_id=row["resource_id"],
                 start=row["start_at"], end=row["end_at"], created_at=row["created_at"],
                 title=row["title"], connection_id=row["connection_id"])


class SqlServices:
    def __init__(self, connection: Connection) -> None:
        self._c = connection
        # (org, service) -> rules_touching's answer, read with the service by _load in this
        # unit of work (a search loads the service, then asks for its rules); any write here
        # forgets it.
        self._touching: dict[tuple[str, str], builtins.list[tuple[str, SequenceRule]]] = {}

    def add(self, service: Service) -> None:
        self._touching.clear()
        with unique_as_already_exists(self._c, "a service with that slug"):
            self._c.execute(insert(services).values(
                id=service.id, org_id=service.org_id, created_at=service.created_at,
                **_service_values(service),
            ))
        self._add_parts(service)

    def update(self, service: Service) -> None:
        """Replace the service's fields, requirements and sequence rules."""
        self._touching.clear()
        with unique_as_already_exists(self._c, "a service with that slug"):
            self._c.execute(update(services)
                            .where(services.c.org_id == service.org_id,
                                   services.c.id == service.id)
                            .values(**_service_values(service)))
        for table in (service_requirements, sequence_rules):
            self._c.execute(delete(table).where(table.c.org_id == service.org_id,
                                                table.c.service_id == service.id))
        self._add_parts(service)

    def _add_parts(self, service: Service) -> None:
        self._c.execute(insert(service_requirements), [
            {"org_id": service.org_id, "service_id": service.id, "position": i,
             "kind": r.kind.value, "count": r.count,
             "resource_ids": list(r.resource_ids) if r.resource_ids is not None else None,
             "tags": list(r.tags), "min_capacity": r.min_capacity, "optional": r.optional,
             "mode": r.mode, "weights": dict(r.weights)}
            for i, r in enumerate(service.requirements)
        ])
        if service.sequence_rules:
            self._c.execute(insert(sequence_rules), [
                {"org_id": service.org_id, "service_id": service.id, "position": i,
                 "other_service_id": rule.other_service_id, "within_min": rule.within_min,
                 "direction": rule.direction}
                for i, rule in enumerate(service.sequence_rules)
            ])

    def rules_touching(self, org_id: str, service_id: str
                       ) -> builtins.list[tuple[str, SequenceRule]]:
        """Every sequence rule that names the service on either side, as (owner, rule)."""
        known = self._touching.get((org_id, service_id))
        if known is not None:
            return list(known)
        query = (select(sequence_rules)
                 .where(sequence_rules.c.org_id == org_id,
                        or_(sequence_rules.c.service_id == service_id,
                            sequence_rules.c.other_service_id == service_id))
                 .order_by(sequence_rules.c.service_id, sequence_rules.c.position))
        return [(row["service_id"], SequenceRule(row["other_service_id"], row["within_min"],
                                                 row["direction"]))
                for row in self._c.execute(query).mappings()]

    def get(self, org_id: str, service_id: str) -> Service | None:
        found = self._load(org_id, services.c.id == service_id)
        return found[0] if found else None

    def by_slug(self, org_id: str, slug: str) -> Service | None:
        found = self._load(org_id, services.c.slug == slug)
        return found[0] if found else None

    def list(self, org_id: str) -> list[Service]:
        return self._load(org_id)

    def _load(self, org_id: str, *where: ColumnElement[bool]) -> builtins.list[Service]:
        query = (select(services)
                 .where(services.c.org_id == org_id, services.c.archived_at.is_(None), *where)
                 .order_by(services.c.created_at, services.c.id))
        heads = self._c.execute(query).mappings().all()
        if not heads:
            return []
        reqs: dict[str, list[ServiceRequirement]] = {}
        rows = self._c.execute(
            select(service_requirements)
            .where(service_requirements.c.org_id == org_id,
                   service_requirements.c.service_id.in_([h["id"] for h in heads]))
            .order_by(service_requirements.c.position)
        ).mappings()
        for row in rows:
            reqs.setdefault(row["service_id"], []).append(ServiceRequirement(
                kind=ResourceKind(row["kind"]), count=row["count"],
                resource_ids=tuple(row["resource_ids"]) if row["resource_ids"] is not None
                else None,
                tags=tuple(row["tags"]), min_capacity=row["min_capacity"],
                optional=bool(row["optional"]), mode=row["mode"],
                weights=tuple(sorted(row["weights"].items())),
            ))
        # The rules naming these services on either side, in rules_touching's order: the
        # services' own rules come from them, and rules_touching is answered from them.
        ids = [h["id"] for h in heads]
        rows = self._c.execute(
            select(sequence_rules)
            .where(sequence_rules.c.org_id == org_id,
                   or_(sequence_rules.c.service_id.in_(ids),
                       sequence_rules.c.other_service_id.in_(ids)))
            .order_by(sequence_rules.c.service_id, sequence_rules.c.position)
        ).mappings()
        rules: dict[str, list[SequenceRule]] = {}
        touching: dict[str, list[tuple[str, SequenceRule]]] = {i: [] for i in ids}
        for row in rows:
            owner, other = row["service_id"], row["other_service_id"]
            rule = SequenceRule(other, row["within_min"], row["direction"])
            if owner in touching:
                rules.setdefault(owner, []).append(rule)
                touching[owner].append((owner, rule))
            if other in touching and other != owner:
                touching[other].append((owner, rule))
        for service_id, found in touching.items():
            self._touching[(org_id, service_id)] = found
        return [_service(head, tuple(reqs.get(head["id"], ())), tuple(rules.get(head["id"], ())))
                for head in heads]


def _service_values(service: Service) -> dict[str, object]:
    return {
        "name": service.name, "slug": service.slug, "duration_min": service.duration_min,
        "step_min": service.step_min, "buffer_before_min": service.buffer_before_min,
        "buffer_after_min": service.buffer_after_min, "min_notice_min": service.min_notice_min,
        "max_advance_days": service.max_advance_days, "capacity": service.capacity,
        "price_amount": service.price.amount if service.price else None,
        "price_currency": service.price.currency if service.price else None,
        "requires_approval": service.requires_approval, "max_per_day": service.max_per_day,
        "max_per_week": service.max_per_week, "meeting_provider": service.meeting_provider,
        "approval_after_no_shows": service.approval_after_no_shows,
        "payment": service.payment.value, "deposit": _deposit_json(service.deposit),
        "cancellation_policy": _policy_json(service.cancellation_policy),
        "notifications": _schedule_json(service.notifications),
    }


def _schedule_json(schedule: NotificationSchedule) -> dict[str, object] | None:
    if schedule == NotificationSchedule():
        return None
    return {"reminders_min": list(schedule.reminders_min),
            "review_after_min": schedule.review_after_min, "sms": schedule.sms}


def _schedule(value: dict[str, Any] | None) -> NotificationSchedule:
    if not value:
        return NotificationSchedule()
    return NotificationSchedule(reminders_min=tuple(value["reminders_min"]),
                                review_after_min=value["review_after_min"], sms=value["sms"])


def _service(row: RowMapping, requirements: tuple[ServiceRequirement, ...],
             rules: tuple[SequenceRule, ...]) -> Service:
    price = (Price(amount=row["price_amount"], currency=row["price_currency"])
             if row["price_amount"] is not None else None)
    return Service(
        id=row["id"], org_id=row["org_id"], name=row["name"], slug=row["slug"],
        duration_min=row["duration_min"], step_min=row["step_min"], requirements=requirements,
        created_at=row["created_at"], buffer_before_min=row["buffer_before_min"],
        buffer_after_min=row["buffer_after_min"], min_notice_min=row["min_notice_min"],
        max_advance_days=row["max_advance_days"], capacity=row["capacity"], price=price,
        requires_approval=bool(row["requires_approval"]), max_per_day=row["max_per_day"],
        max_per_week=row["max_per_week"], sequence_rules=rules,
        meeting_provider=row["meeting_provider"],
        approval_after_no_shows=row["approval_after_no_shows"],
        payment=PaymentMode(row["payment"]), deposit=_deposit(row["deposit"]),
        cancellation_policy=_policy(row["cancellation_policy"]),
        notifications=_schedule(row["notifications"]),
    )
