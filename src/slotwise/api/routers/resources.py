from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from slotwise.api import cursors, presenters
from slotwise.api.auth import CurrentPrincipal
from slotwise.api.deps import App
from slotwise.api.errors import ERROR_RESPONSES
from slotwise.api.schemas.catalog import (
    BlockIn,
    BlockOut,
    LocationIn,
    LocationOut,
    ResourceIn,
    ResourceOut,
    ResourcePage,
    ResourcePatch,
    ScheduleIn,
    ScheduleOut,
)
from slotwise.app.catalog import ResourceFields
from slotwise.domain.model import DateOverride, ResourceKind, Schedule, WeeklyRule

router = APIRouter(prefix="/v1", tags=["resources"], responses=ERROR_RESPONSES)

Limit = Annotated[int, Query(ge=1, le=500)]


@router.post("/locations", status_code=201, response_model=LocationOut)
def create_location(body: LocationIn, who: CurrentPrincipal, app: App) -> dict[str, str]:
    location = app.catalog.create_location(who, body.name, body.timezone)
    return {"id": location.id, "name": location.name, "timezone": location.timezone}


@router.post("/resources", status_code=201, response_model=ResourceOut)
def create_resource(body: ResourceIn, who: CurrentPrincipal, app: App) -> dict[str, Any]:
    fields = ResourceFields(
        name=body.name, kind=ResourceKind(body.kind), timezone=body.timezone,
        location_id=body.location_id, capacity=body.capacity, tags=tuple(body.tags),
        buffer_before_min=body.buffer_before_min, buffer_after_min=body.buffer_after_min,
        requires_approval=body.requires_approval,
    )
    return presenters.resource(app.catalog.create_resource(who, fields))


@router.get("/resources", response_model=ResourcePage)
def list_resources(who: CurrentPrincipal, app: App, limit: Limit = 50,
                   cursor: str | None = None) -> dict[str, Any]:
    after = cursors.decode(app.cursor_secret, cursor) if cursor else None
    found = app.catalog.list_resources(who, after, limit + 1)
    more = len(found) > limit
    items = found[:limit]
    next_cursor = cursors.encode(app.cursor_secret, items[-1].id) if more and items else None
    return {"items": [presenters.resource(r) for r in items],
            "next_cursor": next_cursor}


@router.get("/resources/{resource_id}", response_model=ResourceOut)
def get_resource(resource_id: str, who: CurrentPrincipal, app: App) -> dict[str, Any]:
    return presenters.resource(app.catalog.get_resource(who, resource_id))


@router.patch("/resources/{resource_id}", response_model=ResourceOut)
def update_resource(resource_id: str, body: ResourcePatch, who: CurrentPrincipal,
                    app: App) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    for required in ("name", "kind", "timezone", "capacity", "tags", "buffer_before_min",
                     "buffer_after_min", "requires_approval"):
        if required in changes and changes[required] is None:
            del changes[required]  # explicit null on a required field leaves it unchanged
    if "kind" in changes:
        changes["kind"] = ResourceKind(changes["kind"])
    return presenters.resource(app.catalog.update_resource(who, resource_id, changes))


@router.delete("/resources/{resource_id}", status_code=204, response_class=Response)
def delete_resource(resource_id: str, who: CurrentPrincipal, app: App) -> Response:
    app.catalog.delete_resource(who, resource_id)
    return Response(status_code=204)


@router.put("/resources/{resource_id}/schedule", response_model=ScheduleOut)
def put_schedule(resource_id: str, body: ScheduleIn, who: CurrentPrincipal,
                 app: App) -> dict[str, Any]:
    spec = Schedule(
        resource_id=resource_id, org_id=who.org_id, timezone=body.timezone,
        weekly=tuple(WeeklyRule(days=tuple(dict.fromkeys(w.days)), start=w.start, end=w.end)
                     for w in body.weekly),
        overrides=tuple(
            DateOverride(day=o.date, closed=o.closed,
                         hours=tuple((h.start, h.end) for h in o.hours or ()))
            for o in body.overrides
        ),
    )
    stored = app.catalog.put_schedule(who, spec)
    zone = app.catalog.get_resource(who, resource_id).timezone
    return presenters.schedule(stored, zone)


@router.get("/resources/{resource_id}/schedule", response_model=ScheduleOut)
def get_schedule(resource_id: str, who: CurrentPrincipal, app: App) -> dict[str, Any]:
    zone = app.catalog.get_resource(who, resource_id).timezone
    return presenters.schedule(app.catalog.get_schedule(who, resource_id), zone)


@router.post("/resources/{resource_id}/blocks", status_code=201, response_model=BlockOut)
def add_block(resource_id: str, body: BlockIn, who: CurrentPrincipal,
              app: App) -> dict[str, Any]:
    block = app.catalog.add_block(who, resource_id, body.start, body.end, body.title)
    return presenters.block(block)


@router.delete("/resources/{resource_id}/blocks/{block_id}", status_code=204,
               response_class=Response)
def delete_block(resource_id: str, block_id: str, who: CurrentPrincipal, app: App) -> Response:
    app.catalog.delete_block(who, resource_id, block_id)
    return Response(status_code=204)
