"""Locations, resources, schedules, blocks and services: what can be booked, and when."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import ColumnElement, delete, insert, select, update
from sqlalchemy.engine import Connection, RowMapping

from slotwise.domain.model import (
    Block,
    DateOverride,
    Location,
    Price,
    Resource,
    ResourceKind,
    Schedule,
    Service,
    ServiceRequirement,
    WeeklyRule,
)
from slotwise.store.guard import unique_as_already_exists
from slotwise.store.tables import (
    blocks,
    locations,
    resources,
    schedule_overrides,
    schedules,
    service_requirements,
    services,
)


class SqlLocations:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, location: Location) -> None:
        self._c.execute(insert(locations).values(
            id=location.id, org_id=location.org_id, name=location.name,
            timezone=location.timezone, created_at=location.created_at,
        ))

    def get(self, org_id: str, location_id: str) -> Location | None:
        query = select(locations).where(locations.c.org_id == org_id,
                                        locations.c.id == location_id)
        row = self._c.execute(query).mappings().first()
        return _location(row) if row else None

    def list(self, org_id: str) -> list[Location]:
        query = select(locations).where(locations.c.org_id == org_id).order_by(locations.c.id)
        return [_location(row) for row in self._c.execute(query).mappings()]


def _location(row: RowMapping) -> Location:
    return Location(id=row["id"], org_id=row["org_id"], name=row["name"],
                    timezone=row["timezone"], created_at=row["created_at"])


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
                                        resources.c.id.in_(list(resource_ids)),
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
    }


def _resource(row: RowMapping) -> Resource:
    return Resource(
        id=row["id"], org_id=row["org_id"], name=row["name"], kind=ResourceKind(row["kind"]),
        timezone=row["timezone"], created_at=row["created_at"], location_id=row["location_id"],
        capacity=row["capacity"], tags=tuple(row["tags"]),
        buffer_before_min=row["buffer_before_min"], buffer_after_min=row["buffer_after_min"],
        requires_approval=bool(row["requires_approval"]),
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
                                    schedules.c.resource_id.in_(resource_ids))
        ).mappings().all()
        overrides: dict[str, list[DateOverride]] = {}
        rows = self._c.execute(
            select(schedule_overrides)
            .where(schedule_overrides.c.org_id == org_id,
                   schedule_overrides.c.resource_id.in_(resource_ids))
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
                weekly=tuple(WeeklyRule(days=tuple(w["days"]), start=w["start"], end=w["end"])
                             for w in head["weekly"]),
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
            weekly=[{"days": list(w.days), "start": w.start, "end": w.end}
                    for w in schedule.weekly],
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

    def overlapping(self, org_id: str, resource_ids: Sequence[str], start: datetime,
                    end: datetime) -> list[Block]:
        query = (select(blocks)
                 .where(blocks.c.org_id == org_id, blocks.c.resource_id.in_(resource_ids),
                        blocks.c.start_at < end, blocks.c.end_at > start)
                 .order_by(blocks.c.start_at))
        return [_block(row) for row in self._c.execute(query).mappings()]


def _block(row: RowMapping) -> Block:
    return Block(id=row["id"], org_id=row["org_id"], resource_id=row["resource_id"],
                 start=row["start_at"], end=row["end_at"], created_at=row["created_at"],
                 title=row["title"])


class SqlServices:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, service: Service) -> None:
        with unique_as_already_exists(self._c, "a service with that slug"):
            self._c.execute(insert(services).values(
                id=service.id, org_id=service.org_id, name=service.name, slug=service.slug,
                duration_min=service.duration_min, step_min=service.step_min,
                buffer_before_min=service.buffer_before_min,
                buffer_after_min=service.buffer_after_min, min_notice_min=service.min_notice_min,
                max_advance_days=service.max_advance_days, capacity=service.capacity,
                price_amount=service.price.amount if service.price else None,
                price_currency=service.price.currency if service.price else None,
                created_at=service.created_at,
            ))
        self._c.execute(insert(service_requirements), [
            {"org_id": service.org_id, "service_id": service.id, "position": i,
             "kind": r.kind.value, "count": r.count,
             "resource_ids": list(r.resource_ids) if r.resource_ids is not None else None,
             "tags": list(r.tags), "min_capacity": r.min_capacity}
            for i, r in enumerate(service.requirements)
        ])

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
            ))
        return [_service(head, tuple(reqs.get(head["id"], ()))) for head in heads]


def _service(row: RowMapping, requirements: tuple[ServiceRequirement, ...]) -> Service:
    price = (Price(amount=row["price_amount"], currency=row["price_currency"])
             if row["price_amount"] is not None else None)
    return Service(
        id=row["id"], org_id=row["org_id"], name=row["name"], slug=row["slug"],
        duration_min=row["duration_min"], step_min=row["step_min"], requirements=requirements,
        created_at=row["created_at"], buffer_before_min=row["buffer_before_min"],
        buffer_after_min=row["buffer_after_min"], min_notice_min=row["min_notice_min"],
        max_advance_days=row["max_advance_days"], capacity=row["capacity"], price=price,
    )
