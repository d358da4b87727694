"""Why a start is or is not offered: GET /v1/services/{id}/availability/explain."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from slotwise.api.auth import CurrentPrincipal
from slotwise.api.deps import App
from slotwise.api.errors import ERROR_RESPONSES
from slotwise.api.schemas.common import Instant
from slotwise.api.schemas.explain import ExplainOut
from slotwise.app.explain import Explained, StartExplanation
from slotwise.engine.explain import Code

router = APIRouter(prefix="/v1", tags=["services"], responses=ERROR_RESPONSES)


@router.get("/services/{service_id}/availability/explain", response_model=ExplainOut,
            response_model_exclude_none=True)
def explain_start(service_id: str, who: CurrentPrincipal, app: App,
                  start: Annotated[Instant, Query()],
                  resource_id: str | None = None) -> dict[str, Any]:
    """For one candidate start: offered or not, and every reason it is not (which resource is
    busy and with what, outside whose hours, which rule)."""
    return explanation(app.explain(who.org_id, service_id, start, resource_id))


def explanation(found: StartExplanation) -> dict[str, Any]:
    return {"service_id": found.service_id, "start": found.start, "end": found.end,
            "offered": found.offered, "resource_ids": list(found.resource_ids),
            "reasons": [reason(r) for r in found.reasons]}


def reason(explained: Explained) -> dict[str, Any]:
    r = explained.reason
    out: dict[str, Any] = {"code": r.code.value, "message": explained.message,
                           "resource_id": r.resource_id, "roles": list(r.roles) or None}
    if r.code is Code.BUSY:
        out["source"] = {"type": r.source, "id": r.ref}
    elif r.code is Code.CLOSED:
        out["scope"] = r.source
    elif r.code in (Code.LIMIT, Code.RULE, Code.NOTICE, Code.HORIZON) and r.range is not None:
        out["label"] = r.ref
    if r.range is not None and r.code is not Code.CLOSED:
        out["start"], out["end"] = r.range.start, r.range.end
    if r.code is Code.NOTICE:
        out["earliest"] = r.bound
    if r.code is Code.HORIZON:
        out["latest"] = r.bound
    if r.code is Code.UNFILLED:
        out["needed"] = r.needed
    if r.code in (Code.UNFILLED, Code.ALLOCATION):
        out["free_resource_ids"] = list(r.candidates)
    if r.code is Code.GRID:
        out["nearest"] = [{"start": s.start, "end": s.end} for s in r.nearest]
    return out
