"""POST /v1/recurrence/preview: a series' instances before it is booked."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from slotwise.api.auth import CurrentPrincipal
from slotwise.api.deps import App
from slotwise.api.errors import ERROR_RESPONSES
from slotwise.api.schemas.recurrence import PreviewIn, PreviewOut
from slotwise.app.recurrence import Preview, PreviewOccurrence, PreviewQuery
from slotwise.engine.intervals import TimeRange

router = APIRouter(prefix="/v1", tags=["recurrence"], responses=ERROR_RESPONSES)


@router.post("/recurrence/preview", response_model=PreviewOut,
             response_model_exclude_none=True)
def preview(body: PreviewIn, who: CurrentPrincipal, app: App) -> dict[str, Any]:
    """The rule's instances in UTC, ascending; with `service_id`, each one's end, whether
    booking it alone would succeed now, and what stands in the way when not."""
    query = PreviewQuery(
        dtstart=body.dtstart, timezone=body.timezone, rrule=body.rrule,
        exdates=tuple(body.exdates),
        window=TimeRange(body.range.start, body.range.end) if body.range else None,
        limit=body.limit, service_id=body.service_id,
        resource_ids=tuple(dict.fromkeys(body.resource_ids)) if body.resource_ids else None,
    )
    return answer(app.preview_recurrence(who.org_id, query))


def answer(found: Preview) -> dict[str, Any]:
    return {"occurrences": [occurrence(o) for o in found.occurrences],
            "skipped": [wall.isoformat() for wall in found.skipped]}


def occurrence(o: PreviewOccurrence) -> dict[str, Any]:
    out: dict[str, Any] = {"start": o.start, "end": o.end, "available": o.available}
    if o.available is False:
        out["conflicts"] = [{"resource_id": c.resource_id, "start": c.start, "end": c.end,
                             "reason": c.reason} for c in o.conflicts]
    return out
