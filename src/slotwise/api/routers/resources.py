from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from slotwise.api import cursors, presenters
from slotwise.api.auth import CurrentPrincipal
from slotwise.api.deps import App
from slotwise.api.errors import ERROR_RESPONSES
from slotwise.api.routers.payments import MONEY_FIELDS, money_fields
from slotwise.api.schemas.catalog import (
    BlockIn,
    BlockOut,
    LocationIn,
    LocationOut,
    LocationPage,
    LocationPatch,
    LocationScheduleOut,
    ResourceIn,
    ResourceOut,
    ResourcePage,
    ResourcePatch,
    ScheduleIn,
    ScheduleOut,
    WeeklyIn,
)
from slotwise.app.catalog import LocationFields, ResourceFields
from slotwise.domain.model import DateOverride, ResourceKind, Schedule, WeeklyRule

router = APIRouter(prefix="/v1", tags=["resources"], responses=ERROR_RESPONSES)

Limit = Annotated[int, Query(ge=1, le=500)]


_NOT_NULL = ("name", "kind", "timezone", "capacity", "tags", "buffer_before_min",
             "buffer_after_min", "requires_approval")


def _patch(body: ResourcePatch | LocationPatch) -> dict[str, Any]:
    """The fields a PATCH sets. An explicit null on a required field leaves it unchanged; on
    a rule (notice, horizon, limits), a deposit or a cancellation policy it removes it."""
    changes = body.model_dump(exclude_unset=True)
    changes = {k: v for k, v in changes.items() if not (k in _NOT_NULL and v is None)}
    return {**changes, **money_fields(changes)}


def _fields(body: ResourceIn | LocationIn) -> dict[str, Any]:
    """A create body's fields, its money fields as domain values."""
    return {**body.model_dump(exclude=set(MONEY_FIELDS)),
            **money_fields(body.model_dump(exclude_unset=True, include=set(MONEY_FIELDS)))}


def _schedule(body: ScheduleIn, org_id: str, resource_id: str = "",
              location_id: str | None = None) -> Schedule:
    def weekly(entries: list[WeeklyIn]) -> tuple[WeeklyRule, ...]:
        return tuple(WeeklyRule(days=tuple(dict.fromkeys(w.days)), start=w.start, end=w.end)
                     for w in entries)

    return Schedule(
        resource_id=resource_id, location_id=location_id, org_id=org_id,
        timezone=body.timezone, weekly=weekly(body.weekly), breaks=weekly(body.breaks),
        overrides=tuple(
            DateOverride(day=o.date, closed=o.closed,
                         hours=tuple((h.start, h.end) for h in o.hours or ()))
            for o in body.overrides
        ),
    )


@router.post("/locations", status_code=201, response_model=LocationOut)
def create_location(body: LocationIn, who: CurrentPrincipal, app: App) -> dict[str, Any]:
    location = app.catalog.create_location(who, LocationFields(**_fields(body)))
    return presenters.location(location)


@router.get("/locations", response_model=LocationPage)
def list_locations(who: CurrentPrincipal, app: App) -> dict[str, Any]:
    return {"items": [presenters.location(loc) for loc in app.catalog.list_locations(who)],
            "next_cursor": None}


@router.get("/locations/{location_id}", response_model=LocationOut)
def get_location(location_id: str, who: CurrentPrincipal, app: App) -> dict[str, Any]:
    return presenters.location(app.catalog.get_location(who, location_id))


@router.patch("/locations/{location_id}", response_model=LocationOut)
def update_location(location_id: str, body: LocationPatch, who: CurrentPrincipal,
                    app: App) -> dict[str, Any]:
    return presenters.location(app.catalog.update_location(who, location_id, _patch(body)))


@router.put("/locations/{location_id}/schedule", response_model=LocationScheduleOut)
def put_location_schedule(location_id: str, body: ScheduleIn, who: CurrentPrincipal,
                          app: App) -> dict[str, Any]:
    """Opening hours: a resource at the location is open only when both are."""
    stored = app.catalog.put_location_schedule(
        who, _schedule(body, who.org_id, location_id=location_id))
    return presenters.schedule(stored, app.catalog.get_location(who, location_id).timezone)


@router.get("/locations/{location_id}/schedule", response_model=LocationScheduleOut)
def get_location_schedule(location_id: str, who: CurrentPrincipal,
                          app: App) -> dict[str, Any]:
    """A location without opening hours is always open (its resources' hours decide)."""
    found = app.catalog.get_location_schedule(who, location_id)
    zone = app.catalog.get_location(who, location_id).timezone
    if found is None:
        found = Schedule(resource_id="", location_id=location_id, org_id=who.org_id,
                         timezone=None)
    return presenters.schedule(found, zone)


@router.post("/resources", status_code=201, response_model=ResourceOut)
def create_resource(body: ResourceIn, who: CurrentPrincipal, app: App) -> dict[str, Any]:
    fields = ResourceFields(**{**_fields(body), "kind": ResourceKind(body.kind),
                               "tags": tuple(body.tags)})
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
    changes = _patch(body)
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
    stored = app.catalog.put_schedule(who, _schedule(body, who.org_id, resource_id))
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
