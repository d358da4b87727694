"""Conflicts: bookings an external event, a block or new hours landed on, with ranked ways
out; resolve one by applying a suggestion, or dismiss it. Any role of the organisation
(staff manage bookings)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from slotwise.api import cursors
from slotwise.api.auth import CurrentPrincipal
from slotwise.api.deps import App
from slotwise.api.errors import ERROR_RESPONSES, problem
from slotwise.api.routers.payments import booking_answer
from slotwise.api.schemas.conflicts import (
    ConflictOut,
    ConflictPage,
    ConflictStatusName,
    DismissIn,
    ResolvedOut,
    ResolveIn,
)
from slotwise.app.conflict_resolution import ConflictView, suggestion_record
from slotwise.domain.conflicts import Conflict, ConflictFilter, ConflictStatus, SuggestionGone

router = APIRouter(prefix="/v1", tags=["conflicts"], responses=ERROR_RESPONSES)


def conflict_out(c: Conflict, suggestions: list[dict[str, Any]] | None = None
                 ) -> dict[str, Any]:
    return {"id": c.id, "status": c.status.value, "cause": c.cause.value,
            "cause_ref": c.cause_ref, "booking_id": c.booking_id,
            "resource_id": c.resource_id, "start": c.start, "end": c.end,
            "created_at": c.created_at, "updated_at": c.updated_at, "closed_at": c.closed_at,
            "resolution": c.resolution, "suggestions": suggestions}


def view_out(view: ConflictView) -> dict[str, Any]:
    suggestions = (None if view.suggestions is None
                   else [suggestion_record(s) for s in view.suggestions])
    return conflict_out(view.conflict, suggestions)


@router.get("/conflicts", response_model=ConflictPage)
def list_conflicts(who: CurrentPrincipal, app: App,
                   status: ConflictStatusName = "open",
                   resource_id: str | None = None, booking_id: str | None = None,
                   suggestions: Annotated[bool, Query(
                       description="include each open conflict's ranked suggestions "
                                   "(each costs a few availability searches)")] = True,
                   limit: Annotated[int, Query(ge=1, le=500)] = 50,
                   cursor: str | None = None) -> dict[str, Any]:
    """Conflicts in (start, id) order, open ones by default. A conflict whose cause or
    booking went away is cleared before it would be shown."""
    after = None
    if cursor:
        position = cursors.decode(app.cursor_secret, cursor)
        after = (datetime.fromisoformat(position[0]), position[1])
    query = ConflictFilter(status=ConflictStatus(status), resource_id=resource_id,
                           booking_id=booking_id, after=after, limit=limit + 1)
    found = app.conflicts.list(who, query, with_suggestions=suggestions)
    items = found[:limit]
    next_cursor = None
    if len(found) > limit and items:
        last = items[-1].conflict
        next_cursor = cursors.encode(app.cursor_secret, [last.start.isoformat(), last.id])
    return {"items": [view_out(v) for v in items], "next_cursor": next_cursor}


@router.get("/conflicts/{conflict_id}", response_model=ConflictOut)
def get_conflict(conflict_id: str, who: CurrentPrincipal, app: App) -> dict[str, Any]:
    """The conflict with its ranked suggestions (while open)."""
    return view_out(app.conflicts.get(who, conflict_id))


@router.post("/conflicts/{conflict_id}/resolve", response_model=ResolvedOut,
             responses={409: {"description": "the conflict is closed, or the suggestion no "
                                             "longer applies (the answer lists those that "
                                             "do, in `suggestions`)"}})
def resolve(conflict_id: str, body: ResolveIn, who: CurrentPrincipal,
            app: App) -> Any:
    """Apply one suggestion atomically: the booking moves (same id) or takes the other
    resource, and the conflict is `resolved`; or nothing changes (409)."""
    try:
        resolved = app.conflicts.resolve(who, conflict_id, body.suggestion_id)
    except SuggestionGone as gone:
        return _gone(gone)
    return {"conflict": conflict_out(resolved.conflict),
            "booking": booking_answer(app, resolved.booking),
            "waitlist_offers": resolved.offers}


def _gone(error: SuggestionGone) -> JSONResponse:
    return problem(409, "suggestion-gone", "Suggestion no longer applies", error.detail,
                   alternatives=[],
                   suggestions=[suggestion_record(s) for s in error.suggestions])


@router.post("/conflicts/{conflict_id}/dismiss", response_model=ConflictOut)
def dismiss(conflict_id: str, who: CurrentPrincipal, app: App,
            body: DismissIn | None = None) -> dict[str, Any]:
    """Keep the booking as it is; the conflict is `dismissed`."""
    return conflict_out(app.conflicts.dismiss(who, conflict_id, body.note if body else None))
